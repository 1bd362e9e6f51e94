"""Officer accounts a stranger cannot lock (R18): failed logins throttled per account, client address and
pair with doubling waits (429 + Retry-After), kept in PostgreSQL and so shared by every gateway instance,
like the typed-code lookup window; the administrator's account actions, each audited; the purge."""
# ruff: noqa: F811  (the `gateway` fixture is imported from tests.support.gateway and used as a parameter)

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import httpx
import pyotp

from contracts.txcode import new_transaction_code
from customs_gateway.app import build
from customs_gateway.throttle import LONGEST_WAIT, wait_after
from tests.service.conftest import ADMIN, with_database
from tests.support.gateway import CORE, PASSWORD, auth, create_officer, gateway, make_token  # noqa: F401

OFFICER = "fr-officer-0077"
DESK, STRANGER = "10.20.0.7", "203.0.113.9"


def from_address(service: Any, address: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=service.http, client=(address, 40000)), base_url="http://gateway"
    )


async def login(http: httpx.AsyncClient, password: str, code: str, officer: str = OFFICER) -> httpx.Response:
    return await http.post("/v1/sessions", json={"officer_id": officer, "password": password, "totp": code})


def wrong_code(secret: str, at: Any) -> str:
    right = pyotp.TOTP(secret).at(at)
    return "000000" if right != "000000" else "111111"


def second_instance(settings: Any, clock: Any) -> Any:
    """Another gateway process on the same database: nothing shared with the first but PostgreSQL."""
    return with_database(build(settings, clock=clock, core=CORE.client()))


def test_waits_double_from_one_second_up_to_fifteen_minutes():
    assert [wait_after(n, 3) for n in (1, 3)] == [None, None]
    assert [wait_after(n, 3).total_seconds() for n in (4, 5, 6, 7)] == [1, 2, 4, 8]
    assert wait_after(50, 3) == wait_after(10_000, 3) == LONGEST_WAIT


async def test_a_stranger_hammering_an_account_slows_only_their_own_address(gateway, clock):
    async with gateway() as g, from_address(g.service, DESK) as desk, from_address(g.service, STRANGER) as stranger:
        secret = await create_officer(g.http, OFFICER, "FR-CDG-FRET")
        first = await login(desk, PASSWORD, pyotp.TOTP(secret).at(clock.now))  # the officer's usual desk
        answers, waits = [], []
        for _ in range(40):  # a stranger guessing, waiting out every Retry-After
            r = await login(stranger, "guessed password", "123456")
            answers.append(r.status_code)
            if r.status_code == 429:
                waits.append(int(r.headers["retry-after"]))
                clock.now += timedelta(seconds=waits[-1])
        clock.now += timedelta(seconds=30)  # a fresh TOTP step
        while_hammered = await login(desk, PASSWORD, pyotp.TOTP(secret).at(clock.now))
        right_from_stranger = await login(stranger, PASSWORD, pyotp.TOTP(secret).at(clock.now + timedelta(seconds=30)))
        throttled = g.service.registry.get_sample_value("ata_officer_login_throttled_total", {"key": "pair"})
        audit = (await g.http.get("/v1/admin/audit", params={"officer_id": OFFICER}, headers=ADMIN)).json()
    assert first.status_code == 201 and while_hammered.status_code == 201, while_hammered.text
    assert answers[:3] == [401] * 3 and 429 in answers
    assert waits[:5] == [1, 2, 4, 8, 16]  # growing, the stranger's own
    assert right_from_stranger.status_code == 429  # the stranger's address waits, whatever it sends
    assert right_from_stranger.json()["detail"]["reason"] == "throttled"
    assert throttled >= len(waits)
    assert ("login_throttled", "pair") in {(e["action"], e["outcome"]) for e in audit}


async def test_a_burst_of_parallel_guesses_is_counted_one_by_one(gateway, clock, settings):
    async with gateway() as g, second_instance(settings, clock) as other:
        await create_officer(g.http, OFFICER, "FR-CDG-FRET")
        async with from_address(g.service, STRANGER) as a, from_address(other, STRANGER) as b:
            burst = await asyncio.gather(*(login(x, "guessed password", "123456") for x in (a, b) * 6))
        async with g.service.pool.acquire() as conn:
            counted = await conn.fetchval(
                "SELECT failures FROM login_failures WHERE officer_id = $1 AND address = $2", OFFICER, STRANGER
            )
    assert sorted(r.status_code for r in burst) == [401] * 4 + [429] * 8  # 3 free, a 4th that starts the wait
    assert counted == 4


