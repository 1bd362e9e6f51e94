"""Bulk issuance: a batch of sealed issuance requests with a constant number of round trips.

The per-message path (IssuerHandlers.submit) costs ~8 round trips a carnet (inbox claim, prior
answer, sequence, carnet, answer, two outbox rows, savepoint); at bulk volume the issuer spent
its time waiting on them (bench/README.md). Here a batch takes one look-up of prior answers, one
sequence reservation per (NGA, year), one INSERT of carnets, one of answers and one of outbox
rows, whatever its size. The rules (R1-R4) and the answers are exactly the per-message ones:
the same domain checks, the same rejection (IssuerHandlers.rejection), the same numbers in
request order. Anything else (duplicates R5, replacements R6, plain documents, a request id
already answered or repeated within the batch) goes through `submit` one by one, after the
bulk part, so a repeat sees the first answer. If anything raises, runtime.consumer rolls the
whole batch part back and handles every message alone (dead-lettering a bad one alone).
"""

from __future__ import annotations

from collections import Counter
from itertools import groupby
from typing import Any

import asyncpg

from contracts.envelope import Envelope
from contracts.messages import CarnetIssued, Payload, SealedIssuanceRequested
from contracts.topics import ISSUANCE_EVENTS, issuance_responses
from issuer import domain, repository as repo
from issuer.handlers import PRODUCER, IssuerHandlers, answer_subject
from runtime.consumer import Inbound
from runtime.outbox import Queued, add_many, envelope_for

Issue = tuple[SealedIssuanceRequested, Envelope]


async def handle_requests(h: IssuerHandlers, conn: asyncpg.Connection, inbounds: list[Inbound[Any]]) -> None:
    """Decide and answer every request of a batch inside the caller's savepoint."""
    inbounds = await h.senders_checked(conn, inbounds)
    sealed = {(i.payload.nga, i.payload.request_id) for i in inbounds if type(i.payload) is SealedIssuanceRequested}
    prior = await repo.find_answers(conn, sorted(sealed)) if sealed else {}
    seen: set[tuple[str, str]] = set()
    fresh: list[Issue] = []
    later: list[Inbound[Any]] = []
    for inbound in inbounds:
        req = inbound.payload
        key = (req.nga, req.request_id)
        # Only new plain sealed issuance in bulk (exact type: ReplacementRequested is a subclass);
        # an id answered before or repeated here gets the stored answer from `submit`.
        if type(req) is SealedIssuanceRequested and key not in seen and key not in prior:
            fresh.append((req, inbound.envelope))
        else:
            later.append(inbound)
        seen.add(key)
    if fresh:
        await _issue_or_reject(h, conn, fresh)
    for inbound in later:
        await h.submit(conn, inbound.payload, inbound.envelope, channel="kafka")


async def _issue_or_reject(h: IssuerHandlers, conn: asyncpg.Connection, fresh: list[Issue]) -> None:
    answers: dict[int, tuple[str | None, Payload]] = {}  # position -> (carnet number, answer)
    to_issue: list[tuple[int, SealedIssuanceRequested]] = []
    for nga, n in Counter(req.nga for req, _ in fresh).items():  # one labelled child per NGA, not per request
        h.metrics.requests(nga, SealedIssuanceRequested.TYPE, "kafka").inc(n)
    for pos, (req, cause) in enumerate(fresh):
        reasons = h.registry().check(req.nga, req.issuing_association) + domain.check_sealed(req)
        if reasons:
            answers[pos] = (None, h.rejection(req, reasons, cause))
        else:
            to_issue.append((pos, req))
    carnets: dict[int, CarnetIssued] = {}
    # R1: numbers per country and year, consecutive in request order; rows locked in key order so
    # two issuer instances never wait on each other crosswise.
    by_series = sorted(to_issue, key=lambda t: (t[1].nga, t[1].issue_date.year, t[0]))
    for (nga, year), group in groupby(by_series, key=lambda t: (t[1].nga, t[1].issue_date.year)):
        members = list(group)
        first = await repo.reserve_sequences(conn, nga, year, len(members))
        for offset, (pos, req) in enumerate(members):
            carnets[pos] = domain.issued_sealed(req, domain.carnet_number(nga, year, first + offset))
    for pos, carnet in carnets.items():
        answers[pos] = (carnet.carnet_number, carnet.model_copy(update={"document": None}))
    await repo.insert_carnets(conn, [carnets[pos] for pos in sorted(carnets)])
    # Each answer serialised once: the stored answer (R5/R6 repeats get it again) and its outbox row.
    answer_json = {pos: answer.model_dump_json() for pos, (_, answer) in answers.items()}
    await repo.record_answers(
        conn,
        [
            (
                req.nga,
                req.request_id,
                "issued" if answers[pos][0] else "rejected",
                answers[pos][0],
                answers[pos][1].TYPE,
                answer_json[pos],
            )
            for pos, (req, _) in enumerate(fresh)
        ],
    )
    queued: list[Queued] = []
    bodies: list[bytes | None] = []
    for nga, n in Counter(carnet.nga for carnet in carnets.values()).items():
        h.metrics.issued(nga).inc(n)
    for pos, (req, cause) in enumerate(fresh):
        number, answer = answers[pos]
        if number is not None:  # the ledger's event carries the sealed document; the NGA's answer does not
            queued.append(_queued(ISSUANCE_EVENTS.name, carnets[pos], number, cause, number))
            bodies.append(None)
        queued.append(
            _queued(
                issuance_responses(req.nga).name, answer, req.request_id, cause, answer_subject(answer, req.request_id)
            )
        )
        bodies.append(answer_json[pos].encode())
    await add_many(conn, queued, bodies)


def _queued(topic: str, payload: Payload, key: str, cause: Envelope, subject: str) -> Queued:
    return topic, key, envelope_for(payload, key=key, producer=PRODUCER, cause=cause, subject=subject), payload
