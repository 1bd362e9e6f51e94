"""The benchmark's figure (bench/results/<mode>.png): the crossings' throughput and latency."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def chart(result: dict[str, Any], path: Path) -> None:
    """Left: the closed-loop ramp against crossings in flight; right: the open-loop runs against offered rate."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ramp, phases = result["crossings_ramp"], list(result["crossings_phases"].values())
    fig, axes = plt.subplots(2, 2, figsize=(11, 8))
    panels = (
        (0, [int(w["label"].split("=")[1]) for w in ramp], ramp, "crossings in flight (closed loop)"),
        (1, [w["offered"] for w in phases], phases, "offered crossings/s (open loop: 25, 50, 100 % of max)"),
    )
    for col, xs, ws, xlabel in panels:
        top, bottom = axes[0][col], axes[1][col]
        top.plot(xs, [w["crossings_per_s"] for w in ws], marker="o")
        top.set_ylabel("confirmed crossings/s")
        for key, style in (("p50_ms", "-"), ("p95_ms", "--"), ("p99_ms", ":")):
            bottom.plot(xs, [w[key] for w in ws], marker="o", linestyle=style, label=key[:3])
        bottom.set_ylabel("commit -> confirmation (ms)")
        bottom.set_yscale("log")
        bottom.set_xlabel(xlabel)
        bottom.legend()
        for ax in (top, bottom):
            ax.grid(alpha=0.3)
        if col == 0:
            top.set_xscale("log")
            bottom.set_xscale("log")
    load = result.get("load_average_at_start", [0])[0]
    fig.suptitle(
        f"Crossings end to end, {result['machine']['cores']} cores, load average {load:.1f} at start "
        f"({result['mode']}, {result['git_commit'][:10]})"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
