"""Customs gateway service: trust keys from the core, offline token verification, officer commits (R13, R18)."""

from __future__ import annotations

import io
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from PIL import Image

from contracts.kinds import DeclarationKind as K
from contracts.topics import CUSTOMS_COMMITS, SIGNING_KEYS
from customs_gateway.app import build
from tests.service.conftest import ADMIN, outbox
from tests.support.databases import snapshot
from tests.support.gateway import (  # noqa: F401  (gateway: the fixture)
    AUTH,
    CH_OFFICER,
    EXPIRY,
    FR_OFFICER,
    NUMBER,
    PASSWORD,
    SECRETS,
    auth,
    carnet_status,
    client,
    commit,
    commits,
    gateway,
    learn_key,
    log_in,
    make_token,
    officers,
    tamper,
)
from tests.support.messages import signing_key_published, trust_list, wire
from tokens.cose import generate_signing_key
from tokens.qr import qr_png

# --- trust keys --------------------------------------------------------------------------------


async def test_a_signed_trust_list_fills_the_cache_and_the_table_and_redelivery_changes_nothing(settings, clock, running):
    service = build(settings, clock=clock)
    handlers = service.state["handlers"]
    async with running(service) as broker:
        key = generate_signing_key()
        assert handlers.keys.key(key.kid) is None
        body, headers = await learn_key(broker, key, clock.now, settings)
        async with service.pool.acquire() as conn:
            before = await snapshot(conn, "customs_gateway")
        await broker.publish(body, SIGNING_KEYS.name, key=b"trust-list", headers=headers)
        async with service.pool.acquire() as conn:
            after = await snapshot(conn, "customs_gateway")
            rows = await conn.fetch("SELECT kid, not_before, not_after FROM signing_keys")
    assert len(handlers.keys) == 1
    assert handlers.keys.key(key.kid).public_numbers() == key.public_key.public_numbers()
    assert [(r["kid"], r["not_before"], r["not_after"]) for r in rows] == [(key.kid.hex(), clock.now, None)]
    assert before == after


async def test_keys_in_the_table_warm_a_fresh_cache(settings, clock, running):
    service = build(settings, clock=clock)
    async with running(service) as broker:
        key = generate_signing_key()
        await learn_key(broker, key, clock.now, settings)
        fresh = build(settings, clock=clock).state["handlers"]
        async with service.pool.acquire() as conn:
            await fresh.load_trust(conn)
    assert fresh.keys.key(key.kid) is not None


# --- commits -----------------------------------------------------------------------------------


async def test_commit_is_accepted_and_posted_to_the_core_in_the_office_zone(gateway, clock):
    async with gateway() as g:
        token, claims = make_token(g.key, clock.now)
        r = await commit(g.http, token)
        queued = await outbox(g.service)
        rows = await commits(g.service)
    assert r.status_code == 202, r.text
    body = r.json()
    assert (body["carnet_number"], body["decision"], body["office_id"], body["items"], body["kind"]) == (
        NUMBER, "committed", "FR-CDG-FRET", [1, 2], "exportation")
    assert [(m["topic"], m["key"], m["type"]) for m in queued] == [(CUSTOMS_COMMITS.name, NUMBER, "CustomsCommitPosted")]
    p = queued[0]["payload"]
    assert (p["token_id"], p["transaction_code"], p["office_timezone"], p["officer_id"], p["country"], p["items"]) == (
        str(claims.token_id), claims.transaction_code, "Europe/Paris", FR_OFFICER, "FR", [1, 2])
    decided_at = datetime.fromisoformat(p["decided_at"])
    assert decided_at == clock.now
    assert decided_at.utcoffset() == ZoneInfo("Europe/Paris").utcoffset(clock.now.replace(tzinfo=None))
    assert p["commit_id"] == body["commit_id"]
    assert len(rows) == 1 and rows[0]["token_id"] == claims.token_id and rows[0]["office_id"] == "FR-CDG-FRET"


async def test_r13_commit_with_an_earlier_final_date_is_posted(gateway, clock):
    async with gateway() as g:
        token, _ = make_token(g.key, clock.now, kind=K.IMPORTATION, country="CH")
        r = await commit(g.http, token, CH_OFFICER, final_date="2027-03-31")
        queued = await outbox(g.service)
    assert r.status_code == 202, r.text
    assert queued[0]["payload"]["final_date"] == "2027-03-31"
    assert queued[0]["payload"]["office_timezone"] == "Europe/Zurich"


