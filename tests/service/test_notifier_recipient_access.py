"""Who may use the notifier's HTTP API: recipients with the wallet token see only their own subscriptions,
operators query the delivery log with theirs. Every clock is the test's."""

from __future__ import annotations

from notifier.app import build
from tests.support.notifier import (  # noqa: F401  (push_settings, settings: the fixtures)
    HOLDER_URL,
    NUMBER,
    REP_URL,
    auth,
    client,
    push_settings,
    register,
    request,
    settings,
)

# --- who may do what ------------------------------------------------------------------------------------


async def test_the_recipient_api_needs_the_wallet_token_for_the_notifier_and_sees_only_its_own(
    settings, clock, running
):
    from deploy.local.identity import mint_wallet_token, private_key_path

    service = build(settings, clock=clock)
    core_token = mint_wallet_token(private_key_path(settings.data_dir), "hld_1", now=clock.now)  # audience ata-core
    async with running(service) as broker, client(service) as http:
        endpoint = await register(service, http, "hld_1", HOLDER_URL)
        anonymous = await http.post("/v1/endpoints/webhooks", json={"url": "https://x.example"})
        for_core = await http.get("/v1/endpoints", headers={"Authorization": f"Bearer {core_token}"})
        await request(broker, clock, ["hld_1"])
        other_delete = await http.delete(f"/v1/endpoints/{endpoint['endpoint_id']}", headers=auth(service, "hld_2"))
        other_log = await http.get("/v1/deliveries", headers=auth(service, "hld_2"))
        own_log = await http.get("/v1/deliveries", headers=auth(service, "hld_1"))
    assert (anonymous.status_code, for_core.status_code) == (401, 401)
    assert other_delete.status_code == 404
    assert other_log.json() == [] and len(own_log.json()) == 1


async def test_operators_query_the_log_by_carnet_and_recipient_with_their_token(push_settings, clock, running):
    service = build(push_settings, clock=clock)
    op = {"Authorization": "Bearer op-token-0123456789"}
    async with running(service) as broker, client(service) as http:
        await register(service, http, "hld_1", HOLDER_URL)
        await register(service, http, "rep_1", REP_URL)
        await request(broker, clock, ["hld_1", "rep_1"])
        by_carnet = await http.get("/v1/admin/deliveries", params={"carnet_number": NUMBER}, headers=op)
        by_recipient = await http.get("/v1/admin/deliveries", params={"recipient_id": "rep_1"}, headers=op)
        wrong = await http.get("/v1/admin/deliveries", headers={"Authorization": "Bearer nope"})
    async with (
        running(off := build(push_settings.model_copy(update={"notifier_admin_token": None}), clock=clock)),
        client(off) as http,
    ):
        disabled = await http.get("/v1/admin/dead-letters", headers=op)
    assert sorted(d["recipient_id"] for d in by_carnet.json()) == ["hld_1", "rep_1"]
    assert [d["recipient_id"] for d in by_recipient.json()] == ["rep_1"]
    assert (wrong.status_code, disabled.status_code) == (401, 403)
