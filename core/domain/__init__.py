"""The core's pure domain: item locations, crossings, country policy, carnet life cycle.

No I/O library is imported anywhere in this package; handlers call it with plain values.
"""

from core.domain.crossings import *  # noqa: F401,F403
from core.domain.crossings import LATEST_ZONE, Carnet, Item  # noqa: F401
from core.domain.policy import CountryPolicy, PolicyBook, parse_policy_book  # noqa: F401
