"""The carnet document sealed for its holder (and representatives): construction ATA-DOC-1.

The plain document never leaves the NGA's side: the NGA seals it here before sending, and only
wallets holding a recipient's X25519 private key can open it. Exact construction, so any wallet
can implement it (tests/vectors/sealed_document.json is a test vector):

1. document = UTF-8 canonical JSON of the plain carnet (sorted keys, separators "," and ":").
2. data key K = 32 random bytes; nonce N = 12 random bytes.
3. aad = UTF-8 of the JSON array ["ATA-DOC-1", nga, request_id, general_list_digest] (same
   canonical form): the ciphertext is bound to the request and to the digest the ledger holds.
4. ciphertext = AES-256-GCM(K).encrypt(N, document, aad)  (ciphertext || 16-byte tag).
5. For each recipient (holder first): sealed_key = HPKE (RFC 9180) base mode, single-shot Seal,
   suite DHKEM(X25519, HKDF-SHA256) / HKDF-SHA256 / AES-256-GCM (ids 0x0020/0x0001/0x0002), to
   the recipient's X25519 public key, info = UTF-8 of ["ATA-DOC-1", "key", recipient_id], empty
   aad, plaintext K. Output enc (32 bytes) || ciphertext (48 bytes).
6. Binary values travel base64url without padding.

Opening: HPKE Open with the recipient's private key and the same info gives K; AES-GCM decrypt
with N and the aad gives the document; the wallet then checks that the digest of its goods
equals `general_list_digest`. Sharing later (`reseal_for`) needs only K, never the document.
"""

from __future__ import annotations

import base64
import json
import os
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hpke import AEAD, KDF, KEM, Suite

from contracts.messages import SealedDocument, SealedKey

SCHEME = "ATA-DOC-1"
SUITE = Suite(KEM.X25519, KDF.HKDF_SHA256, AEAD.AES_256_GCM)


class SealingError(ValueError):
    """A document or key that cannot be sealed or opened (wrong key, tampered, not a recipient)."""


def b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def document_aad(nga: str, request_id: str, digest: str) -> bytes:
    return canonical([SCHEME, nga, request_id, digest])


def key_info(recipient_id: str) -> bytes:
    return canonical([SCHEME, "key", recipient_id])


def public_key(text: str) -> X25519PublicKey:
    """A wallet's X25519 public key from its base64url form (32 bytes)."""
    try:
        return X25519PublicKey.from_public_bytes(b64d(text))
    except ValueError as exc:
        raise SealingError(f"not an X25519 public key (32 bytes, base64url): {exc}") from exc


def public_key_text(key: X25519PrivateKey | X25519PublicKey) -> str:
    pub = key.public_key() if isinstance(key, X25519PrivateKey) else key
    return b64e(pub.public_bytes_raw())


def seal_key(data_key: bytes, recipient_id: str, recipient_key: X25519PublicKey) -> SealedKey:
    return SealedKey(recipient_id=recipient_id, sealed_key=b64e(SUITE.encrypt(data_key, recipient_key, info=key_info(recipient_id))))


def seal(document: dict[str, Any], recipients: dict[str, X25519PublicKey], *, nga: str, request_id: str,
         digest: str) -> SealedDocument:
    """Seal `document` for `recipients` (wallet id -> public key, holder first)."""
    if not recipients:
        raise SealingError("a sealed document needs at least one recipient (the holder)")
    data_key, nonce = AESGCM.generate_key(bit_length=256), os.urandom(12)
    ciphertext = AESGCM(data_key).encrypt(nonce, canonical(document), document_aad(nga, request_id, digest))
    return SealedDocument(scheme=SCHEME, nonce=b64e(nonce), ciphertext=b64e(ciphertext),
                          recipients=[seal_key(data_key, rid, key) for rid, key in recipients.items()])


def open_key(sealed: SealedDocument, recipient_id: str, private_key: X25519PrivateKey) -> bytes:
    entry = next((r for r in sealed.recipients if r.recipient_id == recipient_id), None)
    if entry is None:
        raise SealingError(f"{recipient_id} is not a recipient of this document")
    try:
        return SUITE.decrypt(b64d(entry.sealed_key), private_key, info=key_info(recipient_id))
    except (InvalidTag, ValueError) as exc:
        raise SealingError(f"the data key does not open with the key of {recipient_id}") from exc


def open_document(sealed: SealedDocument, recipient_id: str, private_key: X25519PrivateKey, *, nga: str,
                  request_id: str, digest: str) -> dict[str, Any]:
    """What a wallet does: the plain document, or SealingError."""
    data_key = open_key(sealed, recipient_id, private_key)
    try:
        plain = AESGCM(data_key).decrypt(b64d(sealed.nonce), b64d(sealed.ciphertext), document_aad(nga, request_id, digest))
    except InvalidTag as exc:
        raise SealingError("the document was altered or is bound to another request or general list") from exc
    return json.loads(plain)


def reseal_for(sealed: SealedDocument, holder_id: str, holder_key: X25519PrivateKey, recipient_id: str,
               recipient_key: X25519PublicKey) -> SealedDocument:
    """Share: the holder's wallet seals the same data key for one more representative."""
    data_key = open_key(sealed, holder_id, holder_key)
    kept = [r for r in sealed.recipients if r.recipient_id != recipient_id]
    return sealed.model_copy(update={"recipients": [*kept, seal_key(data_key, recipient_id, recipient_key)]})
