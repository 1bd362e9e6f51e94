"""Issuance rules (R1-R4), carnet numbers and the general-list digest. Pure: no I/O imports."""

from __future__ import annotations

import hashlib
import json
from collections import Counter

from contracts.deadlines import r2_max_expiry_date
from contracts.messages import CarnetIssued, CarnetItem, GoodsCategory, GoodsItem, IssuanceRequested, Reason

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


def check_request(req: IssuanceRequested) -> list[Reason]:
    """Every reason the request cannot be issued; empty when it can."""
    reasons: list[Reason] = []
    # R2: at most 12 months, and an expiry before issue is no validity at all.
    latest = r2_max_expiry_date(req.issue_date)
    if req.expiry_date > latest:
        reasons.append(Reason(rule="R2", field="expiry_date",
                              message=f"validity is at most 12 months: the expiry date may be {latest.isoformat()} at the latest"))
    if req.expiry_date < req.issue_date:
        reasons.append(Reason(rule="R2", field="expiry_date", message="the expiry date is before the issue date"))
    # R1: the carnet is used abroad; the home country is where it starts and ends.
    if req.nga in req.countries:
        reasons.append(Reason(rule="R1", field="countries", message=f"{req.nga} is the home country, not a country of use"))
    dupes = sorted(c for c, n in Counter(req.countries).items() if n > 1)
    if dupes:
        reasons.append(Reason(rule="R1", field="countries", message=f"countries listed twice: {', '.join(dupes)}"))
    # R3: item numbers identify lines for the carnet's whole life: 1..n, each once.
    numbers = [g.item_number for g in req.goods]
    if sorted(numbers) != list(range(1, len(numbers) + 1)):
        reasons.append(Reason(rule="R3", field="goods",
                              message="item numbers must run 1, 2, 3 ... with no gap or repeat"))
    # R4: one reason per excluded item.
    for i, g in enumerate(req.goods):
        if g.category in EXCLUDED:
            reasons.append(Reason(rule="R4", field=f"goods[{i}].category", item_number=g.item_number,
                                  message=EXCLUDED[g.category]))
    return reasons


def general_list_digest(goods: list[GoodsItem]) -> str:
    """R3: SHA-256 over the canonical general list; any later change to the list changes it."""
    canonical = [g.model_dump(mode="json") for g in sorted(goods, key=lambda g: g.item_number)]
    return hashlib.sha256(json.dumps(canonical, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def check_digit(body: str) -> str:
    """Luhn (mod 10) over the body with letters as two digits (A=10 ... Z=35), like ISO 6346 does."""
    digits = "".join(str(int(c, 36)) for c in body)
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def carnet_number(country: str, year: int, sequence: int) -> str:
    """R1: unique worldwide: country prefix, two-digit year, 7-digit sequence, check digit."""
    if not 0 < sequence < 10_000_000:
        raise ValueError("carnet sequence exhausted for this country and year")
    body = f"{country}{year % 100:02d}{sequence:07d}"
    return body + check_digit(body)


def is_valid_carnet_number(number: str) -> bool:
    return len(number) == 12 and number[:2].isalpha() and number[2:].isdigit() and check_digit(number[:-1]) == number[-1]


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
        items=[CarnetItem(item_number=g.item_number, quantity=g.quantity, origin_country=g.origin_country) for g in req.goods],
        general_list_digest=general_list_digest(req.goods),
    )
