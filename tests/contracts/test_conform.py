"""conform: casting to the contract's types, and issues that name rows but never values."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

import polars as pl
import pytest

from contracts.conform import conform

if TYPE_CHECKING:
    from collections.abc import Callable

    from contracts.model import Contract

    MakeContract = Callable[..., Contract]


# Typed sources delivering columns as another kind of type, allowed: the tests below are about casting.
CASTING = {"retypedColumns": "cast"}

ALL_TYPES = [
    {"name": "id", "logicalType": "integer"},
    {"name": "score", "logicalType": "number"},
    {"name": "active", "logicalType": "boolean"},
    {"name": "born", "logicalType": "date"},
    {"name": "seen", "logicalType": "timestamp"},
    {"name": "email", "logicalType": "string"},
]


def test_csv_text_is_cast_to_every_logical_type(make_contract: MakeContract) -> None:
    frame = pl.DataFrame(
        {
            "email": ["a@example.com", "b@example.com", "c@example.com"],
            "id": ["1", " 2 ", "-3"],
            "score": ["1.5", "2", "1e3"],
            "active": ["TRUE", "no", "1"],
            "born": ["2024-01-02", "1999-12-31", ""],
            "seen": ["2024-01-02T03:04:05Z", "2024-01-02 03:04:05.25+03:00", "2024-01-02"],
        }
    )
    result = conform(frame, make_contract(ALL_TYPES, drift=CASTING))

    assert result.issues == []
    assert result.frame.columns == ["id", "score", "active", "born", "seen", "email"]  # contract order
    assert result.frame.schema == pl.Schema(
        {
            "id": pl.Int64,
            "score": pl.Float64,
            "active": pl.Boolean,
            "born": pl.Date,
            "seen": pl.Datetime("us", "UTC"),
            "email": pl.String,
        }
    )
    row = result.frame.row(1, named=True)
    assert row["id"] == 2
    assert row["active"] is False
    assert row["born"] == date(1999, 12, 31)
    assert row["seen"] == datetime(2024, 1, 2, 0, 4, 5, 250000, tzinfo=UTC)
    assert result.frame["born"][2] is None  # an empty CSV field is a missing value, not a bad one
    assert result.frame["seen"][2] == datetime(2024, 1, 2, tzinfo=UTC)


def test_typed_input_passes_through_and_whole_floats_become_integers(make_contract: MakeContract) -> None:
    frame = pl.DataFrame(
        {
            "id": [1.0, 2.0, None],
            "score": [1, 2, 3],
            "active": [True, False, None],
            "born": [date(2024, 1, 2), None, date(2000, 2, 29)],
            "seen": [datetime(2024, 1, 2, 3, 4, 5), None, None],  # naive: taken as UTC
            "email": ["a", "b", None],
        }
    )
    result = conform(frame, make_contract(ALL_TYPES, drift=CASTING))
    assert [(i.column, i.kind, i.blocking) for i in result.issues] == [("id", "retyped", False)]
    assert result.frame["id"].to_list() == [1, 2, None]
    assert result.frame["score"].dtype == pl.Float64
    assert result.frame["seen"][0] == datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_bad_values_are_counted_by_row_number_without_values(make_contract: MakeContract) -> None:
    secret = "31/12/2023"
    frame = pl.DataFrame(
        {
            "id": ["1", "2", "x7", "4", "5.5", "6", "", "8"],
            "born": ["2024-01-01", "2024-1-2", secret, "2024-02-30", "2024-01-05", None, "01.01.2024", "x"],
        }
    )
    contract = make_contract(
        [{"name": "id", "logicalType": "integer"}, {"name": "born", "logicalType": "date"}]
    )
    result = conform(frame, contract)

    by_column = {issue.column: issue for issue in result.issues}
    assert set(by_column) == {"id", "born"}
    assert by_column["id"].kind == "type"
    assert by_column["id"].blocking
    assert by_column["id"].rows == [3, 5]  # 1-based data rows; the empty field is not a type error
    assert str(by_column["id"]).startswith("column id: 2 value(s) are not valid integer")
    born = by_column["born"]
    assert born.rows == [2, 3, 4, 7, 8]
    assert str(born).startswith("column born: 5 value(s) are not valid date")
    for issue in result.issues:
        for value in ("x7", "5.5", secret, "2024-1-2", "2024-02-30", "01.01.2024"):
            assert value not in str(issue)
    assert result.frame["born"].to_list()[:3] == [date(2024, 1, 1), None, None]


def test_only_the_first_five_rows_are_listed(make_contract: MakeContract) -> None:
    frame = pl.DataFrame({"flag": ["maybe"] * 8})
    [issue] = conform(frame, make_contract([{"name": "flag", "logicalType": "boolean"}])).issues
    assert issue.rows == [1, 2, 3, 4, 5]
    assert "8 value(s)" in issue.message
    assert "maybe" not in issue.message


@pytest.mark.parametrize(
    ("logical", "values", "bad_rows"),
    [
        ("integer", [1.5, 2.0, float("nan")], [1, 3]),
        ("boolean", [1, 0, 2], [3]),
        ("date", [datetime(2024, 1, 1), datetime(2024, 1, 1, 12)], [2]),
        ("number", [True, False], [1, 2]),
    ],
)
def test_typed_values_that_would_change_meaning_are_refused(
    make_contract: MakeContract, logical, values, bad_rows
) -> None:
    frame = pl.DataFrame({"v": values}, strict=False)
    issues = conform(frame, make_contract([{"name": "v", "logicalType": logical}], drift=CASTING)).issues
    [issue] = [i for i in issues if i.kind == "type"]
    assert issue.kind == "type"
    assert issue.rows == bad_rows


def test_missing_column_blocks_and_extra_column_is_dropped_when_allowed(make_contract: MakeContract) -> None:
    frame = pl.DataFrame({"ID": ["1"], "email": ["a@example.com"], "note": ["hi"]})
    contract = make_contract(
        [{"name": "id", "logicalType": "integer"}, {"name": "email", "logicalType": "string"}],
        drift={"newColumns": "drop"},
    )
    result = conform(frame, contract)

    kinds = {(issue.column, issue.kind, issue.blocking) for issue in result.issues}
    assert kinds == {("id", "missing", True), ("ID", "extra", False), ("note", "extra", False)}
    missing = next(issue for issue in result.issues if issue.kind == "missing")
    assert "case-sensitive" in missing.message  # the near miss is pointed out
    assert "not in the contract; dropped" in next(str(i) for i in result.issues if i.column == "note")
    assert result.frame.columns == ["id", "email"]
    assert result.frame["id"].dtype == pl.Int64
    assert result.frame["id"].to_list() == [None]
    assert [issue.blocking for issue in result.issues].count(True) == 1


def test_nulls_in_required_columns_are_left_to_expectations(make_contract: MakeContract) -> None:
    frame = pl.DataFrame({"id": ["1", None, ""]})
    result = conform(frame, make_contract([{"name": "id", "logicalType": "integer", "required": True}]))
    assert result.issues == []
    assert result.frame["id"].to_list() == [1, None, None]


def test_empty_frame_keeps_the_schema(make_contract: MakeContract) -> None:
    result = conform(pl.DataFrame({"id": []}, schema={"id": pl.String}), make_contract(ALL_TYPES))
    assert result.frame.height == 0
    assert result.frame.columns == [c["name"] for c in ALL_TYPES]
    assert {issue.kind for issue in result.issues} == {"missing"}


def test_nested_and_binary_values_fit_text_only_when_they_are_text(make_contract: MakeContract) -> None:
    contract = make_contract(
        [
            {"name": "tags", "logicalType": "string"},
            {"name": "utf8_bytes", "logicalType": "timestamp"},
            {"name": "raw_bytes", "logicalType": "string"},
        ]
    )
    frame = pl.DataFrame(
        {
            "tags": [["a", "b"], None],
            "utf8_bytes": [b"2024-01-01T10:00:00Z", None],
            "raw_bytes": [b"ok", b"\xff"],
        }
    )
    result = conform(frame, contract)
    typed = {(i.column, tuple(i.rows)) for i in result.issues if i.kind == "type"}
    assert typed == {("tags", (1,)), ("raw_bytes", (1, 2))}
    assert result.frame["utf8_bytes"][0] == datetime(2024, 1, 1, 10, tzinfo=UTC)


def test_drift_blocks_by_default_and_each_kind_can_be_allowed(make_contract: MakeContract) -> None:
    frame = pl.DataFrame({"id": [1.0, 2.0], "amount": ["3.5", "4"], "extra": ["x", "y"]})
    props = [
        {"name": "id", "logicalType": "integer"},
        {"name": "amount", "logicalType": "number"},
        {"name": "gone", "logicalType": "string"},
    ]
    strict = conform(frame, make_contract(props))
    assert {(i.column, i.kind, i.blocking) for i in strict.issues} == {
        ("id", "retyped", True),
        ("gone", "missing", True),
        ("extra", "extra", True),
    }
    assert "delivered as Float64, the contract says integer" in next(
        str(i) for i in strict.issues if i.column == "id"
    )

    lenient = conform(
        frame,
        make_contract(
            props, drift={"newColumns": "drop", "missingColumns": "null", "retypedColumns": "cast"}
        ),
    )
    assert [i.blocking for i in lenient.issues] == [False, False, False]
    assert lenient.frame.columns == ["id", "amount", "gone"]
    assert lenient.frame["id"].to_list() == [1, 2]
    assert lenient.frame["gone"].to_list() == [None, None]
