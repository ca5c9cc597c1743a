"""Working folders and leftovers: owner-only, swept only when their owner is gone, and a full disk
reported by step and cause with nothing half-made left.

Owners are real processes: a child that holds a working folder (or a store write) and is then killed
with SIGKILL, so nothing of its own cleanup runs. The full disk is a real tmpfs of a few hundred KB
(the tests need root to mount it and are skipped without), plus /dev/full for the error translation.
"""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from storage import layout
from storage.errors import DiskFull
from storage.local import LocalStore
from storage.raw import land_raw
from storage.warehouse import register_views
from storage.workdir import (
    LOCK_FILE,
    clean_leftovers,
    open_workdir,
    private_file,
    reporting_disk_full,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

REPO = Path(__file__).resolve().parents[2]
DAY = date(2026, 3, 7)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def _child(code: str, ready: Path) -> subprocess.Popen[bytes]:
    """A Python child that runs `code` (which creates `ready` when it holds what it should), then waits."""
    process = subprocess.Popen(
        [sys.executable, "-c", code], cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}
    )
    deadline = time.monotonic() + 60
    while not ready.exists():
        assert process.poll() is None, "the child ended before it was ready"
        assert time.monotonic() < deadline, "the child never got ready"
        time.sleep(0.01)
    return process


def _kill(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGKILL)
    assert process.wait(timeout=30) == -signal.SIGKILL


