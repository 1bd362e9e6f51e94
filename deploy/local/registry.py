"""The embedded stack's NGA registry: the bundled seed plus one fresh HTTP API key per NGA.

The keys live only in memory (`LocalStack.nga_api_keys`) and in the `ata`-style tools that the
demo runs; the written file holds their SHA-256 only, as a real registry would.
"""

from __future__ import annotations

import json
from pathlib import Path

from issuer.api import new_api_key
from issuer.registry import DEFAULT_FILE, key_hash


def write_registry(data_dir: Path) -> tuple[Path, dict[str, str]]:
    doc = json.loads(DEFAULT_FILE.read_text(encoding="utf-8"))
    keys = {entry["nga"]: new_api_key() for entry in doc["ngas"]}
    for entry in doc["ngas"]:
        entry["api_key_sha256"] = [key_hash(keys[entry["nga"]])]
    path = data_dir / "issuer" / "registry.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2), encoding="utf-8")
    return path, keys
