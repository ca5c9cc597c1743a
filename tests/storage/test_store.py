"""The object-store contract, run identically on a local directory and on a real S3 server."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from storage.store import (
    InvalidKey,
    LocalStore,
    ObjectNotFound,
    ObjectStore,
    S3Store,
    StorageError,
    open_store,
)

if TYPE_CHECKING:
    from botocore.client import BaseClient


def test_put_get_exists_and_overwrite(store: ObjectStore) -> None:
    assert not store.exists("a/b.txt")
    store.put_bytes("a/b.txt", b"one")
    assert store.exists("a/b.txt")
    assert store.get_bytes("a/b.txt") == b"one"
    store.put_bytes("a/b.txt", b"two")
    assert store.get_bytes("a/b.txt") == b"two"


def test_put_file_download_and_open_read(store: ObjectStore, tmp_path: Path) -> None:
    source = tmp_path / "in.bin"
    source.write_bytes(bytes(range(256)) * 5000)
    store.put_file("files/in.bin", source)
    target = tmp_path / "out" / "deep" / "copy.bin"
    store.download("files/in.bin", target)
    assert target.read_bytes() == source.read_bytes()
    with store.open_read("files/in.bin") as stream:
        assert stream.read(3) == b"\x00\x01\x02"
        assert stream.read() == source.read_bytes()[3:]


def test_missing_key_raises_object_not_found_naming_the_key(store: ObjectStore, tmp_path: Path) -> None:
    with pytest.raises(ObjectNotFound, match=r"nope/missing\.txt") as info:
        store.get_bytes("nope/missing.txt")
    assert info.value.key == "nope/missing.txt"
    with pytest.raises(ObjectNotFound):
        store.open_read("nope/missing.txt")
    with pytest.raises(ObjectNotFound):
        store.download("nope/missing.txt", tmp_path / "x")
    with pytest.raises(ObjectNotFound):
        store.tags("nope/missing.txt")
    assert not (tmp_path / "x").exists()


def test_put_bytes_if_absent_writes_once(store: ObjectStore) -> None:
    assert store.put_bytes_if_absent("once.json", b"first") is True
    assert store.put_bytes_if_absent("once.json", b"second") is False
    assert store.get_bytes("once.json") == b"first"
    assert store.list("") == ["once.json"]  # no temp files left behind


def test_list_is_sorted_and_prefix_filtered(store: ObjectStore) -> None:
    for key in ["b/2", "a/1", "a/10", "ab/3", "a/sub/4"]:
        store.put_bytes(key, b"x")
    assert store.list("a/") == ["a/1", "a/10", "a/sub/4"]
    assert store.list("a") == ["a/1", "a/10", "a/sub/4", "ab/3"]
    assert store.list("a/1") == ["a/1", "a/10"]
    assert store.list("") == ["a/1", "a/10", "a/sub/4", "ab/3", "b/2"]
    assert store.list("zzz/") == []


def test_delete_is_idempotent(store: ObjectStore) -> None:
    store.put_bytes("tmp/x", b"x")
    store.delete("tmp/x")
    store.delete("tmp/x")
    assert not store.exists("tmp/x")


@pytest.mark.parametrize("key", ["../escape", "/etc/passwd", "a/../../b", "a//b", "./a", "a/", "", "a\\b"])
def test_keys_that_could_escape_are_refused(store: ObjectStore, key: str) -> None:
    with pytest.raises(InvalidKey):
        store.put_bytes(key, b"x")
    with pytest.raises(InvalidKey):
        store.get_bytes(key)


def test_local_traversal_writes_nothing_outside_the_root(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "lake")
    with pytest.raises(InvalidKey):
        store.put_bytes("../outside.txt", b"x")
    with pytest.raises(InvalidKey):
        store.list("../")
    assert not (tmp_path / "outside.txt").exists()


def test_local_symlink_out_of_the_root_is_refused(tmp_path: Path) -> None:
    (tmp_path / "elsewhere").mkdir()
    store = LocalStore(tmp_path / "lake")
    (tmp_path / "lake" / "link").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(InvalidKey):
        store.put_bytes("link/x", b"x")


def test_uri_points_where_other_tools_read(store: ObjectStore, lake: str) -> None:
    store.put_bytes("d/f.txt", b"x")
    if lake.startswith("s3://"):
        assert store.uri("d/f.txt") == f"{lake}/d/f.txt"
    else:
        assert Path(store.uri("d/f.txt")).is_absolute()
        assert Path(store.uri("d/f.txt")).read_bytes() == b"x"


def test_local_store_keeps_no_tags(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    store.put_bytes("t", b"x", tags={"layer": "raw"})
    assert store.tags("t") == {}
    assert store.list("") == ["t"]


def test_s3_tags_are_written_on_every_put(bucket: str, s3_client: BaseClient, tmp_path: Path) -> None:
    store = S3Store(bucket, "lake")
    tags = {"layer": "curated", "source": "customers", "note": "a b+c=d/e:f@g"}
    source = tmp_path / "f"
    source.write_bytes(b"x")
    store.put_file("f", source, tags=tags)
    store.put_bytes("b", b"x", tags=tags)
    assert store.put_bytes_if_absent("c", b"x", tags=tags)
    for key in ("f", "b", "c"):
        tag_set = s3_client.get_object_tagging(Bucket=bucket, Key=f"lake/{key}")["TagSet"]
        assert {t["Key"]: t["Value"] for t in tag_set} == tags
        assert store.tags(key) == tags


def test_s3_store_without_prefix_and_pagination(bucket: str) -> None:
    store = S3Store(bucket)
    keys = [f"k/{i:04d}" for i in range(1005)]  # more than one list page (1000)
    for key in keys:
        store.put_bytes(key, b"")
    assert store.list("k/") == keys
    assert store.uri("k/0001") == f"s3://{bucket}/k/0001"


def test_s3_errors_name_the_key_and_the_cause(aws_env: str, tmp_path: Path) -> None:
    store = S3Store("lockgate-no-such-bucket")
    with pytest.raises(StorageError, match=r"'a/key'.*NoSuchBucket"):
        store.put_bytes("a/key", b"secret-value")
    (tmp_path / "f").write_bytes(b"secret-value")
    with pytest.raises(StorageError, match=r"'a/file'.*NoSuchBucket") as info:
        store.put_file("a/file", tmp_path / "f")
    assert "secret-value" not in str(info.value)


def test_open_store_picks_the_backend(tmp_path: Path, aws_env: str) -> None:
    local = open_store(str(tmp_path / "new" / "lake"))
    assert isinstance(local, LocalStore)
    assert (tmp_path / "new" / "lake").is_dir()
    remote = open_store("s3://some-bucket/a/b/")
    assert isinstance(remote, S3Store)
    assert (remote.bucket, remote.prefix) == ("some-bucket", "a/b")
    with pytest.raises(StorageError):
        open_store("s3:///nobucket")


def test_errors_survive_pickling_for_task_results() -> None:
    """Prefect pickles task exceptions into their states; ours must come back intact."""
    import pickle

    error = pickle.loads(pickle.dumps(ObjectNotFound("a/b")))
    assert isinstance(error, ObjectNotFound)
    assert (error.key, str(error)) == ("a/b", "no object at key 'a/b'")
