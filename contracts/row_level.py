"""Which expectations judge single rows, and so may quarantine the rows they fail.

Only the names, without polars: ``lockgate validate`` checks ``action: quarantine`` against them and
stays fast. `contracts.quarantine` holds the polars expression for each (a test keeps both in step).
"""

from __future__ import annotations

NULL_RULE = "expect_column_values_to_not_be_null"
ROW_LEVEL_EXPECTATIONS = frozenset(
    {
        NULL_RULE,
        "expect_column_values_to_be_between",
        "expect_column_values_to_be_in_set",
        "expect_column_values_to_not_be_in_set",
        "expect_column_values_to_match_regex",
        "expect_column_values_to_not_match_regex",
        "expect_column_value_lengths_to_equal",
        "expect_column_value_lengths_to_be_between",
        "expect_column_values_to_be_unique",
    }
)
