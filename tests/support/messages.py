"""Builders of valid messages for tests; dates are fixed, never read from the clock."""

from __future__ import annotations

from datetime import date
from typing import Any

from contracts.envelope import Envelope
from contracts.messages import GoodsCategory, GoodsItem, Holder, IssuanceRequested, Payload

ISSUE_DATE = date(2026, 11, 22)


def goods(n: int = 3, **overrides: Any) -> list[GoodsItem]:
    return [
        GoodsItem(
            item_number=i,
            description=f"Camera part {i}, s/n X{i:04d}",
            quantity=1,
            value="1000.00",
            currency="EUR",
            origin_country="DE",
            category=GoodsCategory.PROFESSIONAL_EQUIPMENT,
            **overrides,
        )
        for i in range(1, n + 1)
    ]


def issuance_request(request_id: str = "REQ-1", **overrides: Any) -> IssuanceRequested:
    fields: dict[str, Any] = dict(
        request_id=request_id,
        nga="FR",
        issuing_association="FR-CCI-PARIS",
        holder=Holder(
            holder_id="hld_1", name="Lumière Productions SARL", address="8 rue des Arts, Lyon", person="legal"
        ),
        intended_use="film shoot",
        countries=["CH", "GB"],
        issue_date=ISSUE_DATE,
        expiry_date=date(2027, 11, 21),
        goods=goods(),
    )
    fields.update(overrides)
    return IssuanceRequested(**fields)


def wire(
    payload: Payload, *, producer: str = "test", subject: str | None = None, envelope: Envelope | None = None
) -> tuple[bytes, dict[str, str], Envelope]:
    """(body, headers, envelope) as a producer would put them on the topic."""
    env = envelope or Envelope(type=payload.TYPE, schema_version=payload.VERSION, producer=producer, subject=subject)
    return payload.model_dump_json().encode(), env.to_headers(), env


# --- builders for the core, gateway, claims and notifier service tests (appended) ----------------


def customs_commit(claims: Any, decided_at: Any, **overrides: Any) -> Any:
    """A CustomsCommitPosted for verified `DeclarationClaims`, as the gateway at FR-CDG-FRET would post it."""
    from uuid import uuid4

    from contracts.messages import CustomsCommitPosted

    fields: dict[str, Any] = dict(
        commit_id=uuid4(),
        carnet_number=claims.carnet_number,
        transaction_code=claims.transaction_code,
        token_id=claims.token_id,
        kind=claims.kind,
        country=claims.country,
        items=list(claims.items),
        office_id="FR-CDG-FRET",
        office_timezone="Europe/Paris",
        officer_id="fr-officer-0001",
        decision="committed",
        decided_at=decided_at,
    )
    fields.update(overrides)
    return CustomsCommitPosted(**fields)


def transaction_recorded(
    carnet_number: str,
    kind: Any,
    country: str,
    locations: list[tuple[int, str, str | None, Any]],
    recorded_at: Any,
    **overrides: Any,
) -> Any:
    """A TransactionRecorded; `locations` are (item_number, location, country, final_date) after the crossing."""
    from uuid import uuid4

    from contracts.messages import ItemLocation, TransactionRecorded

    fields: dict[str, Any] = dict(
        transaction_id=uuid4(),
        carnet_number=carnet_number,
        declaration_id=uuid4(),
        commit_id=uuid4(),
        kind=kind,
        country=country,
        items=[n for n, *_ in locations],
        sequence=1,
        decision="committed",
        office_id="FR-CDG-FRET",
        office_timezone="Europe/Paris",
        carnet_expiry=date(2027, 11, 21),
        item_locations=[
            ItemLocation(item_number=n, location=loc, country=c, final_date=f) for n, loc, c, f in locations
        ],
        recorded_at=recorded_at,
    )
    fields.update(overrides)
    return TransactionRecorded(**fields)


def confirmation_requested(carnet_number: str, recipient_ids: list[str], recorded_at: Any, **overrides: Any) -> Any:
    from uuid import uuid4

    from contracts.kinds import DeclarationKind
    from contracts.messages import ConfirmationRequested

    fields: dict[str, Any] = dict(
        confirmation_id=uuid4(),
        carnet_number=carnet_number,
        recipient_ids=recipient_ids,
        transaction_id=uuid4(),
        kind=DeclarationKind.EXPORTATION,
        country="FR",
        items=[1, 2],
        decision="committed",
        recorded_at=recorded_at,
    )
    fields.update(overrides)
    return ConfirmationRequested(**fields)


def signing_key_published(key: Any, not_before: Any, not_after: Any = None) -> Any:
    """What the core announces for `key` (a tokens.cose.SigningKey)."""
    from contracts.messages import SigningKeyPublished
    from tokens.cose import public_jwk

    return SigningKeyPublished(
        kid=key.kid.hex(), jwk=public_jwk(key.public_key), not_before=not_before, not_after=not_after
    )


