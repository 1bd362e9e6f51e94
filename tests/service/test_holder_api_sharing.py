"""The holder's HTTP API (issue 3, item 9): who sees a carnet, own and shared, sharing with a representative
and revoking it.

Real PostgreSQL, the core's real handlers, HTTP through ASGI (no lifespan: the test opens the database).
Tokens are minted at the injected clock, so nothing here depends on the wall clock."""

from __future__ import annotations

from core.app import build
from tests.support.holder_api import as_party, settings  # noqa: F401  (settings: the fixture)
from tests.support.holder_api_steps import NUMBER, issue, post_declaration, with_key

OTHER = "FR2600000028"  # held by hld_2


# --- what a party sees ------------------------------------------------------------------------------------


async def test_a_holder_lists_only_their_own_carnets(settings, clock, running):
    service = build(settings, clock=clock)
    async with running(service) as broker:
        await issue(broker)
        await issue(broker, OTHER, holder_id="hld_2")
        async with (
            as_party(service, "hld_1") as one,
            as_party(service, "hld_2") as two,
            as_party(service, "nobody") as three,
        ):
            mine, theirs, none = (
                await one.get("/v1/carnets"),
                await two.get("/v1/carnets"),
                await three.get("/v1/carnets"),
            )
            detail = await one.get(f"/v1/carnets/{NUMBER}")
    assert [(c["carnet_number"], c["role"]) for c in mine.json()] == [(NUMBER, "holder")]
    assert [(c["carnet_number"], c["role"]) for c in theirs.json()] == [(OTHER, "holder")]
    assert none.json() == []
    body = detail.json()
    assert (body["role"], body["representative_ids"], body["countries"], body["expiry_date"]) == (
        "holder",
        [],
        ["CH", "GB"],
        "2027-11-21",
    )
    assert [(i["item_number"], i["location"]) for i in body["items"]] == [(1, "home"), (2, "home"), (3, "home")]


async def test_a_stranger_gets_404_for_everything_exactly_as_for_unknown_ids(settings, clock, running):
    service = build(settings, clock=clock)
    async with running(service) as broker:
        await issue(broker)
        await with_key(service)
        async with as_party(service) as holder, as_party(service, "intruder") as stranger:
            created = (await post_declaration(holder)).json()
            did = created["declaration_id"]
            seen = {
                path: await stranger.get(path)
                for path in (
                    f"/v1/carnets/{NUMBER}",
                    f"/v1/carnets/{NUMBER}/transactions",
                    f"/v1/declarations/{did}",
                    f"/v1/declarations/{did}/qr.png",
                    f"/v1/declarations/{did}/qr.svg",
                    f"/v1/declarations/{did}/transaction-code",
                )
            }
            seen["declare"] = await post_declaration(stranger)
            seen["share"] = await stranger.post(
                f"/v1/carnets/{NUMBER}/shares", json={"representative_id": "intruder_2"}
            )
            seen["revoke"] = await stranger.delete(f"/v1/carnets/{NUMBER}/shares/rep_1")
            unknown_carnet = await holder.get("/v1/carnets/FR2699999999")
            unknown_declaration = await holder.get("/v1/declarations/00000000-0000-0000-0000-000000000000")
        count = await service.pool.fetchval("SELECT count(*) FROM declarations")
    assert {k: r.status_code for k, r in seen.items()} == {k: 404 for k in seen}
    # the same body as for a carnet that does not exist, but for the number it repeats
    unknown = unknown_carnet.json()["detail"]["reasons"][0]
    assert seen[f"/v1/carnets/{NUMBER}"].json()["detail"] == {
        "reasons": [{**unknown, "message": f"unknown carnet {NUMBER}"}]
    }
    assert seen[f"/v1/declarations/{did}"].json() == unknown_declaration.json()
    assert count == 1  # the stranger's declaration was never made
    assert service.registry.get_sample_value("ata_holder_not_found_total", {"route": "declaration"}) == 2


# --- sharing -------------------------------------------------------------------------------------------


