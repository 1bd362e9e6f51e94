"""Session-wide servers and per-test databases; tests never read the wall clock for business dates."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import pytest

from tests.support import databases, servers

# The broker the tests start (deploy/local/brokers.py) and the one the services in them expect
# (runtime/broker_kind.py): the embedded one unless ATA_BROKER names Apache Kafka.
os.environ.setdefault("ATA_BROKER", "embedded")


@pytest.fixture(scope="session")
async def pg_server() -> AsyncIterator[str]:
    async with AsyncExitStack() as stack:
        dsn = await servers.start_postgres(stack)
        await databases.create_template(dsn)
        yield dsn


@pytest.fixture
async def database_url(pg_server: str) -> AsyncIterator[str]:
    url = await databases.fresh_database(pg_server)
    yield url
    await databases.drop_database(pg_server, url)


@pytest.fixture(scope="session")
async def kafka_bootstrap() -> AsyncIterator[str]:
    from contracts.topics import all_topic_partitions
    from runtime.broker import ensure_topics
    from runtime.broker_kind import BrokerKind
    from runtime.settings import Settings

    settings = Settings()
    kind = BrokerKind.of(settings)
    async with AsyncExitStack() as stack:
        bootstrap = await servers.start_kafka(stack)
        await ensure_topics(
            bootstrap,
            all_topic_partitions(),
            replication_factor=kind.replication_factor,
            configs=kind.topic_configs(settings),
        )
        yield bootstrap