def trust_list(anchor_path: Any, sequence: int, issued_at: Any, *keys: tuple[Any, Any, Any]) -> Any:
    """A TrustListPublished signed by the anchor at `anchor_path`, listing (SigningKey, not_before, not_after)."""
    from contracts.messages import TrustedKey
    from tokens import trustlist
    from tokens.cose import load_or_create_signing_key, public_jwk

    listed = [
        TrustedKey(kid=k.kid.hex(), jwk=public_jwk(k.public_key), not_before=nb, not_after=na) for k, nb, na in keys
    ]
    return trustlist.sign(sequence, issued_at, listed, load_or_create_signing_key(anchor_path))


def detached_trust_list(anchor: Any, sequence: int, issued_at: Any, keys: list[Any], construction: str) -> Any:
    """A list as a core signed it before the JWS (ATA-TL-2 or ATA-TL-1): a raw r||s signature over the
    canonical bytes, no `jws`; an ATA-TL-1 core sent no construction field either."""
    import base64

    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

    from tokens import trustlist

    r, s = decode_dss_signature(
        anchor.private_key.sign(trustlist.canonical(sequence, issued_at, keys, construction), ec.ECDSA(hashes.SHA256()))
    )
    raw = base64.urlsafe_b64encode(r.to_bytes(32, "big") + s.to_bytes(32, "big")).rstrip(b"=").decode()
    current = trustlist.sign(sequence, issued_at, keys, anchor)
    return current.model_copy(update={"signature": raw, "construction": construction, "jws": None})


# --- builders for the core's life-cycle service tests (R5, R6, R17; appended) --------------------


def duplicate_issued(original_number: str, duplicate_number: str, issued_at: Any, **overrides: Any) -> Any:
    """R5: the NGA's DuplicateCarnetIssued for a lost original."""
    from contracts.messages import DuplicateCarnetIssued

    fields: dict[str, Any] = dict(
        request_id="REQ-DUP-1",
        original_number=original_number,
        duplicate_number=duplicate_number,
        reason="lost",
        issued_at=issued_at,
    )
    fields.update(overrides)
    return DuplicateCarnetIssued(**fields)


def replacement_issued(
    original_number: str, replacement: Any, requested_at: Any, approved_at: Any, **overrides: Any
) -> Any:
    """R6: the NGA's ReplacementCarnetIssued; `replacement` is the new carnet's CarnetIssued."""
    from contracts.messages import ReplacementCarnetIssued

    fields: dict[str, Any] = dict(
        request_id=replacement.request_id,
        original_number=original_number,
        replacement=replacement,
        requested_at=requested_at,
        approved_at=approved_at,
    )
    fields.update(overrides)
    return ReplacementCarnetIssued(**fields)


def items_accounted_for(carnet_number: str, items: list[int], country: str, decided_at: Any, **overrides: Any) -> Any:
    """R17: a duty receipt from customs at CH-GVA-AIR (change `country`/`office_id` together)."""
    from contracts.messages import ItemsAccountedFor

    fields: dict[str, Any] = dict(
        carnet_number=carnet_number,
        items=items,
        country=country,
        reason="destroyed",
        duty_receipt=f"{country}-GVA-2027-004211",
        office_id=f"{country}-GVA-AIR",
        officer_id="ch-officer-0007",
        decided_at=decided_at,
    )
    fields.update(overrides)
    return ItemsAccountedFor(**fields)


def cancellation_posted(
    carnet_number: str, transaction_code: str, cancellation_code: str, posted_at: Any, **overrides: Any
) -> Any:
    """A CancellationPosted as the gateway at FR-CDG-FRET would post it."""
    from uuid import uuid4

    from contracts.messages import CancellationPosted

    fields: dict[str, Any] = dict(
        cancellation_id=uuid4(),
        carnet_number=carnet_number,
        transaction_code=transaction_code,
        cancellation_code=cancellation_code,
        reason="declared on the wrong voucher",
        country="FR",
        office_id="FR-CDG-FRET",
        office_timezone="Europe/Paris",
        officer_id="fr-officer-0001",
        posted_at=posted_at,
    )
    fields.update(overrides)
    return CancellationPosted(**fields)


# --- sealed NGA requests (issue 5: the document travels sealed for the holder's wallet) ----------


def wallet_key(seed: int = 1) -> Any:
    """A holder's or representative's X25519 key, fixed per seed so tests are repeatable."""
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

    return X25519PrivateKey.from_private_bytes(bytes([seed]) * 32)


def plain_carnet(request_id: str = "REQ-1", *, representatives: dict[str, Any] | None = None, **overrides: Any) -> Any:
    """A PlainCarnet as an NGA's issuing system holds it (holder key seed 1, representatives' keys given)."""
    from nga_client import sealing
    from nga_client.carnets import PlainCarnet

    reps = representatives or {}
    carnet = issuance_request(request_id, representative_ids=list(reps), **overrides)
    return PlainCarnet(
        carnet=carnet,
        holder_public_key=sealing.public_key_text(wallet_key(1)),
        representative_keys={rid: sealing.public_key_text(k) for rid, k in reps.items()},
    )


def sealed_request(request_id: str = "REQ-1", **overrides: Any) -> Any:
    """The SealedIssuanceRequested an NGA sends for `plain_carnet(request_id, **overrides)`."""
    from nga_client.carnets import seal_request

    return seal_request(plain_carnet(request_id, **overrides))
