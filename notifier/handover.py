"""First attempts handed from the consumer to this process's delivery worker, and when the worker scans.

The consumer stores a confirmation's deliveries and, for each that heads its lane (no pending delivery of
the same endpoint and carnet before it), takes the first attempt itself: the row is written leased, with
`attempts` 1 and `next_attempt_at` the lease's end, exactly as the due scan (repository.claim_due) would
have left it. Once that transaction committed (runtime.commit_hooks) the rows, with what the push needs,
come here and the worker pushes them without a scan. A row never pushed from here (the process died, or
it waited too long) is the due scan's once its lease ends, as a row whose worker died mid-attempt is.

The due scan stays the path for everything else (retries, later deliveries of a lane, other instances'
rows, replays, restarts); it runs when asked (a NOTIFY, a lane freed, start-up) and at least once a
period whatever happens, so a stream of hand-overs never starves retries and a NOTIFY missed while nobody
listened (a lost listener) is caught up within a period.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

#: Hand-overs waiting at most; beyond, the consumer stores deliveries due now for the scan (back-pressure).
CAPACITY = 500


class HandOver:
    def __init__(
        self,
        wake: asyncio.Event,
        *,
        scan_every_s: float = 1.0,
        capacity: int = CAPACITY,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.wake = wake
        self.scan_every_s = scan_every_s
        self.capacity = capacity
        self.monotonic = monotonic
        #: The worker runs here (its loop started and not ended): nothing is handed over otherwise.
        self.open = False
        self._rows: deque[Any] = deque()
        self._scan_asked = True  # start-up: rows of before the restart
        self._last_scan = float("-inf")

    def accepting(self) -> bool:
        return self.open and len(self._rows) < self.capacity

    def put(self, rows: Iterable[Any]) -> None:
        """After the consumer's commit: rows leased to this process, pushed next pass (left to the scan, after
        their lease, if the worker ended meanwhile)."""
        if self.open:
            self._rows.extend(rows)
            self.wake.set()

    def __len__(self) -> int:
        return len(self._rows)

    def take(self, limit: int, now: datetime, attempt: timedelta) -> tuple[list[Any], list[Any]]:
        """(up to `limit` rows to push now, rows left to the due scan). A row is pushed only if its attempt
        ends within its lease, `attempt` being the longest one takes: past that, the scan may give it to
        another worker, and two would push it."""
        ready: list[Any] = []
        late: list[Any] = []
        while self._rows and len(ready) < limit:
            row = self._rows.popleft()
            (ready if now + attempt < row["next_attempt_at"] else late).append(row)
        return ready, late

    def ask_scan(self) -> None:
        """A NOTIFY came, or a lane freed: the next pass scans."""
        self._scan_asked = True
        self.wake.set()

    def scan_due(self) -> bool:
        """Whether this pass scans: asked to, or a period went by without a scan."""
        return self._scan_asked or self.monotonic() - self._last_scan >= self.scan_every_s

    def scanning(self) -> None:
        """A scan starts: what asks for one from now on asks for the next."""
        self._scan_asked = False
        self._last_scan = self.monotonic()

    def close(self) -> None:
        """The worker ended: nothing more handed over; rows still here wait for their lease to end."""
        self.open = False
        self._rows.clear()
