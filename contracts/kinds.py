"""Enumerations shared by every message: declaration kinds and item locations."""

from enum import StrEnum


class DeclarationKind(StrEnum):
    """The six kinds of border crossing (DOMAIN.md, "Declarations"); the paper colour in the comment."""

    EXPORTATION = "exportation"  # yellow: leaving the issuing country
    REIMPORTATION = "reimportation"  # yellow: coming back home
    IMPORTATION = "importation"  # white: entering a foreign country
    REEXPORTATION = "reexportation"  # white: leaving a foreign country
    TRANSIT_ENTRY = "transit_entry"  # blue: entering a transit country
    TRANSIT_DISCHARGE = "transit_discharge"  # blue: leaving the transit country

    @property
    def code(self) -> int:
        """Compact integer used inside QR tokens, where every byte costs QR modules."""
        return _KIND_CODES[self]

    @classmethod
    def from_code(cls, code: int) -> "DeclarationKind":
        for kind, value in _KIND_CODES.items():
            if value == code:
                return kind
        raise ValueError(f"unknown declaration kind code {code!r}")


_KIND_CODES = {
    DeclarationKind.EXPORTATION: 1,
    DeclarationKind.REIMPORTATION: 2,
    DeclarationKind.IMPORTATION: 3,
    DeclarationKind.REEXPORTATION: 4,
    DeclarationKind.TRANSIT_ENTRY: 5,
    DeclarationKind.TRANSIT_DISCHARGE: 6,
}
