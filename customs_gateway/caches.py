"""The gateway's in-memory caches of trust keys and carnets on file: verification never waits on the database."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric import ec

from customs_gateway.domain import CarnetOnFile, KeyWindow
from customs_gateway.metrics import GatewayMetrics
from tokens.cose import public_key_from_jwk


class KeyCache:
    """The trust keys in memory: verification never waits on the database or the core."""

    def __init__(self) -> None:
        self._keys: dict[bytes, tuple[ec.EllipticCurvePublicKey, KeyWindow]] = {}

    def key(self, kid: bytes) -> ec.EllipticCurvePublicKey | None:
        entry = self._keys.get(kid)
        return entry[0] if entry else None

    def window(self, kid: bytes) -> KeyWindow | None:
        entry = self._keys.get(kid)
        return entry[1] if entry else None

    def __len__(self) -> int:
        return len(self._keys)

    def replace(self, entries: list[tuple[str, dict[str, str], KeyWindow]]) -> None:
        """Swap in a whole list at once: a verification never sees half of two lists."""
        self._keys = {bytes.fromhex(kid): (public_key_from_jwk(jwk), window) for kid, jwk, window in entries}


class CarnetCache:
    """Carnets on file in memory: a stored carnet never changes (insert ... ON CONFLICT DO NOTHING, no update,
    no delete), so one read serves every later scan. A carnet not on file is not remembered: it may arrive at
    any moment. Bounded; the oldest entry goes first."""

    def __init__(self, metrics: GatewayMetrics, size: int = 20_000) -> None:
        self._rows: dict[str, CarnetOnFile] = {}
        self.size = size
        self._hit, self._miss = metrics.cache("carnet", "hit"), metrics.cache("carnet", "miss")

    def get(self, number: str) -> CarnetOnFile | None:
        found = self._rows.get(number)
        (self._hit if found is not None else self._miss).inc()
        return found

    def put(self, carnet: CarnetOnFile | None) -> None:
        if carnet is None or carnet.carnet_number in self._rows:
            return
        if len(self._rows) >= self.size:
            del self._rows[next(iter(self._rows))]
        self._rows[carnet.carnet_number] = carnet
