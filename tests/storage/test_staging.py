"""Staged batches: parts written in order, read back as frames, a lazy scan, a dataset and a stream."""

from __future__ import annotations

from typing import TYPE_CHECKING

import duckdb
import polars as pl
import pytest

from storage.staging import Staged

if TYPE_CHECKING:
    from pathlib import Path


def _frame(start: int, rows: int) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "id": pl.int_range(start, start + rows, eager=True),
            "name": [f"n{i}" if i % 7 else None for i in range(start, start + rows)],
            "day": pl.date_range(pl.date(2024, 1, 1), pl.date(2024, 1, 1), eager=True).extend_constant(
                None, rows - 1
            ),
        }
    )


def test_parts_come_back_in_order_as_frames_a_scan_a_dataset_and_a_stream(tmp_path: Path) -> None:
    stage = Staged.create(tmp_path, "people-conformed")
    parts = [_frame(0, 5), _frame(5, 3), _frame(8, 4)]
    for part in parts:
        stage.add(part)
    whole = pl.concat(parts)

    assert stage.folder.parent == tmp_path and stage.folder.name.startswith("staged-people-conformed-")
    assert (stage.rows, stage.columns, len(stage.parts)) == (12, ["id", "name", "day"], 3)
    assert [f.height for f in stage.frames()] == [5, 3, 4]
    assert pl.concat(list(stage.frames())).equals(whole)
    assert stage.lazy().collect().equals(whole)
    streamed = pl.from_arrow(stage.reader().read_all())
    assert isinstance(streamed, pl.DataFrame) and streamed.equals(whole)
    con = duckdb.connect()
    con.register("staged", stage.dataset(["name"]))
    assert con.execute("SELECT * FROM staged").pl().columns == ["name"]
    assert con.execute("SELECT count(name) FROM staged").fetchone() == (whole["name"].count(),)


def test_a_part_of_other_columns_or_types_is_refused(tmp_path: Path) -> None:
    stage = Staged.create(tmp_path, "people")
    stage.add(_frame(0, 2))
    with pytest.raises(ValueError, match="columns and types"):
        stage.add(_frame(2, 2).with_columns(pl.col("id").cast(pl.String)))
    with pytest.raises(ValueError, match="columns and types"):
        stage.add(_frame(2, 2).drop("day"))
    assert stage.rows == 2


def test_remove_deletes_the_parts_and_their_folder(tmp_path: Path) -> None:
    stage = Staged.create(tmp_path, "people")
    stage.add(_frame(0, 3))
    stage.remove()
    assert not stage.folder.exists() and stage.rows == 0 and stage.parts == []


def test_an_adopted_file_is_read_back_a_row_group_at_a_time(tmp_path: Path) -> None:
    stage = Staged.create(tmp_path, "people-read")
    first = _frame(0, 4)
    stage.add(first)
    copy = stage.folder / "copy.parquet"
    second = _frame(4, 10)
    second.lazy().sink_parquet(copy, row_group_size=3)
    stage.adopt(copy)

    assert (stage.rows, len(stage.parts), stage.windows) == (14, 2, 5)
    assert [f.height for f in stage.frames()] == [4, 3, 3, 3, 1]
    assert pl.concat(list(stage.frames())).equals(pl.concat([first, second]))
    with pytest.raises(ValueError, match="not in the stage's folder"):
        stage.adopt(tmp_path / "elsewhere.parquet")