async def test_a_refusal_is_posted_with_its_reason(gateway, clock):
    async with gateway() as g:
        token, _ = make_token(g.key, clock.now)
        r = await g.http.post("/v1/commits", json={"token": token, "decision": "refused", "refusal_reason": "seal broken"},
                              headers=auth(FR_OFFICER))
        queued = await outbox(g.service)
    assert r.status_code == 202
    assert (queued[0]["payload"]["decision"], queued[0]["payload"]["refusal_reason"]) == ("refused", "seal broken")


async def test_a_refusal_without_a_reason_is_422_and_posts_nothing(gateway, clock):
    async with gateway() as g:
        token, _ = make_token(g.key, clock.now)
        r = await commit(g.http, token, decision="refused", refusal_reason="  ")
        queued = await outbox(g.service)
    assert r.status_code == 422 and r.json()["detail"]["reason"] == "reason_required"
    assert queued == []


async def test_a_replayed_token_is_409_and_posts_nothing_more(gateway, clock):
    async with gateway() as g:
        token, _ = make_token(g.key, clock.now)
        first = await commit(g.http, token)
        again = await commit(g.http, token)
        from_other_office = await commit(g.http, token, decision="refused", refusal_reason="seal broken")
        queued = await outbox(g.service)
        rows = await commits(g.service)
    assert first.status_code == 202
    assert again.status_code == 409 and again.json()["detail"]["reason"] == "replayed"
    assert from_other_office.status_code == 409
    assert len(queued) == 1 and len(rows) == 1



REFUSALS = {
    # name: (how to make the token, officer, extra body, status, reason)
    "wrong_country": (lambda key, now: make_token(key, now, kind=K.IMPORTATION, country="CH")[0], FR_OFFICER, {}, 403,
                      "wrong_country"),
    "no_session": (lambda key, now: make_token(key, now)[0], "nobody", {}, 401, "unauthenticated"),
    "unknown_kid": (lambda key, now: make_token(generate_signing_key(), now)[0], FR_OFFICER, {}, 422, "unknown_kid"),
    "R13": (lambda key, now: make_token(key, now, kind=K.IMPORTATION, country="CH")[0], CH_OFFICER,
            {"final_date": "2027-11-22"}, 422, "R13"),
    "not_yet_valid": (lambda key, now: make_token(key, now + timedelta(hours=1))[0], FR_OFFICER, {}, 422, "not_yet_valid"),
    "key_not_valid": (lambda key, now: make_token(key, now - timedelta(days=2))[0], FR_OFFICER, {}, 422, "key_not_valid"),
    "not_a_token": (lambda key, now: "hello", FR_OFFICER, {}, 422, "malformed"),
}


@pytest.mark.parametrize("case", sorted(REFUSALS))
async def test_refused_commits_are_not_recorded_r13_r18(gateway, clock, case):
    make, officer, extra, status, reason = REFUSALS[case]
    async with gateway() as g:
        r = await commit(g.http, make(g.key, clock.now), officer, **extra)
        queued = await outbox(g.service)
        rows = await commits(g.service)
    assert r.status_code == status, r.text
    assert r.json()["detail"]["reason"] == reason
    assert queued == [] and rows == []


async def test_a_tampered_token_is_refused(gateway, clock):
    async with gateway() as g:
        token, _ = make_token(g.key, clock.now)
        r = await commit(g.http, tamper(token))
        queued = await outbox(g.service)
        rows = await commits(g.service)
    assert r.status_code == 422
    assert r.json()["detail"]["reason"] in ("bad_signature", "malformed")
    assert queued == [] and rows == []


async def test_a_token_with_a_flipped_signature_byte_is_bad_signature(gateway, clock):
    import base45

    from tokens.cose import PREFIX

    async with gateway() as g:
        token, _ = make_token(g.key, clock.now)
        raw = bytearray(base45.b45decode(token[len(PREFIX):]))
        assert raw[0] == 0xD2  # short tokens travel uncompressed; the signature is the last 64 bytes
        raw[-1] ^= 0x01
        r = await commit(g.http, PREFIX + base45.b45encode(bytes(raw)).decode())
        rows = await commits(g.service)
    assert r.status_code == 422 and r.json()["detail"]["reason"] == "bad_signature"
    assert rows == []


