"""Pytest fixtures for one real Label Studio server per test session (fresh data dir, generated admin).

Starting it takes about 40 s on a fresh data dir, so every labeling test shares it; tests keep apart
by giving their projects unique titles.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING

import pytest

from flows.settings import Settings
from labeling.errors import LabelStudioServerError
from labeling.server import LabelStudioServer, default_executable
from labeling.studio import Studio

if TYPE_CHECKING:
    from collections.abc import Iterator


@pytest.fixture(scope="session")
def label_studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabelStudioServer]:
    data_dir = tmp_path_factory.mktemp("label-studio")
    server = LabelStudioServer(
        data_dir,
        username="admin@lockgate.test",
        password=secrets.token_urlsafe(16),
        token=secrets.token_hex(20),
        executable=default_executable(Settings().label_studio_bin),  # LOCKGATE_LABEL_STUDIO_BIN, if set
    )
    try:
        server.start(timeout=300)
    except LabelStudioServerError as exc:
        pytest.fail(f"the Label Studio server did not start: {exc}", pytrace=False)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def studio(label_studio: LabelStudioServer) -> Studio:
    return Studio(label_studio.url, label_studio.token)
