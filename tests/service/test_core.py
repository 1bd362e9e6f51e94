"""Core ledger service: carnets from the issuer, declarations as signed tokens (R8-R12), customs commits
(R10-R13), idempotency, and the holder HTTP API."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest

from contracts.kinds import DeclarationKind as K
from contracts.messages import IssuanceRejected, Reason
from contracts.topics import (
    CUSTOMS_COMMITS,
    DECLARATIONS,
    ISSUANCE_EVENTS,
    NOTIFICATION_REQUESTS,
    SIGNING_KEYS,
    TRANSACTIONS,
)
from core.app import build
from core.usecases.declarations import DeclarationRefusedError
from deploy.local.identity import ensure_wallet_issuer, mint_wallet_token, private_key_path
from issuer.domain import issued
from tests.service.conftest import outbox
from tests.support.core import (
    EXPIRY,
    NUMBER,
    activate,
    claims_of,
    declare,
    fetch,
    issue,
    locations,
    publish,
    refused,
    with_key,
)
from tests.support.databases import snapshot
from tests.support.messages import customs_commit, issuance_request, wire
from tokens.qr import decode_qr_image

# --- carnets from the issuer ---------------------------------------------------------------------


async def test_carnet_issued_puts_the_carnet_and_its_items_at_home(settings, clock, running):
    service = build(settings, clock=clock)
    async with running(service) as broker:
        carnet = await issue(broker)
        rows = await fetch(service, "SELECT * FROM carnets")
        items = await locations(service)
    assert len(rows) == 1
    row = rows[0]
    assert (row["carnet_number"], row["home_country"], list(row["countries"]), row["expiry_date"], row["holder_id"],
            row["active"], row["general_list_digest"]) == (
        NUMBER, "FR", ["CH", "GB"], EXPIRY, "hld_1", False, carnet.general_list_digest)
    assert items == {1: ("home", None, None), 2: ("home", None, None), 3: ("home", None, None)}


async def test_issuance_rejected_on_the_same_topic_is_ignored(settings, clock, running):
    service = build(settings, clock=clock)
    async with running(service) as broker:
        rejected = IssuanceRejected(request_id="REQ-9", nga="FR", reasons=[Reason(rule="R4", item_number=1, message="alcohol")])
        await publish(broker, rejected, ISSUANCE_EVENTS.name, "REQ-9")
        async with service.pool.acquire() as conn:
            counts = [await conn.fetchval(f"SELECT count(*) FROM {t}") for t in ("carnets", "items")]
            handled = await conn.fetchval("SELECT count(*) FROM inbox")
        queued = await outbox(service)
    assert counts == [0, 0]
    assert handled == 1  # consumed (not dead-lettered), and nothing recorded
    assert queued == []


async def test_carnet_issued_twice_changes_nothing(settings, clock, running):
    service = build(settings, clock=clock)
    async with running(service) as broker:
        carnet = issued(issuance_request("REQ-1"), NUMBER)
        body, headers, _ = wire(carnet, subject=NUMBER)
        await broker.publish(body, ISSUANCE_EVENTS.name, key=NUMBER.encode(), headers=headers)
        async with service.pool.acquire() as conn:
            before = await snapshot(conn, "core")
        await broker.publish(body, ISSUANCE_EVENTS.name, key=NUMBER.encode(), headers=headers)
        async with service.pool.acquire() as conn:
            redelivered = await snapshot(conn, "core")
        # the issuer answering a repeated request again: a new message id, the same carnet
        await issue(broker)
        async with service.pool.acquire() as conn:
            repeated = await snapshot(conn, "core")
    assert len(before["items"]) == 3 and len(before["inbox"]) == 1
    assert redelivered == before
    assert len(repeated["inbox"]) == 2
    assert {k: v for k, v in repeated.items() if k != "inbox"} == {k: v for k, v in before.items() if k != "inbox"}


async def test_r1_a_different_carnet_under_a_known_number_is_refused_loudly(settings, clock, running):
    service = build(settings, clock=clock)
    async with running(service) as broker:
        await issue(broker)
        other = issued(issuance_request("REQ-OTHER", holder=issuance_request().holder.model_copy(
            update={"holder_id": "hld_intruder"})), NUMBER)
        body, headers, _ = wire(other, subject=NUMBER)
        await broker.publish(body, ISSUANCE_EVENTS.name, key=NUMBER.encode(), headers=headers)
        holder = (await fetch(service, "SELECT holder_id FROM carnets WHERE carnet_number = $1", NUMBER))[0]["holder_id"]
    assert holder == "hld_1"
    assert service.registry.get_sample_value("ata_carnet_number_collisions_total") == 1


# --- declarations -----------------------------------------------------------------------------------


async def test_signing_key_is_stored_and_announced_in_a_signed_trust_list(settings, clock, running):
    from contracts.messages import TrustListPublished
    from tokens import trustlist

    service = build(settings, clock=clock)
    async with running(service):
        key = await with_key(service)
        queued = await outbox(service)
        rows = await fetch(service, "SELECT kid, not_before FROM signing_keys")
    assert [(r["kid"], r["not_before"]) for r in rows] == [(key.kid.hex(), clock.now)]
    assert [(m["topic"], m["key"], m["type"]) for m in queued] == [(SIGNING_KEYS.name, "trust-list", "TrustListPublished")]
    published = TrustListPublished.model_validate(queued[0]["payload"])
    anchor = trustlist.load_anchor_public(settings.trust_anchor_public_key_path)
    assert [k.kid for k in trustlist.verify(published, anchor)] == [key.kid.hex()]
    assert published.sequence == 1


async def test_a_new_signing_key_rotates_the_old_one_out_only_after_its_tokens_expire(settings, clock, running):
    """Rotation: the old key stops signing at once and stays listed for the tokens' lifetime."""
    from datetime import timedelta

    from contracts.messages import TrustListPublished

    service = build(settings, clock=clock)
    ttl = timedelta(hours=settings.token_ttl_hours)
    async with running(service):
        old = await with_key(service)
        start = clock.now
        clock.now = start + timedelta(days=1)
        new = await with_key(service)
        second = TrustListPublished.model_validate((await outbox(service))[-1]["payload"])
        clock.now = start + timedelta(days=1) + ttl + timedelta(seconds=1)
        async with service.pool.acquire() as conn:  # a restart after every old token expired: same key, republished
            await service.state["handlers"].publish_signing_key(conn, new)
        third = TrustListPublished.model_validate((await outbox(service))[-1]["payload"])
    listed = {k.kid: k for k in second.keys}
    assert set(listed) == {old.kid.hex(), new.kid.hex()}
    assert listed[old.kid.hex()].not_after == start + timedelta(days=1)
    assert listed[old.kid.hex()].retire_at == start + timedelta(days=1) + ttl
    assert listed[new.kid.hex()].not_after is None
    assert [k.kid for k in third.keys] == [new.kid.hex()]
    assert (second.sequence, third.sequence) == (2, 3)


