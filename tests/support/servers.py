"""Where the tests' PostgreSQL and Kafka come from: external, testcontainers, or started here.

External when DATABASE_URL / KAFKA_BOOTSTRAP_SERVERS are set; for PostgreSQL, testcontainers when a
Docker engine answers, the embedded server otherwise. Kafka is the broker ATA_BROKER names
(deploy/local/brokers.py): the embedded one (the default), or Apache Kafka, one node or three, from
the jars deploy/kafka/pom.xml fetches. One of each per test session.
"""

from __future__ import annotations

import os
from contextlib import AsyncExitStack


def docker_answers() -> bool:
    try:
        import docker

        client = docker.from_env(timeout=3)
        client.ping()
        return True
    except Exception:
        return False


async def start_postgres(stack: AsyncExitStack) -> str:
    """A server DSN ending in /postgres (the maintenance database)."""
    url = os.environ.get("DATABASE_URL")
    if url:
        from urllib.parse import urlsplit, urlunsplit

        return urlunsplit(urlsplit(url)._replace(path="/postgres"))
    if docker_answers():
        from testcontainers.postgres import PostgresContainer

        container = stack.enter_context(PostgresContainer("postgres:17-alpine", driver=None))
        return container.get_connection_url().replace(f"/{container.dbname}", "/postgres")
    from deploy.local.postgres import EmbeddedPostgres
    from deploy.local.processes import free_port

    server = EmbeddedPostgres(free_port(), ephemeral=True, fast=True, settings={"max_connections": "300"})
    await server.start()
    stack.push_async_callback(server.stop)
    return server.dsn("postgres")


def apache_kafka_or_skip() -> None:
    """Skip (with the command that installs what is missing) where Java or Maven are missing; fail in CI."""
    import pytest

    from deploy.local.kafka_jars import jar_dir, missing_tools

    reason = missing_tools(fetch=not (jar_dir() / ".complete").exists())
    if reason is None:
        return
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(reason)
    pytest.skip(reason)


async def start_kafka(stack: AsyncExitStack) -> str:
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if bootstrap:
        return bootstrap
    import tempfile
    from pathlib import Path

    from deploy.local.brokers import chosen, make_broker
    from deploy.local.processes import free_port

    kind = chosen()
    if kind != "embedded":
        apache_kafka_or_skip()
    broker = make_broker(kind, port=free_port(), root=Path(tempfile.mkdtemp(prefix="ata-kafka-")))
    stack.push_async_callback(broker.stop)
    await broker.start()
    return broker.bootstrap
