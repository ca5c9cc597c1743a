"""GX on DuckDB (`contracts.gx_duckdb`) gives the outcomes GX on pandas gives, rule for rule.

The DuckDB path rests on patching two GX internals; these tests fail loudly when a GX upgrade moves
either, or when the two engines start to disagree on any expectation kind the contracts use.
"""

from __future__ import annotations

import gc
import importlib
import weakref
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

import polars as pl
import pytest

from contracts import gx_duckdb
from contracts.data_docs import publish_validation
from contracts.validation import validate
from storage import layout
from storage.local import LocalStore

if TYPE_CHECKING:
    from collections.abc import Callable

    import pyarrow as pa

    from contracts.model import Contract

    MakeContract = Callable[..., Contract]

PROPERTIES = [
    {"name": "id", "logicalType": "integer", "primaryKey": True},
    {"name": "code", "logicalType": "string", "unique": True},
    {"name": "email", "logicalType": "string", "required": True},
    {"name": "segment", "logicalType": "string"},
    {"name": "amount", "logicalType": "number"},
    {"name": "orders", "logicalType": "integer"},
    {"name": "born", "logicalType": "date"},
    {"name": "seen", "logicalType": "timestamp"},
    {"name": "active", "logicalType": "boolean"},
    {"name": "inn", "logicalType": "string"},
    {"name": "note", "logicalType": "string"},
]
N = 400


def _frame() -> pl.DataFrame:
    """Nulls, duplicates, out-of-range values and bad formats in every column the rules look at."""
    i = pl.int_range(N, eager=True)
    return pl.DataFrame(
        {
            "id": i,
            "code": (i % 350).cast(pl.String).str.zfill(4),  # 50 values twice
            "email": pl.Series(
                [
                    None if k % 97 == 0 else (f"user{k}@example.com" if k % 9 else f"user{k}@bad")
                    for k in range(N)
                ]
            ),
            "segment": pl.Series(
                [None if k % 31 == 0 else ("retail", "smb", "enterprise", "vip")[k % 4] for k in range(N)]
            ),
            "amount": pl.Series([None if k % 13 == 0 else (k - 20) * 1.5 for k in range(N)]),
            "orders": pl.Series([None if k % 17 == 0 else k % 40 for k in range(N)]),
            "born": pl.Series(
                [None if k % 11 == 0 else date(1940 + k % 70, 1 + k % 12, 1 + k % 28) for k in range(N)]
            ),
            "seen": pl.Series(
                [
                    None if k % 7 == 0 else datetime(2020 + k % 6, 1 + k % 12, 1, k % 24, tzinfo=UTC)
                    for k in range(N)
                ]
            ).dt.cast_time_unit("us"),
            "active": pl.Series([None if k % 19 == 0 else k % 3 == 0 for k in range(N)]),
            "inn": pl.Series(
                [None if k % 23 == 0 else ("7707083893" + "12")[: 10 + k % 3] for k in range(N)]
            ),
            "note": pl.Series(
                [
                    None if k % 5 == 0 else ("Иван Петров звонил", "card 4111", "ок", "")[k % 4]
                    for k in range(N)
                ]
            ),
        }
    )


def _rule(expectation: str, severity: str = "error", **kwargs: Any) -> dict[str, Any]:
    return {"expectation": expectation, "kwargs": kwargs, "severity": severity}


QUALITY = [  # ids are given below: several rules share an expectation and a column
    _rule("expect_table_row_count_to_be_between", min_value=1, max_value=10_000),
    _rule("expect_table_row_count_to_be_between", min_value=1_000),
    _rule("expect_column_values_to_not_be_null", column="segment"),
    _rule("expect_column_values_to_not_be_null", column="segment", mostly=0.9),
    _rule("expect_column_values_to_be_unique", column="orders"),
    _rule("expect_column_values_to_be_between", column="amount", min_value=0),
    _rule("expect_column_values_to_be_between", column="amount", min_value=0, mostly=0.9),
    _rule("expect_column_values_to_be_between", column="amount", min_value=0, max_value=300, strict_max=True),
    _rule("expect_column_values_to_be_between", column="orders", min_value=1, max_value=30, strict_min=True),
    _rule(
        "expect_column_values_to_be_between", column="born", min_value="1950-01-01", max_value="2000-12-31"
    ),
    _rule("expect_column_values_to_be_between", column="seen", min_value="2022-01-01T00:00:00+00:00"),
    _rule("expect_column_values_to_be_in_set", column="segment", value_set=["retail", "smb", "enterprise"]),
    _rule("expect_column_values_to_be_in_set", column="segment", value_set=["retail", "smb"], mostly=0.4),
    _rule("expect_column_values_to_be_in_set", column="active", value_set=[True]),
    _rule("expect_column_values_to_not_be_in_set", column="segment", value_set=["vip"]),
    _rule("expect_column_value_lengths_to_equal", column="inn", value=12),
    _rule("expect_column_value_lengths_to_be_between", column="note", min_value=3, max_value=20),
    _rule(
        "expect_column_values_to_match_regex",
        "warn",
        column="email",
        regex=r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$",
    ),
    _rule("expect_column_values_to_match_regex", column="email", regex=r"\.com$", mostly=0.8),
    _rule("expect_column_values_to_match_regex", column="inn", regex=r"^\d{12}$"),
    _rule("expect_column_values_to_match_regex", column="note", regex=r"[А-Яа-я]+ \w+"),
    _rule("expect_column_values_to_not_match_regex", column="note", regex=r"\d{4}"),
    _rule("expect_column_values_to_not_match_regex", column="note", regex="card", mostly=0.5),
]


