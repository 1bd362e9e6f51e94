"""Issuer HTTP API for NGAs without Kafka (same contracts, per-NGA API keys) and the `ata` CLI over it."""

from __future__ import annotations

import io
import json

import httpx
from rich.console import Console

from contracts.messages import DuplicateRequested
from issuer.app import build
from issuer.domain import carnet_number
from nga_client import cli
from tests.service.conftest import outbox
from tests.support.issuer import BE_KEY, FR_KEY, client, http_settings  # noqa: F401  (http_settings: the fixture)
from tests.support.messages import goods, plain_carnet, sealed_request


def body(payload) -> dict:
    return json.loads(payload.model_dump_json())


async def test_r1_http_issues_and_rejects_with_the_same_contracts_as_the_topic(http_settings, clock):
    service = build(http_settings, clock=clock)
    await service.open_database()
    items = goods(2)
    items[1] = items[1].model_copy(update={"category": "tobacco"})
    try:
        async with client(service) as http:
            issued = await http.post("/v1/issuance-requests", json=body(sealed_request("H-1")))
            rejected = await http.post("/v1/issuance-requests", json=body(sealed_request("H-2", goods=items)))
            again = await http.get("/v1/requests/H-1")
            unknown = await http.get("/v1/requests/H-404")
        queued = await outbox(service)
    finally:
        await service.pool.close()
    assert issued.status_code == 200 and issued.json()["status"] == "issued"
    number = issued.json()["answer"]["carnet_number"]
    assert again.json()["answer"]["carnet_number"] == number
    assert rejected.json()["status"] == "rejected"
    assert [(r["rule"], r["item_number"]) for r in rejected.json()["answer"]["reasons"]] == [("R4", 2)]
    assert unknown.status_code == 404
    # the ledger hears of it exactly as if it had come by Kafka, and the NGA's topic has the answers too
    assert [(m["topic"], m["type"]) for m in queued] == [
        ("ata.issuance.events.v1", "CarnetIssued"),
        ("ata.issuance.responses.fr.v1", "CarnetIssued"),
        ("ata.issuance.responses.fr.v1", "IssuanceRejected"),
    ]


async def test_http_needs_the_ngas_own_key(http_settings, clock):
    service = build(http_settings, clock=clock)
    await service.open_database()
    try:
        async with (
            client(service, None) as anonymous,
            client(service, "ata_wrong") as wrong,
            client(service, BE_KEY) as be,
        ):
            missing = await anonymous.post("/v1/issuance-requests", json=body(sealed_request("H-3")))
            bad = await wrong.post("/v1/issuance-requests", json=body(sealed_request("H-3")))
            other = await be.post("/v1/issuance-requests", json=body(sealed_request("H-3")))  # a French request
            peek = await be.get("/v1/requests/H-3")
        queued = await outbox(service)
    finally:
        await service.pool.close()
    assert (missing.status_code, bad.status_code, other.status_code) == (401, 401, 403)
    assert other.json()["detail"]["reasons"][0]["code"] == "wrong_nga"
    assert peek.status_code == 404
    assert queued == []


async def test_r5_duplicate_over_http_is_pending_until_the_core_decides(http_settings, clock):
    service = build(http_settings, clock=clock)
    await service.open_database()
    try:
        async with client(service) as http:
            number = (await http.post("/v1/issuance-requests", json=body(sealed_request("H-5")))).json()["answer"][
                "carnet_number"
            ]
            ask = DuplicateRequested(
                request_id="H-6",
                nga="FR",
                issuing_association="FR-CCI-PARIS",
                original_number=number,
                reason="destroyed",
            )
            first = await http.post("/v1/duplicate-requests", json=body(ask))
            later = await http.get("/v1/requests/H-6")
            wrong = await http.post(
                "/v1/duplicate-requests",
                json=body(
                    ask.model_copy(update={"request_id": "H-7", "original_number": carnet_number("FR", 2026, 999)})
                ),
            )
    finally:
        await service.pool.close()
    assert (first.status_code, first.json()["status"]) == (202, "pending")
    assert (later.status_code, later.json()["status"]) == (200, "pending")
    assert (wrong.status_code, wrong.json()["status"]) == (200, "rejected")
    assert wrong.json()["answer"]["reasons"][0]["code"] == "unknown_original"


async def test_the_cli_seals_sends_over_http_and_summarises(http_settings, clock, tmp_path):
    service = build(http_settings, clock=clock)
    await service.open_database()
    items = goods(2)
    items[0] = items[0].model_copy(update={"category": "alcohol"})
    lines = [
        plain_carnet("C-1").to_line(),
        plain_carnet("C-2", goods=items).to_line(),
        '{"request_id": "C-3"}',
        "not json",
        plain_carnet("C-1").to_line(),
    ]
    summary, out = cli.Summary(), io.StringIO()
    console = Console(file=io.StringIO(), width=200)
    try:
        carnets = cli.read_carnets(lines, summary)
        await cli.issue(
            carnets,
            summary,
            kafka=None,
            http="http://issuer",
            api_key=FR_KEY,
            timeout=30,
            console=console,
            out=out,
            via=httpx.ASGITransport(app=service.http),
        )
        async with service.pool.acquire() as conn:
            stored = await conn.fetchval("SELECT count(*) FROM carnets")
    finally:
        await service.pool.close()
    cli.print_summary(summary, 1.0, console)
    printed = console.file.getvalue()
    assert list(summary.issued) == ["C-1"] and list(summary.rejected) == ["C-2"]
    assert sorted(summary.invalid) == [3, 4, 5]
    assert "appears twice" in summary.invalid[5]
    assert stored == 1
    assert "issued 1, rejected 1, invalid lines 3" in printed and "R4" in printed
    assert [json.loads(line)["request_id"] for line in out.getvalue().splitlines()] == ["C-1", "C-2"]


def test_the_cli_writes_sample_carnets_that_parse_and_refuses_http_without_a_key(tmp_path, capsys):
    target = tmp_path / "carnets.jsonl"
    assert cli.main(["sample", "--count", "3", "--out", str(target)]) == 0
    summary = cli.Summary()
    assert len(cli.read_carnets(target.read_text().splitlines(), summary)) == 3 and not summary.invalid
    assert cli.main(["issue", "--file", str(target), "--http", "http://127.0.0.1:9", "--api-key", ""]) == 2
    assert cli.main(["issue", "--file", str(tmp_path / "missing.jsonl"), "--kafka", "127.0.0.1:9"]) == 2
