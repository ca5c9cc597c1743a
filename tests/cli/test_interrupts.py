"""SIGINT and SIGTERM against real `lockgate run` processes: the run stops at a step boundary, says what it
did, and leaves the lake and the warehouse in agreement; Prefect's ephemeral server ends with the command.

Every lake starts with `customers` v1 published and a changed input, so a publish would make v2.
Two kinds of signal source:
- a signal at each step boundary comes from inside a real process running the command, from a logging
  handler on the run's "starting <step>" line, so the boundary is exact; one process runs all of them,
  one command after another (as `lockgate serve` runs flows), in the background while the other tests
  run, so the module pays Python's imports a few times only;
- Ctrl-C (SIGINT to the whole process group, as a terminal sends it), SIGTERM and kill -9 come from this
  test, against ``python -m cli.app run`` on Prefect's ephemeral server, at a step long enough to hit.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from prefect.settings import PREFECT_API_URL
from testkit.catalog_fixtures import HASH_KEY, REPO, rewrite_customers
from typer.testing import CliRunner

from cli.app import app
from flows.pipeline import STEPS, ingest
from flows.results import SourceStatus
from storage import layout
from storage.curated import current_version, list_versions, read_current
from storage.store import open_store
from storage.warehouse import query

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

STEP_NAMES = [name for name, _ in STEPS]
SIGNALS = (signal.SIGINT, signal.SIGTERM)
TIMEOUT = 240  # seconds for a command to reach a step or to end, on a loaded machine

# Runs `lockgate run` once per job (argv[1], JSON) in this one process and writes what each did to argv[2].
# The handler sends the job's signal to this process when the run logs that the job's step starts.
DRIVER = r"""
import contextlib, io, json, logging, os, signal, sys
from cli.app import app
import flows.pipeline  # sets up Prefect's logging, which would drop a handler added before

jobs, report = json.loads(sys.argv[1]), sys.argv[2]

class SignalAtStep(logging.Handler):
    job, started = None, []
    def emit(self, record):
        step = record.getMessage().partition("customers: starting ")[2]
        if step:
            self.started.append(step)
            if step == self.job["step"]:
                os.kill(os.getpid(), signal.Signals[self.job["signal"]])

hook = SignalAtStep()
logging.getLogger("prefect.flow_runs").addHandler(hook)
before = [signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)]
results = []
for job in jobs:
    hook.job, hook.started = job, []
    out = io.StringIO()
    args = ["run", "--catalog", job["catalog"], "--lake", job["lake"], "--source", "customers"]
    with contextlib.redirect_stdout(out):
        try:
            code = app(args, prog_name="lockgate", standalone_mode=False) or 0
        except BaseException as exc:
            code = repr(exc)
    after = [signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)]
    results.append({**job, "exit": code, "started": hook.started, "output": out.getvalue(),
                    "handlers_restored": after == before})
with open(report, "w", encoding="utf-8") as f:
    json.dump(results, f)
"""


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory, prefect_api: None) -> tuple[Path, Path]:
    """A lake with `customers` v1, and a catalog whose customers file has changed since."""
    root = tmp_path_factory.mktemp("interrupts")
    catalog = shutil.copytree(REPO / "examples" / "catalog", root / "catalog")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("LOCKGATE_HASH_KEY", HASH_KEY)
        run = ingest(catalog=str(catalog), lake=str(root / "lake"), sources=["customers"])
    assert [r.status for r in run.sources] == [SourceStatus.PUBLISHED]
    rewrite_customers(catalog, {0: {"lifetime_value": "12345.67"}, 1: {"segment": "smb"}})
    return catalog, root / "lake"


@pytest.fixture(scope="module")
def environment(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The commands' environment: the test key, INFO logs (the step lines) and wide tables.

    The processes share a bytecode cache in a temporary folder: where PYTHONDONTWRITEBYTECODE is set,
    each would otherwise compile Great Expectations and Prefect from source (seconds of CPU each).
    """
    env = {**os.environ, "LOCKGATE_HASH_KEY": HASH_KEY, "PREFECT_LOGGING_LEVEL": "INFO", "COLUMNS": "200"}
    env.pop("PREFECT_API_URL", None)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(tmp_path_factory.mktemp("pycache"))
    return env


def _env(environment: dict[str, str], *, ephemeral: bool) -> dict[str, str]:
    return environment if ephemeral else {**environment, "PREFECT_API_URL": str(PREFECT_API_URL.value())}


