"""A Label Studio server on loopback, and where Lockgate finds the one it talks to.

Label Studio runs from its own environment (``.ls-venv``, made by ``make label-studio-env``): its pins
clash with Lockgate's, so Lockgate only ever starts its executable and speaks HTTP to it. The same
class serves the tests (a throwaway data dir), the demo and annotators running it locally
(``python -m labeling.server``). Passwords and tokens go to the server through its environment, never
its command line, and are kept out of reprs, logs and error messages.

This module reads none of Lockgate's settings: URL, token, credentials, executable and port are given
by the caller (`flows.settings` reads the ``LOCKGATE_LABEL_STUDIO_*`` variables named below).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING

import httpx
from pydantic import SecretStr

from contracts.errors import SecretUnavailable
from contracts.secrets import read_prefect_secret
from labeling.errors import LabelStudioServerError

if TYPE_CHECKING:
    from collections.abc import Mapping
    from types import TracebackType

HOST = "127.0.0.1"
ENV_PREFIX = "LOCKGATE_"  # Lockgate's own variables: none of them is handed to the Label Studio process
BIN_ENV = "LOCKGATE_LABEL_STUDIO_BIN"
URL_ENV = "LOCKGATE_LABEL_STUDIO_URL"
TOKEN_ENV = "LOCKGATE_LABEL_STUDIO_TOKEN"  # noqa: S105 - a variable name, not a secret
TOKEN_BLOCK = "lockgate-label-studio-token"  # noqa: S105 - a Prefect block name, not a secret
MAKE_TARGET = "make label-studio-env"
DEFAULT_LOCAL_PORT = 8080
DEFAULT_LOCAL_USERNAME = "admin@lockgate.local"
CREDENTIALS_FILE = "credentials.json"

# Label Studio prints this once its HTTP server listens; it moves to the next port when ours is taken.
_LISTENING = re.compile(r"Starting development server at https?://[^:/\s]+:(\d+)/")
_TOKEN = re.compile(r"^[A-Za-z0-9]{6,40}$")  # what Label Studio accepts as a legacy token (40 hex by default)


def repo_root() -> Path:
    return Path(__file__).resolve().parents[1]


def default_executable(configured: str | Path | None = None) -> Path:
    """`configured` (the ``LOCKGATE_LABEL_STUDIO_BIN`` setting), else ``.ls-venv/bin/label-studio``."""
    return Path(configured) if configured else repo_root() / ".ls-venv" / "bin" / "label-studio"


def free_port(host: str = HOST) -> int:
    """A port nobody listens on right now (the server still re-checks: someone may take it meanwhile)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class LabelStudioServer:
    """One ``label-studio start`` process on 127.0.0.1, in its own process group so stop() ends all of it.

    Ready means ``GET /health`` answers 200 *and* the admin token authenticates: Label Studio creates
    the admin (with `username`, `password`, `token`) on the first start of a data dir only, so a data
    dir made with other credentials is reported instead of silently used.
    """

    def __init__(
        self,
        data_dir: Path,
        *,
        username: str,
        password: str,
        token: str,
        port: int | None = None,
        executable: Path | None = None,
        log_path: Path | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        if "@" not in username:
            raise ValueError("the Label Studio admin username must be an email address")
        if not password:
            raise ValueError("the Label Studio admin password must not be empty")
        if not _TOKEN.match(token):
            raise ValueError("the Label Studio token must be 6 to 40 letters or digits (e.g. 40 hex digits)")
        self.data_dir = Path(data_dir).resolve()
        self.username = username
        self.password = password
        self.token = token
        self.port = port
        self.executable = Path(executable) if executable is not None else default_executable()
        self.log_path = Path(log_path) if log_path is not None else self.data_dir / "label-studio.log"
        self.extra_env = dict(env or {})
        self.startup_seconds: float | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        if self.port is None:
            raise LabelStudioServerError("the Label Studio server has no port yet: call start() first")
        return f"http://{HOST}:{self.port}"

    def __repr__(self) -> str:
        port = self.port if self.port is not None else "?"
        where = f"url='http://{HOST}:{port}', data_dir='{self.data_dir}'"
        return f"LabelStudioServer({where}, username={self.username!r})"

    def __enter__(self) -> LabelStudioServer:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def _environment(self) -> dict[str, str]:
        """This process's environment minus Lockgate's variables (keys, connection strings: not its
        business), plus the admin and Label Studio's own settings."""
        env = {name: value for name, value in os.environ.items() if not name.upper().startswith(ENV_PREFIX)}
        env.update(
            {
                "LABEL_STUDIO_USERNAME": self.username,
                "LABEL_STUDIO_PASSWORD": self.password,
                "LABEL_STUDIO_USER_TOKEN": self.token,
                "LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN": "true",
                "LABEL_STUDIO_DISABLE_SIGNUP_WITHOUT_LINK": "true",
                # Without this Label Studio also creates ~/.local/share/label-studio.
                "LABEL_STUDIO_BASE_DATA_DIR": str(self.data_dir),
                "LATEST_VERSION_CHECK": "false",
                "COLLECT_ANALYTICS": "false",
                "SENTRY_DSN": "",
                "FRONTEND_SENTRY_DSN": "",
                "PYTHONUNBUFFERED": "1",  # the "listening on port" line must reach the log at once
            }
        )
        env.update(self.extra_env)
        return env

    def start(self, timeout: float = 240) -> None:
        """Start the server and wait until it serves and accepts the token; raises with the log's tail."""
        if self.running:
            return
        if not self.executable.is_file():
            raise LabelStudioServerError(
                f"the Label Studio server is not installed at {self.executable}: run `{MAKE_TARGET}` "
                f"(or set {BIN_ENV} to a label-studio executable)"
            )
        self.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        if self.port is None:
            self.port = free_port()
        command = [
            str(self.executable),
            "start",
            "--no-browser",
            "--internal-host",
            HOST,
            "--port",
            str(self.port),
            "--data-dir",
            str(self.data_dir),
            "--enable-legacy-api-token",
        ]
        started = time.monotonic()
        self._log = self.log_path.open("ab")
        log_offset = self._log.tell()
        self._process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=self._environment(),
            cwd=self.data_dir,
            start_new_session=True,
        )
        try:
            self._wait_ready(started + timeout, log_offset)
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - started

    def _wait_ready(self, deadline: float, log_offset: int) -> None:
        port_confirmed = False
        with httpx.Client(timeout=5.0) as client:
            while True:
                assert self._process is not None
                code = self._process.poll()
                if code is not None:
                    raise LabelStudioServerError(self._failure(f"exited with code {code} while starting"))
                if not port_confirmed:
                    listening = _LISTENING.search(self._read_log(log_offset))
                    if listening:
                        self.port = int(listening.group(1))  # where it really listens, if it had to move
                        port_confirmed = True
                if self._healthy(client):
                    status = self._auth_status(client)
                    if status == 200:
                        return
                    if port_confirmed and status in (401, 403):
                        raise LabelStudioServerError(
                            self._failure(
                                f"does not accept the admin token ({status}): the data dir {self.data_dir} "
                                "was probably created with other credentials or without legacy tokens; "
                                "use the credentials it was first started with, or a fresh data dir"
                            )
                        )
                    if port_confirmed and status == 404:
                        raise LabelStudioServerError(self._failure("has no /api/current-user/whoami (404)"))
                if time.monotonic() > deadline:
                    raise LabelStudioServerError(self._failure("was not ready in time"))
                time.sleep(0.5)

    def _healthy(self, client: httpx.Client) -> bool:
        try:
            return client.get(f"{self.url}/health").status_code == 200
        except httpx.HTTPError:
            return False

    def _auth_status(self, client: httpx.Client) -> int | None:
        try:
            response = client.get(
                f"{self.url}/api/current-user/whoami", headers={"Authorization": f"Token {self.token}"}
            )
        except httpx.HTTPError:
            return None
        return response.status_code

    def _read_log(self, offset: int = 0) -> str:
        try:
            with self.log_path.open("rb") as log:
                log.seek(offset)
                return log.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def log_tail(self, lines: int = 40) -> str:
        """The end of the server's log, with the password and token blanked out."""
        text = "\n".join(self._read_log().splitlines()[-lines:])
        for secret in (self.password, self.token):
            text = text.replace(secret, "***")
        return text

    def _failure(self, what: str) -> str:
        return (
            f"Label Studio ({self.executable}, port {self.port}, data dir {self.data_dir}) {what}; "
            f"log {self.log_path}, last lines:\n{self.log_tail()}"
        )

    def wait(self) -> int:
        """Block until the server exits (the foreground command); returns its exit code."""
        if self._process is None:
            raise LabelStudioServerError("the Label Studio server was not started")
        return self._process.wait()

    def stop(self, grace: float = 10.0) -> None:
        """SIGTERM the whole process group, SIGKILL what is left after `grace` seconds."""
        process, self._process = self._process, None
        if process is not None:
            for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, grace)):
                if process.poll() is not None:
                    break
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, sig)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(wait)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)  # children left behind by a dead leader
        if self._log is not None:
            self._log.close()
            self._log = None