def test_a_working_folder_is_owner_only_and_goes_when_closed(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    root = layout.work_root(str(lake))
    with open_workdir(root, "run") as work:
        assert work.path.parent == root == lake / ".lockgate" / "work"
        assert (_mode(root), _mode(work.path), _mode(work.path / LOCK_FILE)) == (0o700, 0o700, 0o600)
        with private_file(work.path / "snapshot.csv") as out:
            out.write(b"id,email\n1,a@example.com\n")
        assert _mode(work.path / "snapshot.csv") == 0o600
        # The run's own folder is in use: a sweep meanwhile leaves it alone.
        report = clean_leftovers(str(lake))
        assert (report.folders, report.in_use) == ([], [work.path.name])
        assert (work.path / "snapshot.csv").exists()
    assert not work.path.exists()
    assert not root.exists()  # the last working folder takes the empty work root with it


def test_the_sweep_removes_folders_of_killed_owners_and_keeps_live_ones(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    root = layout.work_root(str(lake))
    hold = (
        "import sys, time; from pathlib import Path; from storage.workdir import open_workdir, private_file\n"
        "w = open_workdir(Path(sys.argv[1]), 'run')\n"
        "private_file(w.path / 'customers.csv').write(b'1,a@example.com\\n' * 1000)\n"
        "Path(sys.argv[2]).write_text(w.path.name)\n"
        "time.sleep(600)\n"
    )
    killed_ready, live_ready = tmp_path / "killed", tmp_path / "live"
    killed = _child(
        hold.replace("sys.argv[1]", repr(str(root))).replace("sys.argv[2]", repr(str(killed_ready))),
        killed_ready,
    )
    live = _child(
        hold.replace("sys.argv[1]", repr(str(root))).replace("sys.argv[2]", repr(str(live_ready))), live_ready
    )
    try:
        _kill(killed)
        dead_name, live_name = killed_ready.read_text(), live_ready.read_text()

        checked = clean_leftovers(str(lake), remove=False)
        assert (checked.folders, checked.in_use, checked.removed) == ([dead_name], [live_name], False)
        assert checked.bytes >= 16_000
        assert (root / dead_name).exists()  # only reported

        swept = clean_leftovers(str(lake))
        assert (swept.folders, swept.in_use, swept.removed) == ([dead_name], [live_name], True)
        assert not (root / dead_name).exists()
        assert (root / live_name / "customers.csv").exists()
    finally:
        _kill(live)
    assert clean_leftovers(str(lake)).folders == [live_name]
    assert list(root.iterdir()) == []


def test_the_sweep_removes_a_killed_writers_temporary_and_keeps_a_live_one(tmp_path: Path) -> None:
    """A store write from a pipe stalls half-way: its `.lockgate-tmp-*` is in use until the writer dies."""
    lake = tmp_path / "lake"
    LocalStore(lake)
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    writer = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from pathlib import Path; from storage.local import LocalStore\n"
            "key = 'raw/customers/2026-03-07/r1/customers.csv'\n"
            "LocalStore(Path(sys.argv[1])).put_file(key, Path(sys.argv[2]))",
            str(lake),
            str(pipe),
        ],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        with pipe.open("wb") as feed:
            feed.write(b"id,email\n" + b"1,a@example.com\n" * 1000)  # the writer waits for more
            feed.flush()
            folder = lake / "raw" / "customers" / "2026-03-07" / "r1"
            deadline = time.monotonic() + 60
            while not list(folder.glob(".lockgate-tmp-*")):
                assert time.monotonic() < deadline
                time.sleep(0.01)
            [temp] = folder.glob(".lockgate-tmp-*")
            assert clean_leftovers(str(lake)).temp_files == []  # its writer holds it
            assert temp.exists()
            _kill(writer)
    finally:
        if writer.poll() is None:
            _kill(writer)
    report = clean_leftovers(str(lake))
    assert report.temp_files == [temp.relative_to(lake).as_posix()]
    assert not temp.exists()
    assert LocalStore(lake).list("") == []


def test_the_store_lists_no_working_file_and_a_sweep_of_a_missing_lake_creates_nothing(
    tmp_path: Path,
) -> None:
    lake = tmp_path / "lake"
    assert clean_leftovers(str(lake)).found is False
    assert not lake.exists()
    store = LocalStore(lake)
    store.put_bytes("raw/a/x.json", b"{}")
    with open_workdir(layout.work_root(str(lake)), "run") as work:
        (work.path / "f.csv").write_bytes(b"1")
        assert store.list("") == ["raw/a/x.json"]


def test_a_refused_work_root_is_named(tmp_path: Path) -> None:
    root = tmp_path / "lake" / ".lockgate" / "work"
    root.parent.mkdir(parents=True)
    root.symlink_to(tmp_path)
    with pytest.raises(Exception, match="is not a folder of this user"):
        open_workdir(root, "run")


def test_landing_leaves_nothing_in_the_system_temporary_folder(tmp_path: Path) -> None:
    before = {p.name for p in Path(tempfile.gettempdir()).glob("lockgate-*")}
    source = tmp_path / "customers.csv"
    source.write_bytes(b"id,email\n1,a@example.com\n")
    store = LocalStore(tmp_path / "lake")
    [landed] = land_raw(store, "customers", "r1", DAY, [source])
    assert store.get_bytes(landed.key) == source.read_bytes()
    after = {p.name for p in Path(tempfile.gettempdir()).glob("lockgate-*")}
    assert after - before == set()
    assert not layout.work_root(str(tmp_path / "lake")).exists()
    # The adopted snapshot has a raw object's mode: owner-only, like the working file it was.
    assert _mode(Path(store.uri(landed.key))) == 0o600


# --- a full disk ----------------------------------------------------------------------------------


def test_running_out_of_room_names_the_step_and_the_cause() -> None:
    """A real ENOSPC: /dev/full refuses every write."""
    with (
        pytest.raises(DiskFull, match=r"^no space left on device while landing customers\.csv$"),
        reporting_disk_full("landing customers.csv"),
        Path("/dev/full").open("wb") as full,
    ):
        full.write(b"x" * 10)  # refused when the buffer is flushed, on close
    with pytest.raises(ValueError, match="other"), reporting_disk_full("landing customers.csv"):
        raise ValueError("other failures pass unchanged")


@pytest.fixture
def tiny_fs(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Path]:
    """A real small filesystem (tmpfs, 256 KiB unless parametrized indirectly with another size);
    skipped where this process may not mount one."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    size = getattr(request, "param", "256k")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount)], capture_output=True, check=False
    )
    if done.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root); /dev/full covers the message")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def test_a_landing_on_a_full_disk_says_so_and_leaves_no_run_folder(tiny_fs: Path, tmp_path: Path) -> None:
    source = tmp_path / "customers.csv"
    source.write_bytes(b"id,email\n" + b"1,a@example.com\n" * 40_000)  # 640 KB into 256 KB
    lake = tiny_fs / "lake"
    store = LocalStore(lake)
    with pytest.raises(
        DiskFull, match=r"^no space left on device while landing customers\.csv of customers$"
    ):
        land_raw(store, "customers", "r1", DAY, [source])
    assert not (lake / "raw").exists()  # no empty run folder, no folder without a manifest
    assert not layout.work_root(str(lake)).exists()  # the partial snapshot went too
    assert clean_leftovers(str(lake)).found is False


@pytest.mark.parametrize("tiny_fs", ["1m"], indirect=True)
def test_a_full_disk_leaves_no_empty_wal_and_no_half_made_warehouse(tiny_fs: Path, tmp_path: Path) -> None:
    import polars as pl

    data = tmp_path / "customers"
    pl.DataFrame({"id": [1, 2]}).write_delta(data)
    warehouse = tiny_fs / "warehouse.duckdb"
    register_views(warehouse, {"customers": str(data)})
    with (tiny_fs / "filler").open("wb", buffering=0) as filler, pytest.raises(OSError, match="No space"):
        while True:
            filler.write(b"\0" * 4096)
    with (
        pytest.raises(DiskFull, match=r"^no space left on device while registering views$"),
        reporting_disk_full("registering views"),
    ):
        register_views(warehouse, {"customers": str(data), "stores": str(data)})
    with pytest.raises(DiskFull), reporting_disk_full("registering views"):
        register_views(tiny_fs / "new.duckdb", {"customers": str(data)})
    assert sorted(p.name for p in tiny_fs.iterdir()) == ["filler", "warehouse.duckdb"]  # no WAL, no new file
    from storage.warehouse import connect

    con = connect(warehouse, read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM customers").fetchone() == (2,)  # the old view still works
    finally:
        con.close()
