"""Prefect's ephemeral API server, started for this process and gone when it ends, however it ends.

Prefect starts that server lazily as a child process and stops it at interpreter exit, which neither
SIGTERM's default action nor kill -9 reaches: the server outlived the command. A terminal's Ctrl-C also
went to the server (it is in the command's process group) and shut it down under a run that was
finishing its step. So the server is started up front, from the main thread, with SIGINT blocked (the
mask is inherited: only the command gets Ctrl-C), and a watchdog in a session of its own holds a pipe
from this process. At a normal exit the server is stopped and the watchdog told to stand down; when the
pipe closes without that word, this process died, and the watchdog stops the server.
"""

from __future__ import annotations

import atexit
import contextlib
import signal
import subprocess
import sys
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from prefect.server.api.server import SubprocessASGIServer

# The watchdog, run with `python -c <this>`, reads the server's process id (a new line whenever Prefect
# starts it again on another port) from its standard input: "done" means stand down, and the end of the
# input without it means the command died. SIGTERM lets the server shut down; SIGKILL follows after 5 s.
_WATCHDOG = """
import os, signal, sys, time
pid = None
for line in sys.stdin:
    if line.strip() == "done":
        sys.exit(0)
    pid = int(line)
try:
    if pid is not None:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            time.sleep(0.05)
            os.kill(pid, 0)
        os.kill(pid, signal.SIGKILL)
except ProcessLookupError:
    pass
"""


def start_ephemeral_api() -> None:
    """Start Prefect's ephemeral API server now, tied to this process, if runs here will use one.

    Nothing to do when ``PREFECT_API_URL`` names a server, when the server already runs, or outside
    the main thread (signal masks and the watchdog's lifetime are per thread there).
    """
    from prefect.settings import PREFECT_API_URL

    if PREFECT_API_URL.value() or threading.current_thread() is not threading.main_thread():
        return
    from prefect.server.api.server import SubprocessASGIServer  # heavy: only when a server is needed

    server = SubprocessASGIServer()
    if server.running:
        return
    watchdog = subprocess.Popen(
        [sys.executable, "-c", _WATCHDOG],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,  # no Ctrl-C or hang-up from the command's terminal
    )
    # Registered before `start` registers the server's own stop, so that one (after Prefect's log and
    # event workers drained) comes first; stopping twice is harmless.
    atexit.register(_stand_down, server, watchdog)
    started = threading.Event()
    reporter = threading.Thread(target=_report_pid, args=(server, watchdog, started), daemon=True)
    reporter.start()
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        server.start()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
        started.set()
        reporter.join()


def _report_pid(
    server: SubprocessASGIServer, watchdog: subprocess.Popen[str], started: threading.Event
) -> None:
    """Tell the watchdog each server process as soon as `start` spawns it (it waits seconds for health)."""
    sent = None
    while True:
        done = started.wait(0.02)
        process = server.server_process
        if process is not None and process.pid != sent and watchdog.stdin is not None:
            with contextlib.suppress(OSError):
                watchdog.stdin.write(f"{process.pid}\n")
                watchdog.stdin.flush()
            sent = process.pid
        if done:
            return


def _stand_down(server: SubprocessASGIServer, watchdog: subprocess.Popen[str]) -> None:
    """At a normal exit: the server is stopped here, so the watchdog has nothing left to do."""
    server.stop()
    with contextlib.suppress(OSError):
        if watchdog.stdin is not None:
            watchdog.stdin.write("done\n")
            watchdog.stdin.close()
    with contextlib.suppress(subprocess.TimeoutExpired):
        watchdog.wait(timeout=2)