async def test_a_representative_acts_only_while_the_carnet_is_shared(settings, clock, running):
    service = build(settings, clock=clock)
    async with running(service) as broker:
        await issue(broker)
        await with_key(service)
        async with as_party(service, "hld_1") as holder, as_party(service, "rep_1") as rep:
            before = (await rep.get(f"/v1/carnets/{NUMBER}"), await rep.get("/v1/carnets"), await post_declaration(rep))
            shared = await holder.post(f"/v1/carnets/{NUMBER}/shares", json={"representative_id": "rep_1"})
            again = await holder.post(f"/v1/carnets/{NUMBER}/shares", json={"representative_id": "rep_1"})
            listed = await rep.get("/v1/carnets")
            detail = await rep.get(f"/v1/carnets/{NUMBER}")
            declared = await post_declaration(rep, items=[1, 2])
            did = declared.json()["declaration_id"]
            png_while_shared = await rep.get(f"/v1/declarations/{did}/qr.png")
            holder_view = await holder.get(f"/v1/carnets/{NUMBER}")
            revoked = await holder.delete(f"/v1/carnets/{NUMBER}/shares/rep_1")
            revoked_again = await holder.delete(f"/v1/carnets/{NUMBER}/shares/rep_1")
            after = (
                await rep.get(f"/v1/carnets/{NUMBER}"),
                await rep.get("/v1/carnets"),
                await post_declaration(rep, items=[3]),
                await rep.get(f"/v1/declarations/{did}"),
                await rep.get(f"/v1/declarations/{did}/qr.png"),
            )
            holder_still = await holder.get(f"/v1/declarations/{did}")
        row = await service.pool.fetchrow("SELECT representative_ids FROM carnets WHERE carnet_number = $1", NUMBER)
        declared_by = await service.pool.fetch("SELECT declared_by, items FROM declarations")
    assert [r.status_code for r in before] == [404, 200, 404] and before[1].json() == []
    assert (shared.status_code, shared.json()) == (201, {"carnet_number": NUMBER, "representative_ids": ["rep_1"]})
    assert (again.status_code, again.json()) == (200, shared.json())  # idempotent
    assert [(c["carnet_number"], c["role"]) for c in listed.json()] == [(NUMBER, "representative")]
    assert (detail.status_code, detail.json()["role"], detail.json()["representative_ids"]) == (
        200,
        "representative",
        None,
    )
    assert (declared.status_code, declared.json()["declared_by"]) == (201, "rep_1")
    assert png_while_shared.status_code == 200
    assert holder_view.json()["representative_ids"] == ["rep_1"]
    assert revoked.status_code == 204 and revoked.content == b""
    assert revoked_again.status_code == 404
    assert [r.status_code for r in after] == [404, 200, 404, 404, 404] and after[1].json() == []
    assert holder_still.status_code == 200
    assert list(row["representative_ids"]) == []
    assert [(r["declared_by"], list(r["items"])) for r in declared_by] == [("rep_1", [1, 2])]
    shares = {
        (a, o): service.registry.get_sample_value("ata_holder_shares_total", {"action": a, "outcome": o})
        for a, o in (("share", "added"), ("share", "already"), ("revoke", "removed"), ("revoke", "not_shared"))
    }
    assert shares == {
        ("share", "added"): 1,
        ("share", "already"): 1,
        ("revoke", "removed"): 1,
        ("revoke", "not_shared"): 1,
    }


async def test_only_the_holder_shares_and_revokes(settings, clock, running):
    service = build(settings, clock=clock)
    async with running(service) as broker:
        await issue(broker, representative_ids=["rep_1"])  # named by the NGA at issuance
        async with as_party(service, "hld_1") as holder, as_party(service, "rep_1") as rep:
            rep_shares = await rep.post(f"/v1/carnets/{NUMBER}/shares", json={"representative_id": "rep_2"})
            rep_revokes = await rep.delete(f"/v1/carnets/{NUMBER}/shares/rep_1")
            self_share = await holder.post(f"/v1/carnets/{NUMBER}/shares", json={"representative_id": "hld_1"})
            bad_id = await holder.post(f"/v1/carnets/{NUMBER}/shares", json={"representative_id": "rep 1; DROP"})
            holder_shares = await holder.post(f"/v1/carnets/{NUMBER}/shares", json={"representative_id": "rep_2"})
        row = await service.pool.fetchrow("SELECT representative_ids FROM carnets WHERE carnet_number = $1", NUMBER)
    assert (rep_shares.status_code, rep_revokes.status_code) == (403, 403)
    assert (self_share.status_code, bad_id.status_code) == (422, 422)
    assert (holder_shares.status_code, holder_shares.json()["representative_ids"]) == (201, ["rep_1", "rep_2"])
    assert list(row["representative_ids"]) == ["rep_1", "rep_2"]