async def test_declare_signs_a_token_that_verifies_with_the_claims_r8_r9(settings, clock, running):
    service = build(settings, clock=clock)
    async with running(service) as broker:
        carnet = await issue(broker)
        key = await with_key(service)
        created = await declare(service, K.EXPORTATION, "FR", [2, 1])
        second = await declare(service, K.EXPORTATION, "FR", [3])
        importation_while_pending = await refused(service, K.IMPORTATION, "CH", [1])
        queued = await outbox(service)
        rows = await fetch(service, "SELECT sequence, status, items FROM declarations ORDER BY sequence")
    claims = claims_of(created.token, key, clock.now)
    assert claims.carnet_number == NUMBER
    assert claims.kind is K.EXPORTATION and claims.country == "FR"
    assert claims.items == (1, 2)
    assert claims.sequence == 1
    assert claims.carnet_expiry == EXPIRY
    assert claims.general_list_digest == carnet.general_list_digest[:32]
    assert claims.transaction_code == created.transaction_code
    assert claims.issued_at == clock.now
    assert claims.expires_at == clock.now + timedelta(hours=settings.token_ttl_hours)
    assert claims_of(second.token, key, clock.now).sequence == 2  # R8: numbered per kind
    assert second.sequence == 2
    assert [(r["sequence"], r["status"], list(r["items"])) for r in rows] == [(1, "pending", [1, 2]), (2, "pending", [3])]
    assert "R10" in [r.rule for r in importation_while_pending.reasons]  # a token is not a crossing
    declared = [m for m in queued if m["topic"] == DECLARATIONS.name and m["type"] != "DeclarationRefused"]
    assert [m["type"] for m in declared] == ["DeclarationSubmitted", "TokenIssued"] * 2
    assert all(m["key"] == NUMBER for m in declared)
    assert declared[1]["payload"]["kid"] == key.kid.hex()


