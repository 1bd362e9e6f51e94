"""The crossings under load: a closed-loop ramp finds the maximum sustained rate, then open-loop runs at 25 %,
50 % and 100 % of it give throughput, commit-to-confirmation latency, CPU and what one crossing costs."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from bench import costs, stages
from bench.crossings import Crossings, Window
from bench.plan import Plan
from bench.resources import Monitor, per_thousand


async def crossings(
    plan: Plan, cx: Crossings, monitor: Monitor, console: Console, database_url: str | None = None
) -> dict[str, Any]:
    windows: list[Window] = []
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console) as progress:
        task = progress.add_task("crossings warm-up", total=10)
        await cx.warm_up(10, lambda: progress.advance(task))
        alone: dict[str, Any] = {}
        for c in plan.ramp:
            task = progress.add_task(f"ramp: {c} in flight, {plan.ramp_s:.0f}s", total=None)
            first = await costs.read(monitor, cx.http, cx.endpoints, database_url) if c == 1 else None
            w = await cx.closed_loop(c, plan.ramp_s, lambda t=task: progress.advance(t))
            if first is not None:  # one crossing at a time: every hop a batch of one, the load's noise left out
                alone = costs.per_crossing(
                    len(w.samples), first, await costs.read(monitor, cx.http, cx.endpoints, database_url)
                )
            windows.append(w)
            progress.update(
                task,
                description=f"ramp: {c} in flight -> {w.summary()['crossings_per_s']}/s",
                total=len(w.samples),
                completed=len(w.samples),
            )
        best = max(windows, key=lambda w: len(w.samples) / w.seconds)
        max_rate = len(best.samples) / best.seconds
        if max_rate <= 0:
            raise RuntimeError(f"no crossing completed in the ramp: {[w.summary() for w in windows]}")
        phases: dict[int, Window] = {}
        cpu0, done = monitor.cpu(), 0
        metrics0 = await stages.snapshot(cx.http, cx.endpoints)
        for share in (25, 50, 100):
            rate = max_rate * share / 100
            task = progress.add_task(f"open loop {share}% = {rate:.0f}/s", total=int(rate * plan.phase_s))
            first = await costs.read(monitor, cx.http, cx.endpoints, database_url)
            w = await cx.open_loop(rate, plan.phase_s, f"open {share}%", lambda t=task: progress.advance(t))
            if share == 50:  # what one crossing costs, at half the sustained rate
                half = costs.per_crossing(
                    len(w.samples), first, await costs.read(monitor, cx.http, cx.endpoints, database_url)
                )
            phases[share] = w
            progress.update(task, total=len(w.samples), completed=len(w.samples))
            done += len(w.samples)
        cpu1 = monitor.cpu()
        stage_means = stages.means(metrics0, await stages.snapshot(cx.http, cx.endpoints))
    windows += phases.values()
    for w in windows:
        console.print(w.summary())
    at_half = phases[50].summary()
    return {
        "crossings_max_rate_closed_loop": round(max_rate, 1),
        "crossings_max_at": best.label,
        "crossings_per_s": phases[100].summary()["crossings_per_s"],
        "crossing_p50_ms": at_half["p50_ms"],
        "crossing_p95_ms": at_half["p95_ms"],
        "crossing_p99_ms": at_half["p99_ms"],
        "crossings_phases": {share: w.summary() for share, w in phases.items()},
        "crossings_ramp": [w.summary() for w in windows[: len(plan.ramp)]],
        # One crossing at a time: the pipeline's own latency, without queueing behind other crossings.
        "crossing_unloaded_p50_ms": windows[0].summary()["p50_ms"],
        "crossing_unloaded_p99_ms": windows[0].summary()["p99_ms"],
        "crossing_cpu_s_per_1000": per_thousand(cpu0, cpu1, done),
        "crossing_stage_means": stage_means,
        **{
            f"{k}_alone": alone[k]
            for k in (
                "statements_per_crossing",
                "statements_per_crossing_by_service",
                "transactions_per_crossing",
                "transactions_per_crossing_by_service",
                "kafka_requests_per_crossing",
                "kafka_requests_per_crossing_by_service",
            )
            if k in alone
        },
    } | half
