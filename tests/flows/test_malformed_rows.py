"""CSV shape through the real ingest flow: ragged records and header-only files never pass silently.

A record with too few or too many fields stops the source naming its file and line, unless the contract
says ``malformed_rows: quarantine``; a file with a header and no rows says so, and the contract's
row-count rule still judges it. One test runs the same through ``lockgate run``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from testkit.catalog_fixtures import read_customers
from testkit.prefect_reads import latest_artifact
from typer.testing import CliRunner

from cli.app import app
from flows.errors import RunFailed
from flows.pipeline import ingest
from flows.results import SourceResult, SourceStatus
from storage import layout
from storage.curated import current_version, list_versions
from storage.quarantine import read_quarantine
from storage.store import open_store
from storage.warehouse import query

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.usefixtures("prefect_api")


def customers_lines(catalog: Path) -> list[str]:
    return (catalog / "data" / "customers.csv").read_text(encoding="utf-8").splitlines()


def write_customers_lines(catalog: Path, lines: list[str]) -> None:
    (catalog / "data" / "customers.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")


def cut(line: str, fields: int) -> str:
    """A record with only its first `fields` fields (the example's ids and names hold no comma)."""
    return ",".join(line.split(",")[:fields])


def edit_contract(catalog: Path, old: str, new: str) -> None:
    contract = catalog / "contracts" / "customers.yaml"
    text = contract.read_text(encoding="utf-8")
    assert old in text
    contract.write_text(text.replace(old, new, 1), encoding="utf-8")


def stopped_customers(catalog: Path, lake: Path) -> SourceResult:
    with pytest.raises(RunFailed) as info:
        ingest(catalog=str(catalog), lake=str(lake), sources=["customers"])
    [customers] = info.value.run.sources
    assert customers.status is SourceStatus.STOPPED
    return customers


def test_short_and_long_records_stop_the_source_naming_file_and_line(
    catalog: Path, tmp_path: Path, hash_key: bytes
) -> None:
    lake = tmp_path / "lake"
    ingest(catalog=str(catalog), lake=str(lake), sources=["customers"])
    store = open_store(str(lake))
    before = current_version(store, "customers")

    lines = customers_lines(catalog)
    width = len(lines[0].split(","))
    name = lines[3].split(",")[1]
    lines[3] = cut(lines[3], 2)  # file line 4: "2,pear" under the header
    lines[9] = lines[9] + ",extra"  # file line 10: one field too many
    write_customers_lines(catalog, lines)
    customers = stopped_customers(catalog, lake)

    assert customers.schema_issues == [
        f"customers.csv:4: record has 2 fields, the first record has {width}",
        f"customers.csv:10: record has {width + 1} fields, the first record has {width}",
    ]
    assert name not in str(customers.model_dump())  # where, never what
    assert current_version(store, "customers") == before
    assert [v.version for v in list_versions(store, "customers")] == [0]


def test_quarantine_setting_sets_malformed_records_aside_and_publishes_the_rest(
    catalog: Path, tmp_path: Path, hash_key: bytes
) -> None:
    edit_contract(catalog, "    quality:\n", "    malformed_rows: quarantine\n    quality:\n")
    lines = customers_lines(catalog)
    short, long = cut(lines[5], 3), lines[20] + ",,"
    lines[5], lines[20] = short, long  # file lines 6 and 21
    write_customers_lines(catalog, lines)
    total = len(read_customers(catalog))

    lake = tmp_path / "lake"
    run = ingest(catalog=str(catalog), lake=str(lake), sources=["customers"])
    [customers] = run.sources
    assert customers.status is SourceStatus.PUBLISHED
    assert customers.rows_in == total
    assert customers.rows_quarantined == 2
    assert customers.rows_out == total - 2
    assert customers.read_notes == ["2 malformed record(s) quarantined (customers.csv:6, customers.csv:21)"]

    held = read_quarantine(open_store(str(lake)), "customers", run.run_id)
    assert held.get_column("_lockgate_line").to_list() == [6, 21]
    assert held.get_column("_lockgate_file").to_list() == ["customers.csv"] * 2
    assert held.get_column("_lockgate_failed_rules").to_list() == [["malformed_row"]] * 2
    assert [",".join(fields) for fields in held.get_column("_lockgate_fields").to_list()] == [short, long]
    published = query(layout.warehouse_path(str(lake)), "SELECT count(*) FROM customers").item()
    assert published == total - 2
    assert "2 malformed record(s) quarantined" in latest_artifact("lockgate-customers")


def test_quoted_multi_line_fields_keep_the_line_where_a_record_starts(
    catalog: Path, tmp_path: Path, hash_key: bytes
) -> None:
    lines = customers_lines(catalog)
    # The record of file line 3 gets a comment over three lines, so later records move down by two.
    lines[2] = cut(lines[2], len(lines[0].split(",")) - 1) + ',"note, over\nthree\nlines"'
    lines[6] = cut(lines[6], 4)  # was file line 7
    write_customers_lines(catalog, lines)

    customers = stopped_customers(catalog, tmp_path / "lake")
    assert [issue.split(": ")[0] for issue in customers.schema_issues] == ["customers.csv:9"]


def test_header_only_file_says_it_has_no_rows_and_row_count_rule_blocks(
    catalog: Path, tmp_path: Path, hash_key: bytes
) -> None:
    edit_contract(catalog, "{min_value: 1000, max_value: 1000000}", "{min_value: 1, max_value: 1000000}")
    write_customers_lines(catalog, customers_lines(catalog)[:1])

    customers = stopped_customers(catalog, tmp_path / "lake")
    assert customers.rows_in == 0
    assert customers.read_notes == ["customers.csv has no data rows"]
    [row_count] = customers.failed_blocking
    assert (row_count.rule_id, row_count.note) == ("customers_row_count", "the data has 0 row(s)")
    assert "customers.csv has no data rows" in latest_artifact("lockgate-customers")


def test_cli_run_names_ragged_line_and_header_only_file(
    catalog: Path, tmp_path: Path, hash_key: bytes
) -> None:
    lake = tmp_path / "lake"
    lines = customers_lines(catalog)
    write_customers_lines(catalog, [*lines[:3], cut(lines[3], 2), *lines[4:]])
    args = ["run", "--catalog", str(catalog), "--lake", str(lake), "--source", "customers"]
    ragged = CliRunner().invoke(app, args, env={"COLUMNS": "200"})
    assert ragged.exit_code == 1, ragged.output
    assert "customers.csv:4: record has 2 fields" in ragged.output
    assert "Traceback" not in ragged.output

    write_customers_lines(catalog, lines[:1])
    empty = CliRunner().invoke(app, args, env={"COLUMNS": "200"})
    assert empty.exit_code == 1, empty.output
    assert "customers.csv has no data rows" in empty.output
    assert "rule customers_row_count: failed (the data has 0 row(s))" in empty.output
    assert "None" not in empty.output
