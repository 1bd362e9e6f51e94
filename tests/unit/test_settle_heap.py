"""Issue 9: a service freezes what it holds after startup, so full collections stop walking it (tail latency)."""

import gc
import weakref

from runtime.service import settle_heap


class Node:
    pass


def test_settle_heap_frees_garbage_first_then_freezes_what_lives():
    live, dead = Node(), Node()
    dead.me = dead  # a reference cycle: only the collector frees it
    gone = weakref.ref(dead)
    del dead
    try:
        frozen = settle_heap()
        # Garbage frozen would never be freed: the collection must come first.
        assert gone() is None
        assert frozen == gc.get_freeze_count() > 0
        # Frozen objects are out of every generation the collector walks.
        assert not any(o is live for o in gc.get_objects())
    finally:
        gc.unfreeze()
    assert any(o is live for o in gc.get_objects())
