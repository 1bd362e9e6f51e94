"""A free block of the local stack's service ports, for the tests that start the whole stack."""

from __future__ import annotations

import random

from deploy.local.processes import port_is_free
from deploy.local.services import SERVICES
from runtime.settings import DEFAULT_PORTS


def free_port_offset() -> int:
    for _ in range(50):
        offset = random.randrange(1000, 20000, 10)
        if all(port_is_free(DEFAULT_PORTS[s] + offset) for s in SERVICES):
            return offset
    raise RuntimeError("no free block of service ports")
