"""Names the deployment files must agree on: a service's DNS name and every environment variable Settings reads."""

from __future__ import annotations

from runtime.settings import Settings


def dns_name(service: str) -> str:
    return service.replace("_", "-")


def settings_env_names() -> set[str]:
    names = set()
    for name, field in Settings.model_fields.items():
        alias = field.validation_alias
        names |= set(alias.choices) if alias is not None else set()
        names.add(Settings.model_config["env_prefix"] + name.upper())
    return names
