"""Country policy as data (R15): what each country allows, in one versioned document. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

DEFAULT_COUNTRY = "ZZ"


@dataclass(frozen=True)
class CountryPolicy:
    country: str
    split_shipments: bool = True  # R14
    max_stay_days: int | None = None  # R15: shorter than the validity, where a country sets one
    replacement_accepted: bool = False  # R6
    digital_date: date | None = None  # R16
    #: R16: before the digital date (or with none), whether the country takes digital declarations.
    before_digital_date: str = "accept"
    note: str | None = None


@dataclass(frozen=True)
class PolicyBook:
    """One version of the policy document; every refusal it causes names `version`."""

    version: str
    default: CountryPolicy = CountryPolicy(DEFAULT_COUNTRY)
    countries: Mapping[str, CountryPolicy] = field(default_factory=dict)

    def for_country(self, country: str) -> CountryPolicy:
        found = self.countries.get(country)
        return found if found is not None else CountryPolicy(country, **_fields(self.default))

    def label(self, country: str) -> str:
        """How refusals name the policy: `country-policy <version> <country>`."""
        listed = country if country in self.countries else f"{country} (default)"
        return f"country-policy {self.version} {listed}"


def _fields(p: CountryPolicy) -> dict[str, Any]:
    return {
        "split_shipments": p.split_shipments,
        "max_stay_days": p.max_stay_days,
        "replacement_accepted": p.replacement_accepted,
        "digital_date": p.digital_date,
        "before_digital_date": p.before_digital_date,
        "note": p.note,
    }


def parse_policy_book(document: Mapping[str, Any]) -> PolicyBook:
    """Build a PolicyBook from the JSON document (file or CountryPolicyUpdated payload)."""

    def entry(raw: Mapping[str, Any]) -> CountryPolicy:
        digital = raw.get("digital_date")
        return CountryPolicy(
            country=raw["country"],
            split_shipments=bool(raw.get("split_shipments", True)),
            max_stay_days=raw.get("max_stay_days"),
            replacement_accepted=bool(raw.get("replacement_accepted", False)),
            digital_date=date.fromisoformat(digital) if isinstance(digital, str) else digital,
            before_digital_date=_before_digital(raw.get("before_digital_date", "accept")),
            note=raw.get("note"),
        )

    countries = {c["country"]: entry(c) for c in document.get("countries", [])}
    if len(countries) != len(document.get("countries", [])):
        raise ValueError("a country is listed twice in the policy document")
    default = entry({**document.get("default", {}), "country": DEFAULT_COUNTRY})
    return PolicyBook(version=str(document["version"]), default=default, countries=countries)


BEFORE_DIGITAL = ("accept", "refuse")


def _before_digital(value: object) -> str:
    """R16: a country's handling of digital declarations before its digital date."""
    if value not in BEFORE_DIGITAL:
        raise ValueError(f"before_digital_date must be one of {BEFORE_DIGITAL}, got {value!r}")
    return str(value)
