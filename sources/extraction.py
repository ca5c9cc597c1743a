"""What an extract hands the flow: local files to land, the connector's next state and a description.

Its own module so that every connector (files, PostgreSQL, S3) builds one without importing the
dispatcher in `sources.extract`, which imports the connectors.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict


class Extraction(BaseModel):
    """What one extract produced; holds paths and counts, never data values (it is logged and pickled)."""

    model_config = ConfigDict(frozen=True)

    files: list[Path]
    state: dict[str, Any] | None = None
    description: str
    empty: bool = False