@dataclass(frozen=True)
class StudioSettings:
    """Where Lockgate's client finds Label Studio; the token stays out of the repr."""

    url: str
    api_key: str = field(repr=False)


def _token_from_prefect() -> str | None:
    """The Secret block's value, or None when there is no such block."""
    try:
        return read_prefect_secret(TOKEN_BLOCK)
    except SecretUnavailable as exc:
        raise LabelStudioServerError(f"the Label Studio token is not in ${TOKEN_ENV}, and {exc}") from None


def studio_settings(url: str | None, token: SecretStr | str | None) -> StudioSettings:
    """Where the client finds Label Studio: `url` and `token` as configured, the token else from Prefect.

    The caller passes the settings' values (``LOCKGATE_LABEL_STUDIO_URL`` / ``_TOKEN``); the Prefect
    Secret block ``lockgate-label-studio-token`` is the token's fallback.
    """
    url = (url or "").strip().rstrip("/")
    if not url:
        raise LabelStudioServerError(
            f"set {URL_ENV} to the Label Studio server's address (e.g. http://127.0.0.1:8080; "
            "`make label-studio` starts one)"
        )
    if isinstance(token, SecretStr):
        token = token.get_secret_value()
    token = (token or "").strip() or _token_from_prefect()
    if not token:
        raise LabelStudioServerError(
            f"the Label Studio API token is not set: set {TOKEN_ENV}, or create a Prefect Secret block "
            f"'{TOKEN_BLOCK}' (a local server's token is in .lockgate/label-studio/{CREDENTIALS_FILE})"
        )
    return StudioSettings(url=url, api_key=token)


