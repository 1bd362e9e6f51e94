"""What the gateway decides before anything reaches the core. Pure: no I/O imports."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Protocol
from uuid import UUID
from zoneinfo import ZoneInfo

from contracts.deadlines import r12_entry_allowed, r13_final_date
from contracts.kinds import DeclarationKind
from contracts.token import DeclarationClaims


class _Declaration(Protocol):
    @property
    def carnet_number(self) -> str: ...
    @property
    def kind(self) -> DeclarationKind: ...
    @property
    def country(self) -> str: ...
    @property
    def carnet_expiry(self) -> date | None: ...


@dataclass(frozen=True)
class Office:
    office_id: str
    country: str
    timezone: str


@dataclass(frozen=True)
class KeyWindow:
    not_before: datetime
    not_after: datetime | None

    def covers(self, signed_at: datetime) -> bool:
        return self.not_before <= signed_at and (self.not_after is None or signed_at <= self.not_after)


class CommitRefused(ValueError):
    def __init__(self, reason: str, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.reason = reason
        self.status = status


@dataclass(frozen=True)
class Blocked:
    status: str
    rule: str
    successor: str | None
    reason: str


def check_carnet(claims: _Declaration, blocked: Blocked | None, transferred: Mapping[int, str] | None = None) -> None:
    """R5/R7: a voided or closed carnet's tokens stop verifying, even offline; R6: so do its tokens for
    items a replacement took over (`transferred`: item number -> replacement carnet)."""
    if blocked is not None:
        use = f"; the goods now travel under {blocked.successor}" if blocked.successor else ""
        raise CommitRefused(
            blocked.status, f"carnet {claims.carnet_number} is {blocked.status} ({blocked.rule}): {blocked.reason}{use}"
        )
    replaced = replaced_detail(claims, transferred)
    if replaced:
        raise CommitRefused("replaced", replaced)


def replaced_detail(claims: _Declaration, transferred: Mapping[int, str] | None) -> str | None:
    moved = sorted(n for n in claims.items if transferred and n in transferred)
    if not moved:
        return None
    successors = ", ".join(sorted({transferred[n] for n in moved}))  # type: ignore[index]
    return (
        f"carnet {claims.carnet_number} was replaced (R6) for items {', '.join(map(str, moved))}: "
        f"they now travel under {successors}"
    )


def check_scan(claims: _Declaration, office: Office) -> None:
    """R18: an officer acts only for their own administration; the token names the country."""
    if claims.country != office.country:
        raise CommitRefused(
            "wrong_country", f"this declaration is for customs of {claims.country}, not {office.country}", 403
        )


def check_entry(claims: _Declaration, office: Office, at: datetime) -> None:
    """R12: no entry abroad on an expired carnet, judged at the office's local day; the token
    carries the expiry so this holds offline too. Unknown (a typed code, carnet not on file): the core judges."""
    if claims.carnet_expiry is not None and not r12_entry_allowed(
        claims.kind.value, claims.carnet_expiry, at, ZoneInfo(office.timezone)
    ):
        raise CommitRefused(
            "R12", f"the carnet expired on {claims.carnet_expiry.isoformat()}: no {claims.kind.value} on it"
        )


def check_final_date(claims: _Declaration, final_date: date | None) -> None:
    """R13: customs may shorten the stay, never past the carnet's expiry."""
    if final_date is not None and claims.carnet_expiry is not None:
        try:
            r13_final_date(claims.carnet_expiry, final_date)
        except ValueError as exc:
            raise CommitRefused("R13", str(exc)) from exc


# --- verification result (issue 4, item 7): every check, the mismatches, the carnet on file --------------------

HOME_KINDS = frozenset({DeclarationKind.EXPORTATION, DeclarationKind.REIMPORTATION})
#: Failed checks that refuse a commit at the gateway; the others are shown (the core re-checks what it can).
BLOCKING = frozenset({"items_on_list", "digest", "countries"})
NOT_ON_FILE = "not on file at this gateway"


@dataclass(frozen=True)
class CarnetOnFile:
    """What the gateway keeps of an issued carnet: numbers, countries, dates, the list's digest, no descriptions."""

    carnet_number: str
    home_country: str
    countries: tuple[str, ...]
    expiry_date: date
    general_list_digest: str
    #: item_number -> (quantity, origin_country)
    items: dict[int, tuple[int, str]]


