"""Child processes of the embedded stack: spawn, stop and clean up without leaving orphans.

Every server (PostgreSQL, tansu, the five services) runs as a child in its own session, so a
Ctrl-C at the terminal reaches only us and we stop the pieces in order; its output is appended
to a log file, so a failure can quote the tail. Three nets make sure nothing outlives us:
`stop_process` (the ordered path), an atexit hook (an exception or `sys.exit` that skipped the
ordered path) and, on Linux, PR_SET_PDEATHSIG (we were killed with SIGKILL).
"""

from __future__ import annotations

import asyncio
import atexit
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path

import psutil

#: Children still running, so the atexit hook can kill what an ordered stop never reached.
_LIVE: set[subprocess.Popen] = set()

_PR_SET_PDEATHSIG = 1


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now (tests use it instead of the fixed defaults)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    # SO_REUSEADDR as the servers themselves set it, so a TIME_WAIT leftover does not count.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def port_owner(port: int) -> str:
    """Best effort "pid N (name)" of the process listening on the port, for error messages."""
    try:
        for conn in psutil.net_connections(kind="tcp"):
            if conn.laddr and conn.laddr.port == port and conn.status == psutil.CONN_LISTEN and conn.pid:
                try:
                    return f"pid {conn.pid} ({psutil.Process(conn.pid).name()})"
                except psutil.Error:
                    return f"pid {conn.pid}"
    except (psutil.Error, OSError):
        pass
    return "an unknown process"


def log_tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return f"(no log at {path})"
    tail = text.splitlines()[-lines:]
    return "\n".join(tail) if tail else f"(log {path} is empty)"


def run_as(user: str | None) -> dict:
    """Popen arguments that drop root for `user`: its uid, its gid and no root groups."""
    if user is None:
        return {}
    import pwd

    entry = pwd.getpwnam(user)
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


def _die_with_parent(parent_pid: int, sig: int) -> None:
    # Runs in the child between fork and exec (after setuid, which would clear the setting).
    # Thread caveat: the signal fires when the *thread* that forked exits, so spawn from the
    # event loop's thread, never from asyncio.to_thread.
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0)
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os.kill(os.getpid(), sig)


def spawn(
    cmd: Sequence[str],
    *,
    log_file: Path,
    env: Mapping[str, str] | None = None,
    user: str | None = None,
    death_signal: int = signal.SIGTERM,
) -> subprocess.Popen:
    """Start `cmd` in a new session with stdout and stderr appended to `log_file`."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    kwargs = run_as(user)
    if sys.platform == "linux":
        parent = os.getpid()
        kwargs["preexec_fn"] = lambda: _die_with_parent(parent, death_signal)
    with open(log_file, "ab") as log:
        proc = subprocess.Popen(
            list(cmd),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=dict(env) if env is not None else None,
            start_new_session=True,
            close_fds=True,
            **kwargs,
        )
    _LIVE.add(proc)
    return proc


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    # The child is its session's leader, so its pid is the group id.
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def kill_process(proc: subprocess.Popen) -> None:
    """SIGKILL the whole group now and reap the leader."""
    _signal_group(proc, signal.SIGKILL)
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass
    _LIVE.discard(proc)


def group_members(pgid: int) -> list[int]:
    """Live processes of a process group (zombies left out: they hold no memory, and nobody may reap them)."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid pgrp ...: comm may hold spaces and parentheses, so split after its last ")".
        fields = stat[stat.rfind(")") + 2 :].split()
        if len(fields) > 2 and int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(entry.name))
    return members


async def wait_group_gone(pgid: int, timeout: float) -> bool:
    """Poll until every process of the group has exited (SIGKILL is delivered asynchronously); True if so."""
    deadline = time.monotonic() + timeout
    while group_members(pgid):
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(0.05)
    return True


async def wait_exit(proc: subprocess.Popen, timeout: float) -> bool:
    """Poll (without blocking the loop) until the process exits; True if it did."""
    deadline = time.monotonic() + timeout
    while proc.poll() is None:
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(0.05)
    return True


async def stop_process(
    proc: subprocess.Popen, *, sig: int = signal.SIGTERM, timeout: float, whole_group: bool = True
) -> int | None:
    """Ask politely (`sig`), wait `timeout` seconds, then SIGKILL the group; returns the exit code.

    The final SIGKILL goes to the group even after a clean exit, so a grandchild that outlived
    its parent does not become an orphan.
    """
    if proc.poll() is None:
        if whole_group:
            _signal_group(proc, sig)
        else:
            try:
                proc.send_signal(sig)
            except ProcessLookupError:
                pass
        if not await wait_exit(proc, timeout):
            _signal_group(proc, signal.SIGKILL)
            await wait_exit(proc, 5)
    _signal_group(proc, signal.SIGKILL)
    _LIVE.discard(proc)
    return proc.returncode


@atexit.register
def _kill_leftovers() -> None:
    for proc in list(_LIVE):
        kill_process(proc)


async def wait_until_ready(
    proc: subprocess.Popen,
    probe: Callable[[], Awaitable[None]],
    *,
    what: str,
    where: str,
    log_file: Path,
    timeout: float,
    retry_on: tuple[type[BaseException], ...],
    error: type[Exception],
) -> None:
    """Probe a starting server until it answers; fail early, quoting its log, if it exits."""
    deadline = time.monotonic() + timeout
    last_error: BaseException | None = None
    while True:
        code = proc.poll()
        if code is not None:
            raise error(f"{what} exited with code {code} while starting; tail of {log_file}:\n{log_tail(log_file)}")
        try:
            await probe()
            return
        except retry_on as exc:
            last_error = exc
        if time.monotonic() >= deadline:
            raise error(
                f"{what} did not answer on {where} within {timeout:.0f} s (last error: {last_error!r}); "
                f"tail of {log_file}:\n{log_tail(log_file)}"
            )
        await asyncio.sleep(0.1)
