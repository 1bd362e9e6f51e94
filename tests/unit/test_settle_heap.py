"""Issue 9: a service freezes what it holds after startup, so full collections stop walking it (tail latency)."""

import gc
import weakref

from runtime.service import GC_THRESHOLDS, settle_heap


class Node:
    pass


def test_settle_heap_frees_garbage_first_then_freezes_what_lives():
    live, dead = Node(), Node()
    dead.me = dead  # a reference cycle: only the collector frees it
    gone = weakref.ref(dead)
    del dead
    thresholds = gc.get_threshold()
    try:
        frozen = settle_heap()
        assert gc.get_threshold() == GC_THRESHOLDS != thresholds
        # Garbage frozen would never be freed: the collection must come first.
        assert gone() is None
        assert frozen == gc.get_freeze_count() > 0
        # Frozen objects are out of every generation the collector walks.
        assert not any(o is live for o in gc.get_objects())
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)
    assert any(o is live for o in gc.get_objects())