async def test_a_guesser_on_many_addresses_holds_back_new_addresses_but_not_the_officers_own(gateway, clock):
    async with gateway() as g, from_address(g.service, DESK) as desk:
        secret = await create_officer(g.http, OFFICER, "FR-CDG-FRET")
        assert (await login(desk, PASSWORD, pyotp.TOTP(secret).at(clock.now))).status_code == 201
        failures, held = 0, []
        for n in range(60):  # a new address each try, waiting out the account's waits: 17 failures, then 64 s
            async with from_address(g.service, f"198.51.100.{n}") as bot:
                r = await login(bot, PASSWORD, wrong_code(secret, clock.now))
            failures += r.status_code == 401
            if r.status_code == 429:
                held.append(int(r.headers["retry-after"]))
                clock.now += timedelta(seconds=held[-1])
            if failures == 17:
                break
        clock.now += timedelta(seconds=30)
        async with from_address(g.service, "192.0.2.50") as new_place:
            elsewhere = await login(new_place, PASSWORD, pyotp.TOTP(secret).at(clock.now))
        at_desk = await login(desk, PASSWORD, pyotp.TOTP(secret).at(clock.now))
    assert held[:6] == [1, 2, 4, 8, 16, 32]  # a new address waits on the account's count
    assert elsewhere.status_code == 429 and int(elsewhere.headers["retry-after"]) >= 1
    assert at_desk.status_code == 201, at_desk.text


async def test_one_address_failing_on_many_accounts_waits_on_all_of_them(gateway, clock):
    async with gateway() as g, from_address(g.service, STRANGER) as stranger, from_address(g.service, DESK) as desk:
        secret = await create_officer(g.http, OFFICER, "FR-CDG-FRET")
        for n in range(21):
            assert (await login(stranger, "x" * 12, "123456", officer=f"nobody-{n}")).status_code == 401
        refused = await login(stranger, PASSWORD, pyotp.TOTP(secret).at(clock.now))
        fine = await login(desk, PASSWORD, pyotp.TOTP(secret).at(clock.now))
    assert refused.status_code == 429 and fine.status_code == 201


async def test_failures_at_one_instance_throttle_logins_at_another(gateway, clock, settings):
    async with gateway() as g, second_instance(settings, clock) as other:
        secret = await create_officer(g.http, OFFICER, "FR-CDG-FRET")
        async with from_address(g.service, STRANGER) as a, from_address(other, STRANGER) as b:
            spread = [await login(x, "guessed password", "123456") for x in (a, b, a, b)]
            at_a = await login(a, PASSWORD, pyotp.TOTP(secret).at(clock.now))
            at_b = await login(b, PASSWORD, pyotp.TOTP(secret).at(clock.now))
    assert [r.status_code for r in spread] == [401] * 4  # three free and a fourth: counted across both
    assert at_a.status_code == 429 and at_b.status_code == 429


async def test_the_typed_code_window_is_shared_by_every_instance(gateway, clock, settings):
    async with gateway() as g, second_instance(settings, clock) as other:
        async with from_address(other, DESK) as b:
            codes = [new_transaction_code() for _ in range(11)]
            answers = [
                await (g.http if n % 2 else b).post("/v1/scans/code", json={"code": c}, headers=auth())
                for n, c in enumerate(codes)
            ]
    assert [r.status_code for r in answers[:10]] == [404] * 10  # unknown codes still use the window
    assert answers[10].status_code == 429 and 1 <= int(answers[10].headers["retry-after"]) <= 60


