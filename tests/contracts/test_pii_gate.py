"""The PII gate reads every row: one leak among millions stops the line, and names alone are sampled."""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

import polars as pl
import pytest
from pii_data import passport

from contracts.masking import mask
from contracts.pii.gate import pii_gate
from contracts.pii.scan import NER_MAX_ROWS, scan_frame

if TYPE_CHECKING:
    from conftest import MakeContract

ROWS = 5_000_000
LEAK_ROW = 3_141_592


def _notes(rows: int) -> pl.Series:
    """Order notes with no personal data: long enough that a careless ``partial`` keeps only order text."""
    return pl.select(pl.format("order {} shipped to the depot on time", pl.int_range(rows))).to_series()


def test_one_email_in_one_row_of_five_million_in_an_undeclared_column_stops_the_line(
    make_contract: MakeContract,
) -> None:
    notes = _notes(ROWS).scatter(LEAK_ROW, "please resend to ivan.petrov@example.com")
    contract = make_contract([{"name": "note", "logicalType": "string"}])
    verdict = pii_gate(pl.DataFrame({"note": notes}), contract)
    [finding] = verdict.findings
    assert finding.startswith(
        f"column note holds personal data the contract does not declare (email in 1 of {ROWS} scanned rows"
    )


def test_one_email_kept_whole_by_a_partial_mask_in_five_million_rows_stops_the_line(
    make_contract: MakeContract,
) -> None:
    """``keep_last: 16`` keeps the tail of long references, and the whole address at the end of one."""
    references = _notes(ROWS).scatter(LEAK_ROW, "to: ivan@example.com")
    contract = make_contract(
        [
            {
                "name": "reference",
                "logicalType": "string",
                "pii": "email",
                "masking": {"rule": "partial", "keep_last": 16},
            }
        ]
    )
    masked = mask(pl.DataFrame({"reference": references}), contract, {}).frame
    assert masked["reference"][LEAK_ROW] == "****ivan@example.com"
    verdict = pii_gate(masked, contract)
    assert verdict.findings == [
        "column reference still holds personal data after masking by partial "
        f"(email in 1 of {ROWS} scanned rows)"
    ]


def test_a_clean_frame_passes_and_the_verdict_says_what_was_read(make_contract: MakeContract) -> None:
    contract = make_contract([{"name": "note", "logicalType": "string"}])
    verdict = pii_gate(pl.DataFrame({"note": _notes(50_000)}), contract)
    assert verdict.findings == []
    assert verdict.coverage.startswith("every row (50000) of 1 column(s) checked for every pattern kind")


def test_names_alone_are_sampled_and_the_sample_is_stated() -> None:
    """NER reads at most NER_MAX_ROWS candidate rows of free text; every other kind reads them all."""
    rng = random.Random(5)
    people = ["Иван Петров", "Анна Смирнова", "John Smith", "Mary Jones"]
    notes = [f"Звонил {rng.choice(people)}, заказ {i} готов к выдаче" for i in range(5_000)]
    notes[4_321] = "Звонил Иван Петров, пишите на ivan.petrov@example.com"
    report = scan_frame(pl.DataFrame({"note": notes}), sample_rows=None)
    found = report.columns["note"]
    assert found.kinds["email"] == 1
    assert (found.ner_rows, found.ner_candidates) == (NER_MAX_ROWS, 5_000)
    assert report.to_json_dict()["ner_samples"] == {"note": {"rows": NER_MAX_ROWS, "of": 5_000}}


@pytest.mark.parametrize("layout", ["{r} {y} {n}", "{r}{y} {n}", "{r}{y}{n}", "{r} {y} № {n}"])
def test_every_way_of_writing_a_russian_passport_is_found_in_a_passport_column(layout: str) -> None:
    rng = random.Random(11)
    values = []
    for _ in range(200):
        digits = passport(rng).replace(" ", "")
        values.append(layout.format(r=digits[:2], y=digits[2:4], n=digits[4:]))
    for column in ("passport_number", "паспорт"):
        report = scan_frame(pl.DataFrame({column: values}), sample_rows=None, names=False)
        assert report.columns[column].kinds == {"passport_ru": 200}, (layout, column)
