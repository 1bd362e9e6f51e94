"""How well phone-photo-like QR images of real declaration tokens decode, and how fast.

The gateway accepts a PNG or JPEG photo of a declaration QR (POST /v1/scans/image) and reads it
with zxing-cpp through ``tokens.qr.decode_qr_image``. This script takes the seeded, reproducible
set of degraded photos of bench/qr_photos.py and measures the decode rate and the time of decode
alone and of verify-from-image (decode, then the gateway's offline checks: ``verify_token`` +
``DeclarationClaims.from_cwt``; no database).

    python -m bench.qr_images --count 200 --seed 7 [--out DIR]

prints a progress counter and a summary table and writes ``bench/results/qr_images.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import sys
import time
from collections.abc import Callable, Iterable
from datetime import timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from bench.qr_photos import FAMILIES, ISSUED, TRUSTED_KEYS, generate
from contracts.token import DeclarationClaims
from tokens.cose import verify_token
from tokens.qr import QrDecodeError, decode_qr_image, grey_image, qr_version, read_qr

VERIFY_AT = ISSUED + timedelta(hours=1)

RESULTS = Path(__file__).resolve().parent / "results" / "qr_images.json"

# What counts as the hard end of each family, for the failure table.
STRONG: dict[str, tuple[str, Callable[[dict[str, Any]], bool]]] = {
    "rotation": ("|angle| >= 20 deg", lambda p: abs(p["angle"]) >= 20),
    "perspective": ("corner offset >= 7%", lambda p: p["perspective"] >= 0.07),
    "downscale": ("< 3.0 px/module", lambda p: p["ppm"] < 3.0),
    "blur": ("radius >= 0.9 px", lambda p: p["blur"] >= 0.9),
    "low_contrast": ("paper-ink <= 90", lambda p: p["paper"] - p["ink"] <= 90),
    "lighting": ("shade >= 40%", lambda p: p["lighting"] >= 0.40),
    "noise": ("sigma >= 14", lambda p: p["noise"] >= 14),
    "jpeg": ("quality <= 50", lambda p: p["jpeg_quality"] is not None and p["jpeg_quality"] <= 50),
}


# --- measuring ------------------------------------------------------------------------------


def _percentile(values: list[float], pct: float) -> float | None:
    """Nearest-rank percentile (no interpolation), None for no data."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(pct / 100 * len(ordered)) - 1)]


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value * 1000, 3)


def _first_pass(data: bytes) -> list[str]:
    """One plain reader pass over the image as sent: decode_qr_image before its fallbacks."""
    return read_qr(grey_image(data))


def _times(values: list[float]) -> dict[str, float | int | None]:
    return {
        "n": len(values),
        "p50": _ms(_percentile(values, 50)),
        "p99": _ms(_percentile(values, 99)),
        "max": _ms(max(values, default=None)),
    }


