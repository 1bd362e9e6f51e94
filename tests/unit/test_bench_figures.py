"""The benchmark's arithmetic (issue 9): percentiles, CPU per 1,000, stage means between two /metrics reads, what a
crossing costs (CPU, statements, transactions, Kafka requests) and the idle stack's cores."""

from bench.costs import Reading, cores, counts, per_crossing, ratio
from bench.crossings import pct
from bench.floor import PER_CROSSING, summed
from bench.resources import per_thousand
from bench.stages import means, totals
from bench.statements import tally

METRICS = """# TYPE ata_consume_lag_seconds histogram
ata_consume_lag_seconds_bucket{{topic="t",le="+Inf"}} {n}
ata_consume_lag_seconds_count{{topic="t"}} {n}
ata_consume_lag_seconds_sum{{topic="t"}} {s}
# TYPE ata_consume_batch_size histogram
ata_consume_batch_size_bucket{{le="+Inf"}} {n}
ata_consume_batch_size_count {n}
ata_consume_batch_size_sum {b}
# TYPE ata_other_seconds histogram
ata_other_seconds_count 1
ata_other_seconds_sum 9
"""


def test_percentiles_are_nearest_rank():
    values = [float(v) for v in range(1, 101)]
    assert (pct(values, 50), pct(values, 99), pct(values, 100)) == (50.0, 99.0, 100.0)
    assert pct([7.0], 99) == 7.0 and pct([], 50) is None


def test_cpu_seconds_per_thousand_operations():
    assert per_thousand({"core": 10.0, "kafka": 1.0}, {"core": 12.5, "kafka": 1.5}, 500) == {"core": 5.0, "kafka": 1.0}
    assert per_thousand({"core": 1.0}, {"core": 2.0}, 0) == {}


def test_stage_means_count_only_what_was_observed_between_the_two_reads():
    before = {"core": totals(METRICS.format(n=10, s=1.0, b=10))}
    after = {"core": totals(METRICS.format(n=30, s=3.0, b=110))}
    # 20 records took 2.0 s of lag in all: 100 ms each; 100 records in 20 batches: 5 a batch.
    assert means(before, after) == {"core": {"consume_lag_seconds{t}": 100.0, "consume_batch_size": 5.0}}


def test_the_floor_adds_each_part_as_often_as_a_crossing_needs_it():
    parts = {
        "http_server_cpu_ms": 0.4,
        "http_client_cpu_ms": 0.3,
        "es256_sign_ms": 0.2,
        "es256_verify_ms": 0.25,
        "pg_row_client_cpu_ms": 0.005,
        "pg_row_server_cpu_ms": 0.02,
    }
    out = summed(parts, 0.1, cores=2)
    assert PER_CROSSING == {
        "http_exchanges": 3,
        "kafka_hops": 2,
        "es256_signatures": 1,
        "es256_verifications": 1,
        "rows": 8,
    }
    # 3 x 0.7 + 2 x 0.1 + 0.2 + 0.25 + 8 x 0.025 = 2.95 ms; two cores give 2,000 ms a second.
    assert out["crossing_floor_parts_ms"] == {"http": 2.1, "kafka": 0.2, "es256": 0.45, "rows": 0.2}
    assert out["crossing_floor_cpu_ms"] == 2.95
    assert out["crossings_ceiling_per_s"] == 678.0
    assert summed(parts, None, cores=2) == {}  # no relay figure (an external broker): no floor


SERVICE_METRICS = """# TYPE ata_db_statements_total counter
ata_db_statements_total {s}
# TYPE ata_db_transactions_total counter
ata_db_transactions_total {t}
# TYPE ata_kafka_requests_total counter
ata_kafka_requests_total{{kind="fetch"}} {f}
ata_kafka_requests_total{{kind="offset_commit"}} {c}
ata_kafka_requests_total{{kind="produce"}} {p}
ata_kafka_requests_total{{kind="heartbeat"}} 99
"""


def test_costs_per_crossing_divide_each_counter_growth_over_the_run_by_the_crossings():
    first = Reading(
        {"core": 10.0, "kafka": 5.0},
        {
            "core": counts(SERVICE_METRICS.format(s=100, t=10, f=7, c=3, p=2)),
            "gateway": counts(SERVICE_METRICS.format(s=0, t=0, f=0, c=0, p=0)),
        },
        server_transactions=1000,
    )
    last = Reading(
        {"core": 10.5, "kafka": 5.25},
        {
            "core": counts(SERVICE_METRICS.format(s=400, t=70, f=57, c=43, p=32)),
            "gateway": counts(SERVICE_METRICS.format(s=200, t=20, f=10, c=10, p=10)),
        },
        server_transactions=1101,
    )
    out = per_crossing(10, first, last)
    # 0.75 s of CPU over 10 crossings; 500 statements, 80 transactions; PostgreSQL saw 100 of the stack's.
    assert out["crossing_cpu_ms"] == 75.0 and out["crossing_cpu_ms_by_process"] == {"core": 50.0, "kafka": 25.0}
    assert (out["statements_per_crossing"], out["transactions_per_crossing"]) == (50.0, 8.0)
    assert out["statements_per_crossing_by_service"] == {"core": 30.0, "gateway": 20.0}
    assert out["transactions_per_crossing_server"] == 10.0
    assert out["kafka_requests_per_crossing"] == {"fetch": 6.0, "offset_commit": 5.0, "produce": 4.0}
    assert out["kafka_requests_per_crossing_by_service"]["gateway"] == {
        "fetch": 1.0,
        "offset_commit": 1.0,
        "produce": 1.0,
    }
    assert per_crossing(0, first, last) == {}
    assert "transactions_per_crossing_server" not in per_crossing(10, Reading(first.cpu, first.counts), last)


def test_ceiling_ratio_and_idle_cores():
    assert ratio(25.0, 1000.0) == 0.025 and ratio(25.0, None) is None and ratio(None, 10.0) is None
    # 1.5 CPU seconds across the stack in 10 s of wall time: 0.15 cores.
    assert cores({"core": 1.0, "kafka": 2.0}, {"core": 1.5, "kafka": 3.0}, 10.0) == 0.15
    assert cores({"core": 1.0}, {"core": 2.0}, 0) == 0.0


def test_the_statement_log_counts_blocks_once_and_lone_statements_each_per_backend():
    log = "\n".join(
        [
            "core|11|LOG:  duration: 0.1 ms  statement: BEGIN;",
            "core|12|LOG:  duration: 0.1 ms  execute <unnamed>: SELECT 1",  # another backend, outside any block
            "core|11|LOG:  duration: 0.1 ms  execute <unnamed>: INSERT INTO t VALUES ($1)",
            "core|11|LOG:  duration: 0.1 ms  statement: COMMIT;",
            "core|11|DETAIL:  parameters: $1 = '1'",
            "gateway|13|LOG:  duration: 0.1 ms  execute s1: SELECT 2",
        ]
    )
    statements, transactions, _ = tally(log)
    assert statements == {"core": 4, "gateway": 1} and transactions == {"core": 2, "gateway": 1}
