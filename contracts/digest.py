"""R3: the general-list digest, computed the same way by the NGA's client, the issuer and the wallet.

Versioned constructions (the digest itself stays 64 hex characters, as the ledger and tokens hold it):

* ``ATA-GL-2`` (current): SHA-256 over the RFC 8785 canonical JSON (contracts.canonical.JCS) of the
  general list, lines sorted by item number. Any language's RFC 8785 library gives the same bytes.
* ``ATA-GL-1`` (before): SHA-256 over Python's sorted-key compact JSON with ASCII escapes. A list
  with non-ASCII text ("Caméra α7") hashes differently under it; digests made with it stay
  verifiable through ``digest_construction``.

The sealed document's scheme names the construction its digest used (nga_client/sealing.py:
ATA-DOC-1 -> ATA-GL-1, ATA-DOC-2 -> ATA-GL-2).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

from contracts.canonical import JCS, LEGACY_ASCII, canonical_json
from contracts.messages import GoodsItem

GL_1, GL_2 = "ATA-GL-1", "ATA-GL-2"
CURRENT = GL_2
_FORMS = {GL_2: JCS, GL_1: LEGACY_ASCII}


def general_list_digest(goods: Sequence[GoodsItem], construction: str = CURRENT) -> str:
    """SHA-256 over the canonical general list (sorted by item number), hex, in ``construction``.

    Any later change to a line changes it; the wallet recomputes it from the opened document and
    compares it with the digest the ledger holds.
    """
    if construction not in _FORMS:
        raise ValueError(f"unknown general-list digest construction {construction!r}")
    # A line without a tariff code (R4) is the line it was before the code existed: same digest.
    canonical = [
        g.model_dump(mode="json", exclude={"hs_code"} if g.hs_code is None else None)
        for g in sorted(goods, key=lambda g: g.item_number)
    ]
    return hashlib.sha256(canonical_json(canonical, _FORMS[construction])).hexdigest()


def digest_construction(goods: Sequence[GoodsItem], digest: str) -> str | None:
    """Which construction (current first) gives ``digest`` for ``goods``; None when none does (R3 mismatch)."""
    for construction in (GL_2, GL_1):
        if hmac.compare_digest(general_list_digest(goods, construction), digest):
            return construction
    return None