async def test_an_expired_token_is_refused(gateway, clock):
    async with gateway() as g:
        token, claims = make_token(g.key, clock.now)
        clock.now = claims.expires_at
        AUTH[FR_OFFICER] = await log_in(g.http, FR_OFFICER, SECRETS[FR_OFFICER], clock.now)  # sessions last 8 h
        r = await commit(g.http, token)
        rows = await commits(g.service)
        queued = await outbox(g.service)
    assert r.status_code == 422 and r.json()["detail"]["reason"] == "expired"
    assert rows == [] and queued == []


async def test_r13_final_date_on_the_expiry_day_is_accepted(gateway, clock):
    async with gateway() as g:
        token, _ = make_token(g.key, clock.now, kind=K.IMPORTATION, country="CH")
        r = await commit(g.http, token, CH_OFFICER, final_date=EXPIRY.isoformat())
    assert r.status_code == 202, r.text


async def test_officer_for_an_unknown_office_is_404_and_an_existing_id_409(gateway):
    async with gateway() as g:
        r = await g.http.post("/v1/admin/officers", json={"officer_id": "x-1", "office_id": "XX-NOWHERE",
                                                          "password": PASSWORD}, headers=ADMIN)
        again = await g.http.post("/v1/admin/officers", json={"officer_id": FR_OFFICER, "office_id": "FR-CDG-FRET",
                                                              "password": PASSWORD}, headers=ADMIN)
    assert r.status_code == 404 and r.json()["detail"]["reason"] == "unknown_office"
    assert again.status_code == 409 and again.json()["detail"]["reason"] == "officer_exists"


# --- scans -------------------------------------------------------------------------------------


async def test_scan_shows_the_claims_and_records_nothing(gateway, clock):
    async with gateway() as g:
        token, claims = make_token(g.key, clock.now, items=(1, 3))
        r = await g.http.post("/v1/scans", json={"token": token}, headers=auth(FR_OFFICER))
        unknown = await g.http.post("/v1/scans", json={"token": token}, headers=auth("nobody"))
        bad = await g.http.post("/v1/scans", json={"token": tamper(token)}, headers=auth(FR_OFFICER))
        rows = await commits(g.service)
        queued = await outbox(g.service)
        # a scanned token can still be committed afterwards
        committed = await commit(g.http, token)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["carnet_number"], body["kind"], body["country"], body["items"], body["sequence"], body["carnet_expiry"],
            body["general_list_digest"]) == (NUMBER, "exportation", "FR", [1, 3], 1, "2027-11-21", claims.general_list_digest)
    assert body["transaction_code"].replace("-", "") == claims.transaction_code
    assert unknown.status_code == 401 and unknown.headers["www-authenticate"] == "Bearer"
    assert bad.status_code == 422
    assert rows == [] and queued == []
    assert committed.status_code == 202


async def test_scan_image_decodes_the_qr_and_verifies(gateway, clock):
    async with gateway() as g:
        token, claims = make_token(g.key, clock.now)
        png = qr_png(token)
        r = await g.http.post("/v1/scans/image", files={"image": ("qr.png", png, "image/png")},
                              headers=auth(FR_OFFICER))
        other_key, _ = make_token(generate_signing_key(), clock.now)
        unknown = await g.http.post("/v1/scans/image", files={"image": ("qr.png", qr_png(other_key), "image/png")},
                                    headers=auth(FR_OFFICER))
        not_image = await g.http.post("/v1/scans/image", files={"image": ("qr.txt", b"hello, customs", "text/plain")},
                                      headers=auth(FR_OFFICER))
        blank = io.BytesIO()
        Image.new("L", (200, 200), 255).save(blank, format="PNG")
        no_code = await g.http.post("/v1/scans/image", files={"image": ("blank.png", blank.getvalue(), "image/png")},
                                    headers=auth(FR_OFFICER))
        rows = await commits(g.service)
        reads = {by: g.service.registry.get_sample_value("ata_qr_images_total", {"read_by": by})
                 for by in ("0", "none", "unreadable")}
        timed = g.service.registry.get_sample_value("ata_qr_image_read_seconds_count")
    assert r.status_code == 200, r.text
    assert r.json()["transaction_code"].replace("-", "") == claims.transaction_code
    assert unknown.status_code == 422 and unknown.json()["detail"]["reason"] == "unknown_kid"
    assert not_image.status_code == 400 and not_image.json()["detail"]["reason"] == "no_qr"
    assert no_code.status_code == 400 and no_code.json()["detail"]["reason"] == "no_qr"
    assert rows == []
    # Both symbols read on the first pass (the unknown key is refused after reading); every upload is timed.
    assert reads == {"0": 2, "none": 1, "unreadable": 1}
    assert timed == 4


