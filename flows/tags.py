"""Prefect tags from the passports, so the UI filters runs by source, owner and sensitivity.

The same tags go on a source's scheduled deployment and (all selected sources' together) on the flow
run, whether the run came from a schedule or from ``lockgate run``. Task runs carry no tags and say
their source in their name (``validate[customers]``): Prefect takes a tag-concurrency lease from the
server for every tagged task run, a database write. On the local SQLite server that write collided
with the server's own background writers (``SQLITE_BUSY``, answered ``503``), and the client retried
after ≈2 s: measured on the 5M-row benchmark, three such stalls in a 27 s run; with a tag set per
source, ≈0.47 s per task run at 30 sources. A limit on Lockgate's concurrency belongs on the flow
(its deployment's or work pool's concurrency limit), which these tags filter.
Tags carry catalog metadata only (names, the owner's address, the sensitivity level), never data.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from uuid import UUID

from prefect.client.orchestration import get_client
from prefect.runtime import flow_run

if TYPE_CHECKING:
    from collections.abc import Iterable

    from sources.catalog import Source

LOCKGATE_TAG = "lockgate"


def source_tags(source: Source) -> list[str]:
    """``lockgate``, ``source:<name>``, ``owner:<e-mail>``, ``sensitivity:<level>``, then the passport's
    own tags."""
    passport = source.passport
    fixed = [
        LOCKGATE_TAG,
        f"source:{source.name}",
        f"owner:{passport.owner}",
        f"sensitivity:{passport.sensitivity.value}",
    ]
    return list(dict.fromkeys([*fixed, *passport.tags]))


def run_tags(sources: Iterable[Source]) -> list[str]:
    """Every selected source's tags, once each, in catalog order."""
    return list(dict.fromkeys(tag for source in sources for tag in source_tags(source)))


def tag_flow_run(sources: Iterable[Source]) -> None:
    """Add the sources' tags to the current flow run (keeping those it has, e.g. its deployment's).

    A flow run's tags are fixed when it is created, before the flow has read its catalog: they are
    added through the API once it has. Outside a flow run there is nothing to tag.
    """
    run_id = flow_run.get_id()
    if run_id is None:
        return
    tags = list(dict.fromkeys([*flow_run.get_tags(), *run_tags(sources)]))
    with get_client(sync_client=True) as client:
        client.update_flow_run(UUID(run_id), tags=tags)