def _lake_copy(published: tuple[Path, Path], where: Path) -> Path:
    return Path(shutil.copytree(published[1], where))


def _versions(lake: Path) -> tuple[list[int], int | None]:
    store = open_store(str(lake))
    current = current_version(store, "customers")
    return [v.version for v in list_versions(store, "customers")], current.version if current else None


def _assert_lake_and_warehouse_agree(lake: Path) -> None:
    """The warehouse view serves exactly the lake's current version."""
    current = read_current(open_store(str(lake)), "customers")
    served = query(layout.warehouse_path(str(lake)), "SELECT * FROM customers")
    assert served.sort("customer_id").equals(current.sort("customer_id"))


# ---- the second signal -----------------------------------------------------------------------------

SECOND_SIGNAL = """
import os, signal, time
from flows.interrupts import stop_on_signals, stop_signal
with stop_on_signals():
    os.kill(os.getpid(), signal.SIGINT)
    print("asked by", stop_signal(), flush=True)
    os.kill(os.getpid(), signal.SIGINT)
    time.sleep(60)
print("not reached")
"""


def test_the_second_signal_quits_at_once(environment: dict[str, str]) -> None:
    done = subprocess.run(
        [sys.executable, "-c", SECOND_SIGNAL],
        cwd=REPO,
        env=environment,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert done.returncode == -signal.SIGINT, done.stderr
    assert done.stdout == f"asked by {signal.SIGINT.value}\n"
    assert "SIGINT: stopping after the running step; send it again to quit at once" in done.stderr


# ---- signals from outside, on Prefect's ephemeral server ----------------------------------------------


@dataclass
class Command:
    """A `lockgate run` process in a session of its own (so a group signal reaches only it and its
    children), with its merged output collected line by line."""

    process: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)
    _seen: threading.Condition = field(default_factory=threading.Condition)

    @classmethod
    def start(cls, catalog: Path, lake: Path, env: dict[str, str]) -> Command:
        args = ["run", "--catalog", str(catalog), "--lake", str(lake), "--source", "customers"]
        process = subprocess.Popen(
            [sys.executable, "-m", "cli.app", *args],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        command = cls(process)
        threading.Thread(target=command._read, daemon=True).start()
        return command

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self._seen:
                self.lines.append(line)
                self._seen.notify_all()

    def wait_for(self, text: str) -> None:
        with self._seen:
            found = self._seen.wait_for(
                lambda: any(text in line for line in self.lines) or self.process.poll() is not None,
                timeout=TIMEOUT,
            )
        assert found and any(text in line for line in self.lines), self.output

    def finish(self) -> int:
        return self.process.wait(timeout=TIMEOUT)

    @property
    def output(self) -> str:
        with self._seen:
            return "".join(self.lines)


def _children(pid: int) -> dict[int, str]:
    """The processes whose parent is `pid`, with their command lines."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if int(stat.rpartition(")")[2].split()[1]) == pid:
            found[int(entry.name)] = cmdline
    return found


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has exited; only its parent's wait is missing


def _prefect_children(command: Command) -> tuple[int, int, int]:
    """The ephemeral server's process id and port, and its watchdog's process id."""
    children = _children(command.process.pid)
    [server] = [pid for pid, cmd in children.items() if "prefect.server.api.server:create_app" in cmd]
    [watchdog] = [pid for pid, cmd in children.items() if pid != server and " -c " in cmd]
    port = int(re.search(r"--port (\d+)", children[server]).group(1))  # type: ignore[union-attr]
    return server, port, watchdog


def _assert_gone(pids: tuple[int, ...], port: int) -> None:
    deadline = time.monotonic() + 20
    while any(_running(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [pid for pid in pids if _running(pid)]
    with socket.socket() as probe, pytest.raises(ConnectionRefusedError):
        probe.connect(("127.0.0.1", port))


@pytest.mark.parametrize(
    ("sig", "step"), [(signal.SIGINT, "validate"), (signal.SIGTERM, "mask")], ids=["ctrl-c", "sigterm"]
)
def test_a_signal_from_outside_stops_at_the_boundary_and_the_ephemeral_server_ends(
    published: tuple[Path, Path], environment: dict[str, str], tmp_path: Path, sig: signal.Signals, step: str
) -> None:
    lake = _lake_copy(published, tmp_path / "lake")
    command = Command.start(published[0], lake, _env(environment, ephemeral=True))
    command.wait_for(f"customers: starting {step}")
    server, port, watchdog = _prefect_children(command)
    if sig is signal.SIGINT:
        os.killpg(command.process.pid, sig)  # as a terminal's Ctrl-C: the server gets it too
    else:
        command.process.send_signal(sig)

    assert command.finish() == 128 + sig, command.output
    next_step = STEP_NAMES[STEP_NAMES.index(step) + 1]
    assert f"customers: stopped by {sig.name} before {next_step}" in command.output
    assert f"customers: interrupted before {next_step}" in command.output
    assert "Task run 'register' - Finished in state Completed()" in command.output
    assert (
        "Traceback" not in command.output
    )  # nor a lost API: the server outlived the signal, not the command
    assert _versions(lake) == ([0], 0)
    _assert_lake_and_warehouse_agree(lake)
    _assert_gone((server, watchdog), port)


def test_kill_9_leaves_no_server_behind_and_the_rerun_converges(
    published: tuple[Path, Path], environment: dict[str, str], tmp_path: Path
) -> None:
    lake = _lake_copy(published, tmp_path / "lake")
    command = Command.start(published[0], lake, _env(environment, ephemeral=True))
    command.wait_for("customers: starting validate")
    server, port, watchdog = _prefect_children(command)
    command.process.kill()
    assert command.finish() == -signal.SIGKILL
    _assert_gone((server, watchdog), port)
    assert _versions(lake) == ([0], 0)

    # The re-run, through the command in this process (on the test API): a clean run publishes v1 once.
    catalog = str(published[0])
    rerun = CliRunner().invoke(
        app,
        ["run", "--catalog", catalog, "--lake", str(lake), "--source", "customers"],
        env={"LOCKGATE_HASH_KEY": HASH_KEY, "COLUMNS": "200"},
    )
    assert rerun.exit_code == 0, rerun.output
    assert _versions(lake) == ([0, 1], 1)
    _assert_lake_and_warehouse_agree(lake)


# ---- a signal at each step boundary, sent from inside the command's process ---------------------------


@pytest.fixture(scope="module", autouse=True)
def boundary_driver(
    published: tuple[Path, Path], environment: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[[], list[dict[str, Any]]]]:
    """Starts the process that runs a command per signal and step, at once, in the background (autouse,
    so it works while the tests above it run); gives a function that waits for its report."""
    root = tmp_path_factory.mktemp("boundaries")
    jobs = [
        {
            "signal": sig.name,
            "step": step,
            "catalog": str(published[0]),
            "lake": str(_lake_copy(published, root / f"{sig.name}-{step}")),
        }
        for sig in SIGNALS
        for step in STEP_NAMES
    ]
    report = root / "report.json"
    driver = subprocess.Popen(
        [sys.executable, "-c", DRIVER, json.dumps(jobs), str(report)],
        cwd=REPO,
        env=_env(environment, ephemeral=False),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )

    @functools.cache
    def runs() -> list[dict[str, Any]]:
        _, stderr = driver.communicate(timeout=TIMEOUT * 3)
        assert driver.returncode == 0, stderr[-3000:]
        result: list[dict[str, Any]] = json.loads(report.read_text(encoding="utf-8"))
        return result

    yield runs
    if driver.poll() is None:  # only some tests ran: the report is not needed
        driver.kill()
        driver.communicate()


@pytest.mark.parametrize("sig", SIGNALS, ids=lambda s: s.name)
@pytest.mark.parametrize("step", STEP_NAMES)
def test_a_signal_during_a_step_lets_it_finish_and_starts_nothing_after(
    boundary_driver: Callable[[], list[dict[str, Any]]], step: str, sig: signal.Signals
) -> None:
    [run] = [r for r in boundary_driver() if r["signal"] == sig.name and r["step"] == step]
    lake, output = Path(run["lake"]), run["output"]
    position = STEP_NAMES.index(step)

    assert run["exit"] == 128 + sig, output
    assert run["started"] == STEP_NAMES[: position + 1]
    assert run["handlers_restored"]
    row = next(line for line in output.splitlines() if line.startswith("│ customers"))
    if step == "publish":  # the step that was running finished: v1 is current, and the warehouse serves it
        assert "published" in row
        assert _versions(lake) == ([0, 1], 1)
    else:
        assert "interrupted" in row
        assert f"customers: interrupted before {STEP_NAMES[position + 1]}" in output
        assert "curated layer untouched" in output
        assert _versions(lake) == ([0], 0)
    _assert_lake_and_warehouse_agree(lake)
