"""Lockgate's lake: one object store (a local directory or an ``s3://bucket/prefix``) with its layers.

Every key is built in :mod:`storage.layout`, so the shape of the lake is written down in one place::

    raw/<source>/<YYYY-MM-DD>/<run_id>/<file>            bytes exactly as received, never overwritten
    raw/<source>/<YYYY-MM-DD>/<run_id>/_manifest.json    checksums, row count, passport of that landing
    raw/<source>/_index/<sha256>.json                    first object holding that content (dedup)
    curated/<source>/                                    a Delta Lake table: part-*.parquet and _delta_log/
    curated/<source>/_lockgate/attachments/<sha256>/<name>   files published beside a version (reports)
    quarantine/<source>/<run_id>/rows.parquet            rows a run set aside, as received but typed
    docs/_site/                                          the lake's Great Expectations Data Docs site
    docs/_results/<source>/<run_id>/validation.json      what a run's Data Docs page is built from
    state/<source>/state.json                            connector state the next extract starts from
    state/<source>/history/<run_id>.json                 every committed state, to see and restore
    audit/<seq:012d>.json                                the audit log: one hash-chained entry per object
    erasure/<erasure_id>.json                            the receipt of an erasure (no value in clear)
    suppression/<source>/<column>/<hash>.json            an erased subject, by keyed hash, kept out of runs
    .lockgate/work/run-<random>/                         working files of a live run (owner-only, local lake)

Why each piece is shaped as it is:

* Raw content is stored once per source (:mod:`storage.raw`): a run that receives bytes already in
  the lake points at the earlier object (``RawFile.reused_from``). The object is always stored before
  its index entry, so an index entry never names an object that was not written.
* Curated datasets are Delta tables (:mod:`storage.curated`): each version is one atomic commit that
  carries Lockgate's record of it (run, release id and parts, who rolled back or erased and why).
* Connector state (:mod:`storage.state`) is replaced whole, after the curated version is current, and
  each committed state is also kept under ``history/``.
* Every object carries access tags ``layer`` (raw, curated, quarantine, state, meta, audit), ``source``,
  ``sensitivity`` and ``pii`` (:mod:`storage.tags`) so S3 policies can decide who reads what.
  Bookkeeping that holds no data values (``_index``) is ``layer=meta``.

The DuckDB warehouse holds only views over the curated tables, so it can always be rebuilt
from the lake (see :func:`storage.layout.warehouse_path` for where it lives).
"""
