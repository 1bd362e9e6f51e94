"""The core's pure domain: item locations, crossings, country policy, carnet life cycle.

No I/O library is imported anywhere in this package; handlers call it with plain values.
"""

from core.domain.crossings import (  # noqa: F401
    ABROAD,
    ACCOUNTED,
    CLOSED,
    CLOSES,
    ENTRY_KINDS,
    EXPORTED,
    FROM,
    HOME,
    HOME_KINDS,
    IN_TRANSIT,
    LATEST_ZONE,
    TO,
    TRANSFERRED,
    VALID,
    VOIDED,
    Carnet,
    Crossing,
    Item,
    apply_crossing,
    check_declaration,
    check_final_date,
    closed_reference,
    final_date_for,
    next_sequence,
)
from core.domain.lifecycle import (  # noqa: F401
    R6_CLOCK_CODES,
    Closing,
    LifecycleRefused,
    account_for,
    close,
    discharged,
    duplicate,
    replacement,
)
from core.domain.policy import CountryPolicy, PolicyBook, parse_policy_book  # noqa: F401
