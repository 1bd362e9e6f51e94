"""Broker faults the embedded broker could not survive, on a three-node Apache Kafka cluster (replication
factor 3, min.insync.replicas 2) under the crash tests' load: SIGKILL of the leader of the commits topic, SIGKILL
of the active controller, and a rolling restart of the three brokers, nothing drained first. Every acknowledged
commit must be recorded once and confirmed once (tests/faults/harness.py counts), whatever ATA_BROKER says.
"""

from __future__ import annotations

import asyncio

import pytest

from contracts.topics import CUSTOMS_COMMITS
from deploy.local.apache_kafka import ApacheKafka
from tests.faults.harness import UNDER_LOAD_S, Fault, Run, run_under_faults
from tests.support.servers import apache_kafka_or_skip

pytestmark = [pytest.mark.e2e, pytest.mark.faults]


def broker_faults(run: Run) -> list[Fault]:
    kafka = run.stack.kafka
    assert isinstance(kafka, ApacheKafka) and len(kafka.nodes) == 3

    async def kill_and_return(node_id: int) -> str:
        kafka.kill_node(node_id)
        await asyncio.sleep(UNDER_LOAD_S)  # down, under load, while the cluster elects new leaders
        await kafka.start_node(node_id)
        await kafka.wait_in_sync()
        return f"node {node_id}"

    async def commits_leader() -> str:
        return await kill_and_return(await kafka.leader_of(CUSTOMS_COMMITS.name, 0))

    async def controller() -> str:
        node = kafka.active_controller()
        assert node is not None, "no node's log names the active controller"
        return await kill_and_return(node)

    async def rolling(node_id: int) -> None:
        # A controlled shutdown (SIGTERM: leaders move away first), back, and every replica in sync before the
        # next node goes: with min.insync.replicas 2 a second node down would stop acks=all writes.
        await kafka.stop_node(node_id)
        await kafka.start_node(node_id)
        await kafka.wait_in_sync()

    return [
        ("kill -9 the leader of the commits topic", commits_leader),
        ("kill -9 the active controller", controller),
        *((f"rolling restart: broker {n}", lambda n=n: rolling(n)) for n in (1, 2, 3)),
    ]


async def test_r8_r11_every_acknowledged_commit_is_recorded_once_through_broker_faults_on_three_nodes(
    tmp_path, monkeypatch
):
    apache_kafka_or_skip()
    await run_under_faults(tmp_path, monkeypatch, "broker-faults", "kafka-cluster", broker_faults)