async def test_r8_sequences_count_per_kind(settings, clock, running):
    service = build(settings, clock=clock)
    async with running(service) as broker:
        await issue(broker)
        key = await with_key(service)
        await activate(service, broker, key, clock, [1, 2, 3])
        first_import = await declare(service, K.IMPORTATION, "CH", [1])
        first_transit = await declare(service, K.TRANSIT_ENTRY, "GB", [2])
        second_import = await declare(service, K.IMPORTATION, "CH", [3])
    assert (first_import.sequence, first_transit.sequence, second_import.sequence) == (1, 1, 2)


async def test_r8_a_refused_declaration_never_consumes_a_voucher_number(settings, clock, running):
    service = build(settings, clock=clock)
    async with running(service) as broker:
        await issue(broker)
        key = await with_key(service)
        await activate(service, broker, key, clock, [1, 2, 3])
        first = await declare(service, K.IMPORTATION, "CH", [1])
        refusals = [await refused(service, K.IMPORTATION, "US", [2]),  # R1: not on the carnet
                    await refused(service, K.REEXPORTATION, "CH", [2])]  # R11: never imported
        second = await declare(service, K.IMPORTATION, "CH", [2])
    assert {r.rule for e in refusals for r in e.reasons} >= {"R1", "R11"}
    assert (first.sequence, second.sequence) == (1, 2)


async def test_declare_refusals_r10_r1_r11_r12(settings, clock, running):
    service = build(settings, clock=clock)
    async with running(service) as broker:
        await issue(broker)
        key = await with_key(service)
        before_activation = await refused(service, K.IMPORTATION, "CH", [1])
        await activate(service, broker, key, clock, [1, 2])
        not_on_carnet = await refused(service, K.IMPORTATION, "US", [1])
        exported_twice = await refused(service, K.EXPORTATION, "FR", [2, 3])
        # R12: declare judges expiry in the destination's zone: in Zurich 21 Nov 2027 ends at 21 Nov 23:00 UTC
        clock.now = datetime(2027, 11, 21, 22, 59, tzinfo=UTC)
        still_valid_somewhere = await declare(service, K.IMPORTATION, "CH", [1])
        clock.now = datetime(2027, 11, 21, 23, 0, tzinfo=UTC)
        expired = await refused(service, K.IMPORTATION, "CH", [2])
        reimport_after_expiry = await declare(service, K.REIMPORTATION, "FR", [2])
        rows = await fetch(service, "SELECT kind, items FROM declarations ORDER BY created_at, kind")
    assert "R10" in [r.rule for r in before_activation.reasons]
    assert [r.rule for r in not_on_carnet.reasons] == ["R1"]
    assert [(r.rule, r.item_number) for r in exported_twice.reasons] == [("R11", 2)]
    assert [r.rule for r in expired.reasons] == ["R12"]
    assert all(e.status == 422 for e in (before_activation, not_on_carnet, exported_twice, expired))
    assert still_valid_somewhere.sequence == 1 and reimport_after_expiry.sequence == 1
    # refusals leave no declaration behind: only the exportation, the importation and the re-importation
    assert sorted((r["kind"], list(r["items"])) for r in rows) == [
        ("exportation", [1, 2]), ("importation", [1]), ("reimportation", [2])]


async def test_declare_refuses_strangers_and_unknown_carnets_and_accepts_representatives(settings, clock, running):
    service = build(settings, clock=clock)
    async with running(service) as broker:
        await issue(broker, representative_ids=["rep_1"])
        await with_key(service)
        stranger = await refused(service, K.EXPORTATION, "FR", [1], by="someone")
        with pytest.raises(DeclarationRefusedError) as unknown:
            await declare(service, K.EXPORTATION, "FR", [1], number="FR2699999999")
        by_representative = await declare(service, K.EXPORTATION, "FR", [1], by="rep_1")
    assert (stranger.status, [r.rule for r in stranger.reasons]) == (403, ["R9"])
    assert unknown.value.status == 404
    assert by_representative.sequence == 1


async def test_a_refused_declaration_is_published_on_the_declarations_topic(settings, clock, running):
    service = build(settings, clock=clock)
    async with running(service) as broker:
        await issue(broker)
        await with_key(service)
        await refused(service, K.IMPORTATION, "CH", [1])
        queued = await outbox(service)
    assert [m["type"] for m in queued if m["topic"] == DECLARATIONS.name] == ["DeclarationRefused"]


