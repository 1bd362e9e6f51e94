"""Work a handler leaves for after its transaction has committed, never done if it rolls back.

A handler runs inside the BatchConsumer's transaction and cannot tell when (or whether) it commits: the
batch may fall back to the careful way and run it again, a savepoint may roll its effects back, a
transient failure may roll the whole batch back. What must only happen once its rows are durable and
visible (the notifier hands the deliveries it just stored to its own worker) is registered with
`after_commit`; the BatchConsumer runs the callbacks once the transaction committed, and drops those of a
rolled-back transaction or savepoint. Callbacks are synchronous and quick (queue something, set an event).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

log = logging.getLogger(__name__)

Callback = Callable[[], None]

_pending: ContextVar[list[Callback] | None] = ContextVar("ata_after_commit", default=None)


def collecting() -> bool:
    """Whether the caller runs inside a transaction whose commit runs callbacks (a consumer's batch)."""
    return _pending.get() is not None


def after_commit(callback: Callback) -> bool:
    """Run `callback` once the current consumer transaction committed. Answers False, keeping nothing,
    outside one: the caller must then not count on it (decide with `collecting()` before writing)."""
    pending = _pending.get()
    if pending is None:
        return False
    pending.append(callback)
    return True


@contextmanager
def collect() -> Iterator[list[Callback]]:
    """The consumer's side: callbacks registered within, in order, for `run` after the commit."""
    callbacks: list[Callback] = []
    token = _pending.set(callbacks)
    try:
        yield callbacks
    finally:
        _pending.reset(token)


def mark() -> int:
    """Where a savepoint starts: `discard(mark)` when it rolls back."""
    pending = _pending.get()
    return 0 if pending is None else len(pending)


def discard(since: int = 0) -> None:
    """Drop the callbacks registered since `since` (their savepoint or transaction rolled back)."""
    pending = _pending.get()
    if pending is not None:
        del pending[since:]


def run(callbacks: list[Callback]) -> None:
    """After the commit: each callback, one failing not stopping the others (the effects are committed)."""
    for callback in callbacks:
        try:
            callback()
        except Exception:
            log.exception("a callback after a consumer's commit failed")


def once_committed(callback: Callback) -> None:
    """For what a handler counts: after its consumer transaction commits, since a batch that falls back to the
    careful way runs the handler again and a rolled-back one did nothing; at once outside a consumer (a route
    counts after its own transaction)."""
    if not after_commit(callback):
        callback()
