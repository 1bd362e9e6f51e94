"""Issuance rules (R1-R4), carnet numbers and the general-list digest. Pure: no I/O imports."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Collection, Sequence
from datetime import date

from pydantic import TypeAdapter, ValidationError

from contracts.bounds import Country, RequestId
from contracts.deadlines import DeadlineError, r2_check_expiry, r2_max_expiry_date
from contracts.digest import general_list_digest
from contracts.messages import (
    CarnetIssued,
    CarnetItem,
    GoodsCategory,
    IssuanceRequested,
    Reason,
    SealedIssuanceRequested,
)

__all__ = [
    "answerable",
    "sender_reason",
    "EXCLUDED",
    "check_request",
    "check_sealed",
    "general_list_digest",
    "carnet_number",
    "check_digit",
    "is_valid_carnet_number",
    "issued",
    "issued_sealed",
    "PLAIN_REFUSED",
]

#: R4: categories that can never travel under a carnet, with the words the NGA sees.
EXCLUDED = {
    GoodsCategory.TOBACCO: "tobacco is excluded from ATA carnets",
    GoodsCategory.ALCOHOL: "alcohol is excluded from ATA carnets",
    GoodsCategory.PERISHABLE: "perishable goods are excluded from ATA carnets",
    GoodsCategory.CONSUMABLE: "consumable or depletable goods are excluded from ATA carnets",
    GoodsCategory.NOT_FOR_REEXPORT: "goods not meant to be re-exported are excluded from ATA carnets",
    GoodsCategory.CONTROLLED: "goods under import or export control are excluded from ATA carnets",
    GoodsCategory.PROCESSING_OR_REPAIR: "goods imported for processing or repair are excluded from ATA carnets",
}


#: R4's second signal, readable although the description is sealed: the Harmonized System chapters of
#: the goods R4 excludes whatever category an NGA declares. Chapter 22 holds spirits, wine and beer
#: (2203-2208) and the other beverages and vinegar (2201, 2202, 2209), consumed on use, which R4
#: excludes as consumable; chapter 24 is tobacco.
EXCLUDED_HS_CHAPTERS = {
    "22": "HS chapter 22 (beverages, spirits and vinegar): alcohol and consumable goods are excluded from ATA carnets",
    "24": "HS chapter 24 (tobacco and manufactured tobacco substitutes): tobacco is excluded from ATA carnets",
}


def check_request(req: IssuanceRequested) -> list[Reason]:
    """Every reason the request cannot be issued; empty when it can."""
    return check_terms(
        req.nga,
        req.countries,
        req.issue_date,
        req.expiry_date,
        [(g.item_number, g.category, g.hs_code) for g in req.goods],
    )


def check_sealed(req: SealedIssuanceRequested) -> list[Reason]:
    """The same rules on a sealed request: what they need travels beside the sealed document."""
    return check_terms(
        req.nga,
        req.countries,
        req.issue_date,
        req.expiry_date,
        [(i.item_number, i.category, i.hs_code) for i in req.items],
    )


def check_terms(
    nga: str,
    countries: Sequence[str],
    issue_date: date,
    expiry_date: date,
    items: Sequence[tuple[int, GoodsCategory, str | None]],
) -> list[Reason]:
    reasons: list[Reason] = []
    # R2: at most 12 months, and an expiry before issue is no validity at all.
    try:
        r2_check_expiry(issue_date, expiry_date)
    except DeadlineError:
        latest = r2_max_expiry_date(issue_date)
        message = (
            "the expiry date is before the issue date"
            if expiry_date < issue_date
            else f"validity is at most 12 months: the expiry date may be {latest.isoformat()} at the latest"
        )
        reasons.append(Reason(rule="R2", field="expiry_date", message=message))
    # R1: the carnet is used abroad; the home country is where it starts and ends.
    if nga in countries:
        reasons.append(Reason(rule="R1", field="countries", message=f"{nga} is the home country, not a country of use"))
    dupes = sorted(c for c, n in Counter(countries).items() if n > 1)
    if dupes:
        reasons.append(Reason(rule="R1", field="countries", message=f"countries listed twice: {', '.join(dupes)}"))
    # R3: item numbers identify lines for the carnet's whole life: 1..n, each once.
    numbers = [n for n, _, _ in items]
    if sorted(numbers) != list(range(1, len(numbers) + 1)):
        reasons.append(
            Reason(rule="R3", field="goods", message="item numbers must run 1, 2, 3 ... with no gap or repeat")
        )
    # R4: one reason per excluded item, naming the category, else the tariff code's chapter.
    for i, (number, category, hs_code) in enumerate(items):
        if category in EXCLUDED:
            reasons.append(
                Reason(rule="R4", field=f"goods[{i}].category", item_number=number, message=EXCLUDED[category])
            )
        elif hs_code is not None and hs_code[:2] in EXCLUDED_HS_CHAPTERS:
            reasons.append(
                Reason(
                    rule="R4",
                    code="tariff_code_excluded",
                    field=f"goods[{i}].hs_code",
                    item_number=number,
                    message=f"tariff code {hs_code}: {EXCLUDED_HS_CHAPTERS[hs_code[:2]]}, whatever the "
                    f"category declared ({category.value})",
                )
            )
    return reasons


_REQUEST_ID: TypeAdapter[str] = TypeAdapter(RequestId)
_COUNTRY: TypeAdapter[str] = TypeAdapter(Country)

#: The document must reach us sealed for the holder (ARCHITECTURE "never travels in open form").
PLAIN_REFUSED = Reason(
    rule="contract",
    code="plain_document_refused",
    field="holder",
    message="plain carnet documents are refused: seal the document for the holder and send SealedIssuanceRequested "
    "(nga_client.carnets.seal_request does it)",
)


def sender_reason(topic_nga: str | None, named: str) -> Reason | None:
    """Why a request may not be decided as sent: it came on `topic_nga`'s request topic (None: the shared
    topic, which binds nothing) but its body names another NGA. The topic is what the broker's ACLs bind
    to a principal (deploy/k8s/base/kafka-users.yaml), so the topic's NGA is the sender; one NGA never
    speaks for another."""
    if topic_nga is None or topic_nga == named:
        return None
    return Reason(
        rule="sender",
        code="nga_mismatch",
        field="nga",
        message=f"this request came on the request topic of {topic_nga} but names {named}: "
        f"an NGA sends only its own requests, on its own topic",
    )


def check_digit(body: str) -> str:
    """Luhn mod 10 (ISO/IEC 7812-1 annex B) over the body with each letter as its two-digit value (A=10 ... Z=35).

    Why Luhn: it catches every single-digit error and every adjacent transposition but 09/90,
    which covers how numbers are mistyped from paper; it keeps the number all-digit after the
    country prefix (12 characters, the CARNET_NUMBER contract pattern) and every language has it.
    """
    digits = "".join(_AS_DIGITS.get(c) or str(int(c, 36)) for c in body)
    # Every other digit from the right is doubled, a two-digit result summed (2*d - 9); tables, not
    # arithmetic per digit: bulk issuance computes thousands of these a second.
    total = sum(_DOUBLED[ch] for ch in digits[::-2]) + sum(_PLAIN[ch] for ch in digits[-2::-2])
    return str((10 - total % 10) % 10)


_AS_DIGITS = {c: str(int(c, 36)) for c in "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"}
_PLAIN = {str(d): d for d in range(10)}
_DOUBLED = {str(d): 2 * d - 9 if d > 4 else 2 * d for d in range(10)}


def carnet_number(country: str, year: int, sequence: int) -> str:
    """R1: unique worldwide: country prefix, two-digit year, 7-digit sequence, check digit."""
    if not 0 < sequence < 10_000_000:
        raise ValueError("carnet sequence exhausted for this country and year")
    body = f"{country}{year % 100:02d}{sequence:07d}"
    return body + check_digit(body)


def is_valid_carnet_number(number: str) -> bool:
    return (
        len(number) == 12 and number[:2].isalpha() and number[2:].isdigit() and check_digit(number[:-1]) == number[-1]
    )


def issued(req: IssuanceRequested, number: str) -> CarnetIssued:
    return CarnetIssued(
        request_id=req.request_id,
        carnet_number=number,
        nga=req.nga,
        issuing_association=req.issuing_association,
        holder_id=req.holder.holder_id,
        representative_ids=list(req.representative_ids),
        countries=list(req.countries),
        issue_date=req.issue_date,
        expiry_date=req.expiry_date,
        items=[
            CarnetItem(item_number=g.item_number, quantity=g.quantity, origin_country=g.origin_country)
            for g in req.goods
        ],
        general_list_digest=general_list_digest(req.goods),
    )


def issued_sealed(req: SealedIssuanceRequested, number: str) -> CarnetIssued:
    """The carnet the ledger records; the sealed document rides along for the holder's wallet.

    Validated, from fields of the request that are already valid: the sealed document is a model
    instance pydantic does not validate again, the items go in as plain dicts. In pydantic 2.14 that is
    cheaper than model_construct without validation (8 against 14 µs a carnet; bench/README.md, round 4)."""
    return CarnetIssued(
        request_id=req.request_id,
        carnet_number=number,
        nga=req.nga,
        issuing_association=req.issuing_association,
        holder_id=req.holder_id,
        representative_ids=req.representative_ids,
        countries=req.countries,
        issue_date=req.issue_date,
        expiry_date=req.expiry_date,
        items=[
            {"item_number": i.item_number, "quantity": i.quantity, "origin_country": i.origin_country}
            for i in req.items
        ],
        general_list_digest=req.general_list_digest,
        document=req.document,
    )


def answerable(body: bytes, ngas: Collection[str]) -> tuple[str, str] | str:
    """(NGA, request id) of a request that broke the contract, read from its raw JSON, when both are
    readable and valid (a registered NGA, a request id within its bound); else why no answer is possible.

    Exactly one answer per request id holds for broken requests too: the issuer answers them
    IssuanceRejected whenever it can tell whom to answer and under which id."""
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError):
        return "the record is not JSON: no request id can be read"
    if not isinstance(doc, dict):
        return "the record is not a JSON object: no request id can be read"
    try:
        request_id = _REQUEST_ID.validate_python(doc.get("request_id"))
        nga = _COUNTRY.validate_python(doc.get("nga"))
    except ValidationError:
        return "the request id or the NGA is missing or breaks its bound: nobody to answer under a valid id"
    if nga not in ngas:
        return f"NGA {nga} is not registered: no response topic to answer on"
    return nga, request_id