async def test_r12_an_importation_on_an_expired_carnet_is_refused_at_the_gateway(gateway, clock):
    async with gateway() as g:
        # the token is still valid (72 h) but the carnet's last valid day has passed in Zurich
        token, _ = make_token(g.key, clock.now, kind=K.IMPORTATION, country="CH",
                              carnet_expiry=clock.now.date() - timedelta(days=1))
        r = await commit(g.http, token, CH_OFFICER)
        rows = await commits(g.service)
    assert r.status_code == 422 and r.json()["detail"]["reason"] == "R12"
    assert rows == []


async def test_r12_reimportation_on_an_expired_carnet_is_accepted_at_the_gateway(gateway, clock):
    async with gateway() as g:
        token, _ = make_token(g.key, clock.now, kind=K.REIMPORTATION, country="FR",
                              carnet_expiry=clock.now.date() - timedelta(days=30))
        r = await commit(g.http, token)
    assert r.status_code == 202, r.text


# --- voided and closed carnets (R5, R7) -----------------------------------------------------------



async def test_r5_tokens_of_a_voided_carnet_stop_verifying_offline_and_after_a_restart(gateway, clock, settings):
    async with gateway() as g:
        token, _ = make_token(g.key, clock.now)
        await carnet_status(g.broker, "voided", clock.now)
        r = await commit(g.http, token)
        scan = await g.http.post("/v1/scans", json={"token": token}, headers=auth(FR_OFFICER))
        rows = await commits(g.service)
        fresh = build(settings, clock=clock).state["handlers"]  # a restarted gateway reloads what it learned
        async with g.service.pool.acquire() as conn:
            await fresh.load_trust(conn)
    assert r.status_code == 422 and r.json()["detail"]["reason"] == "voided"
    assert "FR2600000028" in r.json()["detail"]["message"]
    assert scan.status_code == 422
    assert rows == []
    assert fresh.blocked[NUMBER].status == "voided"


async def test_r7_a_closed_carnet_is_refused_and_an_older_status_arriving_late_does_not_undo_it(gateway, clock):
    async with gateway() as g:
        token, _ = make_token(g.key, clock.now)
        await carnet_status(g.broker, "closed", clock.now, rule="R7", successor=None)
        await carnet_status(g.broker, "active", clock.now - timedelta(hours=1), rule="R10", successor=None)
        r = await commit(g.http, token)
    assert r.status_code == 422 and r.json()["detail"]["reason"] == "closed"




async def test_r7_r6_a_status_another_instance_consumed_is_refused_at_commit_before_its_cache_reloads(gateway, clock,
                                                                                                     settings):
    """Two gateway instances share one database, and only the first consumes the carnet's closure (R7) and a
    replacement's takeover of item 1 (R6). The second's caches have not reloaded, yet its commits are refused:
    a commit reads the shared tables before it accepts."""
    from contracts.messages import ItemLocation, ItemLocationsChanged
    from contracts.topics import CUSTOMS_LEDGER

    async with gateway() as g:
        closed_token, _ = make_token(g.key, clock.now, items=(2,))
        second = build(settings, clock=clock)
        await second.open_database()
        try:
            async with second.pool.acquire() as conn:
                await second.state["handlers"].load_trust(conn)  # keys known; the carnet still active
            moved = ItemLocationsChanged(carnet_number=NUMBER, cause="replacement", successor="FR2600000028",
                                         changed_at=clock.now,
                                         rule="R6", items=[ItemLocation(item_number=1, location="transferred")])
            body, headers, _ = wire(moved, producer="core")
            await g.broker.publish(body, CUSTOMS_LEDGER.name, key=NUMBER.encode(), headers=headers)
            async with client(second) as http:
                replaced = await commit(http, make_token(g.key, clock.now, items=(1,))[0])
            await carnet_status(g.broker, "closed", clock.now, rule="R7", successor=None)
            async with client(second) as http:
                closed = await commit(http, closed_token)
            stale = second.registry.get_sample_value("ata_gateway_cache_lookups_total",
                                                     {"cache": "carnet_status", "outcome": "stale"})
        finally:
            await second.pool.close()
    assert replaced.status_code == 422 and replaced.json()["detail"]["reason"] == "replaced", replaced.text
    assert closed.status_code == 422 and closed.json()["detail"]["reason"] == "closed", closed.text
    assert stale == 2


