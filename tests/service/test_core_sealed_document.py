"""Issue 5 item 5 at the core: the carnet document arrives sealed for the holder's wallet, is kept sealed, and is
served to each party with only the data key sealed for them; sharing adds the key the holder's wallet sealed for
the representative, revoking removes it. The wallet opens it with nga_client.sealing (the documented ATA-DOC-1)."""

from __future__ import annotations

from typing import Any

from contracts.messages import SealedDocument
from contracts.topics import ISSUANCE_EVENTS
from core.app import build
from issuer.domain import issued_sealed
from nga_client import sealing
from tests.support.core import NUMBER, client, fetch, publish
from tests.support.messages import sealed_request, wallet_key

REP = "rep_7"


async def document(service: Any, party: str) -> Any:
    async with client(service, party) as http:
        return await http.get(f"/v1/carnets/{NUMBER}/document")


def opened(body: dict[str, Any], party: str, seed: int) -> dict[str, Any]:
    return sealing.open_document(
        SealedDocument.model_validate(body["document"]),
        party,
        wallet_key(seed),
        nga=body["nga"],
        request_id=body["request_id"],
        digest=body["general_list_digest"],
    )


async def test_the_sealed_document_is_kept_sealed_and_opened_only_by_the_wallets_it_was_sealed_for(
    settings, clock, running
):
    service = build(settings, clock=clock)
    async with running(service) as broker:
        request = sealed_request("REQ-DOC")
        await publish(broker, issued_sealed(request, NUMBER), ISSUANCE_EVENTS.name, NUMBER)
        holder = await document(service, "hld_1")
        stranger = await document(service, "hld_2")
        before_share = await document(service, REP)
        sealed = SealedDocument.model_validate(holder.json()["document"])
        for_rep = sealing.reseal_for(sealed, "hld_1", wallet_key(1), REP, wallet_key(7).public_key())
        new_key = next(r.sealed_key for r in for_rep.recipients if r.recipient_id == REP)
        async with client(service, "hld_1") as http:
            shared = await http.post(
                f"/v1/carnets/{NUMBER}/shares", json={"representative_id": REP, "sealed_key": new_key}
            )
        rep = await document(service, REP)
        async with client(service, "hld_1") as http:
            revoked = await http.delete(f"/v1/carnets/{NUMBER}/shares/{REP}")
        after_revoke = await document(service, REP)
        stored = (await fetch(service, "SELECT document::text AS d FROM carnets WHERE carnet_number = $1", NUMBER))[0][
            "d"
        ]
    assert holder.status_code == 200, holder.text
    plain = opened(holder.json(), "hld_1", 1)
    assert plain["holder"]["name"] and plain["holder"]["name"] not in stored  # kept sealed
    assert [r["recipient_id"] for r in holder.json()["document"]["recipients"]] == ["hld_1"]
    assert stranger.status_code == 404 and before_share.status_code == 404
    assert shared.status_code == 201
    assert rep.status_code == 200 and opened(rep.json(), REP, 7) == plain
    assert [r["recipient_id"] for r in rep.json()["document"]["recipients"]] == [REP]  # only its own key
    assert revoked.status_code == 204 and after_revoke.status_code == 404
