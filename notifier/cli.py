"""Operator commands: `python -m notifier [serve]`, `dead-letters`, `replay --delivery ID ... | --all-dead`.

Replay puts dead deliveries back in the queue of the running notifier (the row changes and a NOTIFY
wakes its worker), with a fresh budget of attempts; the delivery log keeps the earlier attempts.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence
from uuid import UUID

from notifier import repository as repo
from runtime.clock import Clock, utc_now
from runtime.db import create_pool
from runtime.settings import Settings

SCHEMA = "notifier"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m notifier", description="The ATA notifier and its operator commands.")
    sub = p.add_subparsers(dest="command")
    sub.add_parser("serve", help="run the service (the default)")
    dead = sub.add_parser("dead-letters", help="list deliveries that exhausted their attempts or lost their endpoint")
    dead.add_argument("--all", action="store_true", help="include those already replayed")
    replay = sub.add_parser("replay", help="queue dead deliveries again")
    which = replay.add_mutually_exclusive_group(required=True)
    which.add_argument("--delivery", type=UUID, action="append", metavar="ID", help="a delivery id (repeatable)")
    which.add_argument("--all-dead", action="store_true", help="every dead letter not replayed yet")
    return p


async def list_dead(settings: Settings, include_replayed: bool, out=print) -> int:
    pool = await create_pool(settings.database_url, SCHEMA, min_size=1, max_size=1)
    try:
        async with pool.acquire() as conn:
            rows = await repo.dead_letters(conn, include_replayed)
    finally:
        await pool.close()
    for r in rows:
        out(
            f"{r['delivery_id']}  {r['dead_at']:%Y-%m-%d %H:%M:%S}  {r['carnet_number']}  {r['recipient_id']}  "
            f"{r['channel']}  {r['event_type']}  attempts={r['attempts']}  "
            f"{'replayed ' + str(r['replayed_at']) if r['replayed_at'] else 'open'}  {r['reason']}"
        )
    out(f"{len(rows)} dead letter(s)")
    return 0


async def replay(settings: Settings, delivery_ids: list[UUID] | None, clock: Clock = utc_now, out=print) -> int:
    """Exit status 0 if every dead letter asked for was queued again, 1 otherwise (each one is said why)."""
    pool = await create_pool(settings.database_url, SCHEMA, min_size=1, max_size=1)
    try:
        async with pool.acquire() as conn, conn.transaction():
            rows = await repo.replay(conn, delivery_ids, clock())
    finally:
        await pool.close()
    found = {r["delivery_id"] for r in rows}
    failed = queued = 0
    for r in rows:
        if r["endpoint_active"] and r["status"] == "dead":
            queued += 1
            out(f"{r['delivery_id']}: queued again")
        else:
            failed += 1
            out(f"{r['delivery_id']}: not replayed, its endpoint is disabled (the recipient must register it again)")
    for missing in [d for d in delivery_ids or [] if d not in found]:
        failed += 1
        out(f"{missing}: not replayed, no open dead letter with this delivery id")
    out(f"{queued} delivery(ies) queued again")
    return 1 if failed else 0


def main(argv: Sequence[str] | None = None, settings: Settings | None = None) -> int:
    args = parser().parse_args(argv)
    settings = settings or Settings()
    if args.command in (None, "serve"):
        from notifier.app import build

        build(settings).run()
        return 0
    if args.command == "dead-letters":
        return asyncio.run(list_dead(settings, args.all))
    return asyncio.run(replay(settings, None if args.all_dead else args.delivery))