def measure(
    images: Iterable[tuple[str, bytes, dict[str, Any]]],
    progress: Callable[[int, int], None] | None = None,
    keys: dict[bytes, ec.EllipticCurvePublicKey] | None = None,
) -> dict[str, Any]:
    """Decode every image with ``decode_qr_image`` and verify the token the way the gateway does.

    An image counts as decoded only if the decoder returns exactly ``[params["token"]]`` and
    the token then verifies; anything else it returns is a wrong decode. Times are per image,
    wall clock, one thread: ``decode`` is decode_qr_image (image parsing included),
    ``verify_from_image`` is that plus verify_token and DeclarationClaims.from_cwt, which is
    GatewayUseCases.verify without its database-backed checks. Each image is also given one
    plain reader pass (untimed), to show what the fallbacks in decode_qr_image add.
    """
    images = list(images)
    keys = TRUSTED_KEYS if keys is None else keys
    try:  # warm-up: load the native reader, so the first image does not carry it
        decode_qr_image(images[0][1])
    except QrDecodeError:
        pass
    decode_s: list[float] = []
    first_pass_s: list[float] = []
    fallback_s: list[float] = []
    failed_s: list[float] = []
    verify_s: list[float] = []
    rows: list[dict[str, Any]] = []
    for i, (name, data, p) in enumerate(images):
        outcome = "decoded"
        t0 = time.perf_counter()
        try:
            found = decode_qr_image(data)
        except QrDecodeError:
            found = None
        t1 = time.perf_counter()
        if found is None:
            outcome = "not_found"
        elif found != [p["token"]]:
            outcome = "wrong"
        else:
            try:
                # What GatewayUseCases.verify does before its database-backed checks.
                DeclarationClaims.from_cwt(verify_token(found[0].strip(), keys.get, VERIFY_AT))
            except Exception:  # noqa: BLE001 - any failure here is a wrong decode, reported
                outcome = "verify_failed"
            else:
                verify_s.append(time.perf_counter() - t0)
        first_pass = _first_pass(data) == [p["token"]]
        decode_s.append(t1 - t0)
        if outcome != "decoded":
            failed_s.append(t1 - t0)
        else:
            (first_pass_s if first_pass else fallback_s).append(t1 - t0)
        rows.append(
            {
                "name": name,
                "outcome": outcome,
                "first_pass": first_pass,
                "bytes": len(data),
                **{k: v for k, v in p.items() if k != "token"},
            }
        )
        if progress:
            progress(i + 1, len(images))

    total = len(rows)
    decoded = sum(r["outcome"] == "decoded" for r in rows)
    families = {}
    for family in FAMILIES:
        label, strong = STRONG[family]
        with_it = [r for r in rows if family in r["families"]]
        hard = [r for r in with_it if strong(r)]
        families[family] = {
            "images": len(with_it),
            "failed": sum(r["outcome"] != "decoded" for r in with_it),
            "failed_first_pass": sum(not r["first_pass"] for r in with_it),
            "strong": label,
            "strong_images": len(hard),
            "strong_failed": sum(r["outcome"] != "decoded" for r in hard),
        }
    return {
        "images": total,
        "decoded": decoded,
        "decode_rate": decoded / total if total else 0.0,
        "first_pass_decoded": sum(r["first_pass"] for r in rows),
        "not_found": sum(r["outcome"] == "not_found" for r in rows),
        "wrong": sum(r["outcome"] in ("wrong", "verify_failed") for r in rows),
        "decode_ms": _times(decode_s),
        "decode_first_pass_ms": _times(first_pass_s),
        "decode_via_fallback_ms": _times(fallback_s),
        "decode_failed_ms": _times(failed_s),
        "verify_from_image_ms": _times(verify_s),
        "families": families,
        "extremes": {
            "max_abs_angle": round(max((abs(r["angle"]) for r in rows), default=0.0), 2),
            "max_perspective": round(max((r["perspective"] for r in rows), default=0.0), 3),
            "min_ppm": round(min((r["ppm"] for r in rows), default=0.0), 2),
            "max_blur": round(max((r["blur"] for r in rows), default=0.0), 2),
            "min_jpeg_quality": min((r["jpeg_quality"] for r in rows if r["jpeg_quality"] is not None), default=None),
            "max_noise": round(max((r["noise"] for r in rows), default=0.0), 1),
            "min_contrast": min((r["paper"] - r["ink"] for r in rows), default=None),
        },
        "failures": [_short(r) for r in rows if r["outcome"] != "decoded"],
    }


def _short(row: dict[str, Any]) -> dict[str, Any]:
    out = {k: (round(v, 3) if isinstance(v, float) else v) for k, v in row.items()}
    out.pop("token_index", None)
    return out


# --- CLI ------------------------------------------------------------------------------------


