"""The country policy in force (R15): seeded from the shipped file, replaced by the operator's topic.

Rule: **the newest applied version wins; the file seeds it.**

- At start (`load`), the file's version is recorded in `country_policies` if it was never recorded
  (a new file version is thereby the newest applied, and wins). The policy in force is then the most
  recently applied row, whatever its source: an operator's update from the topic survives restarts,
  and a file whose version is already recorded does not take over again (rolling back a deployment
  does not roll back the policy; to go back, publish a new version).
- On the topic (`policy_updated`), a version never seen is recorded and applied at once. Versions are
  labels, never compared as strings: "newest" is the order of application (`applied_at`).
- A version names exactly one document, because refusals name the version. The same version with
  the same document is a no-op (outcome "unchanged": it is not re-applied, so re-publishing an old
  version does not bring it back). The same version with a different document is refused (outcome
  "conflict"), as is a document the domain rejects, e.g. a country listed twice (outcome "invalid").
  Both are logged as errors with the version and the message id and the message is consumed, not
  dead-lettered: retrying a deterministic refusal five times would change nothing, and the message
  stays on the topic for inspection. Contract errors (bad dates, bad country codes) never reach the
  handler: the runtime dead-letters them (runtime.consumer).

Documents are compared and stored in one canonical form: the `CountryPolicyUpdated` payload without
`published_by`, dumped as JSON, countries sorted by code. The file goes through the same contract
model, so both sources obey the same schema.

The in-memory book is swapped inside the handler's transaction; if the commit then fails, the
runtime retries the message (a commit failure is transient) and the row is written then. With more
than one core instance, only the instance consuming the topic's partition handles the message; it
NOTIFYs on commit and every instance's `follower` loop reloads the newest version from the table.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncpg
from prometheus_client import CollectorRegistry, Counter, Gauge

from contracts.messages import CountryPolicyUpdated
from core.domain.policy import PolicyBook, parse_policy_book
from runtime.background import BackgroundLoop, LoopMetrics
from runtime.consumer import Inbound

log = logging.getLogger(__name__)

#: The shipped policy document, the seed of every fresh database.
POLICY_FILE = Path(__file__).parent / "policies" / "country_policy.json"
#: `published_by` given to the contract model when it validates the file (the column stays empty for it).
FILE_PUBLISHER = "file"


CHANGED_CHANNEL = "core_country_policy"
#: How often `follower` reloads without a NOTIFY (one small SELECT).
FOLLOW_PERIOD_S = 30.0


class PolicyMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.version = Gauge(
            "ata_country_policy_version_info",
            "The country policy version in force (value 1).",
            ["version"],
            registry=registry,
        )
        self.updates = Counter(
            "ata_country_policy_updates_total",
            "Country policy documents received, by outcome (applied, unchanged, conflict, invalid, file_conflict).",
            ["outcome"],
            registry=registry,
        ).labels


def canonical_document(payload: CountryPolicyUpdated) -> dict[str, Any]:
    """The stored and compared form of a policy document."""
    document = payload.model_dump(mode="json", exclude={"published_by"})
    document["countries"] = sorted(document["countries"], key=lambda c: c["country"])
    return document


def read_policy_file(path: Path) -> dict[str, Any]:
    """Read and validate the shipped document against the contract; raises ValueError if it is broken."""
    raw = json.loads(path.read_text(encoding="utf-8"))
    return canonical_document(CountryPolicyUpdated.model_validate({**raw, "published_by": FILE_PUBLISHER}))


def read_policy_book(path: Path = POLICY_FILE) -> PolicyBook:
    """The file's book, without the database: what a store serves before `load` (see PolicyStore)."""
    return parse_policy_book(read_policy_file(path))


