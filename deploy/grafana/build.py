"""Writes the Grafana dashboards (deploy/grafana/dashboards/*.json) from the short lists below.

`python -m deploy.grafana.build` after changing a panel; tests/observability/test_dashboards.py fails when the
JSON files and this module disagree, and when a query names a metric no service exports. Grafana reads
the JSON through deploy/grafana/provisioning (datasource uid `prometheus`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

DASHBOARDS_DIR = Path(__file__).parent / "dashboards"
DATASOURCE = {"type": "prometheus", "uid": "prometheus"}
RATE = "5m"

#: A panel: (title, unit, [(PromQL, legend)]); unit is Grafana's ("short", "s", "ops").
Panel = tuple[str, str, list[tuple[str, str]]]


def rate(metric: str, by: str, where: str = "") -> str:
    return f"sum by ({by}) (rate({metric}{{{where}}}[{RATE}]))"


def quantile(q: float, metric: str, by: str = "", where: str = "") -> str:
    keys = f"le, {by}" if by else "le"
    return f"histogram_quantile({q}, sum by ({keys}) (rate({metric}_bucket{{{where}}}[{RATE}])))"


def runtime_panels(job: str) -> list[Panel]:
    """What every service has: consumers, dead letters, outbox, lag, and FastStream's producer metrics (the
    services consume through runtime/consume_loop.py, counted by ata_messages_handled_total and its batches)."""
    j = f'job="{job}"'
    return [
        (
            "Messages handled by outcome",
            "ops",
            [(rate("ata_messages_handled_total", "topic, outcome", j), "{{topic}} {{outcome}}")],
        ),
        ("Handling time p99", "s", [(quantile(0.99, "ata_message_handle_seconds", "topic", j), "{{topic}}")]),
        (
            "Broker: published (FastStream)",
            "ops",
            [
                (
                    rate("faststream_published_messages_total", "destination, status", j),
                    "published {{destination}} {{status}}",
                )
            ],
        ),
        (
            "Consumed batches: records per batch p50 / p99",
            "short",
            [
                (quantile(0.5, "ata_consume_batch_size", "", j), "p50"),
                (quantile(0.99, "ata_consume_batch_size", "", j), "p99"),
            ],
        ),
        ("Outbox backlog", "short", [(f"max(ata_outbox_backlog{{{j}}})", "rows")]),
        ("Oldest outbox row", "s", [(f"max(ata_outbox_oldest_age_seconds{{{j}}})", "age")]),
        ("Consumer lag", "short", [(f"max by (topic) (ata_consumer_lag_messages{{{j}}})", "{{topic}}")]),
        (
            "Dead letters",
            "short",
            [
                (f"max by (topic) (ata_dead_letter_messages{{{j}}})", "held {{topic}}.dlq"),
                (rate("ata_dead_letters_total", "topic, reason", j), "new {{topic}} {{reason}}"),
            ],
        ),
        (
            "HTTP requests refused for size or shape",
            "ops",
            [(rate("ata_http_refusals_total", "reason", j), "{{reason}}")],
        ),
    ]


CONFIRMATION_P99 = (
    "Commit -> confirmation delivered p99",
    "s",
    [
        (quantile(0.99, "ata_confirmation_latency_seconds"), "p99"),
        (quantile(0.5, "ata_confirmation_latency_seconds"), "p50"),
    ],
)
CLAIMS_SOON = (
    "Claim deadlines within 7 days, nobody acted",
    "short",
    [("max by (kind) (ata_claims_deadlines_within_7d)", "{{kind}}")],
)
CLAIMS_BY_STATE = ("Claims by state", "short", [("max by (state) (ata_claims_by_state)", "{{state}}")])

DASHBOARDS: dict[str, tuple[str, list[Panel]]] = {
    "overview": (
        "ATA carnets: overview",
        [
            ("Services up", "short", [('up{job=~"issuer|core|customs_gateway|claims_worker|notifier"}', "{{job}}")]),
            (
                "Carnets issued and rejected",
                "ops",
                [
                    (rate("ata_carnets_issued_total", "nga"), "issued {{nga}}"),
                    (rate("ata_issuance_rejected_total", "nga"), "rejected {{nga}}"),
                ],
            ),
            ("Declarations by outcome", "ops", [(rate("ata_declarations_total", "outcome"), "{{outcome}}")]),
            (
                "Customs decisions recorded",
                "ops",
                [(rate("ata_transactions_recorded_total", "decision"), "{{decision}}")],
            ),
            CONFIRMATION_P99,
            (
                "Deliveries by channel and outcome",
                "ops",
                [(rate("ata_deliveries_total", "channel, outcome"), "{{channel}} {{outcome}}")],
            ),
            ("Outbox backlog by service", "short", [("max by (service) (ata_outbox_backlog)", "{{service}}")]),
            (
                "Oldest outbox row by service",
                "s",
                [("max by (service) (ata_outbox_oldest_age_seconds)", "{{service}}")],
            ),
            (
                "Consumer lag by group",
                "short",
                [("sum by (group) (max by (group, topic) (ata_consumer_lag_messages))", "{{group}}")],
            ),
            ("Dead letters held", "short", [("max by (topic) (ata_dead_letter_messages)", "{{topic}}.dlq")]),
            CLAIMS_BY_STATE,
            CLAIMS_SOON,
            # Served by the single-machine stack for the broker it runs (deploy/local/broker_memory.py).
            (
                "Single-machine broker memory",
                "bytes",
                [
                    ("max by (broker) (ata_broker_resident_bytes)", "{{broker}} resident"),
                    ("max by (broker) (ata_broker_memory_limit_bytes)", "{{broker}} limit"),
                ],
            ),
        ],
    ),
    "issuer": (
        "ATA carnets: issuer",
        [
            (
                "Requests by type and channel",
                "ops",
                [(rate("ata_issuance_requests_total", "type, channel"), "{{type}} {{channel}}")],
            ),
            ("Carnets issued by NGA", "ops", [(rate("ata_carnets_issued_total", "nga"), "{{nga}}")]),
            ("Rejections by rule", "ops", [(rate("ata_issuance_rejected_total", "nga, rule"), "{{nga}} {{rule}}")]),
            ("Repeated request ids", "ops", [(rate("ata_issuance_repeated_total", "nga"), "{{nga}}")]),
            (
                "Broken requests nobody can answer",
                "ops",
                [(rate("ata_issuance_unanswerable_total", "instance"), "{{instance}}")],
            ),
            (
                "Requests naming another NGA than their topic's (refused)",
                "ops",
                [(rate("ata_issuance_sender_refused_total", "nga, named"), "on {{nga}}'s topic, naming {{named}}")],
            ),
            (
                "Requests on the deprecated shared topic",
                "ops",
                [(rate("ata_issuance_shared_topic_total", "nga"), "{{nga}}")],
            ),
            (
                "Duplicates and replacements",
                "ops",
                [(rate("ata_issuance_successions_total", "kind, outcome"), "{{kind}} {{outcome}}")],
            ),
            *runtime_panels("issuer"),
        ],
    ),
    "core": (
        "ATA carnets: core ledger",
        [
            (
                "Declarations by kind and outcome",
                "ops",
                [(rate("ata_declarations_total", "kind, outcome"), "{{kind}} {{outcome}}")],
            ),
            ("Declarations by country", "ops", [(rate("ata_declarations_total", "country"), "{{country}}")]),
            (
                "Customs decisions by kind and decision",
                "ops",
                [(rate("ata_transactions_recorded_total", "kind, decision"), "{{kind}} {{decision}}")],
            ),
            (
                "Declaration -> decision",
                "s",
                [
                    (quantile(0.5, "ata_declaration_to_decision_seconds", "kind"), "p50 {{kind}}"),
                    (quantile(0.9, "ata_declaration_to_decision_seconds", "kind"), "p90 {{kind}}"),
                ],
            ),
            ("Cancellations by outcome", "ops", [(rate("ata_cancellations_total", "outcome"), "{{outcome}}")]),
            (
                "Duplicates, replacements, closures",
                "ops",
                [(rate("ata_carnet_lifecycle_total", "event, outcome"), "{{event}} {{outcome}}")],
            ),
            ("Commits ignored (already decided)", "ops", [("sum(rate(ata_commits_ignored_total[5m]))", "ignored")]),
            (
                "Holder API: refused tokens and not found",
                "ops",
                [
                    (rate("ata_holder_auth_failures_total", "reason"), "auth {{reason}}"),
                    (rate("ata_holder_not_found_total", "route"), "404 {{route}}"),
                ],
            ),
            *runtime_panels("core"),
        ],
    ),
    "customs_gateway": (
        "ATA carnets: customs gateway",
        [
            (
                "Token verifications by outcome",
                "ops",
                [(rate("ata_token_verifications_total", "outcome"), "{{outcome}}")],
            ),
            ("Token verification p99", "s", [(quantile(0.99, "ata_token_verify_seconds"), "p99")]),
            (
                "Photos read, by the pass that read them",
                "ops",
                [(rate("ata_qr_images_total", "read_by"), "{{read_by}}")],
            ),
            ("Photo read p99", "s", [(quantile(0.99, "ata_qr_image_read_seconds"), "p99")]),
            (
                "Customs decisions posted",
                "ops",
                [(rate("ata_customs_commits_total", "kind, decision"), "{{kind}} {{decision}}")],
            ),
            ("Cancellations asked", "ops", [(rate("ata_cancellations_asked_total", "outcome"), "{{outcome}}")]),
            (
                "Officer logins and code lookups",
                "ops",
                [
                    (rate("ata_officer_logins_total", "outcome"), "login {{outcome}}"),
                    (rate("ata_code_lookups_total", "outcome"), "code {{outcome}}"),
                    (rate("ata_officer_login_throttled_total", "key"), "throttled {{key}}"),
                ],
            ),
            ("Officer page views", "ops", [(rate("ata_officer_page_views_total", "page"), "{{page}}")]),
            *runtime_panels("customs_gateway"),
        ],
    ),
    "claims_worker": (
        "ATA carnets: claims worker",
        [
            (
                "Transactions taken into the watch list",
                "ops",
                [(rate("ata_claims_transactions_seen_total", "decision"), "{{decision}}")],
            ),
            ("Watch list changes", "ops", [(rate("ata_claims_watch_changes_total", "change"), "{{change}}")]),
            (
                "Claim transitions",
                "ops",
                [(rate("ata_claims_transitions_total", "to_state, rule"), "{{to_state}} {{rule}}")],
            ),
            CLAIMS_BY_STATE,
            (
                "Inputs the rules refused",
                "ops",
                [(rate("ata_claims_inputs_refused_total", "action, rule"), "{{action}} {{rule}}")],
            ),
            *runtime_panels("claims_worker"),
        ],
    ),
    "notifier": (
        "ATA carnets: notifier",
        [
            (
                "Deliveries by channel and outcome",
                "ops",
                [(rate("ata_deliveries_total", "channel, outcome"), "{{channel}} {{outcome}}")],
            ),
            (
                "Delivery attempts",
                "ops",
                [(rate("ata_delivery_attempts_total", "channel, outcome"), "{{channel}} {{outcome}}")],
            ),
            CONFIRMATION_P99,
            (
                "Recorded -> delivered p99 by channel",
                "s",
                [(quantile(0.99, "ata_confirmation_latency_seconds", "channel"), "{{channel}}")],
            ),
            (
                "Confirmations with no endpoint",
                "ops",
                [("sum(rate(ata_confirmations_without_endpoint_total[5m]))", "no endpoint")],
            ),
            (
                "Failed attempts by category",
                "ops",
                [(rate("ata_delivery_failures_total", "channel, category"), "{{channel}} {{category}}")],
            ),
            (
                "Registrations refused (egress policy, cap)",
                "ops",
                [(rate("ata_endpoints_refused_total", "category"), "{{category}}")],
            ),
            *runtime_panels("notifier"),
        ],
    ),
    "claims-deadlines": (
        "ATA carnets: claims and deadlines",
        [
            CLAIMS_SOON,
            ("Deadlines due, not yet acted on", "short", [("max(ata_claims_deadlines_due)", "due")]),
            ("Scheduler lag (oldest due deadline)", "s", [("max(ata_claims_scheduler_lag_seconds)", "lag")]),
            (
                "Deadlines acted on",
                "ops",
                [(rate("ata_claims_deadlines_acted_total", "kind, outcome"), "{{kind}} {{outcome}}")],
            ),
            ("Deadline failures", "ops", [(rate("ata_claims_deadline_failures_total", "kind"), "{{kind}}")]),
            CLAIMS_BY_STATE,
            ("Claim transitions", "ops", [(rate("ata_claims_transitions_total", "to_state"), "{{to_state}}")]),
            (
                "Reminders delivered",
                "ops",
                [(rate("ata_deliveries_total", "outcome", 'job="notifier"'), "{{outcome}}")],
            ),
        ],
    ),
}


def dashboard(uid: str, title: str, panels: list[Panel]) -> dict[str, Any]:
    out = []
    for n, (panel_title, unit, queries) in enumerate(panels):
        out.append(
            {
                "id": n + 1,
                "type": "timeseries",
                "title": panel_title,
                "datasource": DATASOURCE,
                "gridPos": {"h": 8, "w": 12, "x": 12 * (n % 2), "y": 8 * (n // 2)},
                "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
                "targets": [
                    {"refId": chr(ord("A") + i), "datasource": DATASOURCE, "expr": expr, "legendFormat": legend}
                    for i, (expr, legend) in enumerate(queries)
                ],
            }
        )
    return {
        "uid": f"ata-{uid}",
        "title": title,
        "tags": ["ata"],
        "timezone": "utc",
        "schemaVersion": 39,
        "version": 1,
        "editable": False,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "panels": out,
        "templating": {"list": []},
        "annotations": {"list": []},
    }


def render() -> dict[str, str]:
    """File name -> JSON text, as written."""
    return {
        f"{uid}.json": json.dumps(dashboard(uid, title, panels), indent=2) + "\n"
        for uid, (title, panels) in DASHBOARDS.items()
    }


def main() -> None:
    DASHBOARDS_DIR.mkdir(exist_ok=True)
    for name, text in render().items():
        (DASHBOARDS_DIR / name).write_text(text)
        print(DASHBOARDS_DIR / name)


if __name__ == "__main__":
    main()
