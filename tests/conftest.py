"""Session-wide settings: keep Prefect and Great Expectations quiet, local and offline.

Set before any test module imports prefect, so a test run never touches ``~/.prefect``.
"""

from __future__ import annotations

import os
import tempfile

_PREFECT_HOME = tempfile.mkdtemp(prefix="lockgate-test-prefect-")

for name, value in {
    "PREFECT_HOME": _PREFECT_HOME,
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
    "PREFECT_LOGGING_LEVEL": "WARNING",
    "GX_ANALYTICS_ENABLED": "false",
}.items():
    os.environ[name] = value

# Fixtures for a real S3 server, Prefect API and Label Studio server, usable from every test folder;
# each starts only when a test asks for it.
pytest_plugins = [
    "testkit.catalog_fixtures",
    "testkit.s3_fixtures",
    "testkit.prefect_fixtures",
    "testkit.label_studio_fixtures",
]
