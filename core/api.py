"""Holder-facing HTTP: own and shared carnets, declarations, their QR images and transaction codes,
the history, and sharing a carnet with a representative.

Every route needs a wallet bearer token (tokens/wallet_auth.py). A party sees a carnet only as its holder
or as a representative it is shared with; an unknown carnet and someone else's carnet answer the
same 404, so the API does not tell strangers which carnet numbers exist. Only the holder shares
and revokes; a representative acts only while the carnet is shared with it.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, HTTPException, Path, Response
from prometheus_client import CollectorRegistry
from pydantic import BaseModel, Field

from contracts.bounds import LINE
from contracts.kinds import DeclarationKind
from contracts.messages import CARNET_NUMBER, Reason
from contracts.txcode import format_transaction_code
from core import declaration_qr
from core.holder_metrics import HolderMetrics
from core.holder_models import (
    CarnetOut,
    CarnetSummary,
    DeclarationOut,
    DeclarationRequest,
    ItemOut,
    SealedDocumentOut,
    ShareRequest,
    SharesOut,
    TransactionCodeOut,
)
from core.usecases import declarations, sharing, views
from core.usecases.context import Ledger
from runtime.http_limits import LimitedRoute
from tokens.wallet_auth import REASONS, CurrentParty, WalletVerifier

CarnetNumber = Annotated[str, Path(pattern=CARNET_NUMBER, description="Carnet number", examples=["FR2600000017"])]
# Any id the carnet lists can be revoked, including one an NGA spelled outside holder_models.PARTY_ID at issuance;
# no control character, though: NUL cannot even be looked up (PostgreSQL refuses it).
PartyId = Annotated[
    str,
    Path(
        min_length=1, max_length=64, pattern=LINE, description="Wallet id of a representative.", examples=["rep_19be"]
    ),
]


class Refusal(BaseModel):
    reasons: list[Reason]


class AuthRefusal(Refusal):
    reason: Literal[REASONS] = Field(description="Why the bearer token was refused.")  # type: ignore[valid-type]


class NotAuthenticated(BaseModel):
    detail: AuthRefusal


def _grouped(code: str | None) -> str | None:
    return format_transaction_code(code) if code else None


def _refusal(status: int, rule: str, message: str, field: str | None = None) -> HTTPException:
    return HTTPException(status, detail={"reasons": [Reason(rule=rule, field=field, message=message).model_dump()]})


def _unknown_carnet(number: str) -> HTTPException:
    # The same answer for "no such carnet" and "not yours" (R1: the carnet as the caller knows it).
    return _refusal(404, "R1", f"unknown carnet {number}")


def _unknown_declaration() -> HTTPException:
    return _refusal(404, "R9", "unknown declaration")


def holder_router(ledger: Ledger, pool_of: Any, *, verifier: WalletVerifier, registry: CollectorRegistry) -> APIRouter:
    metrics = HolderMetrics(registry)
    current_party = CurrentParty(verifier, on_failure=lambda reason: metrics.auth_failures(reason).inc())
    party_dep = Depends(current_party)  # (a local Annotated alias would not resolve: annotations are strings here)
    router = APIRouter(
        prefix="/v1",
        tags=["holder"],
        route_class=LimitedRoute,
        responses={401: {"model": NotAuthenticated, "description": "No valid wallet bearer token."}},
    )
    not_found: dict[int | str, dict[str, Any]] = {
        404: {"model": Refusal, "description": "Unknown, or not the caller's."}
    }

    def out(row: Any) -> DeclarationOut:
        did = row["declaration_id"]
        return DeclarationOut(
            declaration_id=did,
            carnet_number=row["carnet_number"],
            kind=row["kind"],
            country=row["country"],
            items=list(row["items"]),
            sequence=row["sequence"],
            status=row["status"],
            declared_by=row["declared_by"],
            transaction_code=format_transaction_code(row["transaction_code"]),
            token=row["token"],
            token_expires_at=row["token_expires_at"],
            qr_png_url=f"/v1/declarations/{did}/qr.png",
            cancellation_code=_grouped(row.get("cancellation_code")),
            qr_svg_url=f"/v1/declarations/{did}/qr.svg",
            transaction_code_url=f"/v1/declarations/{did}/transaction-code",
        )

    async def visible_declaration(declaration_id: UUID, party: str, route: str) -> Any:
        async with pool_of().acquire() as conn:
            row = await views.declaration(conn, declaration_id, party)
        if row is None:
            metrics.not_found(route).inc()
            raise _unknown_declaration()
        return row

    @router.get(
        "/carnets", response_model=list[CarnetSummary], summary="The caller's carnets: held and shared with them"
    )
    async def list_carnets(party: str = party_dep) -> list[CarnetSummary]:
        async with pool_of().acquire() as conn:
            rows = await views.carnets(conn, party)
        return [
            CarnetSummary(
                carnet_number=r["carnet_number"],
                home_country=r["home_country"],
                countries=list(r["countries"]),
                expiry_date=r["expiry_date"],
                active=r["active"],
                role=r["role"],
            )
            for r in rows
        ]

    @router.get(
        "/carnets/{carnet_number}",
        response_model=CarnetOut,
        responses=not_found,
        summary="A carnet with where each item is",
    )
    async def get_carnet(carnet_number: CarnetNumber, party: str = party_dep) -> CarnetOut:
        async with pool_of().acquire() as conn:
            found = await views.carnet(conn, carnet_number, party)
        if found is None:
            metrics.not_found("carnet").inc()
            raise _unknown_carnet(carnet_number)
        c, items = found
        return CarnetOut(
            carnet_number=c["carnet_number"],
            home_country=c["home_country"],
            countries=list(c["countries"]),
            expiry_date=c["expiry_date"],
            active=c["active"],
            role=c["role"],
            representative_ids=list(c["representative_ids"]) if c["role"] == "holder" else None,
            items=[
                ItemOut(
                    item_number=i["item_number"],
                    location=i["location"],
                    country=i["country"],
                    final_date=i["final_date"],
                )
                for i in items
            ],
        )

    @router.post(
        "/carnets/{carnet_number}/declarations",
        status_code=201,
        response_model=DeclarationOut,
        responses={**not_found, 422: {"model": Refusal, "description": "Refused by a rule (reasons name it)."}},
        summary="Declare a crossing: the listed items become a signed QR token",
    )
    async def declare(carnet_number: CarnetNumber, body: DeclarationRequest, party: str = party_dep) -> DeclarationOut:
        if body.kind is DeclarationKind.IMPORTATION and body.intended_use is None:
            raise _refusal(422, "R9", "an importation states the intended use of the goods", field="intended_use")
        async with pool_of().acquire() as conn:
            try:
                created = await declarations.declare(
                    ledger,
                    conn,
                    carnet_number,
                    body.kind,
                    body.country,
                    body.items,
                    party,
                    intended_use=body.intended_use,
                    closes=body.closes,
                )
            except declarations.DeclarationRefusedError as exc:
                if exc.status in (403, 404):
                    # Unknown, or not the caller's (never shared, or the share was revoked): the same answer.
                    metrics.not_found("declare").inc()
                    raise _unknown_carnet(carnet_number) from exc
                raise HTTPException(exc.status, detail={"reasons": [r.model_dump() for r in exc.reasons]}) from exc
        fields = (
            "declaration_id",
            "carnet_number",
            "kind",
            "country",
            "items",
            "sequence",
            "transaction_code",
            "token",
            "token_expires_at",
        )
        return out({**{f: getattr(created, f) for f in fields}, "status": "pending", "declared_by": party})

    @router.get(
        "/declarations/{declaration_id}",
        response_model=DeclarationOut,
        responses=not_found,
        summary="A declaration with its token",
    )
    async def get_declaration(declaration_id: UUID, party: str = party_dep) -> DeclarationOut:
        return out(await visible_declaration(declaration_id, party, "declaration"))

    @router.get(
        "/declarations/{declaration_id}/qr.png",
        response_class=Response,
        summary="The token as a QR code (PNG)",
        responses={200: {"content": {"image/png": {}}, "description": "The QR image."}, **not_found},
    )
    async def qr_png_image(declaration_id: UUID, party: str = party_dep) -> Response:
        row = await visible_declaration(declaration_id, party, "qr.png")
        return Response(
            declaration_qr.png(row["token"]), media_type="image/png", headers={"Cache-Control": "private, max-age=300"}
        )

    @router.get(
        "/declarations/{declaration_id}/qr.svg",
        response_class=Response,
        summary="The token as a QR code (SVG)",
        responses={200: {"content": {"image/svg+xml": {}}, "description": "The QR image."}, **not_found},
    )
    async def qr_svg_image(declaration_id: UUID, party: str = party_dep) -> Response:
        row = await visible_declaration(declaration_id, party, "qr.svg")
        return Response(
            declaration_qr.svg(row["token"]),
            media_type="image/svg+xml",
            headers={"Cache-Control": "private, max-age=300", "X-Content-Type-Options": "nosniff"},
        )

    @router.get(
        "/declarations/{declaration_id}/transaction-code",
        response_model=TransactionCodeOut,
        responses=not_found,
        summary="The typed fallback for the QR: the transaction code an officer keys in",
    )
    async def transaction_code(declaration_id: UUID, party: str = party_dep) -> TransactionCodeOut:
        row = await visible_declaration(declaration_id, party, "transaction-code")
        return TransactionCodeOut(
            transaction_code=format_transaction_code(row["transaction_code"]), canonical=row["transaction_code"]
        )

    @router.get(
        "/carnets/{carnet_number}/transactions",
        responses=not_found,
        summary="The carnet's history: every customs decision recorded",
    )
    async def history(carnet_number: CarnetNumber, party: str = party_dep) -> list[dict[str, Any]]:
        async with pool_of().acquire() as conn:
            rows = await views.transactions(conn, carnet_number, party)
        if rows is None:
            metrics.not_found("transactions").inc()
            raise _unknown_carnet(carnet_number)
        return [
            {
                **{k: (str(v) if isinstance(v, UUID) else v) for k, v in dict(r).items()},
                "reasons": json.loads(r["reasons"]),
                "cancellation_code": _grouped(r["cancellation_code"]) if r["cancelled_at"] is None else None,
            }
            for r in rows
        ]

    def shares_refused(outcome: str, carnet_number: str, route: str) -> None:
        if outcome == "unknown":
            metrics.not_found(route).inc()
            raise _unknown_carnet(carnet_number)
        if outcome == "forbidden":
            raise _refusal(403, "R1", "only the holder may share the carnet or revoke a share")

    holder_only = {403: {"model": Refusal, "description": "The caller is a representative: only the holder shares."}}

    @router.post(
        "/carnets/{carnet_number}/shares",
        response_model=SharesOut,
        status_code=201,
        responses={
            200: {"model": SharesOut, "description": "Already shared with them: nothing changed."},
            **not_found,
            **holder_only,
        },
        summary="Share the carnet with a representative (holder only)",
    )
    async def share(
        carnet_number: CarnetNumber, body: ShareRequest, response: Response, party: str = party_dep
    ) -> SharesOut:
        if body.representative_id == party:
            raise _refusal(422, "R1", "the holder cannot be their own representative", field="representative_id")
        async with pool_of().acquire() as conn:
            result = await sharing.share(conn, carnet_number, party, body.representative_id, body.sealed_key)
        metrics.shares("share", result.outcome).inc()
        shares_refused(result.outcome, carnet_number, "shares")
        if result.outcome == "already":
            response.status_code = 200
        return SharesOut(carnet_number=carnet_number, representative_ids=list(result.representative_ids))

    @router.get(
        "/carnets/{carnet_number}/document",
        response_model=SealedDocumentOut,
        responses=not_found,
        summary="The carnet document, sealed for the caller's wallet (the plain document never reaches us)",
    )
    async def sealed_document(carnet_number: CarnetNumber, party: str = party_dep) -> SealedDocumentOut:
        async with pool_of().acquire() as conn:
            found = await views.sealed_document(conn, carnet_number, party)
        if found is None:
            metrics.not_found("document").inc()
            raise _unknown_carnet(carnet_number)
        row, document = found
        if document is None:
            metrics.not_found("document").inc()
            raise _refusal(404, "R1", f"carnet {carnet_number} has no document sealed for {party}")
        return SealedDocumentOut(
            carnet_number=row["carnet_number"],
            nga=row["nga"],
            request_id=row["request_id"],
            general_list_digest=row["general_list_digest"],
            document=document,
        )

    @router.delete(
        "/carnets/{carnet_number}/shares/{representative_id}",
        status_code=204,
        response_class=Response,
        responses={
            404: {"model": Refusal, "description": "Unknown carnet, not the caller's, or not shared."},
            **holder_only,
        },
        summary="Stop sharing the carnet with a representative (holder only)",
    )
    async def revoke(carnet_number: CarnetNumber, representative_id: PartyId, party: str = party_dep) -> Response:
        async with pool_of().acquire() as conn:
            result = await sharing.revoke(conn, carnet_number, party, representative_id)
        metrics.shares("revoke", result.outcome).inc()
        shares_refused(result.outcome, carnet_number, "shares")
        if result.outcome == "not_shared":
            raise _refusal(
                404, "R1", f"carnet {carnet_number} is not shared with {representative_id}", field="representative_id"
            )
        return Response(status_code=204)

    return router
