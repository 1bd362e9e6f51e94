"""runtime.metrics.observe_many: the samples of observing every value one by one (bench/README.md,
round 3: the consumers and the outbox relay observe a batch at once)."""

from __future__ import annotations

import random

from prometheus_client import CollectorRegistry, Histogram

from runtime.metrics import LATENCY_BUCKETS, observe_many


def samples(registry: CollectorRegistry) -> list[tuple[str, dict[str, str], float]]:
    return [
        (s.name, s.labels, s.value) for m in registry.collect() for s in m.samples if not s.name.endswith("_created")
    ]


def test_observe_many_gives_the_samples_of_observing_one_by_one():
    one, many = CollectorRegistry(), CollectorRegistry()
    h1 = Histogram("lag", "x", ["topic"], buckets=LATENCY_BUCKETS, registry=one)
    h2 = Histogram("lag", "x", ["topic"], buckets=LATENCY_BUCKETS, registry=many)
    # bounds exactly, below the first, above the last, infinity, NaN, and a spread
    values = [
        0.005,
        0.01,
        0.0,
        60,
        61,
        float("inf"),
        float("nan"),
        *(random.Random(3).expovariate(10) for _ in range(500)),
    ]
    for v in values:
        h1.labels("t").observe(v)
    observe_many(h2.labels("t"), values)
    got, want = samples(many), samples(one)
    assert [(n, lab) for n, lab, _ in got] == [(n, lab) for n, lab, _ in want]
    for (_, _, g), (name, _, w) in zip(got, want, strict=True):
        assert g == w or (g != g and w != w) or (name.endswith("_sum") and abs(g - w) < 1e-9), name
    assert h2.labels("t")._buckets[0].get() == 2  # 0.0 and 0.005: a bound is inside its bucket


def test_observe_many_of_nothing_changes_nothing():
    registry = CollectorRegistry()
    h = Histogram("lag", "x", registry=registry)
    before = samples(registry)
    observe_many(h, [])
    assert samples(registry) == before
