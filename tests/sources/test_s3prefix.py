"""S3 prefix sources on a real S3 server (moto on loopback): new objects only, patterns, formats."""

from __future__ import annotations

import io
import pickle
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import polars as pl
import pytest

from sources.connectors import read_frame
from sources.errors import SourceReadError
from sources.extract import extract
from sources.passport import S3Connector
from sources.s3prefix import S3Object, glob_regex, local_names, new_objects, next_state

if TYPE_CHECKING:
    from pathlib import Path

    from botocore.client import BaseClient

    from sources.extraction import Extraction


def spec(bucket: str, prefix: str = "drop/", **fields: Any) -> S3Connector:
    return S3Connector.model_validate(
        {"kind": "s3", "url": f"s3://{bucket}/{prefix}", "format": "csv", **fields}
    )


def run(connector: S3Connector, tmp_path: Path, state: dict | None = None) -> Extraction:
    return extract(connector, tmp_path, state, tmp_path / "work")


def put(client: BaseClient, bucket: str, key: str, body: bytes | str) -> None:
    client.put_object(Bucket=bucket, Key=key, Body=body.encode() if isinstance(body, str) else body)


def test_each_object_is_delivered_once(s3_client: BaseClient, bucket: str, tmp_path: Path) -> None:
    put(s3_client, bucket, "drop/b.csv", "id,name\n2,Bob\n")
    put(s3_client, bucket, "drop/a.csv", "id,name\n1,Ann\n")
    put(s3_client, bucket, "elsewhere/x.csv", "id,name\n9,No\n")
    connector = spec(bucket)

    first = run(connector, tmp_path / "1")
    assert [p.name for p in first.files] == ["a.csv", "b.csv"]
    assert first.description.startswith(f"2 new object(s) under s3://{bucket}/drop/ (")
    assert read_frame(connector, first.files).rows() == [("1", "Ann"), ("2", "Bob")]
    assert first.state is not None
    assert first.state["keys_at_watermark"]  # the newest time and the keys carrying it, nothing more
    assert set(first.state) == {"last_modified", "keys_at_watermark"}

    second = run(connector, tmp_path / "2", first.state)
    assert second.empty and second.files == [] and second.state == first.state
    assert second.description == f"no new object under s3://{bucket}/drop/ matching *"

    # Most likely within the same second as the first two: the tie on LastModified is resolved by key.
    put(s3_client, bucket, "drop/c.csv", "id,name\n3,Cy\n")
    third = run(connector, tmp_path / "3", first.state)
    assert [p.name for p in third.files] == ["c.csv"]
    assert run(connector, tmp_path / "4", third.state).empty

    put(s3_client, bucket, "drop/a.csv", "id,name\n1,Ann (corrected)\n")  # delivered again: new bytes
    fourth = run(connector, tmp_path / "5", third.state)
    assert read_frame(connector, fourth.files).rows() == [("1", "Ann (corrected)")]
    assert pickle.loads(pickle.dumps(fourth)) == fourth


def test_pattern_hidden_names_and_folders(s3_client: BaseClient, bucket: str, tmp_path: Path) -> None:
    for key in ("drop/x.csv", "drop/y.txt", "drop/sub/z.csv", "drop/.partial.csv", "drop/sub/"):
        put(s3_client, bucket, key, "id\n1\n" if not key.endswith("/") else b"")
    assert [p.name for p in run(spec(bucket, pattern="*.csv"), tmp_path / "1").files] == ["x.csv"]
    nested = run(spec(bucket, pattern="**/*.csv"), tmp_path / "2").files
    assert [p.name for p in nested] == ["z.csv", "x.csv"]  # sorted by key: drop/sub/z.csv < drop/x.csv
    assert [p.name for p in run(spec(bucket, pattern="sub/*"), tmp_path / "3").files] == ["z.csv"]
    assert [p.name for p in run(spec(bucket, pattern=".*.csv"), tmp_path / "4").files] == [".partial.csv"]
    nothing = run(spec(bucket, pattern="*.parquet"), tmp_path / "5")
    assert nothing.empty and nothing.state is None


def test_same_names_in_different_folders_get_distinct_files(
    s3_client: BaseClient, bucket: str, tmp_path: Path
) -> None:
    put(s3_client, bucket, "drop/2024-01/orders.csv", "id\n1\n")
    put(s3_client, bucket, "drop/2024-02/orders.csv", "id\n2\n")
    extraction = run(spec(bucket, pattern="**/orders.csv"), tmp_path)
    assert [p.name for p in extraction.files] == ["orders.csv", "1-orders.csv"]
    assert read_frame(spec(bucket), extraction.files)["id"].to_list() == ["1", "2"]


