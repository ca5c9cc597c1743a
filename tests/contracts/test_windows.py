"""The contract's steps over a staged batch, a window at a time, give what they give on the whole frame.

Each test stages one frame in small windows and compares every step with its in-memory counterpart:
schema issues, the rules' outcomes, the rows set aside (a duplicate split across two windows among
them), the masked rows, the profile and the PII gate's verdict (one leak in the last window).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl
import pytest

from contracts.conform import conform
from contracts.masking import mask
from contracts.pii.gate import pii_gate
from contracts.profile import profile_batch
from contracts.quarantine import FAILED_RULES, ROW_NUMBER, split
from contracts.validation import validate
from contracts.windows import conform_windows, mask_windows, split_windows
from storage.staging import Staged

if TYPE_CHECKING:
    from pathlib import Path

    from conftest import MakeContract

    from contracts.model import Contract

KEYS = {"default": b"k" * 32}
PROPERTIES = [
    {"name": "id", "logicalType": "integer", "primaryKey": True},
    {"name": "email", "logicalType": "string", "pii": "email", "masking": {"rule": "hash", "key": "default"}},
    {
        "name": "phone",
        "logicalType": "string",
        "pii": "phone",
        "masking": {"rule": "partial", "keep_last": 2},
    },
    {"name": "amount", "logicalType": "number"},
    {"name": "day", "logicalType": "date"},
    {"name": "note", "logicalType": "string", "pii": "free_text", "masking": {"rule": "redact_pii"}},
]
QUALITY = [
    {"id": "amount_range", "expectation": "expect_column_values_to_be_between", "action": "quarantine",
     "kwargs": {"column": "amount", "min_value": 0, "max_value": 1000}},
    {"id": "email_unique", "expectation": "expect_column_values_to_be_unique", "action": "quarantine",
     "kwargs": {"column": "email"}},
    {"id": "rows", "expectation": "expect_table_row_count_to_be_between",
     "kwargs": {"min_value": 1, "max_value": 100}},
]  # fmt: skip
WINDOW = 7


def _note(i: int) -> str | None:
    return f"call Ivan Petrov at +7 903 970-28-{i % 3:02d}" if i % 4 else None


def _text(rows: int = 40) -> pl.DataFrame:
    """CSV-like text: bad dates in rows 5 and 33, a negative amount in row 12, and one e-mail twice,
    in rows 3 and 38 (different windows)."""
    return pl.DataFrame(
        {
            "id": [str(i) for i in range(1, rows + 1)],
            "email": [f"user{i if i != 38 else 3}@example.com" for i in range(1, rows + 1)],
            "phone": [f"+7 903 970-28-{i:02d}" for i in range(1, rows + 1)],
            "amount": ["-5" if i == 12 else f"{i}.5" for i in range(1, rows + 1)],
            "day": [
                "2024-13-40" if i in (5, 33) else f"2024-01-{(i % 28) + 1:02d}" for i in range(1, rows + 1)
            ],
            "note": [_note(i) for i in range(1, rows + 1)],
        }
    )  # fmt: skip


def _stage(tmp_path: Path, frame: pl.DataFrame, name: str) -> Staged:
    stage = Staged.create(tmp_path, name)
    for offset in range(0, frame.height, WINDOW):
        stage.add(frame.slice(offset, WINDOW))
    return stage


def _whole(stage: Staged) -> pl.DataFrame:
    return pl.concat(list(stage.frames()))


@pytest.fixture
def contract(make_contract: MakeContract) -> Contract:
    return make_contract(PROPERTIES, quality=QUALITY, drift={"missingColumns": "null"})


def _keep_all(frame: pl.DataFrame) -> tuple[pl.DataFrame, int, list[str]]:
    return frame, 0, []


def test_schema_issues_are_counted_over_every_window(tmp_path: Path, contract: Contract) -> None:
    text = _text().drop("phone").with_columns(pl.lit("x").alias("extra"))
    whole = conform(text, contract)
    out = Staged.create(tmp_path, "conformed")
    result = conform_windows(_stage(tmp_path, text, "text"), contract, out, _keep_all)
    assert [str(i) for i in result.issues] == [str(i) for i in whole.issues]
    assert any("2 value(s) are not valid date (data rows 5, 33)" in str(i) for i in result.issues)
    assert out.rows == 0  # a value that does not fit blocks the source: nothing more is staged


def test_rules_quarantine_and_masking_over_windows_match_the_whole_frame(
    tmp_path: Path, contract: Contract
) -> None:
    text = _text().with_columns(pl.col("day").str.replace("2024-13-40", "2024-02-01"))
    frame = conform(text, contract).frame
    conformed = Staged.create(tmp_path, "conformed")
    windowed = conform_windows(_stage(tmp_path, text, "text"), contract, conformed, _keep_all)
    assert windowed.issues == [] and _whole(conformed).equals(frame)

    report = validate(frame, contract)
    staged_report = validate(conformed, contract, memory_limit=64 * 2**20)
    assert staged_report.model_dump() == report.model_dump()
    assert report.unexpected_counts["email_unique"] == 2 and report.unexpected_counts["amount_range"] == 1

    held = split(frame, contract.quality, report.unexpected_counts)
    kept = Staged.create(tmp_path, "kept")
    parts = split_windows(conformed, contract.quality, report.unexpected_counts, kept)
    assert parts.quarantined.equals(held.quarantined) and parts.counts == held.counts
    assert parts.quarantined.get_column(ROW_NUMBER).to_list() == [3, 12, 38]
    assert parts.quarantined.get_column(FAILED_RULES).to_list() == [
        ["email_unique"],
        ["amount_range"],
        ["email_unique"],
    ]
    assert _whole(kept).equals(held.kept)

    whole_masked = mask(held.kept, contract, KEYS)
    masked = Staged.create(tmp_path, "masked")
    result = mask_windows(kept, contract, KEYS, masked)
    assert _whole(masked).equals(whole_masked.frame)
    assert (result.applied, result.key_ids) == (whole_masked.applied, whole_masked.key_ids)
    assert "[NAME]" in _whole(masked).get_column("note").drop_nulls()[0]

    # Distinct counts are HyperLogLog estimates, which a scan of parts merges from sketches per part.
    profiled = profile_batch(masked.lazy(), contract, source="people", run_id="r1", masked=result.applied)
    expected = profile_batch(
        whole_masked.frame, contract, source="people", run_id="r1", masked=result.applied
    )
    exact = {"profiled_at": True, "columns": {"__all__": {"distinct"}}}
    assert profiled.model_dump(exclude=exact) == expected.model_dump(exclude=exact)
    for got, want in zip(profiled.columns, expected.columns, strict=True):
        assert got.distinct == pytest.approx(want.distinct, rel=0.15)


def test_the_gate_reads_every_row_of_every_window(tmp_path: Path, make_contract: MakeContract) -> None:
    """One e-mail in the last row of the last window, in a column the contract does not declare, and
    one a ``partial`` keeps whole."""
    rows = 50
    frame = pl.DataFrame(
        {
            "ref": [f"order {i} shipped to the depot on time" for i in range(rows - 1)]
            + ["to: ivan@example.com"],
            "remark": [f"parcel {i} left the warehouse" for i in range(rows - 1)]
            + ["mail ivan.petrov@example.com"],
        }
    )  # fmt: skip
    contract = make_contract(
        [
            {
                "name": "ref",
                "logicalType": "string",
                "pii": "email",
                "masking": {"rule": "partial", "keep_last": 16},
            }
        ]
    )
    masked = mask(frame, contract, {}).frame
    whole = pii_gate(masked, contract)
    verdict = pii_gate(_stage(tmp_path, masked, "masked"), contract)
    assert verdict.findings == whole.findings
    assert verdict.findings == [
        "column ref still holds personal data after masking by partial (email in 1 of 50 scanned rows)",
        "column remark holds personal data the contract does not declare (email in 1 of 50 scanned rows); "
        "declare its pii kind and a masking rule",
    ]
    assert verdict.coverage.startswith("every row (50) of 2 column(s)")
