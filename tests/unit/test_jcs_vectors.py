"""R3 across languages: our RFC 8785 constructions give the bytes Node's `canonicalize` gives.

tests/vectors/jcs.json was computed by Node (tests/vectors/make_jcs_vectors.py); the first test needs
no Node. The last one runs Node again on the same inputs: it skips, naming the install command, where
Node or the package is missing, and fails instead when CI=true.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest

from contracts.canonical import JCS, LEGACY_ASCII, CanonicalError, canonical_json
from contracts.digest import GL_1, GL_2, digest_construction, general_list_digest
from contracts.messages import GoodsItem

VECTORS_DIR = Path(__file__).resolve().parents[1] / "vectors"
VECTORS = json.loads((VECTORS_DIR / "jcs.json").read_text(encoding="utf-8"))
NODE_DIR = VECTORS_DIR / "jcs"
INSTALL = "install Node.js 20 or later, then run: npm ci --prefix tests/vectors/jcs"


@pytest.mark.parametrize("case", VECTORS["cases"], ids=[c["name"] for c in VECTORS["cases"]])
def test_r3_python_rfc8785_gives_the_bytes_node_canonicalize_gave(case):
    ours = canonical_json(json.loads(case["input"]), JCS)
    assert ours.hex() == case["jcs_utf8_hex"], (ours, bytes.fromhex(case["jcs_utf8_hex"]))
    assert hashlib.sha256(ours).hexdigest() == case["sha256"]


def goods() -> tuple[list[GoodsItem], str]:
    (case,) = [c for c in VECTORS["cases"] if c["name"].startswith("general list")]
    return [GoodsItem.model_validate(line) for line in json.loads(case["input"])], case["sha256"]


def test_r3_the_general_list_digest_of_caméra_α7_is_the_one_a_javascript_wallet_computes():
    items, node_digest = goods()
    assert general_list_digest(items) == node_digest
    assert general_list_digest(list(reversed(items))) == node_digest


def test_r3_digests_made_before_rfc8785_stay_verifiable_and_differ_only_on_non_ascii_text():
    items, node_digest = goods()
    legacy = general_list_digest(items, GL_1)
    assert legacy != node_digest  # "Caméra α7": ASCII escapes under ATA-GL-1
    assert (digest_construction(items, node_digest), digest_construction(items, legacy)) == (GL_2, GL_1)
    assert digest_construction(items, "0" * 64) is None
    ascii_only = [i.model_copy(update={"description": f"Camera {i.item_number}"}) for i in items]
    assert general_list_digest(ascii_only, GL_1) == general_list_digest(ascii_only, GL_2)
    assert canonical_json({"a": "é"}, LEGACY_ASCII) == b'{"a":"\\u00e9"}'


@pytest.mark.parametrize("value", [float("nan"), float("inf"), 2**53 + 1, "\ud800", {1: "x"}, object()])
def test_r3_values_rfc8785_cannot_represent_are_refused(value):
    with pytest.raises(CanonicalError):
        canonical_json(value, JCS)


def test_r3_an_unknown_construction_is_refused():
    with pytest.raises(CanonicalError):
        canonical_json({}, "json-by-hand")
    with pytest.raises(ValueError):
        general_list_digest([], "ATA-GL-9")


def test_r3_node_canonicalize_agrees_with_us_now():
    node = shutil.which("node")
    installed = (NODE_DIR / "node_modules" / "canonicalize" / "package.json").exists()
    if node is None or not installed:
        missing = "node is not on PATH" if node is None else "the canonicalize package is not installed"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{missing}: {INSTALL}")
        pytest.skip(f"{missing}: {INSTALL}")
    inputs = [json.loads(c["input"]) for c in VECTORS["cases"]]
    extra = [[{"item_number": 1, "description": "Caméra α7", "value": str(Decimal("1.00"))}], {"ключ": "значение"}]
    out = subprocess.run(
        [node, str(NODE_DIR / "canonicalize.mjs")],
        input=json.dumps(inputs + extra),
        text=True,
        capture_output=True,
        check=True,
        timeout=60,
    )
    node_forms = [bytes.fromhex(line) for line in out.stdout.split()]
    assert node_forms == [canonical_json(v, JCS) for v in inputs + extra]
    assert [f.hex() for f in node_forms[: len(inputs)]] == [c["jcs_utf8_hex"] for c in VECTORS["cases"]]


def test_r3_the_sealed_documents_aad_and_key_info_are_the_rfc8785_bytes_node_gave():
    from nga_client import sealing

    cases = {c["name"]: bytes.fromhex(c["jcs_utf8_hex"]) for c in VECTORS["cases"]}
    aad = sealing.document_aad(
        "FR", "FR-REQ-2026-000042", "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
    )
    assert aad == cases["sealed document aad (ATA-DOC-2)"]
    assert sealing.key_info("hld_Zoë") == cases["sealed key info (ATA-DOC-2) for a non-ASCII wallet id"]


def test_r3_a_document_with_caméra_α7_seals_under_ata_doc_2_and_its_digest_is_ata_gl_2():
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

    from nga_client import sealing

    items, digest = goods()
    holder = X25519PrivateKey.generate()
    document = {"goods": [g.model_dump(mode="json") for g in items], "holder": {"name": "Zoë Müller"}}
    sealed = sealing.seal(document, {"hld_1": holder.public_key()}, nga="FR", request_id="REQ-1", digest=digest)
    opened = sealing.open_document(sealed, "hld_1", holder, nga="FR", request_id="REQ-1", digest=digest)
    assert sealed.scheme == "ATA-DOC-2" and sealing.digest_construction(sealed.scheme) == GL_2
    assert digest_construction([GoodsItem.model_validate(g) for g in opened["goods"]], digest) == GL_2
    assert opened["holder"]["name"] == "Zoë Müller"