@dataclass(frozen=True)
class LocalCredentials:
    username: str
    password: str = field(repr=False)
    token: str = field(repr=False)
    secret_key: str = field(repr=False)  # Django's: stable, so a restart keeps everyone logged in


def _plain(value: SecretStr | str | None) -> str | None:
    return value.get_secret_value() if isinstance(value, SecretStr) else value


def local_credentials(
    data_dir: Path,
    *,
    username: str | None = None,
    password: SecretStr | str | None = None,
    token: SecretStr | str | None = None,
) -> LocalCredentials:
    """The local admin: what is given (the ``LOCKGATE_LABEL_STUDIO_USERNAME`` / ``_PASSWORD`` / ``_TOKEN``
    settings), else ``credentials.json`` in the data dir (made once, mode 0600)."""
    path = data_dir / CREDENTIALS_FILE
    if path.exists():
        stored = json.loads(path.read_text(encoding="utf-8"))
    else:
        stored = {
            "username": DEFAULT_LOCAL_USERNAME,
            "password": secrets.token_urlsafe(18),
            "token": secrets.token_hex(20),
            "secret_key": secrets.token_urlsafe(48),
        }
        data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(stored, out, indent=2)
    return LocalCredentials(
        username=username or stored["username"],
        password=_plain(password) or stored["password"],
        token=_plain(token) or stored["token"],
        secret_key=stored.get("secret_key") or secrets.token_urlsafe(48),
    )


def local_server(
    data_dir: Path,
    port: int | None = DEFAULT_LOCAL_PORT,
    *,
    username: str | None = None,
    password: SecretStr | str | None = None,
    token: SecretStr | str | None = None,
    executable: str | Path | None = None,
) -> LabelStudioServer:
    """The server of a local data folder, with its admin from `local_credentials`.

    `port` is the one asked for, or a free one when it is taken (None: any free port); credentials
    given here win over the folder's; `executable` defaults to `default_executable`.
    """
    creds = local_credentials(data_dir, username=username, password=password, token=token)
    return LabelStudioServer(
        data_dir,
        username=creds.username,
        password=creds.password,
        token=creds.token,
        port=port if port is not None and _port_free(port) else free_port(),
        executable=default_executable(executable),
        env={"SECRET_KEY": creds.secret_key},
    )


def _port_free(port: int, host: str = HOST) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        return sock.connect_ex((host, port)) != 0


def _interrupt(signum: int, frame: object) -> None:
    """SIGTERM (e.g. from a process manager) stops the server the way Ctrl-C does."""
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    """Run Label Studio in the foreground for annotators; Ctrl-C stops it.

    Everything comes from the command line (``make label-studio`` passes the port and executable) and
    the admin from the data dir's credentials file: no secret on the command line, no environment read.
    """
    parser = argparse.ArgumentParser(prog="python -m labeling.server", description=main.__doc__)
    parser.add_argument("--data-dir", type=Path, default=Path(".lockgate/label-studio"))
    parser.add_argument("--port", type=int, default=DEFAULT_LOCAL_PORT, help="a free one if taken")
    parser.add_argument("--executable", type=Path, default=None, help="label-studio (default: .ls-venv)")
    parser.add_argument("--timeout", type=float, default=240.0, help="seconds to wait for it to start")
    args = parser.parse_args(argv)
    data_dir = args.data_dir.resolve()
    server = local_server(data_dir, args.port, executable=args.executable)
    signal.signal(signal.SIGTERM, _interrupt)
    print(f"Starting Label Studio from {data_dir} (first start takes a minute) ...", flush=True)
    try:
        server.start(timeout=args.timeout)
        print(
            f"Label Studio is running at {server.url}\n"
            f"  admin user: {server.username} (password and API token: {data_dir / CREDENTIALS_FILE})\n"
            f"  for Lockgate: export {URL_ENV}={server.url} and {TOKEN_ENV} from that file\n"
            f"  log: {server.log_path}\n"
            "Press Ctrl-C to stop.",
            flush=True,
        )
        code = server.wait()
        print(f"Label Studio exited with code {code}; log: {server.log_path}", file=sys.stderr)
        return code or 1
    except KeyboardInterrupt:
        print("\nStopping Label Studio ...", flush=True)
        return 0
    except LabelStudioServerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        server.stop()


if __name__ == "__main__":
    raise SystemExit(main())
