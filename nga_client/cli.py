"""`ata`: the NGA's command line.

    ata issue --file carnets.jsonl --kafka 127.0.0.1:29092
    ata issue --file carnets.jsonl --http http://127.0.0.1:8101 --api-key "$ATA_NGA_API_KEY"
    ata sample --count 100 --out carnets.jsonl      # valid example carnets with fresh wallet keys

`issue` reads plain carnets (one JSON object a line, see nga_client.carnets), seals each for its
holder on this machine, sends them and shows a progress bar of the answers, then a summary of
issued and rejected with the reasons. Over Kafka each NGA's carnets go to its own request topic
`ata.issuance.requests.<nga>.v1` (the NGA named in the carnet; the broker lets its principal write no other).
Exit status: 0 all issued, 1 some rejected or invalid,
2 nothing could be sent or answers are missing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TextIO

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from contracts.deadlines import r2_max_expiry_date
from contracts.messages import GoodsCategory, GoodsItem, Holder, IssuanceRequested, SealedIssuanceRequested
from nga_client import sealing, transport
from nga_client.carnets import PlainCarnet, seal_request


@dataclass
class Summary:
    issued: dict[str, str] = field(default_factory=dict)  # request id -> carnet number
    rejected: dict[str, list[str]] = field(default_factory=dict)  # request id -> reasons
    invalid: dict[int, str] = field(default_factory=dict)  # line number -> what is wrong
    other: dict[str, str] = field(default_factory=dict)  # request id -> answer type (pending...)

    def record(self, request_id: str, type_: str, payload: dict[str, Any]) -> None:
        if type_ == "CarnetIssued":
            self.issued[request_id] = payload["carnet_number"]
        elif type_ == "IssuanceRejected":
            self.rejected[request_id] = [
                f"{r['rule']}{'/' + r['field'] if r.get('field') else ''}: {r['message']}" for r in payload["reasons"]
            ]
        else:
            self.other[request_id] = type_


def read_carnets(lines: Sequence[str], summary: Summary) -> list[PlainCarnet]:
    carnets, seen = [], set()
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            plain = PlainCarnet.from_line(line)
        except (ValueError, ValidationError) as exc:
            summary.invalid[n] = _short(exc)
            continue
        if plain.carnet.request_id in seen:
            summary.invalid[n] = f"request id {plain.carnet.request_id} appears twice in the file"
            continue
        seen.add(plain.carnet.request_id)
        carnets.append(plain)
    return carnets


def _short(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:3])
    return str(exc)


async def issue(
    carnets: list[PlainCarnet],
    summary: Summary,
    *,
    kafka: str | None,
    http: str | None,
    api_key: str | None,
    timeout: float,
    console: Console,
    out: TextIO | None = None,
    via: Any = None,
) -> float:
    """Seal and send; returns the seconds from the first request to the last answer."""
    sealed: list[SealedIssuanceRequested] = []
    for plain in carnets:
        try:
            sealed.append(seal_request(plain))
        except (ValueError, ValidationError) as exc:
            summary.invalid[-len(summary.invalid) - 1] = f"{plain.carnet.request_id}: {_short(exc)}"
    by_nga: dict[str, list[SealedIssuanceRequested]] = {}
    for s in sealed:
        by_nga.setdefault(s.nga, []).append(s)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task("answers", total=len(sealed))

        def on_answer(rid: str, type_: str, payload: dict[str, Any]) -> None:
            summary.record(rid, type_, payload)
            if out is not None:
                out.write(json.dumps({"request_id": rid, "type": type_, "answer": payload}) + "\n")
            progress.advance(task)

        started = time.perf_counter()
        for nga, reqs in by_nga.items():
            if kafka:
                await transport.send_kafka(kafka, nga, reqs, on_answer, timeout=timeout)
            else:
                await transport.send_http(http or "", api_key or "", reqs, on_answer, timeout=timeout, via=via)
        return time.perf_counter() - started


def print_summary(summary: Summary, seconds: float, console: Console) -> None:
    answered = len(summary.issued) + len(summary.rejected) + len(summary.other)
    rate = answered / seconds if seconds > 0 else 0.0
    console.print(
        f"issued {len(summary.issued)}, rejected {len(summary.rejected)}, invalid lines "
        f"{len(summary.invalid)} ({answered} answers in {seconds:.2f}s, {rate:.0f} carnets/s)"
    )
    for n, why in list(summary.invalid.items())[:20]:
        console.print(f"  invalid line {n}: {why}")
    for rid, reasons in list(summary.rejected.items())[:20]:
        console.print(f"  rejected {rid}: " + "; ".join(reasons))
    top = Counter(r.split(":")[0] for reasons in summary.rejected.values() for r in reasons)
    if top:
        console.print("  rejections by rule: " + ", ".join(f"{k} x{v}" for k, v in top.most_common()))


# --- sample carnets ----------------------------------------------------------------------------------


def sample_carnets(
    count: int, today: date, *, nga: str = "FR", association: str = "FR-CCI-PARIS", prefix: str | None = None
) -> tuple[list[PlainCarnet], X25519PrivateKey]:
    """`count` valid carnets for one holder wallet (returned, to open the documents)."""
    key = X25519PrivateKey.generate()
    prefix = prefix or f"{nga}-SAMPLE-{os.urandom(4).hex().upper()}"
    carnets = []
    for i in range(1, count + 1):
        goods = [
            GoodsItem(
                item_number=n,
                description=f"Camera body, s/n CAM-{i:06d}-{n}",
                quantity=1,
                weight_kg="2.5",
                value="12000.00",
                currency="EUR",
                origin_country="DE",
                category=GoodsCategory.PROFESSIONAL_EQUIPMENT,
            )
            for n in (1, 2, 3)
        ]
        carnet = IssuanceRequested(
            request_id=f"{prefix}-{i:06d}",
            nga=nga,
            issuing_association=association,
            holder=Holder(
                holder_id=f"hld_sample_{i:06d}",
                name=f"Sample Holder {i:06d} SARL",
                address="1 place de la Bourse, 75002 Paris",
                person="legal",
            ),
            intended_use="Professional equipment for a trade fair",
            countries=["CH", "GB"],
            issue_date=today,
            expiry_date=r2_max_expiry_date(today),
            goods=goods,
            transport="road",
        )
        carnets.append(PlainCarnet(carnet=carnet, holder_public_key=sealing.public_key_text(key)))
    return carnets, key


# --- entry point ---------------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ata", description="NGA tools for digital ATA carnets.")
    sub = p.add_subparsers(dest="command", required=True)
    i = sub.add_parser("issue", help="seal and send carnets from a JSONL file, then summarise the answers")
    i.add_argument("--file", type=Path, required=True, help="plain carnets, one JSON object a line")
    via = i.add_mutually_exclusive_group()
    via.add_argument("--kafka", help="Kafka bootstrap servers (default: $KAFKA_BOOTSTRAP_SERVERS or 127.0.0.1:29092)")
    via.add_argument("--http", help="base URL of the issuer's NGA API, e.g. http://127.0.0.1:8101")
    i.add_argument(
        "--api-key",
        default=os.environ.get("ATA_NGA_API_KEY"),
        help="NGA API key for --http (default: $ATA_NGA_API_KEY)",
    )
    i.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for the last answer")
    i.add_argument("--out", type=Path, help="write every answer as JSONL here")
    s = sub.add_parser("sample", help="write valid example carnets (with a fresh holder wallet key)")
    s.add_argument("--count", type=int, default=10)
    s.add_argument("--out", type=Path, required=True)
    s.add_argument("--nga", default="FR")
    s.add_argument("--association", default="FR-CCI-PARIS")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    console = Console(stderr=True)
    if args.command == "sample":
        carnets, key = sample_carnets(args.count, datetime.now(UTC).date(), nga=args.nga, association=args.association)
        args.out.write_text("".join(c.to_line() + "\n" for c in carnets), encoding="utf-8")
        console.print(
            f"wrote {len(carnets)} carnets to {args.out}; holder wallet private key (base64url): "
            f"{sealing.b64e(key.private_bytes_raw())}"
        )
        return 0
    if args.http and not args.api_key:
        console.print("--http needs an NGA API key (--api-key or $ATA_NGA_API_KEY)")
        return 2
    kafka = None if args.http else (args.kafka or os.environ.get("KAFKA_BOOTSTRAP_SERVERS") or "127.0.0.1:29092")
    summary = Summary()
    try:
        carnets = read_carnets(args.file.read_text(encoding="utf-8").splitlines(), summary)
    except OSError as exc:
        console.print(f"cannot read {args.file}: {exc}")
        return 2
    out = args.out.open("w", encoding="utf-8") if args.out else None
    try:
        seconds = asyncio.run(
            issue(
                carnets,
                summary,
                kafka=kafka,
                http=args.http,
                api_key=args.api_key,
                timeout=args.timeout,
                console=console,
                out=out,
            )
        )
    except (transport.TransportError, OSError, Exception) as exc:  # noqa: BLE001 - the CLI reports, never tracebacks
        print_summary(summary, 0.0, console)
        console.print(f"failed: {type(exc).__name__}: {exc}")
        return 2
    finally:
        if out is not None:
            out.close()
    print_summary(summary, seconds, console)
    return 0 if not summary.rejected and not summary.invalid and not summary.other else 1


if __name__ == "__main__":
    sys.exit(main())
