"""One real Prefect API for every test that runs a flow (a temporary server on SQLite), once per session."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from prefect.testing.utilities import prefect_test_harness

if TYPE_CHECKING:
    from collections.abc import Iterator


@pytest.fixture(scope="session")
def prefect_api() -> Iterator[None]:
    with prefect_test_harness(server_startup_timeout=120):
        yield
