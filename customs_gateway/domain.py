"""What the gateway decides before anything reaches the core. Pure: no I/O imports."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from zoneinfo import ZoneInfo

from contracts.deadlines import r12_entry_allowed, r13_final_date
from contracts.token import DeclarationClaims


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


def check_carnet(claims: DeclarationClaims, blocked: Blocked | None) -> None:
    """R5/R7: a voided or closed carnet's tokens stop verifying, even offline."""
    if blocked is not None:
        use = f"; the goods now travel under {blocked.successor}" if blocked.successor else ""
        raise CommitRefused(blocked.status,
                            f"carnet {claims.carnet_number} is {blocked.status} ({blocked.rule}): {blocked.reason}{use}")


def check_scan(claims: DeclarationClaims, office: Office) -> None:
    """R18: an officer acts only for their own administration; the token names the country."""
    if claims.country != office.country:
        raise CommitRefused("wrong_country", f"this declaration is for customs of {claims.country}, not {office.country}", 403)


def check_entry(claims: DeclarationClaims, office: Office, at: datetime) -> None:
    """R12: no entry abroad on an expired carnet, judged at the office's local day; the token
    carries the expiry so this holds offline too."""
    if not r12_entry_allowed(claims.kind.value, claims.carnet_expiry, at, ZoneInfo(office.timezone)):
        raise CommitRefused("R12", f"the carnet expired on {claims.carnet_expiry.isoformat()}: no {claims.kind.value} on it")


def check_final_date(claims: DeclarationClaims, final_date: date | None) -> None:
    """R13: customs may shorten the stay, never past the carnet's expiry."""
    if final_date is not None:
        try:
            r13_final_date(claims.carnet_expiry, final_date)
        except ValueError as exc:
            raise CommitRefused("R13", str(exc)) from exc