for number, rule in enumerate(QUALITY):
    rule["id"] = f"r{number}"


def _outcomes(report: Any) -> list[tuple[Any, ...]]:
    return [
        (
            o.rule_id,
            o.success,
            o.blocking,
            o.element_count,
            o.unexpected_count,
            o.unexpected_percent,
            o.exception,
        )
        for o in report.outcomes
    ]


def test_duckdb_and_pandas_paths_agree_on_every_rule(make_contract: MakeContract) -> None:
    contract = make_contract(PROPERTIES, quality=QUALITY)
    frame = _frame()
    on_duckdb = validate(frame, contract, engine="duckdb")
    on_pandas = validate(frame, contract, engine="pandas")
    assert _outcomes(on_duckdb) == _outcomes(on_pandas)
    # The frame is built so that the rules both pass and fail, and no rule raised on either path.
    successes = {o.success for o in on_duckdb.outcomes}
    assert successes == {True, False}
    assert all(o.exception is None for o in on_duckdb.outcomes)
    assert len(on_duckdb.outcomes) == len(QUALITY) + 4  # plus not-null/unique of id, unique code, email


def test_mostly_decides_the_same_way_on_both_paths(make_contract: MakeContract) -> None:
    for mostly, expected in ((0.85, True), (0.95, False)):
        contract = make_contract(
            PROPERTIES,
            quality=[
                _rule("expect_column_values_to_match_regex", column="email", regex=r"\.com$", mostly=mostly)
            ],
        )
        results = {
            engine: validate(_frame(), contract, engine=engine).outcomes[-1]
            for engine in ("duckdb", "pandas")
        }
        assert results["duckdb"].success is results["pandas"].success is expected
        assert results["duckdb"].unexpected_count == results["pandas"].unexpected_count > 0


def test_data_docs_render_on_the_duckdb_path(make_contract: MakeContract, tmp_path: Any) -> None:
    contract = make_contract(PROPERTIES, quality=QUALITY[:6])
    report = validate(_frame(), contract, run_id="20240101T000000Z-duckdb")
    store = LocalStore(tmp_path / "lake")
    page = publish_validation(store, "people", "20240101T000000Z-duckdb", report.docs or {})
    assert store.exists(layout.docs_site_key(page))
    assert store.exists(layout.docs_site_key("index.html"))


def test_a_regex_duckdb_cannot_compile_runs_on_pandas(make_contract: MakeContract) -> None:
    assert not gx_duckdb.regex_supported(r"^(?!x)\w+$")  # RE2 has no look-ahead
    contract = make_contract(
        PROPERTIES,
        quality=[_rule("expect_column_values_to_match_regex", column="code", regex=r"^(?!0000)\d{4}$")],
    )
    outcome = validate(_frame(), contract).outcomes[-1]
    assert (outcome.success, outcome.unexpected_count, outcome.exception) == (False, 2, None)  # "0000" twice


def test_the_gx_internals_the_workaround_patches_still_exist() -> None:
    gx_duckdb.install()
    engine = importlib.import_module(gx_duckdb.ENGINE_MODULE)
    assert "duckdb" in engine._PERSISTED_CONNECTION_DIALECTS
    for name in gx_duckdb.REGEX_METRIC_MODULES:
        patched = importlib.import_module(name).get_dialect_regex_expression
        assert patched.__wrapped__ is not None, name
    gx_duckdb.install()  # idempotent: not wrapped twice
    for name in gx_duckdb.REGEX_METRIC_MODULES:
        patched = importlib.import_module(name).get_dialect_regex_expression
        assert getattr(patched.__wrapped__, "__wrapped__", None) is None, name


