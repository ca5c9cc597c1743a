"""Working folders: where a run keeps files on their way into the lake, owned by it, swept after crashes.

A run needs local files before they become objects: the snapshot of a file being landed (hashed as it
is copied), an extract from PostgreSQL or S3, an S3 object verified before it is parsed, Data Docs
before upload. They used to go to the system temporary folder, and a run killed with SIGKILL never
runs its cleanup: an unmasked copy of a source stayed in a folder shared by every user of the host,
and nothing ever removed it. They now live under one folder per lake (:func:`storage.layout.work_root`),
folders 0700 and files 0600, and every run starts by removing what crashed runs left
(:func:`clean_leftovers`, which ``lockgate lake check --repair`` calls too).

What counts as left over is decided by a lock, not by age or a PID that may have been reused: each
working folder holds a lock file that its owner keeps locked (``flock``) for as long as it works there,
and the kernel drops the lock when the process ends, however it ends. The sweep removes a folder only
after taking that lock itself, so it never removes the folder of a run in progress. The lock file also
records the owner's PID and host, for people. The local store's atomic-write temporaries
(``.lockgate-tmp-*`` beside their target, see :mod:`storage.local`) are locked by their writer the
same way, so the sweep finds the ones a killed writer left.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import shutil
import socket
import stat
import tempfile
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING

from pydantic import BaseModel, ConfigDict

from storage import layout
from storage.base import TEMP_MARKER
from storage.errors import DiskFull, StorageError
from storage.local import LocalStore
from storage.s3 import S3Store

if TYPE_CHECKING:
    from collections.abc import Iterator

    from storage.base import ObjectStore

LOCK_FILE = ".owner.lock"
# A folder without its lock file is an owner between mkdir and locking (microseconds), or a crash there.
_LOCKLESS_GRACE_SECONDS = 60.0
_NO_SPACE = {errno.ENOSPC: "no space left on device", errno.EDQUOT: "disk quota exceeded"}


def disk_full(exc: BaseException) -> str | None:
    """Why the error (or one it was raised from) is the filesystem running out of room, or None.

    OSErrors carry an errno; DuckDB and other native libraries report the C library's text instead.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, DiskFull):
            text = str(current)
            return next((r for r in _NO_SPACE.values() if text.startswith(r)), _NO_SPACE[errno.ENOSPC])
        if isinstance(current, OSError) and current.errno in _NO_SPACE:
            return _NO_SPACE[current.errno]
        text = str(current)
        for code, reason in _NO_SPACE.items():
            if os.strerror(code) in text:
                return reason
        current = current.__cause__ or current.__context__
    return None


@contextmanager
def reporting_disk_full(doing: str) -> Iterator[None]:
    """Re-raise running out of room as `DiskFull` naming the step: "no space left on device while {doing}".

    The innermost step that knows what it was writing names it; outer steps let its message through.
    """
    try:
        yield
    except DiskFull:
        raise
    except Exception as exc:
        reason = disk_full(exc)
        if reason is None:
            raise
        raise DiskFull(f"{reason} while {doing}") from exc


def private_file(path: Path) -> IO[bytes]:
    """Open `path` for writing (created or truncated), readable and writable by its owner only."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    os.fchmod(fd, 0o600)  # an existing file keeps its mode through O_CREAT
    return os.fdopen(fd, "wb")


class WorkDir:
    """A working folder this process holds: locked until `close`, which removes it with its content."""

    def __init__(self, path: Path, lock: int) -> None:
        self.path = path
        self._lock = lock

    def __enter__(self) -> WorkDir:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Remove the folder, then let go of its lock (in that order, so no sweep races the removal),
        then the work root if nothing else is in it: a lake keeps no empty working area."""
        if self._lock < 0:
            return
        try:
            shutil.rmtree(self.path, ignore_errors=True)
        finally:
            os.close(self._lock)
            self._lock = -1
        with contextlib.suppress(OSError):  # not empty: another run works there
            self.path.parent.rmdir()


def _private_root(root: Path) -> None:
    """Create the work root owner-only; refuse one that is a symlink or that another user owns."""
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = os.lstat(root)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        raise StorageError(f"working folder {root} is not a folder of this user; remove it and run again")
    if stat.S_IMODE(info.st_mode) != 0o700:
        root.chmod(0o700)


def open_workdir(root: Path, name: str | None = None) -> WorkDir:
    """Create and lock a new working folder under `root` (a lake's :func:`~storage.layout.work_root`).

    `name` starts the folder's name (what it is for); a random part makes it unique.
    """
    with reporting_disk_full(f"creating a working folder in {root}"):
        return _open_workdir(root, name)


def _open_workdir(root: Path, name: str | None) -> WorkDir:
    _private_root(root)
    for _attempt in range(8):
        path = root / f"{name or 'work'}-{uuid.uuid4().hex[:12]}"
        try:
            path.mkdir(mode=0o700)
        except FileExistsError:
            continue
        except FileNotFoundError:  # the root went with the last folder of another run: make it again
            _private_root(root)
            continue
        try:
            lock = _lock_new(path)
        except BaseException:
            shutil.rmtree(path, ignore_errors=True)
            raise
        if lock is not None:
            return WorkDir(path, lock)
    raise StorageError(f"could not create a working folder under {root}")


