"""What every use case of the gateway shares: metrics, clock, the trust anchor, the core (typed codes only) and the
in-memory state scans are verified against without waiting on the database."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from cryptography.hazmat.primitives.asymmetric import ec

from customs_gateway.caches import CarnetCache, KeyCache
from customs_gateway.core_lookup import CoreDeclarations
from customs_gateway.domain import Blocked
from customs_gateway.metrics import GatewayMetrics
from runtime.clock import Clock

PRODUCER = "customs_gateway"
#: Typed-code lookups per officer, in PostgreSQL so that every instance counts against the same window:
#: guessing codes stays slow even with a session, and with any number of gateways.
LOOKUPS_PER_MINUTE = 10
LOOKUP_WINDOW = timedelta(seconds=60)


@dataclass
class Gateway:
    metrics: GatewayMetrics
    clock: Clock
    anchor: ec.EllipticCurvePublicKey
    #: Typed codes only: the declaration is asked of the core when an officer types its code.
    core: CoreDeclarations
    keys: KeyCache = field(default_factory=KeyCache)
    carnets: CarnetCache = field(init=False)
    #: Voided and closed carnets (R5, R7), in memory like the keys: scans never wait on a lookup.
    blocked: dict[str, Blocked] = field(default_factory=dict)
    #: R6: per carnet, items a replacement took over (item -> replacement), in memory for the same reason.
    transferred: dict[str, dict[int, str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.carnets = CarnetCache(self.metrics)
