"""A multi-country journey through the real services, with the refusals a holder can run into.

Home FR -> transit through DE -> importation into CH as a split shipment -> re-exportation ->
re-importation home, then closure (R7). Along the way it tries what the rules forbid: a country
the carnet does not cover (R1), a token shown at another country's office (R18), a split shipment
into a country that forbids them (R14), re-exporting an item never imported (R11), and entering
abroad on an expired carnet (R12), and declaring digitally in a country that does not take digital
carnets yet (R16: Japan, with no digital date). Customs refuses one re-exportation (the voucher stays
unused, R8) and cancels a re-importation committed by mistake with the holder's cancellation code.
Last, goods come home from CH without a validated departure there: the claims worker flags the
regularization fee CH customs may charge although no claim follows (R27). Every crossing goes
through the QR image and the gateway.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from deploy.local.demo import Steps, issuance_request, issue_carnet, officer_session, poll
from deploy.local.identity import mint_wallet_token
from tokens.qr import decode_qr_image

OFFICES = {"FR": "FR-CDG-FRET", "DE": "DE-FRA-CARGO", "CH": "CH-GVA-AIR", "MX": "MX-MEX-AICM"}


class JourneyError(RuntimeError):
    pass


class Traveller:
    """The holder's wallet app and the officers at each office, over the real HTTP APIs."""

    def __init__(
        self, http: httpx.AsyncClient, endpoints: dict[str, str], holder_id: str, wallet_key: Path, admin_token: str
    ) -> None:
        self.http = http
        self.core = endpoints["core"]
        self.gateway = endpoints["customs_gateway"]
        self.holder = {"Authorization": f"Bearer {mint_wallet_token(wallet_key, holder_id)}"}
        self.admin_token = admin_token
        #: the bearer header of each country's logged-in officer
        self.officers: dict[str, dict[str, str]] = {}

    async def open_offices(self) -> None:
        for country, office in OFFICES.items():
            officer = f"{country.lower()}-officer-{uuid.uuid4().hex[:6]}"
            self.officers[country] = await officer_session(self.http, self.gateway, self.admin_token, officer, office)

    async def declare(self, number: str, kind: str, country: str, items: list[int], **extra: Any) -> httpx.Response:
        body = {"kind": kind, "country": country, "items": items, **extra}
        if kind == "importation":
            body.setdefault("intended_use", "documentary shoot")
        return await self.http.post(f"{self.core}/v1/carnets/{number}/declarations", json=body, headers=self.holder)

    async def token_from_qr(self, declaration: dict[str, Any]) -> str:
        png = (await self.http.get(f"{self.core}{declaration['qr_png_url']}", headers=self.holder)).content
        return decode_qr_image(png)[0]

    async def commit(self, token: str, at_country: str) -> httpx.Response:
        return await self.http.post(
            f"{self.gateway}/v1/commits",
            json={"token": token, "decision": "committed"},
            headers=self.officers[at_country],
        )

    async def history(self, number: str) -> list[dict[str, Any]]:
        r = await self.http.get(f"{self.core}/v1/carnets/{number}/transactions", headers=self.holder)
        r.raise_for_status()
        return r.json()

    async def cross(self, number: str, kind: str, country: str, items: list[int], **extra: Any) -> dict[str, Any]:
        """Declare, show the QR at the office, wait until the core has recorded the decision."""
        before = len(await self.history(number))
        r = await self.declare(number, kind, country, items, **extra)
        if r.status_code != 201:
            raise JourneyError(f"{kind} of {items} in {country} was refused: {r.text}")
        committed = await self.commit(await self.token_from_qr(r.json()), country)
        if committed.status_code != 202:
            raise JourneyError(f"customs in {country} did not take the {kind}: {committed.text}")
        history = await poll(lambda: self._grown(number, before), f"the core to record the {kind}")
        last = history[-1]
        if last["decision"] != "committed":
            raise JourneyError(f"the core refused the {kind}: {last['reasons']}")
        return last

    async def refused_by_customs(
        self, number: str, kind: str, country: str, items: list[int], reason: str
    ) -> dict[str, Any]:
        """Declare, and customs refuses it with a reason; answers the declaration."""
        before = len(await self.history(number))
        r = await self.declare(number, kind, country, items)
        if r.status_code != 201:
            raise JourneyError(f"{kind} of {items} in {country} was refused: {r.text}")
        refused = await self.http.post(
            f"{self.gateway}/v1/commits",
            headers=self.officers[country],
            json={"token": await self.token_from_qr(r.json()), "decision": "refused", "refusal_reason": reason},
        )
        if refused.status_code != 202:
            raise JourneyError(f"customs in {country} could not refuse the {kind}: {refused.text}")
        history = await poll(lambda: self._grown(number, before), f"the core to record the refused {kind}")
        if history[-1]["decision"] != "refused":
            raise JourneyError(f"the refused {kind} was recorded as {history[-1]}")
        return r.json()

    async def cancel(self, number: str, transaction: dict[str, Any], country: str, reason: str) -> None:
        """The holder reads the cancellation code to the officer, who cancels with a reason; wait for the core."""
        code = transaction["cancellation_code"]
        declaration = (
            await self.http.get(f"{self.core}/v1/declarations/{transaction['declaration_id']}", headers=self.holder)
        ).json()
        asked = await self.http.post(
            f"{self.gateway}/v1/cancellations",
            headers=self.officers[country],
            json={"transaction_code": declaration["transaction_code"], "cancellation_code": code, "reason": reason},
        )
        if asked.status_code != 202:
            raise JourneyError(f"customs in {country} could not ask for the cancellation: {asked.text}")
        url = f"{self.gateway}/v1/cancellations/{asked.json()['cancellation_id']}"

        async def decided() -> dict[str, Any] | None:
            r = (await self.http.get(url, headers=self.officers[country])).json()
            return None if r["status"] == "pending" else r

        outcome = await poll(decided, "the core to decide the cancellation")
        if outcome["status"] != "cancelled":
            raise JourneyError(f"the cancellation was refused: {outcome['reasons']}")

    async def _grown(self, number: str, before: int) -> list[dict[str, Any]] | None:
        history = await self.history(number)
        return history if len(history) > before else None

    async def refused(self, number: str, kind: str, country: str, items: list[int], rule: str, **extra: Any) -> dict:
        r = await self.declare(number, kind, country, items, **extra)
        reasons = r.json().get("detail", {}).get("reasons", []) if r.status_code == 422 else []
        if rule not in {x["rule"] for x in reasons}:
            raise JourneyError(
                f"expected a refusal under {rule} for {kind} of {items} in {country}, got {r.status_code} {r.text}"
            )
        return next(x for x in reasons if x["rule"] == rule)


