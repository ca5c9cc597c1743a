"""The example catalog published into a lake with the pipeline's own pieces (read, conform, mask,
publish), without a Prefect run: for tests of what happens after publishing (role outputs, queries)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from contracts.conform import conform
from contracts.masking import mask
from sources.catalog import load_catalog
from sources.connectors import read_frame, resolve_files
from sources.passport import CsvConnector, NdjsonConnector, ParquetConnector
from storage.curated import publish
from storage.release import ReleaseParts
from storage.store import open_store

if TYPE_CHECKING:
    from pathlib import Path


def publish_example(catalog: Path, lake: str, key: bytes) -> None:
    """Every source of `catalog` masked by its contract (keys: `key` for all) and published to `lake`."""
    store = open_store(lake)
    for source in load_catalog(catalog).sources:
        connector = source.passport.connector
        assert isinstance(connector, CsvConnector | NdjsonConnector | ParquetConnector), source.name
        frame = conform(read_frame(connector, resolve_files(connector, catalog)), source.contract).frame
        masked = mask(frame, source.contract, {"default": key})
        parts = ReleaseParts(
            inputs=["a" * 64],
            contract_id=source.contract.id,
            contract_version=source.contract.version,
            contract_sha256="c" * 64,
            code_version="test",
        )
        publish(
            store,
            source.name,
            masked.frame,
            release=parts,
            run_id="r1",
            masked_columns=masked.applied,
            sensitivity=source.passport.sensitivity.value,
            pii=any(p.pii is not None for p in source.contract.columns),
        )
