"""The hooks in .pre-commit-hooks.yaml, run by pre-commit itself in a catalog repository's commits.

The catalog repository is a fresh git repository holding a copy of the example catalog; its
.pre-commit-config.yaml uses this repository's hook definitions as they are (as `repo: local` hooks, so
pre-commit builds no environment and needs no network), with the `lockgate` of this environment.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples" / "catalog"


def _git(repo: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", *args], cwd=repo, env=env, capture_output=True, text=True, timeout=600, check=False
    )


@pytest.fixture
def catalog_repo(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A git repository with the example catalog under catalog/ and the hooks installed."""
    repo = tmp_path / "owners"
    shutil.copytree(EXAMPLES, repo / "catalog")
    hooks = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    for hook in hooks:
        if hook["id"] == "lockgate-validate":
            hook["args"] = ["--catalog", "catalog"]
    (repo / ".pre-commit-config.yaml").write_text(
        yaml.safe_dump({"repos": [{"repo": "local", "hooks": hooks}]}), encoding="utf-8"
    )
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",  # this `lockgate`
        "PRE_COMMIT_HOME": str(tmp_path / "pre-commit"),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "GIT_AUTHOR_NAME": "Data Owner",
        "GIT_AUTHOR_EMAIL": "owner@example.com",
        "GIT_COMMITTER_NAME": "Data Owner",
        "GIT_COMMITTER_EMAIL": "owner@example.com",
        "GIT_CONFIG_NOSYSTEM": "1",
        "HOME": str(tmp_path),  # no global git configuration or template of the machine's user
    }
    for args in (("init", "-q", "-b", "main"), ("add", "-A"), ("commit", "-q", "-m", "catalog")):
        done = _git(repo, *args, env=env)
        assert done.returncode == 0, done.stderr
    installed = subprocess.run(
        [sys.executable, "-m", "pre_commit", "install"], cwd=repo, env=env, capture_output=True, text=True
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr
    return repo, env


def _commit(
    repo: Path, env: dict[str, str], change: dict[str, tuple[str, str]]
) -> subprocess.CompletedProcess[str]:
    """Edit files (path → (old text, new text)), stage them and commit: the hooks run."""
    for name, (old, new) in change.items():
        path = repo / name
        text = path.read_text(encoding="utf-8")
        assert old in text, f"{old!r} not in {name}"
        path.write_text(text.replace(old, new, 1), encoding="utf-8")
    _git(repo, "add", "-A", env=env)
    return _git(repo, "commit", "-m", "change", env=env)


def test_a_good_change_commits_and_bad_ones_are_refused(catalog_repo: tuple[Path, dict[str, str]]) -> None:
    repo, env = catalog_repo
    described = _commit(
        repo,
        env,
        {"catalog/contracts/stores.yaml": ("Reference list of the chain's shops.", "The chain's shops.")},
    )
    assert described.returncode == 0, described.stdout + described.stderr
    hooks_said = described.stdout + described.stderr  # git prints the hook's output on stderr
    assert "lockgate validate" in hooks_said and "Passed" in hooks_said

    passport = "catalog/sources/stores.yaml"
    invalid = _commit(repo, env, {passport: ("update_frequency: weekly", "update_frequency: fortnightly")})
    assert invalid.returncode != 0
    assert f"{passport}:12:1: update_frequency:" in invalid.stdout + invalid.stderr  # file:line:col: field
    _git(repo, "reset", "-q", "--hard", "HEAD", env=env)

    contract = "catalog/contracts/stores.yaml"
    breaking = _commit(repo, env, {contract: ("      - name: city\n", "      - name: town\n")})
    assert breaking.returncode != 0
    hooks_said = breaking.stdout + breaking.stderr
    assert "lockgate contract diff" in hooks_said and "Failed" in hooks_said
    assert "breaking" in hooks_said
    assert _git(repo, "log", "--oneline", env=env).stdout.count("\n") == 2  # neither bad change committed


def test_a_breaking_change_with_a_major_bump_commits(catalog_repo: tuple[Path, dict[str, str]]) -> None:
    repo, env = catalog_repo
    contract = "catalog/contracts/stores.yaml"
    bumped = _commit(repo, env, {contract: ("      - name: city\n", "      - name: town\n")})
    assert bumped.returncode != 0  # first without the bump: refused
    bumped = _commit(repo, env, {contract: ("version: 1.0.0", "version: 2.0.0")})
    assert bumped.returncode == 0, bumped.stdout + bumped.stderr
