"""Declarations, offices and a carnet on file for the gateway's pure decisions (customs_gateway.domain)."""

from datetime import UTC, date, datetime, timedelta
from uuid import uuid4

from contracts.kinds import DeclarationKind as K
from customs_gateway.domain import CarnetOnFile, Declared, Office

NOW = datetime(2026, 11, 22, 9, 30, tzinfo=UTC)
PARIS = Office("FR-CDG-FRET", "FR", "Europe/Paris")
GENEVA = Office("CH-GVA-AIR", "CH", "Europe/Zurich")
CARNET = CarnetOnFile("FR2600000010", "FR", ("CH", "GB"), date(2027, 11, 21), "ab" * 32, {1: (1, "DE"), 2: (4, "FR")})


def declared(kind=K.EXPORTATION, country="FR", items=(1, 2), digest="ab" * 16, from_token=True) -> Declared:
    return Declared(
        "FR2600000010",
        "7K3M9QX2D4RA8",
        kind,
        country,
        items,
        1,
        date(2027, 11, 21),
        digest if from_token else None,
        uuid4(),
        NOW + timedelta(hours=72),
        from_token,
    )
