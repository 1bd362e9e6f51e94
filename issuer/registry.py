"""Which NGA guarantees for which country and which issuing associations issue under it (R1).

Pure: the registry is data (a JSON seed file read at start, `ATA_NGA_REGISTRY_PATH`); an NGA is
named by its country (one NGA per country). HTTP API keys are stored as SHA-256 hashes only.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from contracts.messages import COUNTRY, Reason

DEFAULT_FILE = Path(__file__).parent / "registry.json"
Status = Literal["active", "suspended"]


class AssociationEntry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    id: str = Field(min_length=1, max_length=50)
    name: str = Field(min_length=1, max_length=200)
    status: Status = "active"


class NgaEntry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    nga: str = Field(pattern=COUNTRY, description="Country the NGA guarantees for; also its id.")
    name: str = Field(min_length=1, max_length=200)
    status: Status = "active"
    api_key_sha256: list[str] = Field(default_factory=list, description="Hex SHA-256 of each HTTP API key of the NGA.")
    issuing_associations: list[AssociationEntry] = Field(default_factory=list)


class RegistryFile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    version: str = Field(min_length=1, max_length=50)
    ngas: list[NgaEntry]


def key_hash(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()


def _reason(code: str, field: str, message: str) -> Reason:
    return Reason(rule="R1", code=code, field=field, message=message)


@dataclass(frozen=True)
class Registry:
    version: str
    ngas: dict[str, NgaEntry]
    #: association id -> (NGA country, entry)
    associations: dict[str, tuple[str, AssociationEntry]]
    keys: dict[str, str]

    @classmethod
    def parse(cls, text: str) -> Registry:
        doc = RegistryFile.model_validate_json(text)
        ngas = {n.nga: n for n in doc.ngas}
        if len(ngas) != len(doc.ngas):
            raise ValueError("an NGA is listed twice in the registry")
        assoc = {a.id: (n.nga, a) for n in doc.ngas for a in n.issuing_associations}
        if len(assoc) != sum(len(n.issuing_associations) for n in doc.ngas):
            raise ValueError("an issuing association is listed twice in the registry")
        keys = {h.lower(): n.nga for n in doc.ngas for h in n.api_key_sha256}
        return cls(doc.version, ngas, assoc, keys)

    @classmethod
    def load(cls, path: Path | None) -> Registry:
        return cls.parse((path or DEFAULT_FILE).read_text(encoding="utf-8"))

    def nga_for_key(self, api_key: str) -> str | None:
        return self.keys.get(key_hash(api_key))

    def check(self, nga: str, association: str) -> list[Reason]:
        """R1: the NGA is known and active, and the IA is known, active and issues under it."""
        entry = self.ngas.get(nga)
        if entry is None:
            return [_reason("unknown_nga", "nga", f"no guaranteeing association is registered for {nga}")]
        if entry.status != "active":
            return [_reason("nga_suspended", "nga", f"the NGA of {nga} is suspended")]
        found = self.associations.get(association)
        if found is None or found[0] != nga:
            where = f" (it issues under {found[0]})" if found else ""
            return [
                _reason(
                    "unknown_issuing_association",
                    "issuing_association",
                    f"{association} is not an issuing association of the NGA of {nga}{where}",
                )
            ]
        if found[1].status != "active":
            return [_reason("issuing_association_suspended", "issuing_association", f"{association} is suspended")]
        return []