# --- the signed trust list and rotation ---------------------------------------------------------------


async def test_rotation_keeps_old_tokens_verifiable_and_a_key_left_out_of_the_list_is_no_longer_trusted(gateway, clock,
                                                                                                         settings):
    async with gateway() as g:
        old_token, _ = make_token(g.key, clock.now)
        new = generate_signing_key()
        # the core rotated: the old key stopped signing now, the new one signs; both listed
        body, headers, _ = wire(trust_list(settings.trust_anchor_key_path, 100, clock.now,
                                           (g.key, clock.now - timedelta(days=1), clock.now), (new, clock.now, None)),
                                producer="core")
        await g.broker.publish(body, SIGNING_KEYS.name, key=b"trust-list", headers=headers)
        new_token, _ = make_token(new, clock.now, carnet_number="FR2600000028")
        late_old, _ = make_token(g.key, clock.now + timedelta(minutes=5), carnet_number="FR2600000036")
        scans = [await g.http.post("/v1/scans", json={"token": t}, headers=auth(FR_OFFICER))
                 for t in (old_token, new_token, late_old)]
        # later, the old key's tokens have all expired: the list drops it, and its tokens fail as unknown
        body, headers, _ = wire(trust_list(settings.trust_anchor_key_path, 101, clock.now, (new, clock.now, None)),
                                producer="core")
        await g.broker.publish(body, SIGNING_KEYS.name, key=b"trust-list", headers=headers)
        dropped = await g.http.post("/v1/scans", json={"token": old_token}, headers=auth(FR_OFFICER))
    assert [r.status_code for r in scans] == [200, 200, 422]
    assert scans[2].json()["detail"]["reason"] == "key_not_valid"  # signed by the old key after it stopped signing
    assert dropped.status_code == 422 and dropped.json()["detail"]["reason"] == "unknown_kid"


async def test_a_forged_a_stale_and_an_unsigned_key_list_are_all_ignored(gateway, clock, settings, tmp_path):
    from tokens import trustlist

    async with gateway() as g:
        intruder = generate_signing_key()
        forged_anchor = tmp_path / "forged-anchor.pem"
        trustlist.ensure_anchor(forged_anchor)
        attempts = [
            trust_list(forged_anchor, 500, clock.now, (intruder, clock.now, None)),  # not our anchor
            trust_list(settings.trust_anchor_key_path, 1, clock.now, (intruder, clock.now, None)),  # older than held
            signing_key_published(intruder, clock.now),  # unsigned
        ]
        for payload in attempts:
            body, headers, _ = wire(payload, producer="somebody")
            await g.broker.publish(body, SIGNING_KEYS.name, key=b"trust-list", headers=headers)
        token, _ = make_token(intruder, clock.now)
        r = await commit(g.http, token)
        metrics = {o: g.service.registry.get_sample_value("ata_trust_lists_total", {"outcome": o})
                   for o in ("refused", "stale", "unsigned_ignored")}
    assert r.status_code == 422 and r.json()["detail"]["reason"] == "unknown_kid"
    assert metrics == {"refused": 1, "stale": 1, "unsigned_ignored": 1}


def test_the_gateway_refuses_to_start_without_a_trust_anchor(settings):
    import pytest as _pytest

    from tokens.trustlist import TrustListError

    with _pytest.raises(TrustListError, match="ATA_TRUST_ANCHOR_PUBLIC_KEY_PATH"):
        build(settings.model_copy(update={"trust_anchor_public_key_path": None}))
