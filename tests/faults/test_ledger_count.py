"""The crash test's counting, on records made up here: it must see a lost commit, a doubled ledger row, a missing
or doubled confirmation and a commit the gateway logged under another id. No servers: the queries' rows are
given, so this runs in milliseconds and shows the crash test's assertion can fail."""

from __future__ import annotations

import json
from typing import Any

from tests.faults import ledger
from tests.faults.load import Crossing

HOLDER, REP = "hld_1", "rep_1"


class Rows:
    """Answers ledger.count's three queries in order: gateway log, ledger, deliveries."""

    def __init__(self, logged: list[dict], recorded: list[dict], deliveries: list[dict]) -> None:
        self.answers = [logged, recorded, deliveries]

    async def fetch(self, query: str, *args: Any) -> list[dict]:
        return self.answers.pop(0)


def acked(n: int, commit_id: str | None = None) -> Crossing:
    return Crossing(
        f"FR26000000{n:02d}", f"decl-{n}", "token", outcome="acknowledged", commit_id=commit_id or f"commit-{n}"
    )


def log(n: int, commit_id: str | None = None) -> dict:
    return {"declaration_id": f"decl-{n}", "commit_id": commit_id or f"commit-{n}"}


def row(n: int, tx: str | None = None, decision: str = "committed") -> dict:
    return {
        "transaction_id": tx or f"tx-{n}",
        "declaration_id": f"decl-{n}",
        "commit_id": f"commit-{n}",
        "decision": decision,
    }


def delivered(tx: str, recipient: str, status: str = "delivered") -> dict:
    return {
        "confirmation_id": f"conf-{tx}",
        "recipient_id": recipient,
        "status": status,
        "body": json.dumps({"data": {"transaction_id": tx}}),
    }


def both(tx: str) -> list[dict]:
    return [delivered(tx, HOLDER), delivered(tx, REP)]


async def test_r8_every_commit_once_counts_clean() -> None:
    figures = await ledger.count(
        Rows([log(1), log(2)], [row(1), row(2)], both("tx-1") + both("tx-2")),
        [acked(1), acked(2)],
        [HOLDER, REP],
        ["a", "b", "c", "c"],
    )
    assert figures["recorded"] == figures["logged_once"] == 2 and figures["confirmations"] == 4
    assert figures["lost"] == figures["duplicates"] == figures["confirmations_missing"] == 0
    assert figures["webhook_receipts"] == 4 and figures["webhook_redeliveries"] == 1
    assert figures["problems"] == [] and ledger.settled(figures)


async def test_r8_a_lost_commit_and_a_doubled_row_are_counted() -> None:
    figures = await ledger.count(
        Rows([log(1), log(2)], [row(2), row(2, "tx-2b")], both("tx-2") + both("tx-2b")),
        [acked(1), acked(2)],
        [HOLDER, REP],
        [],
    )
    assert figures["lost"] == 1 and figures["duplicates"] == 1 and figures["recorded"] == 0
    assert not ledger.settled(figures)
    assert any("0 ledger rows" in p for p in figures["problems"])
    assert any("2 ledger rows" in p for p in figures["problems"])


async def test_r11_a_missing_and_a_doubled_confirmation_are_counted() -> None:
    twice = both("tx-1") + [delivered("tx-1", REP)] + [delivered("tx-2", HOLDER), delivered("tx-2", REP, "pending")]
    figures = await ledger.count(
        Rows([log(1), log(2)], [row(1), row(2)], twice), [acked(1), acked(2)], [HOLDER, REP], []
    )
    assert figures["confirmation_duplicates"] == 1 and figures["confirmations_missing"] == 1
    assert figures["confirmations"] == 2 and figures["confirmations_expected"] == 4
    assert not ledger.settled(figures)


async def test_r8_a_commit_logged_under_another_id_or_refused_by_the_ledger_is_a_problem() -> None:
    figures = await ledger.count(
        Rows([log(1, "commit-x")], [row(1, decision="refused")], both("tx-1")), [acked(1)], [HOLDER, REP], []
    )
    assert figures["ledger_refusals"] == 1
    assert any("the gateway logged commit-x, answered commit-1" in p for p in figures["problems"])


async def test_r8_a_commit_logged_but_never_acknowledged_is_counted() -> None:
    unsent = Crossing("FR2600000002", "decl-2", "token")
    figures = await ledger.count(
        Rows([log(1), log(2)], [row(1), row(2)], both("tx-1") + both("tx-2")), [acked(1), unsent], [HOLDER, REP], []
    )
    assert figures["logged_not_acknowledged"] == 1 and figures["recorded"] == 1
