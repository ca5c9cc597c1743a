"""Labels datasets in role outputs: ``labels_support_tickets`` reaches the roles that read support_tickets.

The labels are published through the labeling flow's own path (the gate's `decide`, the flow's labels
frame and its ``publish-labels`` task) on a lake holding the published example catalog; the role outputs
are then built as the collect flow rebuilds them after a publish. The collect flow's own rebuild, with
a real Label Studio, is checked in ``test_label.py``.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl
import pytest
from testkit import published_example
from testkit.catalog_fixtures import HASH_KEY

from flows.access import build_role_outputs
from flows.label import labels_frame, publish_labels_task
from flows.role_session import query_as
from labeling.access import LABELS_COLUMNS
from labeling.gate import decide
from labeling.plan import load_plans
from labeling.studio import VERSION
from sources.catalog import load_catalog
from storage import audit
from storage.curated import read_current
from storage.errors import AccessDenied
from storage.roles import read_manifest
from storage.store import open_store

if TYPE_CHECKING:
    from collections.abc import Iterator

REPO = Path(__file__).resolve().parents[2]
LABELS = "labels_support_tickets"


def publish_labels(catalog: Path, lake: str) -> pl.DataFrame:
    """Three annotators agree on five tickets: the labels the collect flow would publish for them."""
    [plan] = load_plans(load_catalog(catalog))
    tickets = read_current(open_store(lake), "support_tickets")["ticket_id"].sort().head(5).to_list()
    topics = dict(zip(tickets, ["payment", "delivery", "return", "payment", "other"], strict=True))
    annotations = pl.DataFrame(
        {
            "item_id": [t for t in tickets for _ in range(3)],
            "annotator": [f"annotator-{i}" for _ in tickets for i in range(3)],
            "label": [topics[t] for t in tickets for _ in range(3)],
            VERSION: ["0"] * 15,
        }
    )
    labels = labels_frame(decide(annotations, overlap=3), annotations, plan)
    publish_labels_task.fn(plan, lake, labels, {"verdict": "accept"}, "f" * 64, "r-labels")
    return labels


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, pl.DataFrame]]:
    folder = tmp_path_factory.mktemp("access-labels")
    catalog = Path(shutil.copytree(REPO / "examples" / "catalog", folder / "catalog"))
    lake = str(folder / "lake")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LOCKGATE_HASH_KEY", HASH_KEY)
        published_example.publish_example(catalog, lake, bytes.fromhex(HASH_KEY))
        build_role_outputs(catalog, lake)
        assert LABELS in read_manifest(open_store(lake), "analyst").denied  # not published yet
        labels = publish_labels(catalog, lake)
        build_role_outputs(catalog, lake)
        yield lake, labels


def test_roles_that_read_a_dataset_read_its_labels(world: tuple[str, pl.DataFrame]) -> None:
    lake, labels = world
    store = open_store(lake)
    assert labels.height == 5 and labels.columns == ["ticket_id", *LABELS_COLUMNS]
    for role in ("analyst", "privacy_officer"):
        manifest = read_manifest(store, role)
        dataset = manifest.datasets[LABELS]
        assert dataset.columns == {"ticket_id": "clear"} | dict.fromkeys(LABELS_COLUMNS, "clear")
        assert dataset.sensitivity == manifest.datasets["support_tickets"].sensitivity == "confidential"
        assert dataset.key.startswith(f"roles/{role}/{LABELS}/")
        assert manifest.sensitivity[LABELS] == "confidential"


def test_annotators_do_not_read_the_labels(world: tuple[str, pl.DataFrame]) -> None:
    lake, _ = world
    manifest = read_manifest(open_store(lake), "annotator")
    assert sorted(manifest.datasets) == ["support_tickets"]
    assert manifest.denied[LABELS] == "labels are not what labeling plans send: annotators label on their own"
    with pytest.raises(
        AccessDenied, match=f"dataset '{LABELS}' is denied to role 'annotator': labels are not"
    ):
        query_as(lake, "annotator", f"SELECT label FROM {LABELS}", user="ivan")


def test_labels_join_their_dataset_in_a_role_query_and_the_query_is_audited(
    world: tuple[str, pl.DataFrame],
) -> None:
    lake, labels = world
    sql = (
        f"SELECT t.ticket_id, t.subject, l.label FROM support_tickets t JOIN {LABELS} l USING (ticket_id) "
        "ORDER BY 1"
    )
    result = query_as(lake, "analyst", sql, user="anna")
    assert result.frame["ticket_id"].to_list() == labels["ticket_id"].to_list()
    assert result.frame["label"].to_list() == labels["label"].to_list()
    entry = audit.entries(open_store(lake), action="query")[-1]
    assert entry.details["datasets"] == [LABELS, "support_tickets"]
    assert entry.details["columns"] == [
        f"{LABELS}.label",
        f"{LABELS}.ticket_id",
        "support_tickets.subject",
        "support_tickets.ticket_id",
    ]
    assert query_as(lake, "analyst", f"SELECT * FROM {LABELS}", user="anna").frame.columns == [
        "ticket_id",
        *LABELS_COLUMNS,
    ]