async def test_administrator_actions_on_an_account_are_effective_and_audited(gateway, clock):
    async with gateway() as g, from_address(g.service, DESK) as desk:
        secret = await create_officer(g.http, OFFICER, "FR-CDG-FRET")

        async def session(code_at: Any, key: str = secret) -> httpx.Response:
            return await login(desk, PASSWORD, pyotp.TOTP(key).at(code_at))

        def bearer(r: httpx.Response) -> dict[str, str]:
            return {"Authorization": f"Bearer {r.json()['token']}"}

        token, _ = make_token(g.key, clock.now)
        s1 = await session(clock.now)
        deactivated = await g.http.post(f"/v1/admin/officers/{OFFICER}/deactivate", headers=ADMIN)
        after_deactivation = await desk.post("/v1/scans", json={"token": token}, headers=bearer(s1))
        clock.now += timedelta(seconds=30)
        refused_login = await session(clock.now)
        reactivated = await g.http.post(f"/v1/admin/officers/{OFFICER}/reactivate", headers=ADMIN)
        clock.now += timedelta(seconds=30)
        s2 = await session(clock.now)
        revoked = await g.http.delete(f"/v1/admin/officers/{OFFICER}/sessions", headers=ADMIN)
        assert s2.status_code == 201, s2.text
        after_revocation = await desk.post("/v1/scans", json={"token": token}, headers=bearer(s2))
        for _ in range(4):  # the desk mistypes: its pair now waits
            await login(desk, PASSWORD, wrong_code(secret, clock.now))
        waiting = await session(clock.now + timedelta(seconds=30))  # the next step's code, accepted one step early
        unlocked = await g.http.post(f"/v1/admin/officers/{OFFICER}/unlock", headers=ADMIN)
        s3 = await session(clock.now + timedelta(seconds=30))
        clock.now += timedelta(seconds=30)
        reset = await g.http.post(f"/v1/admin/officers/{OFFICER}/authenticator", headers=ADMIN)
        assert s3.status_code == 201, (waiting.text, unlocked.text, s3.text)
        after_reset = await desk.post("/v1/scans", json={"token": token}, headers=bearer(s3))
        clock.now += timedelta(seconds=30)
        old_secret = await session(clock.now)
        new_secret = await session(clock.now, reset.json()["totp_secret"])
        unknown = await g.http.post("/v1/admin/officers/nobody-here/deactivate", headers=ADMIN)
        no_admin = await g.http.post(f"/v1/admin/officers/{OFFICER}/unlock")
        audit = (await g.http.get("/v1/admin/audit", headers=ADMIN)).json()
    assert deactivated.status_code == 200 and deactivated.json()["sessions_revoked"] == 1
    assert after_deactivation.status_code == 401 and refused_login.status_code == 401
    assert reactivated.status_code == 200 and s2.status_code == 201
    assert revoked.json()["sessions_revoked"] == 1 and after_revocation.status_code == 401
    assert waiting.status_code == 429 and unlocked.json()["failures_cleared"] >= 1 and s3.status_code == 201
    assert reset.json()["totp_uri"].startswith("otpauth://") and reset.json()["sessions_revoked"] == 1
    assert after_reset.status_code == 401 and old_secret.status_code == 401 and new_secret.status_code == 201
    assert unknown.status_code == 404 and no_admin.status_code == 401
    done = [
        (e["action"], e["outcome"])
        for e in audit
        if e["action"]
        in ("officer_deactivated", "officer_reactivated", "sessions_revoked", "officer_unlocked", "authenticator_reset")
    ]
    assert done == [
        ("officer_deactivated", "success"),
        ("officer_reactivated", "success"),
        ("sessions_revoked", "success"),
        ("officer_unlocked", "success"),
        ("authenticator_reset", "success"),
        ("officer_deactivated", "unknown_officer"),
    ]
    assert all(reset.json()["totp_secret"] not in str(e["detail"]) for e in audit)


async def test_expired_sessions_and_forgotten_counts_are_purged_in_bounded_batches(gateway, clock):
    async with gateway() as g, from_address(g.service, STRANGER) as stranger:
        await create_officer(g.http, OFFICER, "FR-CDG-FRET")
        await login(stranger, "guessed password", "123456")
        clock.now += timedelta(hours=9)  # past the 8-hour sessions and the hour after which failures are forgotten
        async with g.service.pool.acquire() as conn:
            before = await conn.fetchval("SELECT count(*) FROM sessions")
            await g.service.state["purge_accounts"](conn)
            after = await conn.fetchval("SELECT count(*) FROM sessions")
            failures = await conn.fetchval("SELECT count(*) FROM login_failures")
        purged = g.service.registry.get_sample_value("ata_gateway_purged_rows_total", {"table": "sessions"})
    assert before == 2 and after == 0 and purged == 2  # the fixture's two officers' sessions
    assert failures == 0
