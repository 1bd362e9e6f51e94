"""How big a benchmark run is: the full one (`make bench`) and the quick one for CI (`--quick`)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Plan:
    issuance: int
    ramp: tuple[int, ...]  # closed-loop concurrencies
    ramp_s: float
    phase_s: float  # each open-loop run
    verify_requests: int
    photos: int
    relay_msgs: int
    name: str
    idle_s: float = 10  # the idle stack's CPU, measured before any work


FULL = Plan(
    issuance=10_000,
    ramp=(1, 4, 16, 48, 96, 160),
    ramp_s=10,
    phase_s=60,
    verify_requests=500,
    photos=200,
    relay_msgs=50_000,
    name="latest",
)
QUICK = Plan(
    issuance=300,
    ramp=(1, 4, 16),
    ramp_s=3,
    phase_s=5,
    verify_requests=60,
    photos=12,
    relay_msgs=3_000,
    name="quick",
    idle_s=5,
)
