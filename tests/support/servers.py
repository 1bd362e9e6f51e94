"""Where the tests' PostgreSQL and Kafka come from: external, testcontainers, or embedded.

External when DATABASE_URL / KAFKA_BOOTSTRAP_SERVERS are set; testcontainers when a Docker
engine answers; the embedded servers otherwise. One of each per test session.
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


async def start_kafka(stack: AsyncExitStack) -> str:
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if bootstrap:
        return bootstrap
    if docker_answers():
        from testcontainers.kafka import KafkaContainer

        container = stack.enter_context(KafkaContainer())
        return container.get_bootstrap_server()
    from deploy.local.kafka import EmbeddedKafka
    from deploy.local.processes import free_port
    import tempfile

    broker = EmbeddedKafka(free_port(), log_dir=tempfile.mkdtemp(prefix="ata-kafka-"))
    await broker.start()
    stack.push_async_callback(broker.stop)
    return broker.bootstrap