async def run_journey(
    endpoints: dict[str, str],
    bootstrap: str,
    wallet_key: Path,
    admin_token: str,
    progress: Callable[[str], None] = print,
    today: date | None = None,
) -> dict[str, Any]:
    steps = Steps(progress)
    today = today or datetime.now(UTC).date()
    holder_id = f"hld_{uuid.uuid4().hex[:8]}"
    async with httpx.AsyncClient(timeout=10) as http:
        t = Traveller(http, endpoints, holder_id, wallet_key, admin_token)
        await t.open_offices()
        number = await issue_carnet(bootstrap, issuance_request(today, holder_id, countries=("DE", "CH", "MX", "JP")))
        await poll(lambda: _known(http, t, number), "the core to record the carnet")
        steps.done("carnet issued for DE, CH, MX and JP", number)
        refusals: dict[str, dict] = {}

        await t.cross(number, "exportation", "FR", [1, 2, 3])
        steps.done("exportation of items 1-3 at home", "R10: the carnet is active")
        await t.cross(number, "transit_entry", "DE", [1, 2, 3])
        await t.cross(number, "transit_discharge", "DE", [1, 2, 3])
        steps.done("transit through DE", "entry and discharge (R8: discharge names its entry)")

        refusals["wrong country"] = await t.refused(number, "importation", "US", [1, 2], "R1")
        refusals["split shipment"] = await t.refused(number, "importation", "MX", [1, 2], "R14")
        steps.done(
            "refused: importation into US (R1) and a split shipment into MX (R14)", refusals["split shipment"]["policy"]
        )
        refusals["not digital yet"] = await t.refused(number, "importation", "JP", [1, 2, 3], "R16")
        steps.done(
            "refused: a digital importation into JP, which takes no digital carnets yet (R16)",
            refusals["not digital yet"]["message"],
        )

        before = len(await t.history(number))
        imported = await t.declare(number, "importation", "CH", [1, 2])
        token = await t.token_from_qr(imported.json())
        wrong_office = await t.commit(token, "FR")
        if wrong_office.status_code != 403:
            raise JourneyError(f"a CH token committed at a FR office was not refused: {wrong_office.text}")
        refusals["wrong office"] = wrong_office.json()["detail"]
        committed = await t.commit(token, "CH")
        if committed.status_code != 202:
            raise JourneyError(f"customs in CH did not take the importation: {committed.text}")
        await poll(lambda: t._grown(number, before), "the core to record the importation")
        steps.done(
            "importation of items 1-2 into CH as a split shipment", "a FR officer could not commit it (R18); CH did"
        )

        refusals["never imported"] = await t.refused(number, "reexportation", "CH", [3], "R11")
        steps.done("refused: re-exportation of item 3, never imported (R11)")
        refused_voucher = await t.refused_by_customs(number, "reexportation", "CH", [1, 2], "seal broken")
        reexported = await t.cross(number, "reexportation", "CH", [1, 2])
        if reexported["sequence"] != refused_voucher["sequence"]:
            raise JourneyError(f"the refused voucher {refused_voucher['sequence']} was not used again: {reexported}")
        steps.done(
            "customs in CH refused a re-exportation, then took a new one",
            f"R8: the refused voucher No. {refused_voucher['sequence']} stayed unused and was used again",
        )
        mistaken = await t.cross(number, "reimportation", "FR", [1, 2, 3])
        await t.cancel(number, mistaken, "FR", "committed at the wrong gate")
        await t.cross(number, "reimportation", "FR", [1, 2, 3])
        steps.done(
            "re-importation home cancelled by FR customs with the holder's code, then committed again",
            "the goods went back to 'exported' in between",
        )

        history = (await http.get(f"{t.core}/v1/carnets/{number}/history", headers=t.holder)).json()
        if not history["verified"] or len(history["records"]) != 8:
            raise JourneyError(f"history chain not verified or incomplete: {history}")
        closed = await http.post(f"{t.core}/v1/carnets/{number}/close", headers=t.holder)
        if closed.status_code != 200:
            raise JourneyError(f"closure refused: {closed.text}")
        steps.done("history chain verified (7 crossings, 1 cancellation), carnet closed (R7)", closed.json()["reason"])

        expired_holder = f"hld_{uuid.uuid4().hex[:8]}"
        old = today - timedelta(days=400)
        expired_number = await issue_carnet(
            bootstrap, issuance_request(today, expired_holder, countries=("CH",), issue_date=old)
        )
        late = Traveller(http, endpoints, expired_holder, wallet_key, admin_token)
        await poll(lambda: _known(http, late, expired_number), "the core to record the expired carnet")
        refusals["expired carnet"] = await late.refused(expired_number, "importation", "CH", [1], "R12")
        steps.done("refused: entry into CH on a carnet that expired a month ago (R12)", expired_number)

        refusals["fee without a claim"] = await _home_without_departure(
            http, endpoints, bootstrap, wallet_key, admin_token, today, t.officers
        )
        steps.done(
            "goods came home from CH without a validated departure: R27 fee flagged, no claim",
            refusals["fee without a claim"]["carnet_number"],
        )
    return {"carnet_number": number, "refusals": refusals, "history_head": history["head"], "timings": steps.timings}