def test_cp1251_csv_is_read_with_its_options(s3_client: BaseClient, bucket: str, tmp_path: Path) -> None:
    put(s3_client, bucket, "drop/клиенты.csv", "id;имя;город\n1;Анна;Москва\n2;Пётр;NULL\n".encode("cp1251"))
    connector = spec(bucket, encoding="cp1251", delimiter=";", null_values=["NULL"])
    extraction = run(connector, tmp_path)
    assert [p.name for p in extraction.files] == ["клиенты.csv"]
    frame = read_frame(connector, extraction.files)
    assert frame.columns == ["id", "имя", "город"]
    assert frame.rows() == [("1", "Анна", "Москва"), ("2", "Пётр", None)]


def test_ndjson_and_parquet_objects(s3_client: BaseClient, bucket: str, tmp_path: Path) -> None:
    put(s3_client, bucket, "json/1.ndjson", '{"id": 1, "tag": null}\n')
    put(s3_client, bucket, "json/2.ndjson", '{"id": 2, "tag": "x"}\n')
    connector = spec(bucket, "json/", format="ndjson")
    frame = read_frame(connector, run(connector, tmp_path / "j").files)
    assert frame.rows() == [(1, None), (2, "x")]  # types widen across files, as for NDJSON files

    buffer = io.BytesIO()
    pl.DataFrame({"id": [1, 2], "at": [datetime(2024, 1, 1, tzinfo=UTC)] * 2}).write_parquet(buffer)
    put(s3_client, bucket, "pq/part-0.parquet", buffer.getvalue())
    connector = spec(bucket, "pq/", format="parquet", pattern="*.parquet")
    frame = read_frame(connector, run(connector, tmp_path / "p").files)
    assert frame.schema == pl.Schema({"id": pl.Int64, "at": pl.Datetime("us", "UTC")})


def test_missing_bucket_is_named(aws_env: str, tmp_path: Path) -> None:
    with pytest.raises(SourceReadError) as info:
        run(spec("lockgate-no-such-bucket"), tmp_path)
    assert str(info.value) == "s3://lockgate-no-such-bucket/drop/: could not list objects: NoSuchBucket"
    assert info.value.__cause__ is None and info.value.__context__ is None


# --- the watermark rule, on plain listings ---------------------------------------------------------

T0 = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)


def obj(key: str, seconds: int, etag: str = '"1"') -> S3Object:
    return S3Object(key, T0 + timedelta(seconds=seconds), etag, 1)


def test_watermark_rule_handles_ties_and_stays_small() -> None:
    listing = [obj("a", 0), obj("b", 5), obj("c", 5)]
    state = next_state(listing, new_objects(listing, None), None)
    assert state == {
        "last_modified": "2024-06-01T12:00:05+00:00",
        "keys_at_watermark": {"b": '"1"', "c": '"1"'},
    }

    # d ties with the watermark; c is rewritten within the same second; e arrived late, dated behind it.
    listing = [obj("a", 0), obj("b", 5), obj("c", 5, '"2"'), obj("d", 5), obj("e", 4)]
    new = new_objects(listing, state)
    assert [o.key for o in new] == ["c", "d"]
    state = next_state(listing, new, state)
    assert state["keys_at_watermark"] == {"b": '"1"', "c": '"2"', "d": '"1"'}
    assert new_objects(listing, state) == []

    listing += [obj("f", 9)]
    state = next_state(listing, new_objects(listing, state), state)
    assert state == {"last_modified": "2024-06-01T12:00:09+00:00", "keys_at_watermark": {"f": '"1"'}}


@pytest.mark.parametrize(
    ("pattern", "name", "matches"),
    [
        ("*", "a.csv", True),
        ("*", "sub/a.csv", False),
        ("**/*.csv", "a.csv", True),
        ("**/*.csv", "x/y/a.csv", True),
        ("sub/**", "sub/x/y", True),
        ("part-?.csv", "part-1.csv", True),
        ("part-?.csv", "part-10.csv", False),
        ("[!_]*", "_SUCCESS", False),
        ("[a-c]*.csv", "b1.csv", True),
        ("a+b(c).csv", "a+b(c).csv", True),
    ],
)
def test_glob_rules(pattern: str, name: str, matches: bool) -> None:
    assert bool(glob_regex(pattern).fullmatch(name)) is matches


def test_local_names_stay_distinct_and_short() -> None:
    long_key = "p/" + "я" * 150 + ".csv"
    names = local_names(["p/a.csv", "q/a.csv", "p/1-a.csv", "r/a.csv", "p/back\\slash.csv", long_key])
    assert names[:5] == ["a.csv", "1-a.csv", "1-1-a.csv", "2-a.csv", "back_slash.csv"]
    assert len(names[5].encode()) <= 200 and names[5].endswith(".csv")
