"""The direct path's bookkeeping (runtime/outbox_direct.py): the NOTIFY payload read back, and the in-memory rows
bounded by count and age whatever the writers do (hostile or failing statements leave hints behind)."""

from __future__ import annotations

from uuid import uuid4

from runtime.outbox_direct import DIRECT_MAX_ROWS, Hints, parse_notice


def test_parse_notice_reads_the_direct_rows_and_whether_a_take_is_due():
    a, b = str(uuid4()), str(uuid4())
    assert parse_notice(f"1:{a},2:{b}") == (False, [(1, a), (2, b)])
    assert parse_notice(f"+3:{a}") == (True, [(3, a)])
    assert parse_notice("+") == (True, [])
    assert parse_notice("") == (True, [])  # a writer that names no row: the take looks


def test_parse_notice_skips_what_it_cannot_read():
    a = str(uuid4())
    assert parse_notice(f"x:{a},4:short,5{a},6:{a}") == (False, [(6, a)])
    assert parse_notice("," * 1000) == (False, [])


def test_hints_are_wanted_only_with_a_relay_running_and_for_small_statements():
    hints = Hints()
    assert not hints.wanted(1)
    hints.active = 1
    assert hints.wanted(1) and hints.wanted(DIRECT_MAX_ROWS)
    assert not hints.wanted(DIRECT_MAX_ROWS + 1) and not hints.wanted(0)


def test_hints_are_bounded_by_count_and_age():
    now = [0.0]
    hints = Hints(cap=3, ttl_s=10.0, monotonic=lambda: now[0])
    ids = [uuid4() for _ in range(5)]
    for i in ids[:4]:
        hints.add(i, "t", b"k", "{}", b"p")
    assert len(hints) == 3 and hints.take(str(ids[0])) is None  # the oldest went when the fourth came
    now[0] = 11.0
    hints.add(ids[4], "t", None, "{}", b"p")
    assert len(hints) == 1  # the others were older than the TTL
    taken = hints.take(str(ids[4]))
    assert taken is not None and taken.key is None and taken.at == 11.0
    assert hints.take(str(ids[4])) is None  # taken once


def test_hints_are_bounded_by_bytes():
    hints = Hints(cap=100, bytes_cap=10_000, monotonic=lambda: 0.0)
    ids = [uuid4() for _ in range(4)]
    for i in ids:
        hints.add(i, "t", None, "{}", b"x" * 4_000)
    assert len(hints) == 2 and hints.bytes == 2 * 4_002  # the two oldest went to keep the budget
    assert hints.take(str(ids[3])) is not None and hints.bytes == 4_002
