"""R3: the general-list digest, computed the same way by the NGA's client, the issuer and the wallet."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence

from contracts.messages import GoodsItem


def general_list_digest(goods: Sequence[GoodsItem]) -> str:
    """SHA-256 over the canonical general list (sorted by item number, sorted keys, no spaces), hex.

    Any later change to a line changes it; the wallet recomputes it from the opened document and
    compares it with the digest the ledger holds.
    """
    # A line without a tariff code (R4) is the line it was before the code existed: same digest.
    canonical = [g.model_dump(mode="json", exclude={"hs_code"} if g.hs_code is None else None)
                 for g in sorted(goods, key=lambda g: g.item_number)]
    return hashlib.sha256(json.dumps(canonical, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