def _counter(label: str) -> Callable[[int, int], None]:
    """A carriage-return counter on a terminal; every 25 % otherwise, so logs stay readable."""
    tty = sys.stderr.isatty()

    def show(done: int, total: int) -> None:
        if tty:
            print(f"\r{label} {done}/{total}", end="" if done < total else "\n", file=sys.stderr, flush=True)
        elif done == total or done % max(1, total // 4) == 0:
            print(f"{label} {done}/{total}", file=sys.stderr, flush=True)

    return show


def _print_summary(result: dict[str, Any], seconds: float) -> None:
    n = result["images"]
    print(
        f"\nQR photo decode: {result['decoded']}/{n} = {100 * result['decode_rate']:.1f} %"
        f"  (not found {result['not_found']}, wrong {result['wrong']});"
        f" one plain reader pass alone: {result['first_pass_decoded']}/{n} = {100 * result['first_pass_decoded'] / n:.1f} %"
    )
    print(f"\n{'time per image, ms':<44} {'n':>4} {'p50':>7} {'p99':>7} {'max':>7}")
    for key, label in (
        ("decode_ms", "decode, all images"),
        ("decode_first_pass_ms", "decode, read on the first pass"),
        ("decode_via_fallback_ms", "decode, read by a fallback pass"),
        ("decode_failed_ms", "decode, not read (all passes)"),
        ("verify_from_image_ms", "verify-from-image (decode+verify+claims)"),
    ):
        t = result[key]
        if t["n"]:
            print(f"{label:<44} {t['n']:>4} {t['p50']:>7.2f} {t['p99']:>7.2f} {t['max']:>7.2f}")
    print(
        f"\n{'family':<13} {'images':>6} {'failed':>6} {'rate':>7} {'1st pass':>8}   {'strong end':<20} {'images':>6} {'failed':>6}"
    )
    for family, f in result["families"].items():
        rate = 100 * (1 - f["failed"] / f["images"]) if f["images"] else float("nan")
        first = 100 * (1 - f["failed_first_pass"] / f["images"]) if f["images"] else float("nan")
        print(
            f"{family:<13} {f['images']:>6} {f['failed']:>6} {rate:>6.1f}% {first:>7.1f}%   {f['strong']:<20} "
            f"{f['strong_images']:>6} {f['strong_failed']:>6}"
        )
    print("\nhardest values in the set:", ", ".join(f"{k} {v}" for k, v in result["extremes"].items()))
    if result["failures"]:
        print("\nnot decoded:")
        for r in result["failures"]:
            q = r["jpeg_quality"] if r["jpeg_quality"] is not None else "png"
            print(
                f"  {r['name']} {r['outcome']:<10} ppm {r['ppm']:.2f} angle {r['angle']:+.1f} persp {r['perspective']:.2f} "
                f"blur {r['blur']:.2f} ink/paper {r['ink']}/{r['paper']} light {r['lighting']:.2f} "
                f"noise {r['noise']:.1f} jpeg {q}"
            )
    print(f"\ntotal runtime {seconds:.1f} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.qr_images", description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=200, help="how many images (default 200)")
    parser.add_argument("--seed", type=int, default=7, help="seed for tokens and degradations (default 7)")
    parser.add_argument("--out", type=Path, help="also save the images in this directory")
    parser.add_argument("--json", type=Path, default=RESULTS, help=f"results file (default {RESULTS})")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    images = generate(args.count, args.seed, progress=_counter("generating"))
    generated = time.perf_counter()
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        for name, data, _ in images:
            (args.out / name).write_bytes(data)
    result = measure(images, progress=_counter("decoding  "))
    finished = time.perf_counter()

    token = images[0][2]["token"]
    result = {
        "command": f"python -m bench.qr_images --count {args.count} --seed {args.seed}",
        "seed": args.seed,
        "token_chars": len(token),
        "qr_version": qr_version(token),
        "machine": {"python": platform.python_version(), "platform": platform.platform(), "cpu": platform.processor()},
        "generate_s": round(generated - started, 2),
        "measure_s": round(finished - generated, 2),
        **result,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=1) + "\n")
    _print_summary(result, finished - started)
    print(f"results written to {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