def _lock_new(path: Path) -> int | None:
    """Create and lock the folder's lock file; None when a sweep took the (still empty) folder first."""
    lock_path = path / LOCK_FILE
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        # A sweep may have locked, removed and released the file before our flock: then ours is stale.
        if os.fstat(fd).st_ino != os.lstat(lock_path).st_ino:
            raise FileNotFoundError(lock_path)
        owner = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.time()}
        os.write(fd, json.dumps(owner).encode())
    except (BlockingIOError, FileNotFoundError):
        os.close(fd)
        return None
    except BaseException:
        os.close(fd)
        raise
    return fd


@contextmanager
def scratch(work: Path, prefix: str) -> Iterator[Path]:
    """A private sub-folder (0700) of a working folder for one step, removed when the step ends.

    After a crash it goes with its working folder, at the next sweep.
    """
    path = Path(tempfile.mkdtemp(prefix=prefix, dir=work))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def store_work_root(store: ObjectStore) -> Path:
    """The work root of the lake a store opens (see :func:`storage.layout.work_root`)."""
    if isinstance(store, LocalStore):
        return layout.work_root(str(store.root))
    if isinstance(store, S3Store):
        return layout.work_root(f"s3://{store.bucket}/{store.prefix}")
    return layout.work_root("s3://other-stores")


@contextmanager
def step_folder(store: ObjectStore, work: Path | None, prefix: str) -> Iterator[Path]:
    """A sub-folder of the run's working folder `work`, or, without one, a working folder of its own."""
    if work is not None:
        with scratch(work, prefix) as path:
            yield path
        return
    with open_workdir(store_work_root(store), prefix.rstrip("-")) as own:
        yield own.path


class LeftoverReport(BaseModel):
    """What crashed runs left in a lake's working area and among its objects, and whether it is gone.

    Names are relative: working folders to `work_root`, temporaries to the lake's root.
    """

    model_config = ConfigDict(frozen=True)

    work_root: str
    folders: list[str] = []  # working folders nobody holds any more
    temp_files: list[str] = []  # ``.lockgate-tmp-*`` files no writer holds any more
    in_use: list[str] = []  # working folders of runs in progress, left alone
    bytes: int = 0  # what the leftovers took up
    removed: bool = False  # False when only checked

    @property
    def found(self) -> bool:
        return bool(self.folders or self.temp_files)


def clean_leftovers(lake: str, *, remove: bool = True) -> LeftoverReport:
    """Find, and unless `remove` is False remove, what crashed runs left behind.

    That is every working folder under the lake's work root whose owner is gone, and (for a local
    lake) every ``.lockgate-tmp-*`` file in the lake that no writer holds. Folders and files in use are
    never touched. Each run calls this first; ``lockgate lake check`` reports with ``remove=False``,
    and ``--repair`` removes. Nothing is created: a lake without a work root has no leftovers.
    """
    root = layout.work_root(lake)
    folders, in_use, size = [], [], 0
    if root.is_dir() and not root.is_symlink():
        for entry in sorted(root.iterdir()):
            freed = _sweep_folder(entry, remove)
            if freed is None:
                in_use.append(entry.name)
            elif freed >= 0:
                folders.append(entry.name)
                size += freed
    temps: list[str] = []
    lake_root = Path(lake)
    if not layout.is_s3(lake) and lake_root.is_dir():
        for path, freed in _sweep_temps(lake_root, remove):
            temps.append(path.relative_to(lake_root).as_posix())
            size += freed
    return LeftoverReport(
        work_root=str(root),
        folders=folders,
        temp_files=temps,
        in_use=in_use,
        bytes=size,
        removed=remove,
    )


def _tree_size(path: Path) -> int:
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += (Path(dirpath) / name).lstat().st_size
            except FileNotFoundError:
                continue
    return total


def _sweep_folder(entry: Path, remove: bool) -> int | None:
    """Bytes of a left-over entry (removed when `remove`), None when in use, -1 when it vanished."""
    try:
        if entry.is_symlink() or not entry.is_dir():  # only working folders belong here
            size = entry.lstat().st_size
            if remove:
                entry.unlink(missing_ok=True)
            return size
        try:
            lock = os.open(entry / LOCK_FILE, os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC)
        except FileNotFoundError:
            if time.time() - entry.lstat().st_mtime < _LOCKLESS_GRACE_SECONDS:
                return None  # its owner is between creating it and locking it
            return _remove_tree(entry, remove)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(lock)
            return None
        try:
            return _remove_tree(entry, remove)  # removed while we hold its lock
        finally:
            os.close(lock)
    except FileNotFoundError:
        return -1


def _remove_tree(path: Path, remove: bool) -> int:
    size = _tree_size(path)
    if remove:
        shutil.rmtree(path, ignore_errors=True)
    return size


def _sweep_temps(lake_root: Path, remove: bool) -> Iterator[tuple[Path, int]]:
    """The local store's temporaries no writer holds: written by a process that died before its rename."""
    for dirpath, dirs, files in os.walk(lake_root):
        if dirpath == str(lake_root):
            dirs[:] = [d for d in dirs if d != layout.LOCAL_DIR]
        for name in files:
            if not name.startswith(TEMP_MARKER):
                continue
            path = Path(dirpath) / name
            try:
                handle = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
            except OSError:
                continue
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                size = os.fstat(handle).st_size
                if remove:
                    # By name: if the writer renamed it meanwhile, the name is gone and nothing is lost.
                    path.unlink(missing_ok=True)
            except BlockingIOError:
                continue
            finally:
                os.close(handle)
            yield path, size


__all__ = [
    "LOCK_FILE",
    "LeftoverReport",
    "WorkDir",
    "clean_leftovers",
    "disk_full",
    "open_workdir",
    "private_file",
    "reporting_disk_full",
    "scratch",
    "step_folder",
    "store_work_root",
]
