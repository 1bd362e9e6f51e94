"""An officer's session (R18): who is logged in, the offices of their country, and acting for one of them."""

from __future__ import annotations

from typing import Any

import asyncpg

from customs_gateway import officer_repository as officer_repo, repository as repo
from customs_gateway.domain import Office
from customs_gateway.officers import SessionOfficer
from customs_gateway.usecases.context import Gateway


async def current(gw: Gateway, conn: asyncpg.Connection, who: SessionOfficer) -> dict[str, Any]:
    """The officer, their home office and acting office, and the offices of their country they may act for."""
    home = await officer_repo.session_officer(conn, who.token_hash, gw.clock())
    offices = await officer_repo.offices(conn, who.office.country)
    return {
        "officer_id": who.officer_id,
        "country": who.office.country,
        "home_office_id": home[1].office_id if home else who.office.office_id,
        "acting_office_id": who.office.office_id,
        "offices": [dict(o) for o in offices],
    }


async def office_to_act_for(
    gw: Gateway, conn: asyncpg.Connection, who: SessionOfficer, office_id: str
) -> Office | None:
    """R18: another office of the officer's own administration, never another country's: None (audited)."""
    office = await officer_repo.office(conn, office_id)
    if office is None or office.country != who.office.country:
        await repo.audit(
            conn,
            gw.clock(),
            "act_for_office",
            "refused",
            officer_id=who.officer_id,
            office_id=office_id,
            detail={"home_office_id": who.office.office_id},
        )
        return None
    return office