async def test_tokens_signed_right_after_key_creation_are_inside_the_key_window(settings, clock, running):
    clock.now = clock.now.replace(microsecond=500_000)
    service = build(settings, clock=clock)
    async with running(service) as broker:
        await issue(broker)
        key = await with_key(service)
        created = await declare(service, K.EXPORTATION, "FR", [1])
        queued = await outbox(service)
    published = next(m for m in queued if m["type"] == "TrustListPublished")
    not_before = datetime.fromisoformat(published["payload"]["keys"][0]["not_before"])
    assert claims_of(created.token, key, clock.now).issued_at >= not_before


# --- customs commits ------------------------------------------------------------------------------


async def test_r10_committed_exportation_moves_items_activates_and_confirms(settings, clock, running):
    service = build(settings, clock=clock)
    async with running(service) as broker:
        await issue(broker, representative_ids=["rep_1"])
        key = await with_key(service)
        created = await declare(service, K.EXPORTATION, "FR", [1, 2])
        claims = claims_of(created.token, key, clock.now)
        commit = customs_commit(claims, clock.now)
        await publish(broker, commit, CUSTOMS_COMMITS.name, NUMBER)
        items = await locations(service)
        active = await fetch(service, "SELECT active FROM carnets")
        transactions = await fetch(service, "SELECT * FROM transactions")
        status = await fetch(service, "SELECT status FROM declarations")
        queued = await outbox(service)
    assert items == {1: ("exported", None, None), 2: ("exported", None, None), 3: ("home", None, None)}
    assert active[0]["active"] is True
    assert len(transactions) == 1
    t = transactions[0]
    assert (t["decision"], t["kind"], list(t["items"]), t["sequence"], t["commit_id"], t["office_id"], t["decided_at"]) == (
        "committed", "exportation", [1, 2], 1, commit.commit_id, "FR-CDG-FRET", clock.now)
    assert json.loads(t["reasons"]) == []
    assert status[0]["status"] == "committed"
    recorded = [m for m in queued if m["type"] == "TransactionRecorded"]
    confirm = [m for m in queued if m["type"] == "ConfirmationRequested"]
    assert len(recorded) == 1 and len(confirm) == 1
    assert (recorded[0]["topic"], recorded[0]["key"]) == (TRANSACTIONS.name, NUMBER)
    p = recorded[0]["payload"]
    assert (p["decision"], p["kind"], p["items"], p["carnet_expiry"], p["office_timezone"]) == (
        "committed", "exportation", [1, 2], "2027-11-21", "Europe/Paris")
    assert p["item_locations"] == [{"item_number": 1, "location": "exported", "country": None, "final_date": None},
                                   {"item_number": 2, "location": "exported", "country": None, "final_date": None}]
    assert p["transaction_id"] == str(t["transaction_id"])
    assert (confirm[0]["topic"], confirm[0]["key"]) == (NOTIFICATION_REQUESTS.name, NUMBER)
    c = confirm[0]["payload"]
    assert c["recipient_ids"] == ["hld_1", "rep_1"]
    assert (c["transaction_id"], c["decision"], c["items"]) == (p["transaction_id"], "committed", [1, 2])


async def test_the_same_commit_twice_changes_nothing(settings, clock, running):
    service = build(settings, clock=clock)
    async with running(service) as broker:
        await issue(broker)
        key = await with_key(service)
        created = await declare(service, K.EXPORTATION, "FR", [1, 2])
        commit = customs_commit(claims_of(created.token, key, clock.now), clock.now)
        body, headers = await publish(broker, commit, CUSTOMS_COMMITS.name, NUMBER)
        async with service.pool.acquire() as conn:
            before = await snapshot(conn, "core")
        await broker.publish(body, CUSTOMS_COMMITS.name, key=NUMBER.encode(), headers=headers)
        async with service.pool.acquire() as conn:
            after = await snapshot(conn, "core")
    assert before == after
    assert len(before["transactions"]) == 1


