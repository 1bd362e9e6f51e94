"""Officer credentials (R18): scrypt password hashes, TOTP second factor (RFC 6238), CSV import rows.

Pure apart from the CPU: no database, no clock of its own (callers pass the service's clock).
"""

from __future__ import annotations

import base64
import csv
import hashlib
import hmac
import io
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

import pyotp

ISSUER = "ATA customs"
MIN_PASSWORD = 12
MAX_PASSWORD = 1024
MAX_IMPORT_ROWS = 5_000
IMPORT_COLUMNS = ["officer_id", "office_id", "password"]
OFFICER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
_N, _R, _P = 2**14, 8, 1


def hash_password(password: str) -> str:
    """`scrypt$n$r$p$salt_b64$hash_b64` with a fresh random salt."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    return f"scrypt${_N}${_R}${_P}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def verify_password(password: str, stored: str | None) -> bool:
    """Constant-time compare; a missing or unreadable hash never matches (but still costs a hash)."""
    try:
        scheme, n, r, p, salt_b64, hash_b64 = (stored or "").split("$")
        if scheme != "scrypt":
            raise ValueError(scheme)
        salt, expected = base64.b64decode(salt_b64), base64.b64decode(hash_b64)
        n_, r_, p_ = int(n), int(r), int(p)
    except ValueError:
        # same work as a real check, so an unknown account is not told apart by timing
        hashlib.scrypt(password.encode(), salt=b"\0" * 16, n=_N, r=_R, p=_P, dklen=32)
        return False
    digest = hashlib.scrypt(
        password.encode(), salt=salt, n=n_, r=r_, p=p_, dklen=len(expected), maxmem=256 * r_ * n_ * p_ + 1024 * 1024
    )
    return hmac.compare_digest(digest, expected)


def new_totp_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, officer_id: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=officer_id, issuer_name=ISSUER)


def totp_step(secret: str, code: str, at: datetime) -> int | None:
    """The time step the code belongs to (one step either side of `at` accepted), or None."""
    totp = pyotp.TOTP(secret)
    code = code.strip()
    if not totp.verify(code, for_time=at, valid_window=1):
        return None
    for offset in (0, -1, 1):
        when = at.timestamp() + offset * totp.interval
        if hmac.compare_digest(totp.at(when), code):
            return int(when // totp.interval)
    return None  # pragma: no cover - verify() accepted it, so one of the three matched


#: C0 controls and DEL: typed by no keyboard into a password field, refused at creation (any script is fine).
CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def password_problems(password: str) -> list[str]:
    if len(password) < MIN_PASSWORD:
        return [f"password shorter than {MIN_PASSWORD} characters"]
    if len(password) > MAX_PASSWORD:
        return [f"password longer than {MAX_PASSWORD} characters"]
    if CONTROL.search(password):
        return ["password with a control character (a terminal escape or NUL is no part of a password)"]
    return []


@dataclass(frozen=True)
class ImportRow:
    row: int  # the line in the file; the header is line 1
    officer_id: str
    office_id: str
    password: str


@dataclass
class RowError:
    row: int
    officer_id: str | None
    errors: list[str]

    def as_dict(self) -> dict[str, object]:
        return {"row": self.row, "officer_id": self.officer_id, "errors": self.errors}


class ImportRefused(ValueError):
    """The file as a whole cannot be read (no header, too many rows): nothing is checked further."""


def parse_import(text: str, known_offices: set[str], existing: set[str]) -> tuple[list[ImportRow], list[RowError]]:
    """Every row checked before anything is written: unknown office, duplicate id (in the file or
    already in the database), short password, malformed row. Rows come back only if none failed."""
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise ImportRefused("empty file: expected a header officer_id,office_id,password") from None
    except csv.Error as exc:
        raise ImportRefused(f"unreadable CSV: {exc}") from exc
    if header != IMPORT_COLUMNS:
        raise ImportRefused(f"the header must be {','.join(IMPORT_COLUMNS)}, got {','.join(header)}")
    rows: list[ImportRow] = []
    errors: list[RowError] = []
    seen: dict[str, int] = {}
    count = 0
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            errors.append(RowError(reader.line_num, None, [f"malformed row: {exc}"]))
            break
        line = reader.line_num
        if not fields or all(not f.strip() for f in fields):
            continue
        count += 1
        if count > MAX_IMPORT_ROWS:
            raise ImportRefused(f"more than {MAX_IMPORT_ROWS} rows; split the file")
        if len(fields) != len(IMPORT_COLUMNS):
            errors.append(
                RowError(
                    line,
                    fields[0].strip() or None,
                    [f"malformed row: {len(fields)} fields, expected {len(IMPORT_COLUMNS)}"],
                )
            )
            continue
        officer_id, office_id, password = fields[0].strip(), fields[1].strip(), fields[2]
        problems: list[str] = []
        if not OFFICER_ID.match(officer_id):
            problems.append("officer_id must be 1-64 letters, digits or ._@- (starting with a letter or digit)")
        elif officer_id in seen:
            problems.append(f"duplicate officer_id (also on line {seen[officer_id]})")
        elif officer_id in existing:
            problems.append("officer_id already exists")
        if office_id not in known_offices:
            problems.append(f"unknown office {office_id!r}")
        problems += password_problems(password)
        seen.setdefault(officer_id, line)
        if problems:
            errors.append(RowError(line, officer_id or None, problems))
        else:
            rows.append(ImportRow(line, officer_id, office_id, password))
    if count == 0 and not errors:
        raise ImportRefused("no rows after the header")
    return (rows, errors) if not errors else ([], errors)
