"""ACLs proven on Apache Kafka: SASL/SCRAM-SHA-512, the standard authorizer, one principal per service and per
NGA, the ACLs deployed as Strimzi KafkaUsers (deploy/kafka_users.py, applied through deploy/kafka_acls.py).
An NGA writes only its own request topic and reads only its own response
topic; each service writes what it produces, reads what it consumes in its own group, and nothing else.
"""

from __future__ import annotations

import asyncio
import secrets

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import GroupAuthorizationFailedError, TopicAuthorizationFailedError
from aiokafka.protocol.admin import CreateAclsRequest

from contracts.topics import (
    CUSTOMS_COMMITS,
    ISSUANCE_REQUESTS,
    TOPICS,
    all_topic_partitions,
    issuance_requests,
    issuance_responses,
)
from deploy.kafka_acls import ALLOW, OPERATION, PATTERN, RESOURCE, plan
from deploy.kafka_settings import scram_listener
from deploy.kafka_users import nga_user, service_user
from deploy.local.apache_kafka import ApacheKafka
from runtime.settings import DEFAULT_PORTS
from tests.support.servers import apache_kafka_or_skip

pytestmark = pytest.mark.integration

SERVICES = tuple(DEFAULT_PORTS)
NGAS = ("FR", "CH")
TOPIC_AUTHORIZATION_FAILED = 29


@pytest.fixture(scope="module")
async def cluster(tmp_path_factory):
    apache_kafka_or_skip()
    users = {"admin": secrets.token_urlsafe(18)}
    users |= {service_user(s): secrets.token_urlsafe(18) for s in SERVICES}
    users |= {nga_user(n): secrets.token_urlsafe(18) for n in NGAS}
    scram = [
        arg
        for user, password in users.items()
        for arg in ("--add-scram", f"SCRAM-SHA-512=[name={user},password={password}]")
    ]
    kafka = ApacheKafka(
        1,
        base_dir=tmp_path_factory.mktemp("acl-kafka"),
        format_args=scram,
        listener=scram_listener(users["admin"], secrets.token_urlsafe(18)),
    )
    await kafka.start()
    try:
        admin = AIOKafkaAdminClient(**_as(kafka, users, "admin"))
        await _retry(admin.start)
        try:
            topics = all_topic_partitions(NGAS)  # the operator's topics, each NGA's two included
            await admin.create_topics([NewTopic(name, count, 1) for name, count in topics.items()])
            for acl in plan(NGAS):
                response = await admin._send_request(
                    CreateAclsRequest(
                        RESOURCE[acl.resource],
                        acl.name,
                        PATTERN[acl.pattern],
                        acl.principal,
                        "*",
                        OPERATION[acl.operation],
                        ALLOW,
                    )
                )
                assert [r[0] for r in response.creation_responses] == [0], (acl, response)
        finally:
            await admin.close()
        await asyncio.sleep(1.0)  # the ACLs travel through the metadata log to the authorizer
        yield kafka, users
    finally:
        await kafka.stop()


def _as(kafka: ApacheKafka, users: dict[str, str], user: str) -> dict:
    return {
        "bootstrap_servers": kafka.bootstrap,
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": user,
        "sasl_plain_password": users[user],
        "request_timeout_ms": 10000,
    }


async def _retry(start, attempts: int = 40) -> None:
    for _ in range(attempts - 1):
        try:
            return await start()
        except Exception:  # the listener accepts before the broker serves: try again
            await asyncio.sleep(0.5)
    await start()


async def can_write(cluster, user: str, topic: str, *, idempotent: bool = False) -> bool:
    kafka, users = cluster
    producer = AIOKafkaProducer(**_as(kafka, users, user), acks="all", enable_idempotence=idempotent)
    await producer.start()
    try:
        await producer.send_and_wait(topic, b"probe", partition=0)
        return True
    except TopicAuthorizationFailedError:
        return False
    finally:
        await producer.stop()


