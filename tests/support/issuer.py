"""The issuer's HTTP API as its service tests drive it: NGA API keys in a registry of their own, and a client."""

from __future__ import annotations

import json

import httpx
import pytest

from issuer.registry import key_hash

FR_KEY, BE_KEY = "ata_test-fr-key-0123456789", "ata_test-be-key-0123456789"


@pytest.fixture
def http_settings(settings, tmp_path):
    from issuer.registry import DEFAULT_FILE

    doc = json.loads(DEFAULT_FILE.read_text())
    keys = {"FR": FR_KEY, "BE": BE_KEY}
    for entry in doc["ngas"]:
        if entry["nga"] in keys:
            entry["api_key_sha256"] = [key_hash(keys[entry["nga"]])]
    path = tmp_path / "registry.json"
    path.write_text(json.dumps(doc))
    return settings.model_copy(update={"nga_registry_path": path})


def client(service, key: str | None = FR_KEY) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=service.http), base_url="http://issuer", headers=headers)
