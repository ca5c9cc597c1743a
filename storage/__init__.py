"""Lockgate's lake: one object store (a local directory or an ``s3://bucket/prefix``) with two layers.

Every key is built in :mod:`storage.layout`, so the shape of the lake is written down in one place::

    raw/<source>/<YYYY-MM-DD>/<run_id>/<file>            bytes exactly as received, never overwritten
    raw/<source>/<YYYY-MM-DD>/<run_id>/_manifest.json    checksums, row count, passport of that landing
    curated/<source>/v000001/data.parquet                one immutable version of the masked dataset
    curated/<source>/v000001/_version.json               what made it: inputs, contract, masking, checksum
    curated/<source>/_current.json                       the pointer readers follow; moved last

The DuckDB warehouse holds only views over the current curated objects, so it can always be rebuilt
from the lake (see :func:`storage.layout.warehouse_path` for where it lives).
"""
