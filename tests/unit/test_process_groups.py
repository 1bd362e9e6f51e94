"""deploy.local.processes: a killed process group is waited out before a server restarts on the same data (the
crash test's PostgreSQL restart met a backend still attached to the old shared memory)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys

from deploy.local.processes import group_members, wait_group_gone


async def test_a_group_is_gone_only_when_its_last_live_member_has_exited() -> None:
    # A leader and a grandchild in their own group, as the embedded PostgreSQL's postmaster and backends are.
    leader = subprocess.Popen(  # noqa: ASYNC220 (a test fixture: started once, before anything awaits)
        [
            sys.executable,
            "-c",
            "import subprocess, sys, time; "
            "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); time.sleep(60)",
        ],
        start_new_session=True,
    )
    try:
        async with asyncio.timeout(10):
            while len(group_members(leader.pid)) < 2:  # noqa: ASYNC110 (waiting for the grandchild to exist)
                await asyncio.sleep(0.05)
        assert leader.pid in group_members(leader.pid)
        assert not await wait_group_gone(leader.pid, timeout=0.2)
        os.killpg(leader.pid, signal.SIGKILL)
        leader.wait(timeout=5)
        assert await wait_group_gone(leader.pid, timeout=10)
        assert group_members(leader.pid) == []
    finally:
        if group_members(leader.pid):
            os.killpg(leader.pid, signal.SIGKILL)
        leader.wait(timeout=5)
