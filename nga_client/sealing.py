"""The carnet document sealed for its holder (and representatives): construction ATA-DOC-2.

The plain document never leaves the NGA's side: the NGA seals it here before sending, and only
wallets holding a recipient's X25519 private key can open it. Exact construction, so any wallet
can implement it (tests/vectors/sealed_document.json is a test vector):

1. document = RFC 8785 canonical JSON (JCS) of the plain carnet; its general_list_digest is
   ATA-GL-2 (contracts/digest.py: SHA-256 of the JCS general list).
2. data key K = 32 random bytes; nonce N = 12 random bytes.
3. aad = the JCS of the JSON array ["ATA-DOC-2", nga, request_id, general_list_digest]: the
   ciphertext is bound to the request and to the digest the ledger holds.
4. ciphertext = AES-256-GCM(K).encrypt(N, document, aad)  (ciphertext || 16-byte tag).
5. For each recipient (holder first): sealed_key = HPKE (RFC 9180) base mode, single-shot Seal,
   suite DHKEM(X25519, HKDF-SHA256) / HKDF-SHA256 / AES-256-GCM (ids 0x0020/0x0001/0x0002), to
   the recipient's X25519 public key, info = the JCS of ["ATA-DOC-2", "key", recipient_id], empty
   aad, plaintext K. Output enc (32 bytes) || ciphertext (48 bytes).
6. Binary values travel base64url without padding.

Opening: HPKE Open with the recipient's private key and the same info gives K; AES-GCM decrypt
with N and the aad gives the document; the wallet then checks that the digest of its goods
equals `general_list_digest`. Sharing later (`reseal_for`) needs only K, never the document.

ATA-DOC-1, the construction before, is the same with Python's sorted-key compact JSON
(``ensure_ascii=False``) in place of JCS in steps 1, 3 and 5, and the ATA-GL-1 digest. Documents
sealed with it still open and reseal: every step takes the scheme the document names.
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

from contracts.canonical import JCS, LEGACY_UTF8, canonical_json
from contracts.digest import GL_1, GL_2
from contracts.messages import SealedDocument, SealedKey

SCHEME = "ATA-DOC-2"
#: Each scheme's canonical JSON and the general-list digest construction it goes with.
SCHEMES = {"ATA-DOC-2": (JCS, GL_2), "ATA-DOC-1": (LEGACY_UTF8, GL_1)}
SUITE = Suite(KEM.X25519, KDF.HKDF_SHA256, AEAD.AES_256_GCM)


class SealingError(ValueError):
    """A document or key that cannot be sealed or opened (wrong key, tampered, not a recipient)."""


def b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def canonical(value: Any, scheme: str = SCHEME) -> bytes:
    if scheme not in SCHEMES:
        raise SealingError(f"unknown document scheme {scheme!r}")
    return canonical_json(value, SCHEMES[scheme][0])


def digest_construction(scheme: str) -> str:
    """The general-list digest construction (contracts/digest.py) a document of ``scheme`` is bound to."""
    return SCHEMES[scheme][1]


def document_aad(nga: str, request_id: str, digest: str, scheme: str = SCHEME) -> bytes:
    return canonical([scheme, nga, request_id, digest], scheme)


def key_info(recipient_id: str, scheme: str = SCHEME) -> bytes:
    return canonical([scheme, "key", recipient_id], scheme)


def public_key(text: str) -> X25519PublicKey:
    """A wallet's X25519 public key from its base64url form (32 bytes)."""
    try:
        return X25519PublicKey.from_public_bytes(b64d(text))
    except ValueError as exc:
        raise SealingError(f"not an X25519 public key (32 bytes, base64url): {exc}") from exc


def public_key_text(key: X25519PrivateKey | X25519PublicKey) -> str:
    pub = key.public_key() if isinstance(key, X25519PrivateKey) else key
    return b64e(pub.public_bytes_raw())


def seal_key(data_key: bytes, recipient_id: str, recipient_key: X25519PublicKey, scheme: str = SCHEME) -> SealedKey:
    sealed = SUITE.encrypt(data_key, recipient_key, info=key_info(recipient_id, scheme))
    return SealedKey(recipient_id=recipient_id, sealed_key=b64e(sealed))


def seal(
    document: dict[str, Any], recipients: dict[str, X25519PublicKey], *, nga: str, request_id: str, digest: str
) -> SealedDocument:
    """Seal `document` for `recipients` (wallet id -> public key, holder first)."""
    if not recipients:
        raise SealingError("a sealed document needs at least one recipient (the holder)")
    data_key, nonce = AESGCM.generate_key(bit_length=256), os.urandom(12)
    ciphertext = AESGCM(data_key).encrypt(nonce, canonical(document), document_aad(nga, request_id, digest))
    return SealedDocument(
        scheme=SCHEME,
        nonce=b64e(nonce),
        ciphertext=b64e(ciphertext),
        recipients=[seal_key(data_key, rid, key) for rid, key in recipients.items()],
    )


def open_key(sealed: SealedDocument, recipient_id: str, private_key: X25519PrivateKey) -> bytes:
    entry = next((r for r in sealed.recipients if r.recipient_id == recipient_id), None)
    if entry is None:
        raise SealingError(f"{recipient_id} is not a recipient of this document")
    try:
        return SUITE.decrypt(b64d(entry.sealed_key), private_key, info=key_info(recipient_id, sealed.scheme))
    except (InvalidTag, ValueError) as exc:
        raise SealingError(f"the data key does not open with the key of {recipient_id}") from exc


def open_document(
    sealed: SealedDocument, recipient_id: str, private_key: X25519PrivateKey, *, nga: str, request_id: str, digest: str
) -> dict[str, Any]:
    """What a wallet does: the plain document, or SealingError."""
    data_key = open_key(sealed, recipient_id, private_key)
    try:
        plain = AESGCM(data_key).decrypt(
            b64d(sealed.nonce), b64d(sealed.ciphertext), document_aad(nga, request_id, digest, sealed.scheme)
        )
    except InvalidTag as exc:
        raise SealingError("the document was altered or is bound to another request or general list") from exc
    return json.loads(plain)


def reseal_for(
    sealed: SealedDocument,
    holder_id: str,
    holder_key: X25519PrivateKey,
    recipient_id: str,
    recipient_key: X25519PublicKey,
) -> SealedDocument:
    """Share: the holder's wallet seals the same data key for one more representative."""
    data_key = open_key(sealed, holder_id, holder_key)
    kept = [r for r in sealed.recipients if r.recipient_id != recipient_id]
    return sealed.model_copy(
        update={"recipients": [*kept, seal_key(data_key, recipient_id, recipient_key, sealed.scheme)]}
    )
