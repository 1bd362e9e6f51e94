"""Thin handlers: message in, domain call, repository + outbox in the caller's transaction."""

from __future__ import annotations

import logging

import asyncpg
from prometheus_client import CollectorRegistry, Counter

from contracts.messages import MESSAGE_TYPES, IssuanceRejected, IssuanceRequested, Payload
from contracts.topics import ISSUANCE_EVENTS
from issuer import domain, repository as repo
from runtime.consumer import Inbound
from runtime.outbox import emit

log = logging.getLogger(__name__)
PRODUCER = "issuer"


class IssuerMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.issued = Counter("ata_carnets_issued_total", "Carnets issued.", ["nga"], registry=registry).labels
        self.rejected = Counter("ata_issuance_rejected_total", "Issuance requests rejected, by rule.", ["nga", "rule"], registry=registry).labels
        self.repeated = Counter("ata_issuance_repeated_total", "Requests whose id was seen before (answered again, nothing issued).", ["nga"], registry=registry).labels


class IssuerHandlers:
    def __init__(self, metrics: IssuerMetrics) -> None:
        self.metrics = metrics

    async def issuance_requested(self, conn: asyncpg.Connection, inbound: Inbound[IssuanceRequested]) -> None:
        req = inbound.payload
        prior = await repo.find_answer(conn, req.nga, req.request_id)
        if prior is not None:
            # The same request id is answered the same way, whatever message id it came with.
            type_, body = prior
            answer: Payload = MESSAGE_TYPES[(type_, 1)].model_validate_json(body)
            await self._answer(conn, inbound, answer)
            self.metrics.repeated(req.nga).inc()
            return
        reasons = domain.check_request(req)
        if reasons:
            answer = IssuanceRejected(request_id=req.request_id, nga=req.nga, reasons=reasons)
            await repo.record_answer(conn, req.nga, req.request_id, answer, None)
            for r in reasons:
                self.metrics.rejected(req.nga, r.rule).inc()
            log.info("issuance request %s of %s rejected (message %s): %s", req.request_id, req.nga,
                     inbound.envelope.message_id, "; ".join(r.message for r in reasons))
        else:
            sequence = await repo.next_sequence(conn, req.nga, req.issue_date.year)
            answer = domain.issued(req, domain.carnet_number(req.nga, req.issue_date.year, sequence))
            await repo.insert_carnet(conn, answer)
            await repo.record_answer(conn, req.nga, req.request_id, answer, answer.carnet_number)
            self.metrics.issued(req.nga).inc()
        await self._answer(conn, inbound, answer)

    async def _answer(self, conn: asyncpg.Connection, inbound: Inbound[IssuanceRequested], answer: Payload) -> None:
        # Issued carnets are keyed by carnet number (their events stay in order); rejections by request id.
        key = getattr(answer, "carnet_number", None) or answer.request_id  # type: ignore[attr-defined]
        await emit(conn, ISSUANCE_EVENTS.name, answer, key=key, producer=PRODUCER, cause=inbound.envelope)