async def can_read(cluster, user: str, topic: str, group: str | None = None) -> bool:
    """Reads partition 0 from the beginning; a group commits what it read (the services do)."""
    kafka, users = cluster
    # Without DESCRIBE there is no READ (READ implies DESCRIBE), and aiokafka's consumer would wait for
    # the topic's metadata forever: ask the metadata first.
    admin = AIOKafkaAdminClient(**_as(kafka, users, user))
    await admin.start()
    try:
        described = await admin.describe_topics([topic])
    finally:
        await admin.close()
    if described[0]["error_code"] == TOPIC_AUTHORIZATION_FAILED:
        return False
    consumer = AIOKafkaConsumer(**_as(kafka, users, user), group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        await asyncio.wait_for(consumer.seek_to_beginning(tp), 20)
        await asyncio.wait_for(consumer.getmany(tp, timeout_ms=2000), 20)
        if group:
            await asyncio.wait_for(consumer.commit({tp: 0}), 20)
        return True
    except (TopicAuthorizationFailedError, GroupAuthorizationFailedError):
        return False
    finally:
        await consumer.stop()


async def test_an_nga_writes_only_its_own_request_topic_and_reads_only_its_own_responses(cluster):
    fr = nga_user("FR")
    assert await can_write(cluster, fr, issuance_requests("FR").name)
    assert not await can_write(cluster, fr, issuance_requests("CH").name)
    assert not await can_write(cluster, fr, issuance_responses("FR").name)  # only the issuer answers
    assert not await can_write(cluster, fr, ISSUANCE_REQUESTS.name)  # the shared topic: nobody's but the issuer's
    assert await can_read(cluster, fr, issuance_responses("FR").name)
    assert not await can_read(cluster, fr, issuance_responses("CH").name)
    assert not await can_read(cluster, fr, issuance_requests("CH").name)
    assert not await can_read(cluster, fr, issuance_requests("FR").name)  # its own requests: written, not read back


async def test_each_service_writes_what_it_produces_and_nothing_it_does_not(cluster):
    for service in SERVICES:
        user = service_user(service)
        produced = [t for t in TOPICS if service in t.producers]
        for topic in produced:
            assert await can_write(cluster, user, topic.name, idempotent=True), (service, topic.name)
        other = next(t for t in TOPICS if service not in t.producers)
        assert not await can_write(cluster, user, other.name, idempotent=True), (service, other.name)
        assert not await can_write(cluster, user, issuance_requests("FR").name), service


async def test_a_service_reads_only_what_it_consumes_and_only_in_its_own_group(cluster):
    assert "core" in CUSTOMS_COMMITS.consumers and "notifier" not in CUSTOMS_COMMITS.consumers
    assert await can_read(cluster, service_user("core"), CUSTOMS_COMMITS.name, group="core")
    assert not await can_read(cluster, service_user("core"), CUSTOMS_COMMITS.name, group="notifier")
    assert not await can_read(cluster, service_user("notifier"), CUSTOMS_COMMITS.name, group="notifier")
    # the issuer reads every registered NGA's requests and writes every NGA's answers
    assert await can_read(cluster, service_user("issuer"), issuance_requests("CH").name, group="issuer")
    assert await can_write(cluster, service_user("issuer"), issuance_responses("CH").name, idempotent=True)


async def test_no_principal_but_the_operator_creates_a_topic_outside_the_catalogue(cluster):
    kafka, users = cluster
    for user in (service_user("customs_gateway"), nga_user("FR")):
        admin = AIOKafkaAdminClient(**_as(kafka, users, user))
        await admin.start()
        try:
            response = await admin.create_topics([NewTopic("ata.rogue.v1", 1, 1)])
        finally:
            await admin.close()
        assert [entry[1] for entry in response.topic_errors] == [TOPIC_AUTHORIZATION_FAILED], user