def test_without_the_workaround_gx_fails_on_duckdb(
    make_contract: MakeContract, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bug is GX's: if an upgrade fixes it, this test says the workaround can go (GX #10738, #11579)."""
    gx_duckdb.install()
    module = importlib.import_module(gx_duckdb.REGEX_METRIC_MODULES[0])
    monkeypatch.setattr(
        module, "get_dialect_regex_expression", module.get_dialect_regex_expression.__wrapped__
    )
    contract = make_contract(
        PROPERTIES, quality=[_rule("expect_column_values_to_match_regex", column="inn", regex="^7")]
    )
    outcome = validate(_frame(), contract, engine="duckdb").outcomes[-1]
    assert outcome.success is False and outcome.exception


TEXTS = ["Иван Петров", "abc_12", "١٢٣", "a\u00a0b", "x\n", "tab\there", "", "e@mail.ru", "12-34", "ÀÉ ü"]
PATTERNS = [
    r"^\w+$",
    r"\d",
    r"^\d+$",
    r"\s",
    r"^\S+$",
    r"x$",
    r"[^@\s]+@",
    r"\W",
    r"[\w-]+$",
    r"\D{2}",
    r"^a\Z",
]


@pytest.mark.parametrize("pattern", PATTERNS)
def test_rewritten_regexes_match_what_python_matches(pattern: str) -> None:
    import re

    import duckdb

    rewritten = gx_duckdb.to_re2(pattern)
    assert rewritten is not None
    found = duckdb.execute(
        "SELECT list(regexp_matches(t, ?) ORDER BY i) "
        "FROM (SELECT unnest(?) AS t, generate_subscripts(?, 1) AS i)",
        [rewritten, TEXTS, TEXTS],
    ).fetchone()
    assert found is not None
    assert found[0] == [re.search(pattern, text) is not None for text in TEXTS]


@pytest.mark.parametrize("pattern", [r"\bword\b", r"[\W]", r"[\S]", r"a$b", r"[[]"])
def test_regexes_without_a_faithful_rewrite_stay_on_pandas(pattern: str) -> None:
    assert gx_duckdb.to_re2(pattern) is None
    assert not gx_duckdb.regex_supported(pattern)


def test_table_shape_rules_see_every_column_on_duckdb(make_contract: MakeContract) -> None:
    """Only column rules let the DuckDB batch be narrowed to the columns they read."""
    names = [p["name"] for p in PROPERTIES]
    contract = make_contract(
        PROPERTIES,
        quality=[
            {**_rule("expect_table_column_count_to_equal", value=len(names)), "id": "count"},
            {**_rule("expect_table_columns_to_match_set", column_set=names), "id": "set"},
            {**_rule("expect_column_values_to_be_unique", column="orders"), "id": "unique"},
        ],
    )
    on_duckdb = validate(_frame(), contract, engine="duckdb")
    assert _outcomes(on_duckdb) == _outcomes(validate(_frame(), contract, engine="pandas"))
    assert [o.success for o in on_duckdb.outcomes if o.rule_id in ("count", "set")] == [True, True]


def test_the_batch_is_released_when_the_validation_ends(
    make_contract: MakeContract, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GX keeps its last context (with the datasource and its connections) past the validation: the
    Arrow table of the batch it was given is let go when the validation ends, not at the next one or at
    a garbage collection, and a run with Data Docs gives the same outcomes as one without."""
    tables: list[weakref.ref[pa.Table]] = []
    original = gx_duckdb.arrow_datasource

    def spy(context: Any, name: str, table: pa.Table, **options: Any) -> Any:
        tables.append(weakref.ref(table))
        given = [table]
        del table  # this frame must not hold it either: a traceback GX keeps would keep the frame
        return original(context, name, given.pop(), **options)

    monkeypatch.setattr(gx_duckdb, "arrow_datasource", spy)
    contract = make_contract(PROPERTIES, quality=QUALITY)
    collecting = gc.isenabled()
    gc.disable()
    try:
        with_docs = validate(_frame(), contract, run_id="run-1")
        assert tables and all(table() is None for table in tables)
        again = validate(_frame(), contract)
        assert len(tables) == 2 and all(table() is None for table in tables)
    finally:
        if collecting:
            gc.enable()
    assert _outcomes(with_docs) == _outcomes(again)
