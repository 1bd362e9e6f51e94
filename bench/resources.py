"""CPU seconds and peak RSS of the stack's processes (psutil on each process tree).

A process tree is a pid and its descendants: PostgreSQL's backends are children of the
postmaster, a service may have worker threads but no children. CPU is user + system time of the
live tree; a backend that exits between two readings takes its time with it, which the pools
(connections kept open for the whole run) make negligible.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping

import psutil


def _tree(pid: int) -> list[psutil.Process]:
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return []


def _cpu(procs: list[psutil.Process]) -> float:
    total = 0.0
    for p in procs:
        with contextlib.suppress(psutil.Error):
            t = p.cpu_times()
            total += t.user + t.system
    return total


def _rss(procs: list[psutil.Process]) -> int:
    total = 0
    for p in procs:
        with contextlib.suppress(psutil.Error):
            total += p.memory_info().rss
    return total


class Monitor:
    """`cpu()` now per name; `peak_rss` sampled in the background while running."""

    def __init__(self, pids: Mapping[str, int], interval_s: float = 0.5) -> None:
        self.pids = dict(pids)
        self.interval_s = interval_s
        self.peak_rss: dict[str, int] = {name: 0 for name in self.pids}
        self._task: asyncio.Task[None] | None = None

    def cpu(self) -> dict[str, float]:
        return {name: _cpu(_tree(pid)) for name, pid in self.pids.items()}

    def sample(self) -> None:
        for name, pid in self.pids.items():
            self.peak_rss[name] = max(self.peak_rss[name], _rss(_tree(pid)))

    async def _run(self) -> None:
        while True:
            self.sample()
            await asyncio.sleep(self.interval_s)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)


def per_thousand(before: Mapping[str, float], after: Mapping[str, float], done: int) -> dict[str, float]:
    """CPU seconds each tree spent per 1,000 completed operations between two readings."""
    if done <= 0:
        return {}
    return {name: round((after[name] - before[name]) * 1000 / done, 3) for name in before}
