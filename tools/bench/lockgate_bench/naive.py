"""The naive baseline: the script a data engineer writes by hand to do what the pipeline does.

pandas ``read_csv``, the contract's ten expectations in Great Expectations on pandas, masking with
pandas (``hmac`` per value through ``.map``, string slicing for ``partial``, regexes for free text) and
``to_parquet``. It uses the same key and the same HMAC as the pipeline, so where both do the same work
their outputs are equal (a test checks it): the baseline cuts no corners.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import time
from typing import TYPE_CHECKING, Any

from lockgate_bench.errors import BenchError
from lockgate_bench.memory import peak_rss_mb

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from great_expectations.expectations.expectation import Expectation

# The naive script's free-text redaction: the regexes a careful user writes. It finds no names
# (that needs NER), so it does less than `redact_pii`; the comparison is in the naive path's favour.
NAIVE_TEXT_PATTERNS = (
    (r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", "[EMAIL]"),
    (r"\b\d{3}-\d{3}-\d{3} \d{2}\b", "[SNILS]"),
    (r"\b(?:\d{4} ?){3}\d{4}\b", "[CARD]"),
    (r"\b\d{12}\b", "[INN]"),
    (r"(?:\+7|\b8|\+1|\+44)[\d ()-]{8,}\d", "[PHONE]"),
)


def naive_expectations() -> list[Expectation]:
    """The contract's ten rules written by hand as GX expectation objects, as a user would.

    Imported from their defining modules: `great_expectations.expectations` does not re-export them for
    type checkers.
    """
    from great_expectations.expectations.core.expect_column_value_lengths_to_equal import (
        ExpectColumnValueLengthsToEqual,
    )
    from great_expectations.expectations.core.expect_column_values_to_be_between import (
        ExpectColumnValuesToBeBetween,
    )
    from great_expectations.expectations.core.expect_column_values_to_be_in_set import (
        ExpectColumnValuesToBeInSet,
    )
    from great_expectations.expectations.core.expect_column_values_to_be_unique import (
        ExpectColumnValuesToBeUnique,
    )
    from great_expectations.expectations.core.expect_column_values_to_match_regex import (
        ExpectColumnValuesToMatchRegex,
    )
    from great_expectations.expectations.core.expect_column_values_to_not_be_null import (
        ExpectColumnValuesToNotBeNull,
    )
    from great_expectations.expectations.core.expect_table_row_count_to_be_between import (
        ExpectTableRowCountToBeBetween,
    )

    return [
        ExpectColumnValuesToNotBeNull(column="customer_id"),
        ExpectColumnValuesToBeUnique(column="customer_id"),
        ExpectTableRowCountToBeBetween(min_value=1),
        ExpectColumnValuesToNotBeNull(column="email"),
        ExpectColumnValuesToNotBeNull(column="signup_date"),
        ExpectColumnValuesToBeBetween(column="lifetime_value", min_value=0),
        ExpectColumnValuesToBeInSet(column="segment", value_set=["retail", "smb", "enterprise"]),
        ExpectColumnValueLengthsToEqual(column="inn", value=12),
        ExpectColumnValuesToMatchRegex(column="snils", regex=r"^\d{3}-\d{3}-\d{3} \d{2}$"),
        ExpectColumnValuesToMatchRegex(
            column="email", regex=r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$", meta={"warn_only": True}
        ),
    ]


def _partial(keep: int) -> Callable[[str], str]:
    return lambda v: "*" * len(v) if len(v) <= keep else "*" * (len(v) - keep) + v[-keep:]


def run_naive(csv: Path, out: Path, key_env: str) -> dict[str, Any]:
    """Run the hand-written script on `csv` into `out`, with the hex key in `key_env`; return its figures."""
    import great_expectations as gx
    import pandas as pd

    from contracts.expectations import gx_offline

    gx_offline()
    key = bytes.fromhex(os.environ[key_env])

    def hmac_hex(value: str) -> str:
        return hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()

    baseline = peak_rss_mb()
    start = time.perf_counter()
    df = pd.read_csv(
        csv,
        dtype={"phone": str, "snils": str, "inn": str, "card_number": str},
        parse_dates=["birth_date", "signup_date", "last_order_date"],
    )

    context = gx.get_context(mode="ephemeral")
    batch = (
        context.data_sources.add_pandas("naive")
        .add_dataframe_asset("customers")
        .add_batch_definition_whole_dataframe("all")
        .get_batch(batch_parameters={"dataframe": df})
    )
    suite = context.suites.add(gx.ExpectationSuite(name="customers"))
    for expectation in naive_expectations():
        suite.add_expectation(expectation)
    result = batch.validate(suite)
    failed = [
        config.type
        for r in result.results
        if not r.success
        and (config := r.expectation_config) is not None
        and not (config.meta or {}).get("warn_only")
    ]
    if failed:
        raise BenchError(f"naive: blocking expectations failed: {', '.join(failed)}")

    for column in ("full_name", "email"):
        df[column] = df[column].map(hmac_hex, na_action="ignore")
    df["phone"] = df["phone"].map(_partial(2), na_action="ignore")
    df["card_number"] = df["card_number"].map(_partial(4), na_action="ignore")
    for column in ("snils", "inn"):
        df[column] = df[column].where(df[column].isna(), "[REDACTED]")
    df["birth_date"] = df["birth_date"].dt.to_period("Y").dt.start_time
    for pattern, marker in NAIVE_TEXT_PATTERNS:
        df["comment"] = df["comment"].str.replace(pattern, marker, regex=True)
    df.to_parquet(out, index=False)
    seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "rows_out": len(df),
        "expectations": len(result.results),
        "warnings": sum(not r.success for r in result.results),
        "before_work_rss_mb": baseline,
    }
