"""One entry point for getting a source's new data onto local disk, whatever kind of source it is.

The flow lands what `extract` returns in the raw layer byte for byte, then parses it with
`read_frame`. Connectors that track progress (incremental PostgreSQL tables, S3 prefixes) hand back
their new state separately: the flow commits it only after the data is published, so a run that
fails half-way extracts the same data again instead of skipping it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sources.connectors import resolve_files
from sources.extraction import Extraction
from sources.passport import PostgresConnector, S3Connector

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

    from pydantic import SecretStr

    from sources.passport import Connector


def extract(
    spec: Connector,
    catalog_root: Path,
    state: dict[str, Any] | None,
    workdir: Path,
    *,
    postgres: Mapping[str, SecretStr] | None = None,
) -> Extraction:
    """Bring what is new at the source into local files (under `workdir` when they must be fetched).

    `workdir` should be a private working folder (`storage.workdir`): what is fetched there is the
    source's data, unmasked, so it is written owner-only and never to the system temporary folder.

    `state` is what the previous successful run returned (None on the first run, or for file
    connectors, which always deliver their files as they are). `postgres` holds the configured
    PostgreSQL connection strings by name (``Settings.postgres``; a Prefect Secret block is the
    fallback). Database and S3 drivers are imported only when a catalog uses them.
    """
    if isinstance(spec, PostgresConnector):
        from sources.postgres import extract_postgres

        workdir.mkdir(mode=0o700, parents=True, exist_ok=True)
        return extract_postgres(spec, state, workdir, postgres)
    if isinstance(spec, S3Connector):
        from sources.s3prefix import extract_s3

        workdir.mkdir(mode=0o700, parents=True, exist_ok=True)
        return extract_s3(spec, state, workdir)
    files = resolve_files(spec, catalog_root)
    return Extraction(files=files, description=f"{len(files)} file(s) matching {spec.path}")
