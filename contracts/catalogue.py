"""The message registry: every payload a consumer can decode, by (CloudEvents type, schema version).

Its own module, importing the contract modules, so that none of them imports another at its bottom to
fill it: contracts/messages/ and contracts/claims.py each list their payloads (MESSAGES,
CLAIMS_MESSAGES) and know nothing of this registry.
"""

from __future__ import annotations

from contracts.claims import CLAIMS_MESSAGES
from contracts.messages import MESSAGES, Payload

MESSAGE_TYPES: dict[tuple[str, int], type[Payload]] = {(m.TYPE, m.VERSION): m for m in (*MESSAGES, *CLAIMS_MESSAGES)}
