"""Thin handlers: request in (topic or HTTP), registry and domain checks, repository + outbox in one transaction.

Every request gets exactly one answer on its NGA's response topic, keyed by the NGA's request id:
CarnetIssued (without the sealed document, which goes to the ledger only), IssuanceRejected, or,
for duplicates (R5) and replacements (R6), the core's CarnetSuccessionDecided once the ledger
has applied or refused it. A repeated request id gets the stored answer again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import asyncpg
from prometheus_client import CollectorRegistry, Counter

from contracts.bounds import REASON_MESSAGE_MAX, to_line
from contracts.catalogue import MESSAGE_TYPES
from contracts.envelope import Envelope, EnvelopeError
from contracts.messages import (
    CarnetSuccessionDecided,
    DuplicateCarnetIssued,
    DuplicateRequested,
    IssuanceRejected,
    IssuanceRequested,
    Payload,
    Reason,
    ReplacementCarnetIssued,
    ReplacementRequested,
    SealedIssuanceRequested,
)
from contracts.topics import ISSUANCE_EVENTS, SHARED_REQUESTS_END, issuance_responses, nga_of_request_topic
from issuer import domain, repository as repo
from issuer.registry import Registry
from runtime.clock import Clock
from runtime.consumer import ContractViolation, Inbound, Record
from runtime.outbox import emit

log = logging.getLogger(__name__)
PRODUCER = "issuer"

Request = IssuanceRequested | SealedIssuanceRequested | DuplicateRequested | ReplacementRequested


class IssuerMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "ata_issuance_requests_total",
            "NGA requests received, by type and channel.",
            ["nga", "type", "channel"],
            registry=registry,
        ).labels
        self.issued = Counter("ata_carnets_issued_total", "Carnets issued.", ["nga"], registry=registry).labels
        self.rejected = Counter(
            "ata_issuance_rejected_total", "Issuance requests rejected, by rule.", ["nga", "rule"], registry=registry
        ).labels
        self.unanswerable = Counter(
            "ata_issuance_unanswerable_total",
            "Requests that broke the contract with no readable NGA or request id: dead-lettered without an answer.",
            registry=registry,
        )
        self.repeated = Counter(
            "ata_issuance_repeated_total",
            "Requests whose id was seen before (answered again, nothing issued).",
            ["nga"],
            registry=registry,
        ).labels
        self.successions = Counter(
            "ata_issuance_successions_total",
            "Duplicates and replacements, by outcome (pending when sent to the core, then applied or refused).",
            ["kind", "outcome"],
            registry=registry,
        ).labels
        self.sender_refused = Counter(
            "ata_issuance_sender_refused_total",
            "Requests refused because their body names "
            "another NGA than the request topic they came on (nga: the topic's).",
            ["nga", "named"],
            registry=registry,
        ).labels
        self.shared_topic = Counter(
            "ata_issuance_shared_topic_total",
            "Requests read from the deprecated shared "
            f"topic ata.issuance.requests.v1 (read until {SHARED_REQUESTS_END}), by the "
            "NGA their body names.",
            ["nga"],
            registry=registry,
        ).labels


class IssuerHandlers:
    def __init__(self, metrics: IssuerMetrics, registry: Callable[[], Registry], clock: Clock) -> None:
        self.metrics = metrics
        self.registry = registry
        self.clock = clock

    # --- Kafka entry points --------------------------------------------------------------------

    async def request(self, conn: asyncpg.Connection, inbound: Inbound[Request]) -> None:
        for checked in await self.senders_checked(conn, [inbound]):
            await self.submit(conn, checked.payload, checked.envelope, channel="kafka")

    async def senders_checked(
        self, conn: asyncpg.Connection, inbounds: list[Inbound[Request]]
    ) -> list[Inbound[Request]]:
        """The requests whose body names the NGA of the topic they came on; the others are answered
        IssuanceRejected (rule 'sender') on the topic's NGA's response topic, once per request id. A request
        from the deprecated shared topic binds nothing: it is decided as its body says, counted and logged."""
        out = []
        for inbound in inbounds:
            req, topic_nga = inbound.payload, nga_of_request_topic(inbound.topic)
            if topic_nga is None:
                self.metrics.shared_topic(req.nga).inc()
                log.warning(
                    "request %s of %s (message id %s) came on the deprecated shared topic %s, read until %s: "
                    "the NGA must write to its own topic",
                    req.request_id,
                    req.nga,
                    inbound.envelope.message_id,
                    inbound.topic,
                    SHARED_REQUESTS_END,
                )
            reason = domain.sender_reason(topic_nga, req.nga)
            if reason is None:
                out.append(inbound)
                continue
            assert topic_nga is not None
            self.metrics.sender_refused(topic_nga, req.nga).inc()
            log.warning(
                "request %s on %s (message id %s) names NGA %s: refused, an NGA sends only its own requests",
                req.request_id,
                inbound.topic,
                inbound.envelope.message_id,
                req.nga,
            )
            answer = IssuanceRejected(request_id=req.request_id, nga=topic_nga, reasons=[reason])
            await self._answer_once(conn, topic_nga, req.request_id, answer, inbound.envelope)
        return out

    async def outcome(self, conn: asyncpg.Connection, inbound: Inbound[CarnetSuccessionDecided]) -> None:
        """The core decided on a duplicate or replacement: answer the NGA that asked for it."""
        d = inbound.payload
        asked = await repo.answer_for_carnet(conn, d.successor_number)
        if asked is None:
            log.error(
                "decision on %s (message %s) names a carnet this issuer did not allocate; ignored",
                d.successor_number,
                inbound.envelope.message_id,
            )
            return
        if asked.outcome != "pending":
            return  # already answered: the first decision stands
        await repo.decide(conn, asked.nga, asked.request_id, d.outcome, d)
        if d.outcome == "refused":
            await repo.set_carnet_status(conn, d.successor_number, "refused")
        else:
            await repo.set_carnet_status(conn, d.successor_number, "issued")
        self.metrics.successions(d.kind, d.outcome).inc()
        await self._respond(conn, asked.nga, asked.request_id, d, inbound.envelope)

    async def refused_record(self, conn: asyncpg.Connection, record: Record, violation: ContractViolation) -> str:
        """A request that broke the contract: answered IssuanceRejected (rule 'contract') when its NGA and
        request id can be read, recorded with the id in this transaction so a redelivery is not answered
        twice; the note for its dead letter either way (runtime.consumer.OnViolation)."""
        found = (
            "the record is over the size limit: not read"
            if violation.kind == "too_large"
            else domain.answerable(record.body, self.registry().ngas)
        )
        if isinstance(found, str):
            self.metrics.unanswerable.inc()
            log.warning(
                "request from %s (message id %s) broke the contract and cannot be answered: %s",
                record.where,
                record.headers.get("ce_id"),
                found,
            )
            return f"no answer: {found}"
        named, request_id = found
        # The topic names the sender: a broken record naming another NGA is answered to the sender only.
        topic_nga = nga_of_request_topic(record.topic)
        nga = topic_nga or named
        reasons = [Reason(rule="contract", code=violation.kind, message=to_line(str(violation), REASON_MESSAGE_MAX))]
        sender = domain.sender_reason(topic_nga, named)
        if sender is not None:
            reasons.append(sender)
            self.metrics.sender_refused(nga, named).inc()
        answer = IssuanceRejected(request_id=request_id, nga=nga, reasons=reasons)
        try:
            cause = Envelope.from_headers(record.headers)
        except EnvelopeError:
            cause = Envelope(type=IssuanceRequested.TYPE, producer=f"nga-{nga}", subject=request_id)
        if not await self._answer_once(conn, nga, request_id, answer, cause):
            return f"no answer: request {request_id} of {nga} was answered before"
        log.info(
            "request %s of %s from %s (message id %s) broke the contract (%s): answered IssuanceRejected",
            request_id,
            nga,
            record.where,
            record.headers.get("ce_id"),
            violation.kind,
        )
        return f"answered IssuanceRejected to request {request_id} of {nga}"

    # --- shared by Kafka and HTTP -----------------------------------------------------------------

    async def submit(self, conn: asyncpg.Connection, req: Request, cause: Envelope, *, channel: str) -> Payload | None:
        """Decide and answer one request inside the caller's transaction; None while the core decides."""
        self.metrics.requests(req.nga, req.TYPE, channel).inc()
        prior = await repo.find_answer(conn, req.nga, req.request_id)
        if prior is not None:
            self.metrics.repeated(req.nga).inc()
            if prior.outcome == "pending":
                return None  # the core's decision is still to come and will be answered once
            answer = MESSAGE_TYPES[(prior.response_type, 1)].model_validate_json(prior.response)
            await self._respond(conn, req.nga, req.request_id, answer, cause)
            return answer
        if isinstance(req, IssuanceRequested):
            return await self._reject(conn, req, [domain.PLAIN_REFUSED], cause)
        reasons = self.registry().check(req.nga, req.issuing_association)
        if isinstance(req, DuplicateRequested):
            reasons += await self._original_reasons(conn, req.nga, req.original_number, "R5")
            return await (self._reject(conn, req, reasons, cause) if reasons else self._duplicate(conn, req, cause))
        reasons += domain.check_sealed(req)
        if isinstance(req, ReplacementRequested):
            reasons += await self._original_reasons(conn, req.nga, req.original_number, "R6")
        if reasons:
            return await self._reject(conn, req, reasons, cause)
        number = await self._allocate(conn, req.nga, req.issue_date.year)
        carnet = domain.issued_sealed(req, number)
        public = carnet.model_copy(update={"document": None})  # the NGA's answer and our table keep no document
        if isinstance(req, ReplacementRequested):
            await repo.insert_carnet(conn, carnet, kind="replacement", original=req.original_number, status="pending")
            event = ReplacementCarnetIssued(
                request_id=req.request_id,
                original_number=req.original_number,
                replacement=carnet,
                requested_at=req.requested_at,
                approved_at=req.approved_at,
            )
            await repo.record_answer(
                conn, req.nga, req.request_id, event.model_copy(update={"replacement": public}), number, "pending"
            )
            # Keyed by the original's number: it follows the original's events in the same partition.
            await emit(conn, ISSUANCE_EVENTS.name, event, key=req.original_number, producer=PRODUCER, cause=cause)
            self.metrics.successions("replacement", "pending").inc()
            return None
        await repo.insert_carnet(conn, carnet)
        await repo.record_answer(conn, req.nga, req.request_id, public, number)
        await emit(conn, ISSUANCE_EVENTS.name, carnet, key=number, producer=PRODUCER, cause=cause)
        await self._respond(conn, req.nga, req.request_id, public, cause)
        self.metrics.issued(req.nga).inc()
        return public

    # --- steps ---------------------------------------------------------------------------------------

    async def _allocate(self, conn: asyncpg.Connection, nga: str, year: int) -> str:
        return domain.carnet_number(nga, year, await repo.next_sequence(conn, nga, year))

    async def _original_reasons(self, conn: asyncpg.Connection, nga: str, original: str, rule: str) -> list[Reason]:
        found = await repo.carnet_origin(conn, original)
        if found is None or found[0] != nga:
            return [
                Reason(
                    rule=rule,
                    code="unknown_original",
                    field="original_number",
                    message=f"{original} is not a carnet issued under the NGA of {nga}",
                )
            ]
        if found[1] != "issued":
            return [
                Reason(
                    rule=rule,
                    code="original_not_in_force",
                    field="original_number",
                    message=f"{original} was never taken into the ledger ({found[1]})",
                )
            ]
        return []

    async def _duplicate(self, conn: asyncpg.Connection, req: DuplicateRequested, cause: Envelope) -> None:
        number = await self._allocate(conn, req.nga, self.clock().year)
        event = DuplicateCarnetIssued(
            request_id=req.request_id,
            original_number=req.original_number,
            duplicate_number=number,
            reason=req.reason,
            issued_at=self.clock(),
        )
        await repo.insert_duplicate(conn, req.original_number, number, req.request_id)
        await repo.record_answer(conn, req.nga, req.request_id, event, number, "pending")
        await emit(conn, ISSUANCE_EVENTS.name, event, key=req.original_number, producer=PRODUCER, cause=cause)
        self.metrics.successions("duplicate", "pending").inc()

    async def _reject(
        self, conn: asyncpg.Connection, req: Request, reasons: list[Reason], cause: Envelope
    ) -> IssuanceRejected:
        answer = self.rejection(req, reasons, cause)
        await repo.record_answer(conn, req.nga, req.request_id, answer, None)
        await self._respond(conn, req.nga, req.request_id, answer, cause)
        return answer

    def rejection(self, req: Request, reasons: list[Reason], cause: Envelope) -> IssuanceRejected:
        """The answer to a request refused for `reasons`, counted and logged (shared with issuer/bulk.py)."""
        for r in reasons:
            self.metrics.rejected(req.nga, r.rule).inc()
        log.info(
            "%s %s of %s rejected (message %s): %s",
            req.TYPE,
            req.request_id,
            req.nga,
            cause.message_id,
            "; ".join(r.message for r in reasons),
        )
        return IssuanceRejected(request_id=req.request_id, nga=req.nga, reasons=reasons)

    async def _answer_once(
        self, conn: asyncpg.Connection, nga: str, request_id: str, answer: IssuanceRejected, cause: Envelope
    ) -> bool:
        """Record and send a rejection unless the request id was answered before (then False, nothing sent)."""
        if not await repo.record_answer_once(conn, nga, request_id, answer):
            log.info(
                "request %s of %s (message id %s) was answered before: no second answer",
                request_id,
                nga,
                cause.message_id,
            )
            return False
        await self._respond(conn, nga, request_id, answer, cause)
        for r in answer.reasons:
            self.metrics.rejected(nga, r.rule).inc()
        return True

    async def _respond(
        self, conn: asyncpg.Connection, nga: str, request_id: str, answer: Payload, cause: Envelope
    ) -> None:
        await emit(
            conn,
            issuance_responses(nga).name,
            answer,
            key=request_id,
            producer=PRODUCER,
            cause=cause,
            subject=answer_subject(answer, request_id),
        )


def answer_subject(answer: Payload, request_id: str) -> str:
    """An answer's envelope subject: the carnet it is about, else the request."""
    return getattr(answer, "carnet_number", None) or getattr(answer, "successor_number", None) or request_id
