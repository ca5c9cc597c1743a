"""A real Prefect server (``prefect server start``) on a PostgreSQL database and a process worker, each a
subprocess started the way an operator starts them: unlike the session's in-process SQLite server
(`testkit.prefect_fixtures`), this shows that Lockgate runs against a production-style deployment."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping, Sequence

PREFECT = Path(sys.executable).with_name("prefect")
# Migrations on a fresh database took 12 s here; a busy 2-core CI box gets plenty of room, but a server
# that cannot start fails in minutes, not at the suite's timeout.
STARTUP_SECONDS = 180
STOP_SECONDS = 30
LOG_TAIL = 4000


def free_port() -> int:
    """A local port nothing listens on now (bound, then released), for a server to take or a client to
    be refused on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def log_tail(log: Path) -> str:
    """The end of a process's log, for a failure message that says why."""
    text = log.read_text(encoding="utf-8", errors="replace") if log.exists() else "(no log)"
    return text[-LOG_TAIL:]


@dataclass(frozen=True)
class PrefectServer:
    """A running server: its UI address, the API under it, and the Prefect home its clients share."""

    url: str
    home: Path

    @property
    def api_url(self) -> str:
        return f"{self.url}/api"

    def env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """The environment of a process talking to this server: its own home, no telemetry."""
        return {
            **os.environ,
            "PREFECT_HOME": str(self.home),
            "PREFECT_API_URL": self.api_url,
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "DO_NOT_TRACK": "1",
            **(extra or {}),
        }


@contextmanager
def started(
    args: Sequence[str | Path], env: Mapping[str, str], log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """Run `args` in a process group of its own, output to `log`; interrupt it (Ctrl-C) afterwards."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(a) for a in args],
            env=dict(env),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            yield process
        finally:
            stop(process)


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGINT to the process group this test started (its children too), SIGKILL if that is not enough."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGINT)
    try:
        process.wait(STOP_SECONDS)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _healthy(api_url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{api_url}/health", timeout=5) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


@contextmanager
def prefect_server(database_url: str, home: Path, log: Path) -> Iterator[PrefectServer]:
    """``prefect server start`` on `database_url` (``postgresql://…``; the database needs ``pg_trgm``),
    API and UI on a free loopback port, until the block ends.

    The scheduler is off: the test's deployments keep their crons, but only the run it starts happens.
    """
    port = free_port()
    server = PrefectServer(url=f"http://127.0.0.1:{port}", home=home)
    home.mkdir(parents=True, exist_ok=True)
    env = server.env(
        {
            "PREFECT_SERVER_DATABASE_CONNECTION_URL": database_url.replace(
                "postgresql://", "postgresql+asyncpg://", 1
            ),
            "PREFECT_UI_API_URL": server.api_url,  # the UI on a port other than 4200 needs it
        }
    )
    args: list[str | Path] = [
        PREFECT,
        "server",
        "start",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--no-scheduler",
    ]
    with started(args, env, log) as process:
        deadline = time.monotonic() + STARTUP_SECONDS
        while not _healthy(server.api_url):
            if process.poll() is not None:
                raise AssertionError(f"prefect server exited ({process.returncode}):\n{log_tail(log)}")
            if time.monotonic() > deadline:
                raise AssertionError(f"prefect server not up in {STARTUP_SECONDS} s:\n{log_tail(log)}")
            time.sleep(0.5)
        yield server


@contextmanager
def process_worker(
    server: PrefectServer, pool: str, log: Path, env: Mapping[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """``prefect worker start --pool POOL --type process``, polling every second, until the block ends;
    `env` (e.g. masking keys) reaches the flow runs it starts."""
    args: list[str | Path] = [PREFECT, "worker", "start", "--pool", pool, "--type", "process"]
    settings = {"PREFECT_WORKER_QUERY_SECONDS": "1", "PREFECT_LOGGING_LEVEL": "INFO"}  # its log says why
    with started(args, server.env({**settings, **(env or {})}), log) as process:
        yield process
