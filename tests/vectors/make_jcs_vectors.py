"""Write tests/vectors/jcs.json: RFC 8785 canonical forms computed by Node's `canonicalize` (not by us).

Run by hand from the repository root after `npm ci --prefix tests/vectors/jcs`:
    .venv/bin/python tests/vectors/make_jcs_vectors.py
Each case keeps its input as JSON text, the hex of the UTF-8 canonical bytes Node produced, and
their SHA-256 (for a general list, that is its ATA-GL-2 digest). tests/unit/test_jcs_vectors.py
checks our constructions against the file, and against Node again when it is installed.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from decimal import Decimal
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
OUT = HERE / "jcs.json"
NODE_DIR = HERE / "jcs"
SCRIPT = NODE_DIR / "canonicalize.mjs"


def general_list() -> list[dict[str, Any]]:
    """The canonical input of a general list with accented and Greek text (contracts/digest.py)."""
    from contracts.messages import GoodsItem

    goods = [
        GoodsItem(
            item_number=1,
            description="Caméra α7 IV, n° de série 4012345",
            quantity=1,
            weight_kg=Decimal("0.66"),
            value=Decimal("2799.00"),
            currency="EUR",
            origin_country="JP",
            category="professional_equipment",
            hs_code="8525.89",
        ),
        GoodsItem(
            item_number=2,
            description="Objectif 24-70 mm ƒ/2.8 « GM », Zürich",
            quantity=2,
            weight_kg=Decimal("1.7"),
            value=Decimal("4200.50"),
            currency="CHF",
            origin_country="DE",
            category="professional_equipment",
        ),
        GoodsItem(
            item_number=3,
            description="Échantillons — 東京 samples 😀",
            quantity=12,
            volume_l=Decimal("3.5"),
            value=Decimal("120"),
            currency="EUR",
            origin_country="FR",
            category="commercial_samples",
        ),
    ]
    return [g.model_dump(mode="json", exclude={"hs_code"} if g.hs_code is None else None) for g in goods]


CASES: list[tuple[str, Any]] = [
    ("general list with non-ASCII descriptions (ATA-GL-2 digest)", general_list()),
    (
        "sealed document aad (ATA-DOC-2)",
        ["ATA-DOC-2", "FR", "FR-REQ-2026-000042", "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"],
    ),
    ("sealed key info (ATA-DOC-2) for a non-ASCII wallet id", ["ATA-DOC-2", "key", "hld_Zoë"]),
    ("member order by UTF-16 code units", {"€": 1, "\u0080": 2, "😀": 3, "\ufb33": 4, "a": 5, "A": 6, "": 7}),
    ("escapes RFC 8785 requires and the ones it forbids", {"s": '\u0000\u0001\u001f"\\/\b\f\n\r\t\u007f\u2028é'}),
    ("numbers in ECMAScript form", [0, -1, 123456789012345, 0.1, 1e-7, 1.5e21, 2.5, -0.0, 1e23, 9007199254740991]),
    ("nesting, literals and empty containers", {"b": [True, False, None, {}, []], "a": {"z": {"y": "Ωμέγα"}}}),
]


def node_canonical(values: list[Any]) -> list[bytes]:
    out = subprocess.run(
        ["node", str(SCRIPT)],
        input=json.dumps(values, ensure_ascii=False),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return [bytes.fromhex(line) for line in out.stdout.split()]


def main() -> None:
    forms = node_canonical([value for _, value in CASES])
    cases = [
        {
            "name": name,
            "input": json.dumps(value, ensure_ascii=False),
            "jcs_utf8_hex": form.hex(),
            "sha256": hashlib.sha256(form).hexdigest(),
        }
        for (name, value), form in zip(CASES, forms, strict=True)
    ]
    version = json.loads((NODE_DIR / "package-lock.json").read_text())["packages"]["node_modules/canonicalize"][
        "version"
    ]
    OUT.write_text(
        json.dumps(
            {"computed_by": f"canonicalize@{version} (npm), Node.js", "cases": cases}, ensure_ascii=False, indent=1
        )
        + "\n",
        encoding="utf-8",
    )


if __name__ == "__main__":
    main()