@dataclass(frozen=True)
class Declared:
    """A declaration as the gateway knows it: from a verified token, or from the core's DeclarationSubmitted
    (then without a token digest and with the carnet's expiry only if the carnet is on file)."""

    carnet_number: str
    transaction_code: str
    kind: DeclarationKind
    country: str
    items: tuple[int, ...]
    sequence: int
    carnet_expiry: date | None
    general_list_digest: str | None
    token_id: UUID | None
    expires_at: datetime | None
    from_token: bool

    @classmethod
    def from_claims(cls, c: DeclarationClaims) -> Declared:
        return cls(
            c.carnet_number,
            c.transaction_code,
            c.kind,
            c.country,
            tuple(c.items),
            c.sequence,
            c.carnet_expiry,
            c.general_list_digest,
            c.token_id,
            c.expires_at,
            True,
        )

    def with_expiry_of(self, carnet: CarnetOnFile | None) -> Declared:
        """A typed code's declaration with its carnet's expiry (R12, R13) from the carnet on file, if it is on file;
        a token's carries its own."""
        return self if self.from_token else replace(self, carnet_expiry=carnet.expiry_date if carnet else None)


@dataclass(frozen=True)
class Check:
    check: str
    #: None: not checked (nothing to check against).
    ok: bool | None
    detail: str

    def as_dict(self) -> dict[str, object]:
        return {"check": self.check, "ok": self.ok, "detail": self.detail}


@dataclass(frozen=True)
class Verification:
    declared: Declared
    checks: tuple[Check, ...]
    carnet: CarnetOnFile | None

    @property
    def mismatches(self) -> list[Check]:
        return [c for c in self.checks if c.ok is False]

    @property
    def blocking(self) -> list[Check]:
        return [c for c in self.mismatches if c.check in BLOCKING]

    def carnet_view(self) -> dict[str, object] | None:
        """The carnet data the declaration concerns: only the declared items."""
        if self.carnet is None:
            return None
        c = self.carnet
        return {
            "carnet_number": c.carnet_number,
            "home_country": c.home_country,
            "countries": list(c.countries),
            "expiry_date": c.expiry_date,
            "items": [
                {"item_number": n, "quantity": c.items[n][0], "origin_country": c.items[n][1]}
                for n in self.declared.items
                if n in c.items
            ],
        }


def verification(
    d: Declared,
    office: Office,
    at: datetime,
    *,
    replayed: bool,
    blocked: Blocked | None,
    carnet: CarnetOnFile | None,
    kid: str | None = None,
    transferred: Mapping[int, str] | None = None,
) -> Verification:
    """Every check of a declaration, in the order an officer reads them. A token's signature, expiry and
    territory were verified before (a failure there is refused outright); they are listed for the record."""
    checks = []
    if d.from_token:
        checks.append(Check("signature", True, f"signed by trusted key {kid}" if kid else "signed by a trusted key"))
    else:
        checks.append(Check("signature", True, "declared to the core; no token scanned"))
    if d.expires_at is None:
        checks.append(Check("expiry", None, "no token issued yet"))
    elif at < d.expires_at:
        checks.append(Check("expiry", True, f"valid until {d.expires_at.isoformat()}"))
    else:
        checks.append(
            Check("expiry", False, f"the token expired at {d.expires_at.isoformat()}: a new declaration is needed")
        )
    checks.append(
        Check(
            "territory",
            d.country == office.country,
            f"for customs of {d.country}" + ("" if d.country == office.country else f", not {office.country}"),
        )
    )
    checks.append(
        Check("replay", not replayed, "already decided at a customs office" if replayed else "not decided yet")
    )
    replaced = replaced_detail(d, transferred)
    if blocked is None and replaced:
        checks.append(Check("carnet_status", False, replaced))
    elif blocked is None:
        checks.append(Check("carnet_status", True, "active"))
    else:
        use = f"; the goods now travel under {blocked.successor}" if blocked.successor else ""
        checks.append(
            Check("carnet_status", False, f"the carnet is {blocked.status} ({blocked.rule}): {blocked.reason}{use}")
        )
    if carnet is None:
        checks.append(Check("carnet_on_file", False, NOT_ON_FILE))
        for name in ("items_on_list", "digest", "countries"):
            checks.append(Check(name, None, f"not checked: the carnet is {NOT_ON_FILE}"))
        return Verification(d, tuple(checks), None)
    checks.append(Check("carnet_on_file", True, f"carnet {carnet.carnet_number} issued by {carnet.home_country}"))
    unknown = [n for n in d.items if n not in carnet.items]
    checks.append(
        Check(
            "items_on_list",
            not unknown,
            f"items not on the carnet's general list: {', '.join(map(str, unknown))}"
            if unknown
            else "every declared item is on the general list",
        )
    )
    if d.general_list_digest is None:
        checks.append(Check("digest", None, "no token scanned: the core declared against its own list"))
    elif d.general_list_digest == carnet.general_list_digest[:32]:
        checks.append(Check("digest", True, "the token was made against the general list on file"))
    else:
        checks.append(
            Check(
                "digest",
                False,
                "the token's general list digest does not match the carnet on file: "
                "the list declared against is not this carnet's",
            )
        )
    checks.append(countries_check(d.kind, d.country, carnet))
    return Verification(d, tuple(checks), carnet)


