"""Throttling of failed officer logins (R18), pure: which keys a failure counts against, and how long each
waits. The counts live in PostgreSQL (customs_gateway/account_repository.py), shared by every instance.

A failed login counts against three keys: the account from any address, the client address on any
account, and the pair. Each key has free failures, then a wait that doubles with every further failure
(1 s, 2 s, 4 s ... at most 15 minutes); a key's count starts over an hour after its last failure. A login
is answered 429 with Retry-After, without checking the password, while its address or its pair waits, or
while the account waits and the address is not one the officer logged in from before. So a stranger
hammering an account slows down their own address and that account for other strangers, never the
officer at their usual desk, and an administrator can clear an account's counts (unlock).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

ANY = ""  # the officer id or address of a key that counts every one
FIRST_WAIT = timedelta(seconds=1)
LONGEST_WAIT = timedelta(minutes=15)
FORGET_AFTER = timedelta(hours=1)
MAX_ADDRESS = 64  # an IPv6 address with its zone is under 64 characters


@dataclass(frozen=True)
class Key:
    scope: str  # account, address, pair: the metric's label
    officer_id: str
    address: str
    free: int  # failures answered without a wait


def keys(officer_id: str, address: str) -> tuple[Key, Key, Key]:
    """The pair may fail a few times (typos); an address serves a whole office behind one NAT."""
    address = address[:MAX_ADDRESS]
    return (Key("pair", officer_id, address, 3), Key("address", ANY, address, 20), Key("account", officer_id, ANY, 10))


def wait_after(failures: int, free: int) -> timedelta | None:
    """The wait after the `failures`-th failure in a row: none while free, then doubling up to the longest."""
    if failures <= free:
        return None
    return min(FIRST_WAIT * 2 ** min(failures - free - 1, 20), LONGEST_WAIT)


def retry_after(blocked_until: datetime, now: datetime) -> int:
    """Whole seconds, at least one (the Retry-After header)."""
    return max(1, math.ceil((blocked_until - now).total_seconds()))
