"""Start-up with a wrong or missing setting, an unreachable database or broker: one line on stderr naming the
environment variable and what is wrong, exit status 1, no traceback (runtime/startup.py, each `__main__`)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from runtime import startup
from runtime.settings import Settings
from tokens.wallet_auth import WalletConfigError

ROOT = Path(__file__).parents[2]


def closed_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_main(capsys, serve=lambda settings: 0, **settings) -> tuple[int, str]:
    status = startup.main("core", serve, load=lambda: Settings(**settings))
    return status, capsys.readouterr().err


def test_a_malformed_setting_is_named_by_its_environment_variable(capsys, monkeypatch):
    monkeypatch.setenv("ATA_DB_POOL_MAX", "four")
    status = startup.main("core", lambda settings: 0)
    err = capsys.readouterr().err
    assert status == 1 and err.count("\n") == 1
    assert err.startswith("core: cannot start: ATA_DB_POOL_MAX: Input should be a valid integer")
    assert "four" not in err and "Traceback" not in err  # no value printed: some settings are secrets


def test_settings_read_under_another_name_are_named_as_read():
    assert startup.env_name("kafka_bootstrap_servers") == "KAFKA_BOOTSTRAP_SERVERS"
    assert startup.env_name("database_url") == "DATABASE_URL"
    assert startup.env_name("kafka_create_topics") == "ATA_KAFKA_CREATE_TOPICS"


def test_an_unreachable_database_is_named_as_the_database_without_its_password(capsys):
    port = closed_port()
    status, err = run_main(capsys, database_url=f"postgresql://ata:hunter2@127.0.0.1:{port}/ata")
    assert status == 1 and err.count("\n") == 1
    assert err.startswith(f"core: cannot start: DATABASE_URL: cannot connect to the database at 127.0.0.1:{port}/ata (")
    assert "hunter2" not in err


def test_a_database_url_that_is_not_one_is_named(capsys):
    status, err = run_main(capsys, database_url="mysql://nowhere")
    assert status == 1 and "DATABASE_URL: cannot connect to the database" in err


async def test_an_unreachable_broker_is_named_as_the_broker(database_url):
    servers = f"127.0.0.1:{closed_port()}"
    settings = Settings(database_url=database_url, kafka_bootstrap_servers=servers)
    with pytest.raises(startup.StartupError) as raised:
        await startup.preflight(settings, timeout=5)
    assert raised.value.variable == "KAFKA_BOOTSTRAP_SERVERS"
    assert str(raised.value).startswith(f"KAFKA_BOOTSTRAP_SERVERS: cannot reach the Kafka broker at {servers} (")
    await startup.preflight(settings, broker=False, timeout=5)  # the operator commands need no broker


def test_a_missing_key_setting_raised_by_the_service_is_named(capsys, monkeypatch):
    async def reachable(settings, broker=True, timeout=None):
        return None

    def serve(settings):
        raise WalletConfigError("cannot read the wallet issuer public key /nope: No such file")

    monkeypatch.setattr(startup, "preflight", reachable)
    status, err = run_main(capsys, serve)
    assert status == 1
    assert (
        err
        == "core: cannot start: ATA_WALLET_ISSUER_PUBLIC_KEY_PATH: cannot read the wallet issuer public key /nope: No such file\n"
    )


def test_a_bug_is_not_disguised_as_a_setting(monkeypatch):
    async def reachable(settings, broker=True, timeout=None):
        return None

    def serve(settings):
        raise KeyError("a bug")

    monkeypatch.setattr(startup, "preflight", reachable)
    with pytest.raises(KeyError):
        startup.main("core", serve, load=Settings)


@pytest.mark.parametrize("service", ["core", "issuer", "customs_gateway", "claims_worker", "notifier"])
def test_python_m_service_with_an_unreachable_database_prints_one_line(service):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ATA_", "DATABASE_URL", "KAFKA_"))}
    env["DATABASE_URL"] = f"postgresql://ata:secret@127.0.0.1:{closed_port()}/ata"
    run = subprocess.run(
        [sys.executable, "-m", service], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 1, run.stderr
    assert run.stderr.splitlines() == [run.stderr.strip()], run.stderr
    assert run.stderr.startswith(f"{service}: cannot start: DATABASE_URL: cannot connect to the database at 127.0.0.1:")
