"""Core ledger service: declarations as signed tokens (R8-R12), the signing key announced in a signed trust list and
rotated, refusals published."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from contracts.kinds import DeclarationKind as K
from contracts.topics import DECLARATIONS, SIGNING_KEYS
from core.app import build
from core.usecases.declarations import DeclarationRefusedError
from tests.service.conftest import outbox
from tests.support.core import EXPIRY, NUMBER, activate, claims_of, declare, fetch, issue, refused, with_key
from tests.support.core_service import settings  # noqa: F401  (settings: the fixture)

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
    assert [(m["topic"], m["key"], m["type"]) for m in queued] == [
        (SIGNING_KEYS.name, "trust-list", "TrustListPublished")
    ]
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
    assert [(r["sequence"], r["status"], list(r["items"])) for r in rows] == [
        (1, "pending", [1, 2]),
        (2, "pending", [3]),
    ]
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
        refusals = [
            await refused(service, K.IMPORTATION, "US", [2]),  # R1: not on the carnet
            await refused(service, K.REEXPORTATION, "CH", [2]),
        ]  # R11: never imported
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
        ("exportation", [1, 2]),
        ("importation", [1]),
        ("reimportation", [2]),
    ]


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
