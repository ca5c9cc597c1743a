"""Lockgate's lake: one object store (a local directory or an ``s3://bucket/prefix``) with its layers.

Every key is built in :mod:`storage.layout`, so the shape of the lake is written down in one place::

    raw/<source>/<YYYY-MM-DD>/<run_id>/<file>            bytes exactly as received, never overwritten
    raw/<source>/<YYYY-MM-DD>/<run_id>/_manifest.json    checksums, row count, passport of that landing
    raw/<source>/_index/<sha256>.json                    first object holding that content (dedup)
    curated/<source>/v000001/data.parquet                one immutable version of the masked dataset
    curated/<source>/v000001/_version.json               what made it: inputs, contract, masking, checksum
    curated/<source>/_current.json                       the pointer readers follow; moved last
    curated/<source>/_events/<UTC stamp>-<v>-<action>.json   one immutable object per pointer move
    curated/<source>/_claims/v000001.json                a version number taken, never to be reused
    curated/<source>/_verified.json                      data files last verified, by size and identity
    state/<source>/state.json                            connector state the next extract starts from
    state/<source>/history/<run_id>.json                 every committed state, to see and restore
    .lockgate/work/run-<random>/                         working files of a live run (owner-only, local lake)

Why each piece is shaped as it is:

* Raw content is stored once per source (:mod:`storage.raw`): a run that receives bytes already in
  the lake points at the earlier object (``RawFile.reused_from``). The object is always stored before
  its index entry, so an index entry never names an object that was not written.
* Curated versions are immutable; only ``_current.json`` is overwritten (:mod:`storage.curated`).
  ``publish`` writes the pointer and then its event, a rollback writes its event and then the pointer,
  so history never shows a publish that did not happen and no operator move goes unrecorded.
* Connector state (:mod:`storage.state`) is replaced whole, after the curated version is current, and
  each committed state is also kept under ``history/``.
* Every object carries access tags ``layer`` (raw, curated, state, meta), ``source``, ``sensitivity``
  and ``pii`` (:mod:`storage.tags`) so S3 policies can decide who reads what. Bookkeeping that holds no
  data values (``_index``, ``_version.json``, ``_current.json``, ``_events``) is ``layer=meta``.

The DuckDB warehouse holds only views over the current curated objects, so it can always be rebuilt
from the lake (see :func:`storage.layout.warehouse_path` for where it lives).
"""
