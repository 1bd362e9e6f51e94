"""tokens/cose.py against a maintained COSE library (pycose) on the committed token vectors and on speed.

    .venv/bin/python -m bench.cose_libraries [--rounds 7] [--number 2000]

1. Vectors (tests/vectors/tokens): for each one, whether our verifier and each library's COSE_Sign1 verification accept
   its signature (expiry is ours alone: the libraries only check COSE); a library must agree on every vector whose
   refusal is about the signature.
2. Bytes: a library signing the same claims with the same key and kid must produce our protected header and payload
   bytes exactly (the signature differs: ECDSA is randomised), and each side must verify the other's token.
3. Speed, ES256, the same claims: sign and verify of the COSE_Sign1 alone (CBOR, Sig_structure, ECDSA), timeit with
   `--number` calls per run, the implementations alternated round by round, best and median of `--rounds` runs.
Needs the test extra (pycose is a test-only dependency). `cwt`, the other maintained one, is left out: its newest
release (3.3.0) requires cbor2 < 6, and tokens/cose.py needs cbor2 6 (duplicate map keys refused while decoding).
"""

from __future__ import annotations

import argparse
import functools
import json
import statistics
import timeit
import zlib
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import base45
import cbor2
from cryptography.hazmat.primitives import serialization

from tokens import cose

VECTORS = Path(__file__).resolve().parents[1] / "tests" / "vectors" / "tokens"
SIGNATURE_REASONS = {"bad signature", "tampered claim"}


def cose_bytes(token: str) -> bytes:
    """The COSE_Sign1 inside a token: Base45, then zlib when the body is compressed."""
    body = base45.b45decode(token[len(cose.PREFIX) :])
    return zlib.decompress(body) if body[:1] == b"\x78" else body


def to_token(message: bytes) -> str:
    return cose.PREFIX + base45.b45encode(message).decode("ascii")


def _private_pem(key: Any) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _public_pem(key: Any) -> bytes:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


class Pycose:
    name = "pycose"

    def __init__(self, public: Any, private: Any = None) -> None:
        from pycose.keys import CoseKey

        self.private = CoseKey.from_pem_private_key(_private_pem(private).decode()) if private else None
        self.public = CoseKey.from_pem_public_key(_public_pem(public).decode())
        self.kid = cose.kid_for(public)

    def sign(self, claims: dict[int, Any]) -> bytes:
        from pycose.algorithms import Es256
        from pycose.headers import KID, Algorithm
        from pycose.messages import Sign1Message

        message = Sign1Message(phdr={Algorithm: Es256, KID: self.kid}, payload=cbor2.dumps(claims), key=self.private)
        return message.encode(tag=True)

    def verify(self, data: bytes) -> dict[int, Any] | None:
        from pycose.messages import Sign1Message

        # Not Sign1Message.decode: pycose 1.1.0 wants a list and dicts, and cbor2 6 decodes a tag's array as a tuple
        # and its maps as frozendicts, which pycose refuses (TypeError); so the array is handed over as pycose wants.
        protected, unprotected, payload, signature = cbor2.loads(data).value
        message = Sign1Message.from_cose_obj(
            [protected, dict(unprotected), payload, signature], allow_unknown_attributes=True
        )
        message.key = self.public
        return cbor2.loads(message.payload) if message.verify_signature() else None


class Ours:
    name = "tokens/cose.py"

    def __init__(self, public: Any, private: Any = None) -> None:
        self.public = public
        self.key = cose.SigningKey(cose.kid_for(public), private) if private else None

    def sign(self, claims: dict[int, Any]) -> bytes:
        assert self.key is not None
        return cose_bytes(cose.sign_token(claims, self.key))

    def verify(self, data: bytes) -> dict[int, Any] | None:
        try:
            return cose.verify_token(to_token(data), lambda kid: self.public, first_vector()[1])
        except cose.BadSignatureError:
            return None


LIBRARIES = (Pycose,)


def check_vectors() -> list[str]:
    """One line per vector and library; a line starting "DISAGREE" is a failure."""
    lines = []
    for path in sorted(VECTORS.glob("*.json")):
        v = json.loads(path.read_text(encoding="utf-8"))
        public = cose.public_key_from_jwk(v["public_key"])
        try:
            data = cose_bytes(v["token"])
        except (ValueError, zlib.error):
            lines.append(f"{path.stem}: not COSE at all ({v['reason']}): refused before any library")
            continue
        signature_ok = v["valid"] or v["reason"] not in SIGNATURE_REASONS
        for library in LIBRARIES:
            verifier = library(public)
            try:
                accepted = verifier.verify(data) is not None
            except Exception as exc:  # noqa: BLE001  (a library's refusal may be any exception)
                accepted = False
                detail = f" ({type(exc).__name__})"
            else:
                detail = ""
            verdict = "agrees" if accepted == signature_ok or v["reason"] == "unknown kid" else "DISAGREE"
            lines.append(f"{path.stem}: {library.name} {'accepts' if accepted else 'refuses'}{detail}: {verdict}")
    return lines


@functools.cache
def first_vector() -> tuple[dict[int, Any], datetime]:
    """The claims of the first committed vector (a real declaration's size and shape) and when it is valid."""
    v = json.loads(sorted(VECTORS.glob("*.json"))[0].read_text(encoding="utf-8"))
    at = datetime.fromisoformat(v["verified_at"])
    return cose.verify_token(v["token"], lambda kid: cose.public_key_from_jwk(v["public_key"]), at), at


def claims() -> dict[int, Any]:
    return first_vector()[0]


def check_bytes(key: cose.SigningKey) -> list[str]:
    ours = Ours(key.public_key, key.private_key)
    token = ours.sign(claims())
    mine = cbor2.loads(token).value
    lines = []
    for library in LIBRARIES:
        lib = library(key.public_key, key.private_key)
        theirs = cbor2.loads(lib.sign(claims())).value
        same = theirs[0] == mine[0] and theirs[2] == mine[2] and theirs[1] == {} == mine[1]
        lines.append(
            f"{lib.name}: protected header and payload {'identical' if same else 'DIFFER'}; "
            f"it verifies ours: {lib.verify(token) == claims()}; "
            f"ours verifies its: {ours.verify(lib.sign(claims())) == claims()}"
        )
    return lines


def speed(key: cose.SigningKey, rounds: int, number: int) -> list[str]:
    implementations = [impl(key.public_key, key.private_key) for impl in (Ours, *LIBRARIES)]
    payload = claims()
    tokens = {impl.name: impl.sign(payload) for impl in implementations}
    runs: dict[tuple[str, str], list[float]] = {}
    for _ in range(rounds):  # alternated: every implementation once per round, so drift hits all alike
        for impl in implementations:
            cases: dict[str, Callable[[], Any]] = {
                "sign": lambda impl=impl: impl.sign(payload),
                "verify": lambda impl=impl: impl.verify(tokens["tokens/cose.py"]),
            }
            for op, call in cases.items():
                runs.setdefault((impl.name, op), []).append(number / timeit.timeit(call, number=number))
    return [
        f"{name:16} {op:6} best {max(r):8.0f}/s  median {statistics.median(r):8.0f}/s  ({rounds} runs x {number})"
        for (name, op), r in runs.items()
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--number", type=int, default=2000)
    args = parser.parse_args()
    key = cose.generate_signing_key()
    report = [*check_vectors(), *check_bytes(key), *speed(key, args.rounds, args.number)]
    print("\n".join(report))
    return 1 if any("DISAGREE" in line or "DIFFER" in line for line in report) else 0


if __name__ == "__main__":
    raise SystemExit(main())