async def test_a_second_different_commit_for_a_decided_token_is_ignored(settings, clock, running):
    service = build(settings, clock=clock)
    async with running(service) as broker:
        await issue(broker)
        key = await with_key(service)
        created = await declare(service, K.EXPORTATION, "FR", [1, 2])
        claims = claims_of(created.token, key, clock.now)
        await publish(broker, customs_commit(claims, clock.now), CUSTOMS_COMMITS.name, NUMBER)
        queued_before = await outbox(service)
        other = customs_commit(claims, clock.now + timedelta(minutes=5), decision="refused", refusal_reason="late scan")
        await publish(broker, other, CUSTOMS_COMMITS.name, NUMBER)
        transactions = await fetch(service, "SELECT commit_id, decision FROM transactions")
        items = await locations(service)
        queued_after = await outbox(service)
    assert [(t["commit_id"], t["decision"]) for t in transactions] == [(transactions[0]["commit_id"], "committed")]
    assert transactions[0]["commit_id"] != other.commit_id
    assert items[1][0] == "exported"
    assert queued_after == queued_before


async def test_customs_refusal_is_recorded_and_moves_nothing(settings, clock, running):
    service = build(settings, clock=clock)
    async with running(service) as broker:
        await issue(broker)
        key = await with_key(service)
        created = await declare(service, K.EXPORTATION, "FR", [1])
        commit = customs_commit(claims_of(created.token, key, clock.now), clock.now, decision="refused",
                                refusal_reason="goods do not match the list")
        await publish(broker, commit, CUSTOMS_COMMITS.name, NUMBER)
        items = await locations(service)
        carnet = await fetch(service, "SELECT active FROM carnets")
        t = (await fetch(service, "SELECT decision, reasons FROM transactions"))[0]
    assert items[1] == ("home", None, None)
    assert carnet[0]["active"] is False  # R10: a refused exportation does not activate
    assert t["decision"] == "refused"
    assert [r["message"] for r in json.loads(t["reasons"])] == ["goods do not match the list"]


async def test_r13_committed_importation_gets_the_final_date(settings, clock, running):
    service = build(settings, clock=clock)
    async with running(service) as broker:
        await issue(broker)
        key = await with_key(service)
        await activate(service, broker, key, clock, [1, 2])
        for item, final in ((1, None), (2, date(2027, 3, 31))):
            created = await declare(service, K.IMPORTATION, "CH", [item])
            commit = customs_commit(claims_of(created.token, key, clock.now), clock.now, office_id="CH-GVA-AIR",
                                    office_timezone="Europe/Zurich", final_date=final)
            await publish(broker, commit, CUSTOMS_COMMITS.name, NUMBER)
        items = await locations(service)
    assert items[1] == ("abroad", "CH", EXPIRY)
    assert items[2] == ("abroad", "CH", date(2027, 3, 31))


async def test_r13_a_final_date_after_expiry_is_recorded_as_refused_not_dead_lettered(settings, clock, running):
    """A producer other than our gateway may post a final date past the expiry: the ledger refuses it."""
    service = build(settings, clock=clock)
    async with running(service) as broker:
        await issue(broker)
        key = await with_key(service)
        await activate(service, broker, key, clock, [1])
        created = await declare(service, K.IMPORTATION, "CH", [1])
        commit = customs_commit(claims_of(created.token, key, clock.now), clock.now, office_id="CH-GVA-AIR",
                                office_timezone="Europe/Zurich", final_date=EXPIRY + timedelta(days=1))
        await publish(broker, commit, CUSTOMS_COMMITS.name, NUMBER)
        rows = await fetch(service, "SELECT decision, reasons FROM transactions WHERE commit_id = $1", commit.commit_id)
        items = await locations(service)
    assert [r["decision"] for r in rows] == ["refused"]
    assert "R13" in [r["rule"] for r in json.loads(rows[0]["reasons"])]
    assert items[1][0] == "exported"


