"""The shipped country policy document (R14, R15, R16, R6), parsed by the pure domain."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from core.domain.policy import DEFAULT_COUNTRY, parse_policy_book
from core.policy_store import (
    POLICY_FILE,
    PolicyStore,
    read_policy_book,
    read_policy_file,
)

SPLIT_FORBIDDEN = ("MX", "BH", "QA", "AE")  # seed 002
VALIDITY_EXCEPTIONS = ("KR", "MY", "MX", "SG", "CN")  # seed 002, without figures


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return json.loads(POLICY_FILE.read_text(encoding="utf-8"))


def test_the_shipped_file_matches_the_contract_and_is_versioned(document: dict[str, Any]) -> None:
    read_policy_file(POLICY_FILE)  # CountryPolicyUpdated minus published_by; raises if not
    assert document["version"] == "2026-12-02.1"
    assert parse_policy_book(document).version == "2026-12-02.1"


@pytest.mark.parametrize("country", SPLIT_FORBIDDEN)
def test_r14_split_shipments_are_forbidden_where_the_seeds_say(document: dict[str, Any], country: str) -> None:
    policy = parse_policy_book(document).for_country(country)
    assert policy.split_shipments is False
    assert policy.note and "split" in policy.note


def test_r14_only_the_seeded_countries_forbid_split_shipments(document: dict[str, Any]) -> None:
    book = parse_policy_book(document)
    assert {c for c, p in book.countries.items() if not p.split_shipments} == set(SPLIT_FORBIDDEN)


def test_an_unlisted_country_gets_the_default(document: dict[str, Any]) -> None:
    book = parse_policy_book(document)
    assert "JP" not in book.countries
    jp = book.for_country("JP")
    assert jp.country == "JP"
    assert (jp.split_shipments, jp.max_stay_days, jp.replacement_accepted, jp.digital_date) == (True, None, False, None)
    assert book.default.country == DEFAULT_COUNTRY


def test_the_label_names_version_and_country(document: dict[str, Any]) -> None:
    book = parse_policy_book(document)
    assert book.label("MX") == "country-policy 2026-12-02.1 MX"
    assert book.label("JP") == "country-policy 2026-12-02.1 JP (default)"


@pytest.mark.parametrize("country", VALIDITY_EXCEPTIONS)
def test_r15_validity_exceptions_are_listed_without_invented_figures(document: dict[str, Any], country: str) -> None:
    book = parse_policy_book(document)
    assert country in book.countries
    policy = book.for_country(country)
    assert policy.max_stay_days is None
    assert policy.note and "without a figure" in policy.note


@pytest.mark.parametrize("country", ("CH", "GB"))
def test_the_demo_countries_allow_split_shipments(document: dict[str, Any], country: str) -> None:
    assert parse_policy_book(document).for_country(country).split_shipments is True


def test_r6_replacement_acceptance_is_an_explicit_labelled_assumption(document: dict[str, Any]) -> None:
    book = parse_policy_book(document)
    accepting = {c for c, p in book.countries.items() if p.replacement_accepted}
    assert accepting == {"CH", "DE", "FR", "GB"}
    assert all("ASSUMPTION" in (book.countries[c].note or "") for c in accepting)
    assert book.default.replacement_accepted is False


def test_r16_no_digital_date_is_known_from_the_seeds(document: dict[str, Any]) -> None:
    book = parse_policy_book(document)
    assert book.default.digital_date is None
    assert all(p.digital_date is None for p in book.countries.values())


def test_r16_a_digital_date_is_parsed_as_a_date() -> None:
    book = parse_policy_book({"version": "t1", "countries": [{"country": "CH", "digital_date": "2027-01-01"}]})
    assert book.for_country("CH").digital_date == date(2027, 1, 1)
    assert book.for_country("JP").digital_date is None


def test_a_country_listed_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="twice"):
        parse_policy_book(
            {
                "version": "t1",
                "countries": [{"country": "MX", "split_shipments": False}, {"country": "MX", "split_shipments": True}],
            }
        )


def test_a_broken_file_is_refused_by_the_contract(tmp_path: Path) -> None:
    bad = tmp_path / "policy.json"
    entry = {"split_shipments": True, "replacement_accepted": False}
    good = {"version": "t1", "default": {"country": "ZZ", **entry}, "countries": [{"country": "MX", **entry}]}
    bad.write_text(json.dumps(good))
    read_policy_file(bad)
    good["countries"][0]["digital_date"] = "2027-13-01"
    bad.write_text(json.dumps(good))
    with pytest.raises(ValueError, match="digital_date"):
        read_policy_file(bad)


def test_a_store_serves_its_initial_book_until_it_is_loaded() -> None:
    registry = CollectorRegistry()
    store = PolicyStore(registry, initial=read_policy_book(POLICY_FILE))
    assert store.book.version == "2026-12-02.1" and not store.loaded
    assert registry.get_sample_value("ata_country_policy_version_info", {"version": "2026-12-02.1"}) == 1
    with pytest.raises(RuntimeError, match="not loaded"):
        _ = PolicyStore(CollectorRegistry()).book
