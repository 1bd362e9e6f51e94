"""R6, R12 and R16 through the core's real handlers: the holder's HTTP API and the issuance topic.

R12 and R16 at declaration: judged on the destination country's local day (HTTP). R6: a replacement
is judged in the issuing country's zone, with the timestamps' offsets, against the ledger's clock (topic).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from contracts.topics import ISSUANCE_EVENTS
from core.app import build
from tests.support.core import (
    NUMBER,
    REPLACEMENT,
    activate,
    client,
    decisions,
    goods_in,
    issue,
    locations,
    publish,
    replacement_carnet,
    with_key,
)
from tests.support.messages import replacement_issued

PARIS = timezone(timedelta(hours=1))  # France in November


async def declare_http(service: Any, country: str) -> Any:
    async with client(service) as http:
        return await http.post(
            f"/v1/carnets/{NUMBER}/declarations",
            json={"kind": "importation", "country": country, "items": [1], "intended_use": "trade fair"},
        )


def rules(response: Any) -> list[tuple[str, str]]:
    return [(r["rule"], r["code"]) for r in response.json()["detail"]["reasons"]]


async def test_r12_r16_declarations_over_http_are_judged_on_the_destinations_local_day(settings, clock, running):
    service = build(settings, clock=clock)
    async with running(service) as broker:
        await issue(broker, countries=["CH", "JP", "US"])
        await with_key(service)
        key = service.state["handlers"].signing_key
        await activate(service, broker, key, clock, [1, 2, 3])
        # R16: Japan is not in the shipped policy: no digital date, digital declarations refused there.
        japan = await declare_http(service, "JP")
        # R12: 21 Nov 23:30 UTC is 22 Nov 00:30 in Zurich (refused) and 21 Nov 13:30 in Honolulu (accepted);
        # the old check judged both at UTC-12, where it is still 21 Nov 11:30.
        clock.now = datetime(2027, 11, 21, 23, 30, tzinfo=UTC)
        zurich = await declare_http(service, "CH")
        hawaii = await declare_http(service, "US")
        clock.now = datetime(2027, 11, 21, 22, 59, tzinfo=UTC)  # 23:59 in Zurich: the expiry day, still in time
        zurich_day_of = await declare_http(service, "CH")
    assert japan.status_code == 422 and rules(japan) == [("R16", "before_digital_date")]
    assert "no digital date" in japan.json()["detail"]["reasons"][0]["message"]
    assert zurich.status_code == 422 and rules(zurich) == [("R12", "carnet_expired")]
    assert (hawaii.status_code, zurich_day_of.status_code) == (201, 201)


async def test_r6_a_replacement_approved_the_day_after_expiry_in_france_is_refused_on_the_topic(
    settings, clock, running
):
    service = build(settings, clock=clock)
    async with running(service) as broker:
        await issue(broker)
        key = await with_key(service)
        await goods_in(service, broker, key, clock, "CH", [1, 2])
        # 22 Nov 00:30 in Paris: the day after the expiry in France, still 21 Nov 11:30 at UTC-12.
        late = datetime(2027, 11, 22, 0, 30, tzinfo=PARIS)
        clock.now = late
        await publish(
            broker,
            replacement_issued(NUMBER, replacement_carnet(), late - timedelta(hours=2), late),
            ISSUANCE_EVENTS.name,
            NUMBER,
        )
        items = await locations(service)
        decided = await decisions(service)
    assert decided == [(REPLACEMENT, "refused", ["replacement_too_late"])]
    assert items[1][0] == "abroad"


async def test_r6_a_replacement_dated_in_the_future_is_refused_on_the_topic(settings, clock, running):
    service = build(settings, clock=clock)
    async with running(service) as broker:
        await issue(broker)
        key = await with_key(service)
        await goods_in(service, broker, key, clock, "CH", [1, 2])
        clock.now = datetime(2027, 10, 1, 8, 0, tzinfo=UTC)
        tomorrow = clock.now + timedelta(days=1)
        await publish(
            broker, replacement_issued(NUMBER, replacement_carnet(), clock.now, tomorrow), ISSUANCE_EVENTS.name, NUMBER
        )
        refused = await decisions(service)
        alerted = service.registry.get_sample_value("ata_r6_timestamps_refused_total", {"code": "dated_in_future"})
        clock.now = datetime(2027, 11, 21, 22, 59, tzinfo=UTC)  # 21 Nov 23:59 in Paris: the expiry day
        await publish(
            broker,
            replacement_issued(
                NUMBER,
                replacement_carnet(),
                clock.now - timedelta(hours=1),
                clock.now.astimezone(PARIS),
                request_id="REQ-REPL-2",
            ),
            ISSUANCE_EVENTS.name,
            NUMBER,
        )
        applied = await decisions(service)
    assert refused == [(REPLACEMENT, "refused", ["dated_in_future"])]
    assert alerted == 1  # AtaNgaReplacementTimesRefused
    assert applied[-1] == (REPLACEMENT, "applied", [])