async def test_r12_commit_after_expiry_in_the_office_zone_is_recorded_as_refused(settings, clock, running):
    service = build(settings, clock=clock)
    async with running(service) as broker:
        await issue(broker)
        key = await with_key(service)
        await activate(service, broker, key, clock, [1, 2])
        clock.now = datetime(2027, 11, 21, 10, 0, tzinfo=UTC)  # before expiry everywhere
        created = await declare(service, K.IMPORTATION, "CH", [1, 2])
        claims = claims_of(created.token, key, clock.now)
        late = datetime(2027, 11, 21, 23, 30, tzinfo=UTC)  # 00:30 on 22 Nov in Zurich
        clock.now = late
        commit = customs_commit(claims, late, office_id="CH-GVA-AIR", office_timezone="Europe/Zurich")
        await publish(broker, commit, CUSTOMS_COMMITS.name, NUMBER)
        items = await locations(service)
        transactions = await fetch(service, "SELECT kind, decision, reasons FROM transactions ORDER BY recorded_at")
        status = await fetch(service, "SELECT kind, status FROM declarations ORDER BY kind")
        queued = await outbox(service)
    assert items[1] == ("exported", None, None) and items[2] == ("exported", None, None)
    assert [(t["kind"], t["decision"]) for t in transactions] == [("exportation", "committed"), ("importation", "refused")]
    assert [r["rule"] for r in json.loads(transactions[1]["reasons"])] == ["R12"]
    assert [(s["kind"], s["status"]) for s in status] == [("exportation", "committed"), ("importation", "refused")]
    recorded = [m["payload"] for m in queued if m["type"] == "TransactionRecorded"]
    assert recorded[-1]["decision"] == "refused"
    assert [loc["location"] for loc in recorded[-1]["item_locations"]] == ["exported", "exported"]
    confirmations = [m["payload"] for m in queued if m["type"] == "ConfirmationRequested"]
    assert confirmations[-1]["decision"] == "refused"
    # History positions a receiver orders on: the exportation appended entry 1; the refusal appends none and
    # reflects the ledger as of entry 1.
    assert [c["history_position"] for c in confirmations] == [1, 1]


async def test_r12_the_same_instant_is_still_valid_at_an_office_further_west(settings, clock, running):
    service = build(settings, clock=clock)
    async with running(service) as broker:
        await issue(broker, countries=["CH", "US"])
        key = await with_key(service)
        await activate(service, broker, key, clock, [1])
        clock.now = datetime(2027, 11, 21, 10, 0, tzinfo=UTC)
        created = await declare(service, K.IMPORTATION, "US", [1])
        at = datetime(2027, 11, 21, 23, 30, tzinfo=UTC)  # 18:30 on 21 Nov in New York
        commit = customs_commit(claims_of(created.token, key, clock.now), at, office_id="US-JFK-CBP",
                                office_timezone="America/New_York")
        await publish(broker, commit, CUSTOMS_COMMITS.name, NUMBER)
        items = await locations(service)
    assert items[1] == ("abroad", "US", EXPIRY)


async def test_a_commit_that_differs_from_the_declaration_is_refused_r9(settings, clock, running):
    service = build(settings, clock=clock)
    async with running(service) as broker:
        await issue(broker)
        key = await with_key(service)
        created = await declare(service, K.EXPORTATION, "FR", [1])
        commit = customs_commit(claims_of(created.token, key, clock.now), clock.now, items=[1, 2, 3])
        await publish(broker, commit, CUSTOMS_COMMITS.name, NUMBER)
        items = await locations(service)
        t = (await fetch(service, "SELECT decision, items, reasons FROM transactions"))[0]
    assert items == {1: ("home", None, None), 2: ("home", None, None), 3: ("home", None, None)}
    assert (t["decision"], list(t["items"])) == ("refused", [1])
    assert [r["rule"] for r in json.loads(t["reasons"])] == ["R9"]


# --- holder HTTP API ----------------------------------------------------------------------------------


@pytest.fixture
def settings(settings):
    """The core needs the wallet identity provider's public key (tokens/wallet_auth.py); one per test's data dir."""
    return settings.model_copy(update={"wallet_issuer_public_key_path": ensure_wallet_issuer(settings.data_dir)})


def client(service: Any, party: str = "hld_1") -> httpx.AsyncClient:
    """The holder API as `party`'s wallet app calls it: with a bearer token minted at the service's clock."""
    token = mint_wallet_token(private_key_path(service.settings.data_dir), party, now=service.clock())
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=service.http), base_url="http://core",
                             headers={"Authorization": f"Bearer {token}"})


async def test_http_get_carnet_and_unknown_carnet(settings, clock, running):
    service = build(settings, clock=clock)
    async with running(service) as broker, client(service) as http:
        await issue(broker)
        found = await http.get(f"/v1/carnets/{NUMBER}")
        unknown = await http.get("/v1/carnets/FR2699999999")
        malformed = await http.get("/v1/carnets/not-a-number")
    assert found.status_code == 200, found.text
    body = found.json()
    assert (body["carnet_number"], body["home_country"], body["countries"], body["expiry_date"], body["active"]) == (
        NUMBER, "FR", ["CH", "GB"], "2027-11-21", False)
    assert [(i["item_number"], i["location"]) for i in body["items"]] == [(1, "home"), (2, "home"), (3, "home")]
    assert unknown.status_code == 404
    assert unknown.json()["detail"]["reasons"][0]["rule"] == "R1"
    assert malformed.status_code == 422


