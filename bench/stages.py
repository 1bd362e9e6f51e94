"""Where a crossing's time goes: the services' own histograms, read from their /metrics.

Each service measures its stages (runtime.metrics): the consume lag of each topic (Kafka
timestamp to handling), handling time, batch size and the outbox delay (queued to published).
The means over the run say which hop a slow crossing spends its time in.
"""

from __future__ import annotations

from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

STAGES = (
    "ata_consume_lag_seconds",
    "ata_message_handle_seconds",
    "ata_outbox_delay_seconds",
    "ata_consume_batch_size",
    "ata_confirmation_latency_seconds",
)


def totals(text: str) -> dict[str, tuple[float, float]]:
    """Histogram name{labels} -> (sum, count) of everything observed so far."""
    out: dict[str, list[float]] = {}
    for family in text_string_to_metric_families(text):
        if family.name not in STAGES:
            continue
        for s in family.samples:
            label = ",".join(f"{v}" for k, v in sorted(s.labels.items()) if k != "le")
            key = family.name + (f"{{{label}}}" if label else "")
            if s.name.endswith("_sum"):
                out.setdefault(key, [0.0, 0.0])[0] = s.value
            elif s.name.endswith("_count"):
                out.setdefault(key, [0.0, 0.0])[1] = s.value
    return {k: (v[0], v[1]) for k, v in out.items()}


async def snapshot(http: httpx.AsyncClient, endpoints: dict[str, str]) -> dict[str, dict[str, tuple[float, float]]]:
    out = {}
    for name, url in endpoints.items():
        r = await http.get(f"{url}/metrics")
        if r.status_code == 200:
            out[name] = totals(r.text)
    return out


def means(
    before: dict[str, dict[str, tuple[float, float]]], after: dict[str, dict[str, tuple[float, float]]]
) -> dict[str, Any]:
    """Per service, the mean of each stage between two snapshots (ms for seconds)."""
    out: dict[str, Any] = {}
    for service, now in after.items():
        then = before.get(service, {})
        for key, (total, count) in now.items():
            t0, c0 = then.get(key, (0.0, 0.0))
            if count > c0:
                scale = 1000 if "seconds" in key else 1
                out.setdefault(service, {})[key.replace("ata_", "")] = round((total - t0) / (count - c0) * scale, 2)
    return out
