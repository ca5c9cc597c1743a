"""Staged batches: a source's rows kept as Parquet parts on local disk while a run works on them.

A batch larger than the run's memory budget (`window_bytes`) never sits in memory whole: each step
reads it a part at a time, works on that part and writes the result as a part of the next stage. A
part is written once and never changed, so a stage can be read again (a second pass, a lazy scan, a
stream into the Delta table) while the next one is written. Parts live in a folder of the run's
private working folder (`storage.workdir`): removed when the source is done, and with the working
folder after a crash.

Parts are LZ4-compressed Parquet: written and read faster than zstd (they live minutes, not years),
and typed, so a part read back is the frame that was written. A part written by `add` is one window;
a part another writer made (the streaming CSV reader's copy of a file, `adopt`) is read back a row
group at a time.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Final

import polars as pl
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq

if TYPE_CHECKING:
    from collections.abc import Iterator

PART_COMPRESSION: Final = "lz4"
DUCKDB_MIN_MEMORY_MIB = 64  # below this DuckDB refuses queries a stage's windows need (hash tables, sorts)


def duckdb_config(
    memory_limit: int | None, spill: Path | None
) -> dict[str, str | bool | int | float | list[str]]:
    """A private DuckDB connection's settings: no file or network access of its own (it reads what is
    registered on it), held to `memory_limit` bytes (at least 64 MiB), spilling what does not fit into
    `spill` (a stage's folder, removed with it)."""
    config: dict[str, str | bool | int | float | list[str]] = {"enable_external_access": False}
    if memory_limit is not None:
        config["memory_limit"] = f"{max(memory_limit // 2**20, DUCKDB_MIN_MEMORY_MIB)}MiB"
    if spill is not None:
        config["temp_directory"] = str(spill)
    return config


@dataclass
class Staged:
    """One stage of a batch: its parts in row order, their rows and schema (the first part's), and each
    part's row groups (the windows its rows are read back in)."""

    folder: Path
    parts: list[Path] = field(default_factory=list)
    rows: int = 0
    schema: pl.Schema | None = None
    groups: list[list[int]] = field(default_factory=list)  # rows of each row group, per part

    @classmethod
    def create(cls, parent: Path, name: str) -> Staged:
        """A new, empty stage in a private sub-folder of `parent` (the run's working folder)."""
        return cls(Path(tempfile.mkdtemp(prefix=f"staged-{name}-", dir=parent)))

    def add(self, frame: pl.DataFrame) -> None:
        """Write `frame` as the stage's next part, one window (every part has the first part's columns
        and types)."""
        self._check(frame.schema)
        path = self.folder / f"part-{len(self.parts):05d}.parquet"
        frame.write_parquet(
            path, compression=PART_COMPRESSION, statistics=False, row_group_size=max(1, frame.height)
        )
        self._append(path)

    def adopt(self, path: Path) -> None:
        """Take a Parquet file in the stage's folder, written by another writer, as the next part; its
        row groups are its windows."""
        if path.parent != self.folder:
            raise ValueError(f"{path.name} is not in the stage's folder {self.folder.name}")
        self._check(pl.scan_parquet(path).collect_schema())
        self._append(path)

    def _check(self, schema: pl.Schema) -> None:
        if self.schema is None:
            self.schema = schema
        elif schema != self.schema:
            raise ValueError(f"a part of {self.folder.name} does not have the stage's columns and types")

    def _append(self, path: Path) -> None:
        meta = pq.ParquetFile(path).metadata
        groups = [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]
        self.parts.append(path)
        self.groups.append(groups)
        self.rows += sum(groups)

    @property
    def windows(self) -> int:
        """How many windows the stage is read back in (`frames`)."""
        return sum(max(1, len(groups)) for groups in self.groups)

    @property
    def columns(self) -> list[str]:
        return list(self.schema or {})

    def frames(self) -> Iterator[pl.DataFrame]:
        """The rows, a window (a row group) at a time, in row order."""
        for path, groups in zip(self.parts, self.groups, strict=True):
            if len(groups) <= 1:
                yield pl.read_parquet(path)
                continue
            offset = 0
            for rows in groups:  # polars reads only the row group a slice falls in
                yield pl.scan_parquet(path).slice(offset, rows).collect()
                offset += rows

    def lazy(self) -> pl.LazyFrame:
        """All parts as one lazy frame (nothing is read until collected; the streaming engine reads a
        part at a time)."""
        if not self.parts:
            return pl.LazyFrame(schema=self.schema)
        return pl.scan_parquet(self.parts)

    def dataset(self, columns: list[str] | None = None) -> pads.Dataset:
        """The parts as an Arrow dataset (of `columns` only, when given): DuckDB scans it a batch at a
        time."""
        schema = self.arrow_schema()
        if columns is not None:
            schema = pa.schema([schema.field(name) for name in columns])
        return pads.dataset([str(p) for p in self.parts], format="parquet", schema=schema)

    def arrow_schema(self) -> pa.Schema:
        return pl.DataFrame(schema=self.schema).to_arrow().schema

    def reader(self) -> pa.RecordBatchReader:
        """The rows as a stream of Arrow record batches, a row group at a time, for the Delta writer."""
        # One batch and one part read ahead, not Arrow's default of 16 and 4: the stream is as large
        # in memory as what is read ahead of the writer.
        return self.dataset().scanner(batch_readahead=1, fragment_readahead=1).to_reader()

    def remove(self) -> None:
        """Delete the parts (the stage is empty afterwards)."""
        shutil.rmtree(self.folder, ignore_errors=True)
        self.parts, self.groups, self.rows = [], [], 0
