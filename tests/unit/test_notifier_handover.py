"""notifier.handover: what the consumer hands the worker, pushed only while its lease outlasts an attempt, and a
scan of due rows when asked or once a period, on an injected monotonic clock."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from notifier.handover import HandOver

NOW = datetime(2026, 11, 22, 9, 30, tzinfo=UTC)
ATTEMPT = timedelta(seconds=10)


class Ticks:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def row(n: int, lease_left: timedelta) -> dict[str, object]:
    return {"delivery_id": n, "next_attempt_at": NOW + lease_left}


async def test_only_an_open_hand_over_with_room_accepts_and_putting_wakes_the_worker() -> None:
    wake = asyncio.Event()
    handover = HandOver(wake, capacity=2)
    assert not handover.accepting()
    handover.open = True
    handover.put([row(1, timedelta(seconds=25))])
    assert wake.is_set() and handover.accepting()
    handover.put([row(2, timedelta(seconds=25))])
    assert not handover.accepting()  # full: the consumer stores the next ones due now, for the scan
    handover.close()
    handover.put([row(3, timedelta(seconds=25))])  # committed as the worker ended: left to the scan
    assert len(handover) == 0 and not handover.accepting()


async def test_rows_whose_lease_an_attempt_could_outlast_are_left_to_the_scan() -> None:
    handover = HandOver(asyncio.Event())
    handover.open = True
    handover.put([row(1, timedelta(seconds=25)), row(2, ATTEMPT), row(3, timedelta(seconds=11)), row(4, timedelta(25))])
    ready, late = handover.take(2, NOW, ATTEMPT)
    assert [r["delivery_id"] for r in ready] == [1, 3] and [r["delivery_id"] for r in late] == [2]
    assert len(handover) == 1  # beyond the limit: the next pass


async def test_a_scan_runs_when_asked_and_at_least_once_a_period() -> None:
    ticks = Ticks()
    handover = HandOver(asyncio.Event(), scan_every_s=1.0, monotonic=ticks)
    assert handover.scan_due()  # start-up: rows of before the restart
    handover.scanning()
    ticks.now += 0.5
    assert not handover.scan_due()
    handover.ask_scan()
    assert handover.scan_due() and handover.wake.is_set()
    handover.scanning()
    ticks.now += 1.0
    assert handover.scan_due()  # however many hand-overs came meanwhile: retries are not starved