class PolicyStore:
    """Holds the `PolicyBook` in force; `load` at start, `policy_updated` consumes COUNTRY_POLICY.

    `initial` is served until `load` runs (an on_start hook, before the broker and HTTP serve anything):
    service tests that only open the database never run the hooks, so the core's handlers still get a
    book. Without it, `book` raises until `load`.
    """

    def __init__(self, registry: CollectorRegistry, initial: PolicyBook | None = None) -> None:
        self.metrics = PolicyMetrics(registry)
        self._book: PolicyBook | None = None
        self._loaded = False
        if initial is not None:
            self._use(initial)

    @property
    def book(self) -> PolicyBook:
        if self._book is None:
            raise RuntimeError("the country policy is not loaded yet")
        return self._book

    @property
    def loaded(self) -> bool:
        """Whether `load` has reconciled the book with the database."""
        return self._loaded

    def _use(self, book: PolicyBook) -> None:
        self._book = book
        self.metrics.version.clear()
        self.metrics.version.labels(book.version).set(1)

    async def load(self, conn: asyncpg.Connection, file_path: Path) -> PolicyBook:
        """At start: seed from the file, then use the newest applied version. A broken file stops the start."""
        document = read_policy_file(file_path)
        file_book = parse_policy_book(document)
        async with conn.transaction():
            recorded = await conn.fetchval(
                "INSERT INTO country_policies (version, document, source) VALUES ($1, $2::jsonb, 'file')"
                " ON CONFLICT (version) DO NOTHING RETURNING version",
                file_book.version,
                json.dumps(document),
            )
            if recorded is not None:
                log.info("country policy %s recorded from %s", file_book.version, file_path)
                self._use(file_book)
                self._loaded = True
                return file_book
            existing = await conn.fetchval(
                "SELECT document FROM country_policies WHERE version = $1", file_book.version
            )
            if json.loads(existing) != document:
                self.metrics.updates("file_conflict").inc()
                log.error(
                    "country policy file %s has version %s with a document different from the one recorded "
                    "under that version; the recorded document stays (give the edited file a new version)",
                    file_path,
                    file_book.version,
                )
            newest = await conn.fetchrow(
                "SELECT version, document, source, published_by, applied_at FROM country_policies"
                " ORDER BY applied_at DESC, version DESC LIMIT 1"
            )
        book = parse_policy_book(json.loads(newest["document"]))
        if book.version != file_book.version:
            log.info(
                "country policy %s (from the %s, by %s, applied %s) is newer than the file's %s; it stays in force",
                book.version,
                newest["source"],
                newest["published_by"] or "-",
                newest["applied_at"].isoformat(),
                file_book.version,
            )
        self._use(book)
        self._loaded = True
        return book

    async def refresh(self, conn: asyncpg.Connection) -> PolicyBook:
        """Use the newest applied version, as another instance recorded it."""
        newest = await conn.fetchrow(
            "SELECT document FROM country_policies ORDER BY applied_at DESC, version DESC LIMIT 1"
        )
        if newest is not None:
            book = parse_policy_book(json.loads(newest["document"]))
            if self._book is None or book.version != self._book.version:
                log.info("country policy %s taken over from another instance", book.version)
                self._use(book)
        return self.book

    def follower(self, pool: Callable[[], asyncpg.Pool], metrics: LoopMetrics, **options: Any) -> BackgroundLoop:
        """The loop that reloads whenever any instance records a new version (NOTIFY), and every
        FOLLOW_PERIOD_S besides: a NOTIFY sent while the database connection was lost is caught up."""

        async def reload() -> None:
            async with pool().acquire() as conn:
                await self.refresh(conn)

        return BackgroundLoop(
            "country-policy",
            reload,
            period_s=FOLLOW_PERIOD_S,
            metrics=metrics,
            pool=pool,
            channel=CHANGED_CHANNEL,
            **options,
        )

    async def policy_updated(self, conn: asyncpg.Connection, inbound: Inbound[CountryPolicyUpdated]) -> None:
        """Consumer of COUNTRY_POLICY (R15): record a new version and apply it at once."""
        p = inbound.payload
        message_id = inbound.envelope.message_id
        document = canonical_document(p)
        try:
            book = parse_policy_book(document)
        except ValueError as exc:
            self.metrics.updates("invalid").inc()
            log.error("country policy %s from %s (message %s) refused: %s", p.version, p.published_by, message_id, exc)
            return
        recorded = await conn.fetchval(
            "INSERT INTO country_policies (version, document, source, published_by) VALUES ($1, $2::jsonb, 'topic', $3)"
            " ON CONFLICT (version) DO NOTHING RETURNING version",
            p.version,
            json.dumps(document),
            p.published_by,
        )
        if recorded is None:
            existing = await conn.fetchval("SELECT document FROM country_policies WHERE version = $1", p.version)
            if json.loads(existing) == document:
                self.metrics.updates("unchanged").inc()
                log.info(
                    "country policy %s from %s (message %s) already recorded; nothing to apply",
                    p.version,
                    p.published_by,
                    message_id,
                )
            else:
                self.metrics.updates("conflict").inc()
                log.error(
                    "country policy %s from %s (message %s) refused: that version is already recorded with a "
                    "different document; publish the change under a new version",
                    p.version,
                    p.published_by,
                    message_id,
                )
            return
        previous = self._book.version if self._book is not None else None
        # Every other core instance reloads on commit: only one of them consumed this message.
        await conn.execute("SELECT pg_notify($1, $2)", CHANGED_CHANNEL, p.version)
        self._use(book)
        self.metrics.updates("applied").inc()
        log.info(
            "country policy %s from %s (message %s) applied, replacing %s",
            p.version,
            p.published_by,
            message_id,
            previous,
        )
