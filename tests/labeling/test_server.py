"""Starting Label Studio and finding it: the session's real server, and the parts that need none."""

from __future__ import annotations

import json
import socket
import stat
import subprocess
import sys
from typing import TYPE_CHECKING

import httpx
import pytest
from pydantic import SecretStr

from labeling import server as server_module
from labeling.errors import LabelStudioServerError
from labeling.server import (
    LabelStudioServer,
    default_executable,
    local_credentials,
    local_server,
    studio_settings,
)

if TYPE_CHECKING:
    from pathlib import Path

TOKEN = "a1" * 20


def test_the_session_server_serves_and_accepts_its_token(label_studio: LabelStudioServer) -> None:
    assert label_studio.running
    assert label_studio.url == f"http://127.0.0.1:{label_studio.port}"
    assert httpx.get(f"{label_studio.url}/health").status_code == 200
    me = httpx.get(
        f"{label_studio.url}/api/current-user/whoami",
        headers={"Authorization": f"Token {label_studio.token}"},
    )
    assert me.json()["email"] == label_studio.username
    print(f"Label Studio started in {label_studio.startup_seconds:.1f} s")


def test_the_server_log_and_repr_hold_no_secrets(label_studio: LabelStudioServer) -> None:
    text = label_studio.log_path.read_text(encoding="utf-8", errors="replace")
    assert "Starting development server" in text
    for secret in (label_studio.password, label_studio.token):
        assert secret not in text
        assert secret not in repr(label_studio)


def test_missing_executable_says_how_to_install(tmp_path: Path) -> None:
    server = LabelStudioServer(
        tmp_path, username="a@b.test", password="pw", token=TOKEN, executable=tmp_path / "nope"
    )
    with pytest.raises(LabelStudioServerError, match="make label-studio-env"):
        server.start()


def test_a_server_that_dies_reports_its_log(tmp_path: Path) -> None:
    fake = tmp_path / "label-studio"
    fake.write_text(f"#!/bin/sh\necho 'no database for you, {TOKEN}'\nexit 3\n")
    fake.chmod(0o755)
    server = LabelStudioServer(
        tmp_path / "data", username="a@b.test", password="pw", token=TOKEN, executable=fake
    )
    with pytest.raises(LabelStudioServerError) as caught:
        server.start(timeout=30)
    message = str(caught.value)
    assert "exited with code 3" in message and "no database for you, ***" in message
    assert TOKEN not in message
    assert not server.running


def test_credentials_are_checked_before_anything_starts(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="email"):
        LabelStudioServer(tmp_path, username="admin", password="pw", token=TOKEN)
    with pytest.raises(ValueError, match="token"):
        LabelStudioServer(tmp_path, username="a@b.test", password="pw", token="not a token!")


def test_default_executable(tmp_path: Path) -> None:
    assert default_executable() == server_module.repo_root() / ".ls-venv" / "bin" / "label-studio"
    configured = str(tmp_path / "ls")  # the LOCKGATE_LABEL_STUDIO_BIN setting
    assert default_executable(configured) == tmp_path / "ls"


def test_studio_settings() -> None:
    settings = studio_settings("http://127.0.0.1:8080/", SecretStr(TOKEN))
    assert (settings.url, settings.api_key) == ("http://127.0.0.1:8080", TOKEN)
    assert TOKEN not in repr(settings)
    assert studio_settings("http://127.0.0.1:8080", TOKEN) == settings


def test_settings_without_url_or_token(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(LabelStudioServerError, match="LOCKGATE_LABEL_STUDIO_URL"):
        studio_settings(None, TOKEN)
    monkeypatch.setattr(server_module, "_token_from_prefect", lambda: None)  # no such Secret block
    with pytest.raises(LabelStudioServerError, match="lockgate-label-studio-token"):
        studio_settings("http://127.0.0.1:8080", None)


def test_local_credentials_are_made_once_and_private(tmp_path: Path) -> None:
    first = local_credentials(tmp_path / "ls")
    path = tmp_path / "ls" / "credentials.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert local_credentials(tmp_path / "ls") == first
    assert json.loads(path.read_text())["token"] == first.token and len(first.token) == 40
    assert first.password not in repr(first) and first.token not in repr(first)
    # A token given (the LOCKGATE_LABEL_STUDIO_TOKEN setting) wins over the folder's.
    assert local_credentials(tmp_path / "ls", token=TOKEN).token == TOKEN


def test_local_server_takes_the_asked_port_unless_it_is_taken(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        moved = local_server(tmp_path / "ls", taken)
        assert moved.port != taken
    free = server_module.free_port()
    kept = local_server(tmp_path / "ls", free)
    assert kept.port == free and kept.url == f"http://127.0.0.1:{free}"
    assert kept.token == local_credentials(tmp_path / "ls").token  # the folder's admin, made once


def test_foreground_command_reports_a_missing_server(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "labeling.server",
            "--data-dir",
            str(tmp_path / "ls"),
            "--executable",
            str(tmp_path / "missing"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert "make label-studio-env" in done.stderr
    token = json.loads((tmp_path / "ls" / "credentials.json").read_text())["token"]
    assert token not in done.stdout + done.stderr
