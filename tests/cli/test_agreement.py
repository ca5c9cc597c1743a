"""`lockgate agreement FILE` on real files, as a labeling lead runs it."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from typer.testing import CliRunner

from cli.app import app

if TYPE_CHECKING:
    from pathlib import Path

    from click.testing import Result

# Krippendorff (2011): 4 observers × 12 units with missing values; α = 0.743 nominal, 0.849 interval.
OBSERVERS = {
    "A": "1 2 3 3 2 1 4 1 2 . . .",
    "B": "1 2 3 3 2 2 4 1 2 5 . 3",
    "C": ". 3 3 3 2 3 4 2 2 5 1 .",
    "D": "1 2 3 3 2 4 4 1 2 5 1 .",
}
REPORT_KEYS = {
    "krippendorff_alpha",
    "fleiss_kappa",
    "cohen_kappa",
    "items",
    "annotators",
    "per_annotator",
    "per_label",
}


def write_csv(folder: Path) -> Path:
    lines = ["item_id,annotator,label"]
    for observer, values in OBSERVERS.items():
        lines += [f"u{unit},{observer},{v}" for unit, v in enumerate(values.split(), 1) if v != "."]
    path = folder / "annotations.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def run(*args: str) -> Result:
    return CliRunner().invoke(app, ["agreement", *args])


def test_json_report(tmp_path: Path) -> None:
    result = run(str(write_csv(tmp_path)), "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert set(report) >= REPORT_KEYS
    assert round(report["krippendorff_alpha"], 3) == 0.743
    assert (report["items"], report["annotators"], report["annotations"]) == (12, 4, 41)
    assert report["fleiss_kappa"] is None
    assert set(report["per_annotator"]) == {"A", "B", "C", "D"}
    assert set(report["per_label"]) == {"1", "2", "3", "4", "5"}


def test_interval_level(tmp_path: Path) -> None:
    result = run(str(write_csv(tmp_path)), "--level", "interval", "--format", "json")
    assert result.exit_code == 0, result.output
    assert round(json.loads(result.stdout)["krippendorff_alpha"], 3) == 0.849


def test_text_report(tmp_path: Path) -> None:
    result = run(str(write_csv(tmp_path)))
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "41 annotation(s) of 12 item(s) by 4 annotator(s), level nominal" in out
    assert "Krippendorff's α" in out
    assert "0.743" in out
    assert "tentative" in out
    assert "Per annotator" in out
    assert "Per label" in out
    assert "note:" in out


def test_json_lines_file(tmp_path: Path) -> None:
    path = tmp_path / "a.ndjson"
    path.write_text(
        "\n".join(
            json.dumps({"item_id": i, "annotator": who, "label": label})
            for i, (a, b) in enumerate([("y", "y"), ("n", "n"), ("y", "n")])
            for who, label in (("A", a), ("B", b))
        ),
        encoding="utf-8",
    )
    result = run(str(path), "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["cohen_kappa"] is not None


def test_bad_row_goes_to_stderr_with_exit_one(tmp_path: Path) -> None:
    path = tmp_path / "annotations.csv"
    path.write_text("item_id,annotator,label\ni1,a,x\ni1,b,\n", encoding="utf-8")
    result = run(str(path))
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.strip() == f"{path}: row 3: empty label"


def test_non_numeric_label_at_interval_level(tmp_path: Path) -> None:
    path = tmp_path / "annotations.csv"
    path.write_text("item_id,annotator,label\ni1,a,1\ni1,b,high\n", encoding="utf-8")
    result = run(str(path), "--level", "interval")
    assert result.exit_code == 1
    assert "row 3: label 'high' is not a number" in result.stderr


def test_missing_file_exits_one(tmp_path: Path) -> None:
    result = run(str(tmp_path / "nope.csv"))
    assert result.exit_code == 1
    assert "no such file" in result.stderr


def test_unknown_level_is_a_usage_error(tmp_path: Path) -> None:
    result = run(str(write_csv(tmp_path)), "--level", "categorical")
    assert result.exit_code == 2


def test_listed_in_help() -> None:
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    assert "agreement" in result.stdout