async def test_http_declaration_gives_a_qr_image_of_the_token(settings, clock, running):
    service = build(settings, clock=clock)
    async with running(service) as broker, client(service) as http:
        await issue(broker)
        key = await with_key(service)
        created = await http.post(f"/v1/carnets/{NUMBER}/declarations",
                                  json={"kind": "exportation", "country": "FR", "items": [1, 2]})
        assert created.status_code == 201, created.text
        body = created.json()
        image = await http.get(body["qr_png_url"])
        again = await http.get(f"/v1/declarations/{body['declaration_id']}")
        missing = await http.get("/v1/declarations/00000000-0000-0000-0000-000000000000/qr.png")
    assert (body["kind"], body["country"], body["items"], body["sequence"], body["status"]) == (
        "exportation", "FR", [1, 2], 1, "pending")
    assert body["transaction_code"].count("-") == 3  # grouped for reading aloud
    assert image.status_code == 200
    assert image.headers["content-type"] == "image/png"
    assert image.content.startswith(b"\x89PNG")
    assert decode_qr_image(image.content) == [body["token"]]
    claims = claims_of(body["token"], key, clock.now)
    assert claims.items == (1, 2) and claims.transaction_code == body["transaction_code"].replace("-", "")
    assert again.json()["token"] == body["token"]
    assert missing.status_code == 404


async def test_http_refused_declaration_is_422_with_reasons_and_404_for_strangers(settings, clock, running):
    service = build(settings, clock=clock)
    async with running(service) as broker, client(service) as http, client(service, "intruder") as intruder:
        await issue(broker)
        await with_key(service)
        refused_ = await http.post(f"/v1/carnets/{NUMBER}/declarations",
                                   json={"kind": "importation", "country": "CH", "items": [1], "intended_use": "film shoot"})
        stranger = await intruder.post(f"/v1/carnets/{NUMBER}/declarations",
                                       json={"kind": "exportation", "country": "FR", "items": [1]})
        unknown = await http.post("/v1/carnets/FR2699999999/declarations",
                                  json={"kind": "exportation", "country": "FR", "items": [1]})
        declarations = await fetch(service, "SELECT count(*) AS n FROM declarations")
    assert refused_.status_code == 422
    assert "R10" in [r["rule"] for r in refused_.json()["detail"]["reasons"]]
    # someone else's carnet answers exactly as a carnet that does not exist
    assert (stranger.status_code, unknown.status_code) == (404, 404)
    assert stranger.json()["detail"]["reasons"][0]["rule"] == unknown.json()["detail"]["reasons"][0]["rule"] == "R1"
    assert declarations[0]["n"] == 0


async def test_http_history_lists_the_transactions(settings, clock, running):
    service = build(settings, clock=clock)
    async with running(service) as broker, client(service) as http:
        await issue(broker)
        key = await with_key(service)
        await activate(service, broker, key, clock, [1, 2])
        history = await http.get(f"/v1/carnets/{NUMBER}/transactions")
        carnet = await http.get(f"/v1/carnets/{NUMBER}")
    assert history.status_code == 200
    assert [(t["kind"], t["decision"], t["items"]) for t in history.json()] == [("exportation", "committed", [1, 2])]
    assert carnet.json()["active"] is True


async def test_http_history_gives_the_reasons_of_a_refused_transaction_as_a_list(settings, clock, running):
    service = build(settings, clock=clock)
    async with running(service) as broker, client(service) as http:
        await issue(broker)
        key = await with_key(service)
        created = await declare(service, K.EXPORTATION, "FR", [1])
        commit = customs_commit(claims_of(created.token, key, clock.now), clock.now, decision="refused",
                                refusal_reason="seal broken")
        await publish(broker, commit, CUSTOMS_COMMITS.name, NUMBER)
        history = await http.get(f"/v1/carnets/{NUMBER}/transactions")
    assert history.status_code == 200
    assert [{k: r[k] for k in ("rule", "field", "item_number", "message")} for r in history.json()[0]["reasons"]] == [
        {"rule": "customs", "field": None, "item_number": None, "message": "seal broken"}]
