"""The example catalog that `make demo` runs: it loads, it matches its data, and it masks every PII column.

The data checks evaluate each quality rule with a few lines of polars (an oracle independent of the
validation engine), so a generator change that would stop the demo's line fails here first.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import polars as pl
import pytest

from contracts.model import (
    Contract,
    EncryptRule,
    GeneralizeRule,
    HashRule,
    PartialRule,
    QualityRule,
    RedactPiiRule,
    RedactRule,
    Severity,
)
from sources.catalog import Catalog, Source, load_catalog
from sources.connectors import read_frame, resolve_files
from sources.passport import CsvConnector

REPO = Path(__file__).resolve().parents[2]
CATALOG = REPO / "examples" / "catalog"

# Column -> (pii kind, masking rule) that the example is meant to demonstrate.
EXPECTED_PII = {
    "customers": {
        "full_name": ("person_name", HashRule),
        "email": ("email", HashRule),
        "phone": ("phone", PartialRule),
        "snils": ("snils", RedactRule),
        "inn": ("inn", RedactRule),
        "passport_number": ("passport_ru", EncryptRule),
        "card_number": ("card", PartialRule),
        "birth_date": ("birth_date", GeneralizeRule),
        "comment": ("free_text", RedactPiiRule),
    },
    "support_tickets": {"subject": ("free_text", RedactPiiRule), "body": ("free_text", RedactPiiRule)},
    "stores": {"manager_email": ("email", HashRule)},
}


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog(CATALOG)


@pytest.fixture(scope="module")
def frames(catalog: Catalog) -> dict[str, pl.DataFrame]:
    return {
        s.name: read_frame(s.passport.connector, resolve_files(s.passport.connector, CATALOG))
        for s in catalog.sources
    }


def test_catalog_loads_three_sources(catalog: Catalog) -> None:
    assert [s.name for s in catalog.sources] == ["customers", "stores", "support_tickets"]
    assert {s.contract.id for s in catalog.sources} == {"customers", "stores", "support_tickets"}
    for source in catalog.sources:
        assert source.contract.version == "1.0.0"
        assert source.contract.status == "active"
        assert source.contract.api_version == "v3.1.0"


@pytest.mark.skipif(
    importlib.util.find_spec("contracts.expectations") is None,
    reason="contracts.expectations not written yet",
)
def test_catalog_passes_the_engine_checks() -> None:
    from contracts.expectations import check_contract

    load_catalog(CATALOG, check=check_contract)


def test_every_yaml_file_points_editors_at_its_schema() -> None:
    for folder, schema in (("sources", "passport"), ("contracts", "contract")):
        files = sorted((CATALOG / folder).glob("*.yaml"))
        assert len(files) == 3
        for path in files:
            first = path.read_text(encoding="utf-8").splitlines()[0]
            assert first == f"# yaml-language-server: $schema=../../../schemas/{schema}.schema.json", path
            target = (path.parent / first.split("$schema=")[1]).resolve()
            assert target == REPO / "schemas" / f"{schema}.schema.json"


def test_passports_show_the_range_of_options(catalog: Catalog) -> None:
    passports = {s.name: s.passport for s in catalog.sources}
    assert passports["customers"].update_frequency == "daily"
    assert passports["support_tickets"].update_frequency == "15 */6 * * *"
    assert passports["stores"].update_frequency == "weekly"
    for passport in passports.values():
        assert passport.owner.endswith("@example.com") and passport.steward.endswith("@example.com")
        assert passport.contract == f"contracts/{passport.name}.yaml"
    stores = passports["stores"].connector
    assert isinstance(stores, CsvConnector)
    assert (stores.delimiter, stores.encoding) == (";", "cp1251")


def test_contract_columns_are_exactly_the_data_columns(
    catalog: Catalog, frames: dict[str, pl.DataFrame]
) -> None:
    for source in catalog.sources:
        declared = [p.name for p in source.contract.columns]
        assert declared == frames[source.name].columns, source.name


def test_pii_columns_declare_kind_and_masking(catalog: Catalog) -> None:
    for source in catalog.sources:
        pii = {p.name: p for p in source.contract.columns if p.pii is not None}
        assert set(pii) == set(EXPECTED_PII[source.name]), source.name
        for name, (kind, rule) in EXPECTED_PII[source.name].items():
            assert pii[name].pii == kind, name
            assert isinstance(pii[name].masking, rule), name
    customers = next(s.contract for s in catalog.sources if s.name == "customers")
    assert _keep_last(customers, "phone") == 2
    assert _keep_last(customers, "card_number") == 4


def test_business_keys_are_kept(catalog: Catalog) -> None:
    for source in catalog.sources:
        for prop in source.contract.columns:
            if prop.name.endswith("_id"):
                assert prop.pii is None and prop.masking is None, f"{source.name}.{prop.name}"


def test_each_contract_has_six_to_ten_rules_that_great_expectations_accepts(catalog: Catalog) -> None:
    from great_expectations.expectations.registry import get_expectation_impl

    for source in catalog.sources:
        assert 6 <= len(source.contract.quality) <= 10, source.name
        for rule in source.contract.quality:
            get_expectation_impl(rule.expectation)(**rule.kwargs)  # raises on unknown or bad arguments


def test_required_and_unique_columns_hold(catalog: Catalog, frames: dict[str, pl.DataFrame]) -> None:
    for source in catalog.sources:
        frame = frames[source.name]
        for prop in source.contract.columns:
            if prop.required:
                assert frame[prop.name].null_count() == 0, f"{source.name}.{prop.name}"
            if prop.unique:
                assert frame[prop.name].is_unique().all(), f"{source.name}.{prop.name}"


def test_only_the_email_warning_fails_on_the_example_data(
    catalog: Catalog, frames: dict[str, pl.DataFrame]
) -> None:
    failed = _failed_rules(catalog, frames)
    assert failed == {("customers", "expect_column_values_to_match_regex:email", Severity.WARN)}


def _failed_rules(catalog: Catalog, frames: dict[str, pl.DataFrame]) -> set[tuple[str, str, Severity]]:
    return {
        (source.name, rule.rule_id, rule.severity)
        for source in catalog.sources
        for rule in source.contract.quality
        if not _holds(rule, frames[source.name], source)
    }


def _holds(rule: QualityRule, frame: pl.DataFrame, source: Source) -> bool:
    """A minimal oracle for the expectations the example uses (nulls are skipped, as GX does)."""
    kw = rule.kwargs
    if rule.expectation == "expect_table_row_count_to_be_between":
        return kw["min_value"] <= frame.height <= kw["max_value"]
    values = frame[kw["column"]]
    present = values.drop_nulls()
    match rule.expectation:
        case "expect_column_values_to_not_be_null":
            return values.null_count() == 0
        case "expect_column_values_to_be_unique":
            return present.is_unique().all()
        case "expect_column_values_to_be_in_set":
            return present.is_in(kw["value_set"]).all()
        case "expect_column_values_to_match_regex":
            return present.cast(pl.String).str.contains(kw["regex"]).all()
        case "expect_column_value_lengths_to_equal":
            return (present.cast(pl.String).str.len_chars() == kw["value"]).all()
        case "expect_column_values_to_be_between":
            numbers = present.cast(pl.Float64)
            low, high = kw.get("min_value"), kw.get("max_value")
            return bool((low is None or (numbers >= low).all()) and (high is None or (numbers <= high).all()))
    pytest.fail(f"{source.name}: no oracle for {rule.expectation}; add one here")


def _keep_last(contract: Contract, column: str) -> int:
    masking = contract.column(column).masking
    assert isinstance(masking, PartialRule)
    return masking.keep_last