async def _known(http: httpx.AsyncClient, t: Traveller, number: str) -> bool:
    return (await http.get(f"{t.core}/v1/carnets/{number}", headers=t.holder)).status_code == 200


async def _fee_flags(http: httpx.AsyncClient, claims_worker: str) -> float:
    """R27 flags the claims worker raised for goods that came home without a validated departure."""
    text = (await http.get(f"{claims_worker}/metrics")).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "ata_claims_regularization_fee_flags_total" and sample.labels.get("source") == "reimportation"
    )


async def _home_without_departure(
    http: httpx.AsyncClient,
    endpoints: dict[str, str],
    bootstrap: str,
    wallet_key: Path,
    admin_token: str,
    today: date,
    officers: dict[str, dict[str, str]],
) -> dict[str, Any]:
    """R27: exported, imported into CH, then re-imported at home with no re-exportation validated in CH."""
    holder = f"hld_{uuid.uuid4().hex[:8]}"
    number = await issue_carnet(bootstrap, issuance_request(today, holder, countries=("CH",)))
    t = Traveller(http, endpoints, holder, wallet_key, admin_token)
    t.officers = officers
    await poll(lambda: _known(http, t, number), "the core to record the R27 carnet")
    before = await _fee_flags(http, endpoints["claims_worker"])
    await t.cross(number, "exportation", "FR", [1])
    await t.cross(number, "importation", "CH", [1])
    await t.cross(number, "reimportation", "FR", [1])

    async def flagged() -> float | None:
        now = await _fee_flags(http, endpoints["claims_worker"])
        return now if now > before else None

    await poll(flagged, "the claims worker to flag the R27 regularization fee")
    return {"rule": "R27", "carnet_number": number, "country": "CH", "items": [1]}
