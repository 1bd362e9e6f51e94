"""The benchmark's arithmetic (issue 9): percentiles, CPU per 1,000, stage means between two /metrics reads."""

from bench.crossings import pct
from bench.resources import per_thousand
from bench.stages import means, totals

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
