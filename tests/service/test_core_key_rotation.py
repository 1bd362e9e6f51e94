"""Two core instances share one signing-key file (a Kubernetes Secret). When one restarts with a new key it
rotates the old one out; the other must not go on signing with the retired key (its tokens would be refused at
the border): it adopts the new key once its file has it, and says so while the file is still stale."""

from __future__ import annotations

from core.app import build
from tests.support.core import fetch
from tokens.cose import generate_signing_key


async def test_an_instance_adopts_the_key_another_instance_rotated_to(settings, clock, running):
    first = build(settings, clock=clock)
    second = build(settings, clock=clock)
    old, new = generate_signing_key(), generate_signing_key()
    file_holds = [old]
    async with running(first), running(second):
        h1, h2 = first.state["handlers"], second.state["handlers"]
        async with first.pool.acquire() as conn:
            await h1.publish_signing_key(conn, old)
        async with second.pool.acquire() as conn:
            await h2.publish_signing_key(conn, old)
            await h2.follow_signing_key(conn, lambda: file_holds[0])
            unchanged = h2.signing_key.kid
        async with first.pool.acquire() as conn:  # the first restarts with the new key: old is retired
            await h1.publish_signing_key(conn, new)
        async with second.pool.acquire() as conn:
            await h2.follow_signing_key(conn, lambda: file_holds[0])  # its file is not updated yet
            stale = second.registry.get_sample_value("ata_core_signing_key_retired")
            file_holds[0] = new
            await h2.follow_signing_key(conn, lambda: file_holds[0])
        adopted = h2.signing_key.kid
        healed = second.registry.get_sample_value("ata_core_signing_key_retired")
        keys = await fetch(first, "SELECT kid, not_after IS NULL AS signing FROM signing_keys ORDER BY not_before, kid")
        lists = await fetch(first, "SELECT count(*) AS n FROM trust_lists")
    assert unchanged == old.kid
    assert stale == 1 and healed == 0
    assert adopted == new.kid
    assert {(r["kid"], r["signing"]) for r in keys} == {(old.kid.hex(), False), (new.kid.hex(), True)}
    assert lists[0]["n"] == 3  # adopting publishes nothing: only the three starts did


async def test_an_instance_whose_file_holds_a_key_nobody_published_rotates_to_it(settings, clock, running):
    first = build(settings, clock=clock)
    old, other, newest = generate_signing_key(), generate_signing_key(), generate_signing_key()
    async with running(first):
        h = first.state["handlers"]
        async with first.pool.acquire() as conn:
            await h.publish_signing_key(conn, old)
            await h.publish_signing_key(conn, other)  # another instance rotated old out
            h.signing_key = old  # this instance still signs with old
            await h.follow_signing_key(conn, lambda: newest)
        keys = await fetch(first, "SELECT kid FROM signing_keys WHERE not_after IS NULL")
    assert h.signing_key.kid == newest.kid
    assert [r["kid"] for r in keys] == [newest.kid.hex()]
