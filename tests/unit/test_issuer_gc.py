"""The issuer process spaces out garbage collections (bench/README.md, round 3: bulk issuance)."""

from __future__ import annotations

import subprocess
import sys


def test_issuer_entry_point_freezes_start_up_objects_and_raises_the_young_threshold():
    # In a child process: thresholds and the frozen generation are process-wide.
    code = ("import gc; before = gc.get_freeze_count(); from issuer.__main__ import GC_THRESHOLDS, tune_gc; "
            "assert gc.get_threshold() != GC_THRESHOLDS; tune_gc(); "
            "assert gc.get_threshold() == GC_THRESHOLDS, gc.get_threshold(); "
            "assert gc.get_freeze_count() > before; print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