def mismatches_around_replay(v: Verification) -> tuple[list[str], list[str]]:
    """The failed checks listed before "replay" and after it: what a statement that learns whether the
    declaration was already decided needs to list every mismatch in order (the audit row, R18)."""
    names = [c.check for c in v.checks]
    at = names.index("replay")
    return ([c.check for c in v.checks[:at] if c.ok is False], [c.check for c in v.checks[at + 1 :] if c.ok is False])


def countries_check(kind: DeclarationKind, country: str, carnet: CarnetOnFile) -> Check:
    if kind in HOME_KINDS:
        ok = country == carnet.home_country
        return Check(
            "countries",
            ok,
            f"{kind.value} happens in the home country {carnet.home_country}" + ("" if ok else f", not {country}"),
        )
    if country == carnet.home_country:
        return Check("countries", False, f"{kind.value} happens abroad, not in the home country {country}")
    ok = country in carnet.countries
    return Check(
        "countries",
        ok,
        f"{country} is one of the carnet's countries"
        if ok
        else f"the carnet is not valid for {country} (only {', '.join(carnet.countries)})",
    )


def check_mismatches(v: Verification) -> None:
    """Items not on the list, a digest that differs, a country the carnet does not cover: refused here."""
    if v.blocking:
        raise MismatchRefused(v.blocking)


def decide_commit(
    d: Declared,
    office: Office,
    at: datetime,
    *,
    decision: str,
    final_date: date | None,
    blocked: Blocked | None,
    transferred: Mapping[int, str] | None,
    carnet: CarnetOnFile | None,
    kid: str | None = None,
) -> Verification:
    """Whether an officer may commit or refuse this declaration: every check, in the order the officer reads
    them; raises CommitRefused with the first that fails, else answers the verification to post with.

    R5, R7: not on a voided or closed carnet; R6: not for items a replacement took over; R18: only customs of the
    declared country; a typed code's token must not have expired (a new declaration is needed); R3, R1: the items
    on the carnet's general list, the token made against that list, a country the carnet covers; R12: no entry
    abroad on an expired carnet, and R13: no final date past the expiry (both only for a commit: a refusal needs
    neither). Whether the declaration was already decided is the commit log's unique keys' to say."""
    check_carnet(d, blocked, transferred)
    check_scan(d, office)
    v = verification(d, office, at, replayed=False, blocked=blocked, carnet=carnet, kid=kid, transferred=transferred)
    if not d.from_token and any(c.check == "expiry" and c.ok is False for c in v.checks):
        raise CommitRefused("expired", "the declaration's token has expired: a new declaration is needed")
    check_mismatches(v)
    if decision == "committed":
        check_entry(d, office, at)
        check_final_date(d, final_date)
    return v


class RateLimited(CommitRefused):
    """Too many typed codes in the officer's window: answered 429 with Retry-After."""

    def __init__(self, retry_after: float) -> None:
        self.retry_after = math.ceil(retry_after)
        super().__init__("rate_limited", f"too many typed codes; try again in {self.retry_after} s", 429)


class MismatchRefused(CommitRefused):
    def __init__(self, mismatches: list[Check]) -> None:
        super().__init__(
            "mismatch", "the declaration does not match the carnet on file: " + "; ".join(c.detail for c in mismatches)
        )
        self.mismatches = mismatches
