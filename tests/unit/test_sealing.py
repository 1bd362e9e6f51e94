"""The sealed carnet document (ATA-DOC-1): a wallet can open it from the documented construction alone,
and nothing else can (ARCHITECTURE "never travels in open form"; R3 digest binding)."""

from __future__ import annotations

import hmac
import json
from hashlib import sha256
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from contracts.digest import general_list_digest
from contracts.messages import GoodsItem, SealedDocument
from nga_client import sealing
from nga_client.carnets import seal_request
from tests.support.messages import plain_carnet, wallet_key

VECTOR = json.loads((Path(__file__).parents[1] / "vectors" / "sealed_document.json").read_text())


def _labeled_extract(suite_id: bytes, salt: bytes, label: bytes, ikm: bytes) -> bytes:
    return hmac.new(salt or b"\0" * 32, b"HPKE-v1" + suite_id + label + ikm, sha256).digest()


def _labeled_expand(suite_id: bytes, prk: bytes, label: bytes, info: bytes, length: int) -> bytes:
    labeled = length.to_bytes(2, "big") + b"HPKE-v1" + suite_id + label + info
    out, block, counter = b"", b"", 1
    while len(out) < length:
        block = hmac.new(prk, block + labeled + bytes([counter]), sha256).digest()
        out, counter = out + block, counter + 1
    return out[:length]


def rfc9180_open(sealed_key: bytes, sk: X25519PrivateKey, info: bytes) -> bytes:
    """RFC 9180 base-mode Open written from the RFC (sections 4.1, 5.1, 5.2), not from our module."""
    enc, ct = sealed_key[:32], sealed_key[32:]
    kem_id = b"KEM" + (0x0020).to_bytes(2, "big")
    dh = sk.exchange(X25519PublicKey.from_public_bytes(enc))
    kem_context = enc + sk.public_key().public_bytes_raw()
    eae_prk = _labeled_extract(kem_id, b"", b"eae_prk", dh)
    shared = _labeled_expand(kem_id, eae_prk, b"shared_secret", kem_context, 32)
    suite = b"HPKE" + (0x0020).to_bytes(2, "big") + (0x0001).to_bytes(2, "big") + (0x0002).to_bytes(2, "big")
    ctx = b"\x00" + _labeled_extract(suite, b"", b"psk_id_hash", b"") + _labeled_extract(suite, b"", b"info_hash", info)
    secret = _labeled_extract(suite, shared, b"secret", b"")
    key, nonce = _labeled_expand(suite, secret, b"key", ctx, 32), _labeled_expand(suite, secret, b"base_nonce", ctx, 12)
    return AESGCM(key).decrypt(nonce, ct, b"")


def test_the_vector_opens_from_the_documented_construction_alone():
    sk = X25519PrivateKey.from_private_bytes(sealing.b64d(VECTOR["recipient_private_key"]))
    doc = SealedDocument.model_validate(VECTOR["sealed_document"])
    entry = next(r for r in doc.recipients if r.recipient_id == VECTOR["recipient_id"])
    info = json.dumps(["ATA-DOC-1", "key", VECTOR["recipient_id"]], separators=(",", ":")).encode()
    data_key = rfc9180_open(sealing.b64d(entry.sealed_key), sk, info)
    aad = json.dumps(
        ["ATA-DOC-1", VECTOR["nga"], VECTOR["request_id"], VECTOR["general_list_digest"]], separators=(",", ":")
    ).encode()
    plain = json.loads(AESGCM(data_key).decrypt(sealing.b64d(doc.nonce), sealing.b64d(doc.ciphertext), aad))
    assert sealing.b64e(data_key) == VECTOR["data_key"]
    assert plain == VECTOR["document"]
    # R3: the wallet checks the list it opened against the digest the ledger holds
    assert general_list_digest([GoodsItem(**g) for g in plain["goods"]]) == VECTOR["general_list_digest"]
    assert (
        sealing.open_document(
            doc,
            VECTOR["recipient_id"],
            sk,
            nga=VECTOR["nga"],
            request_id=VECTOR["request_id"],
            digest=VECTOR["general_list_digest"],
        )
        == VECTOR["document"]
    )


def test_holder_and_each_representative_open_it_and_nobody_else():
    reps = {"rep_a": wallet_key(2), "rep_b": wallet_key(3)}
    req = seal_request(plain_carnet("S-1", representatives=reps))
    where = dict(nga="FR", request_id="S-1", digest=req.general_list_digest)
    assert [r.recipient_id for r in req.document.recipients] == ["hld_1", "rep_a", "rep_b"]
    for rid, key in (("hld_1", wallet_key(1)), *reps.items()):
        assert sealing.open_document(req.document, rid, key, **where)["holder"]["name"] == "Lumière Productions SARL"
    with pytest.raises(sealing.SealingError, match="does not open"):
        sealing.open_document(req.document, "rep_a", wallet_key(9), **where)
    with pytest.raises(sealing.SealingError, match="not a recipient"):
        sealing.open_document(req.document, "rep_z", wallet_key(2), **where)


def test_r3_a_document_moved_to_another_request_or_list_or_altered_does_not_open():
    req = seal_request(plain_carnet("S-2"))
    key = wallet_key(1)
    with pytest.raises(sealing.SealingError, match="altered"):
        sealing.open_document(req.document, "hld_1", key, nga="FR", request_id="S-3", digest=req.general_list_digest)
    with pytest.raises(sealing.SealingError, match="altered"):
        sealing.open_document(req.document, "hld_1", key, nga="FR", request_id="S-2", digest="0" * 64)
    raw = bytearray(sealing.b64d(req.document.ciphertext))
    raw[0] ^= 1
    tampered = req.document.model_copy(update={"ciphertext": sealing.b64e(bytes(raw))})
    with pytest.raises(sealing.SealingError):
        sealing.open_document(tampered, "hld_1", key, nga="FR", request_id="S-2", digest=req.general_list_digest)


def test_sharing_reseals_the_key_for_a_new_representative_only():
    req = seal_request(plain_carnet("S-4"))
    shared = sealing.reseal_for(req.document, "hld_1", wallet_key(1), "rep_new", wallet_key(4).public_key())
    assert shared.ciphertext == req.document.ciphertext
    opened = sealing.open_document(
        shared, "rep_new", wallet_key(4), nga="FR", request_id="S-4", digest=req.general_list_digest
    )
    assert opened["request_id"] == "S-4"


def test_the_wire_request_carries_no_plain_text_of_the_document():
    plain = plain_carnet("S-5")
    wire = seal_request(plain).model_dump_json()
    assert plain.carnet.holder.name not in wire and plain.carnet.holder.address not in wire
    assert all(g.description not in wire for g in plain.carnet.goods)


def test_a_bad_public_key_is_a_clear_error():
    with pytest.raises(sealing.SealingError, match="X25519"):
        sealing.public_key("AAAA")
