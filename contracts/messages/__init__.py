"""Version-1 payloads of every message on the happy path (contracts/catalogue.py registers them for decoding).

Each payload names its `TYPE` and `VERSION`; the envelope carries both, so a consumer picks the
model before it parses. Payloads carry no goods descriptions or values beyond the issuance
request itself: what the core needs to apply the rules travels as separate fields.

One module per group (common, issuance, crossings, ledger, lifecycle, administration), each under the
module-size rule; this package re-exports every name, so `contracts.messages.X` is the one way to reach them.
"""

from __future__ import annotations

from contracts.bounds import CARNET_NUMBER, COUNTRY
from contracts.messages.administration import (
    CountryPolicyEntry,
    CountryPolicyUpdated,
    TrustedKey,
    TrustListPublished,
)
from contracts.messages.common import (
    MAX_DOCUMENT_CHARS,
    CarnetItem,
    CarnetItems,
    F,
    FieldPath,
    GoodsCategory,
    GoodsItem,
    GoodsList,
    Holder,
    Payload,
    PolicyLabel,
    PolicyVersion,
    Prose,
    Reason,
    Reasons,
)
from contracts.messages.crossings import (
    CancellationPosted,
    CustomsCommitPosted,
    DeclarationRefused,
    DeclarationSubmitted,
    TokenIssued,
)
from contracts.messages.issuance import (
    CarnetIssued,
    DuplicateRequested,
    IssuanceRejected,
    IssuanceRequested,
    ReplacementRequested,
    SealedDocument,
    SealedIssuanceRequested,
    SealedItem,
    SealedItems,
    SealedKey,
)
from contracts.messages.ledger import (
    CancellationRefused,
    ConfirmationDelivered,
    ConfirmationRequested,
    ItemLocation,
    ItemLocations,
    TransactionCancelled,
    TransactionRecorded,
)
from contracts.messages.lifecycle import (
    CarnetStatusChanged,
    CarnetSuccessionDecided,
    DuplicateCarnetIssued,
    ItemLocationsChanged,
    ItemsAccountedFor,
    ReplacementCarnetIssued,
    SigningKeyPublished,
)

#: This module's payloads; contracts/catalogue.py registers them with the claims contract's in MESSAGE_TYPES.
MESSAGES: tuple[type[Payload], ...] = (
    IssuanceRequested,
    CarnetIssued,
    IssuanceRejected,
    DeclarationSubmitted,
    TokenIssued,
    DeclarationRefused,
    CustomsCommitPosted,
    TransactionRecorded,
    ConfirmationRequested,
    ConfirmationDelivered,
    SigningKeyPublished,
    DuplicateCarnetIssued,
    ReplacementCarnetIssued,
    ItemsAccountedFor,
    CarnetStatusChanged,
    CountryPolicyUpdated,
    ItemLocationsChanged,
    TrustListPublished,
    CancellationPosted,
    TransactionCancelled,
    CancellationRefused,
    SealedIssuanceRequested,
    DuplicateRequested,
    ReplacementRequested,
    CarnetSuccessionDecided,
)


def __getattr__(name: str) -> object:
    """`contracts.messages.MESSAGE_TYPES`, as tools outside the services still read it: the registry itself lives in
    contracts.catalogue (it holds the claims messages too), loaded on first use so no module imports another late."""
    if name == "MESSAGE_TYPES":
        from contracts.catalogue import MESSAGE_TYPES

        return MESSAGE_TYPES
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "CARNET_NUMBER",
    "COUNTRY",
    "Prose",
    "PolicyLabel",
    "FieldPath",
    "PolicyVersion",
    "MAX_DOCUMENT_CHARS",
    "F",
    "Payload",
    "GoodsCategory",
    "Holder",
    "GoodsItem",
    "CarnetItem",
    "Reason",
    "Reasons",
    "GoodsList",
    "CarnetItems",
    "IssuanceRequested",
    "SealedKey",
    "SealedDocument",
    "SealedItem",
    "SealedItems",
    "SealedIssuanceRequested",
    "DuplicateRequested",
    "ReplacementRequested",
    "CarnetIssued",
    "IssuanceRejected",
    "DeclarationSubmitted",
    "TokenIssued",
    "DeclarationRefused",
    "CustomsCommitPosted",
    "CancellationPosted",
    "ItemLocation",
    "ItemLocations",
    "TransactionRecorded",
    "TransactionCancelled",
    "CancellationRefused",
    "ConfirmationRequested",
    "ConfirmationDelivered",
    "SigningKeyPublished",
    "DuplicateCarnetIssued",
    "ReplacementCarnetIssued",
    "CarnetSuccessionDecided",
    "ItemsAccountedFor",
    "ItemLocationsChanged",
    "CarnetStatusChanged",
    "CountryPolicyEntry",
    "CountryPolicyUpdated",
    "TrustedKey",
    "TrustListPublished",
    "MESSAGES",
]
