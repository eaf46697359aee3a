"""Bundle reader: every kind of bad bundle gives a BundleError naming the member and line."""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

import pytest

from tests.support.builders import archive_bytes, edit_manifest, filled_writer, members_of, pack
from waddleperf.results.reader import BundleError, read_bundle, read_manifest, verify_bundle

Members = list[tuple[str, bytes]]


@pytest.fixture
def good() -> Members:
    return members_of(archive_bytes(filled_writer(None)))


def _refresh(members: Members, name: str, data: bytes) -> Members:
    """Replace a member and fix its manifest entry, so only the content itself is wrong."""
    doc = json.loads(members[0][1])
    for entry in doc["members"]:
        if entry["name"] == name:
            entry["size_bytes"] = len(data)
            entry["sha256"] = hashlib.sha256(data).hexdigest()
    out = [(n, data if n == name else d) for n, d in members[1:]]
    return [("manifest.json", json.dumps(doc).encode()), *out]


def _error(tmp_path: Path, members: Members) -> BundleError:
    with pytest.raises(BundleError) as info:
        read_bundle(pack(tmp_path / "b.tar.gz", members))
    return info.value


def test_good_bundle_reads(tmp_path: Path, good: Members) -> None:
    assert len(read_bundle(pack(tmp_path / "b.tar.gz", good)).results) == 3


def test_truncated_archive(tmp_path: Path) -> None:
    data = archive_bytes(filled_writer(None))
    for cut in (10, len(data) // 2, len(data) - 4):
        path = tmp_path / f"cut{cut}.tar.gz"
        path.write_bytes(data[:cut])
        with pytest.raises(BundleError, match="truncated or corrupt"):
            verify_bundle(path)


def test_not_an_archive(tmp_path: Path) -> None:
    path = tmp_path / "x.tar.gz"
    path.write_bytes(b"hello")
    with pytest.raises(BundleError, match=r"x\.tar\.gz: archive is truncated or corrupt"):
        read_manifest(path)


def test_wrong_checksum(tmp_path: Path, good: Members) -> None:
    names = [n for n, _ in good]
    i = names.index("raw/ping.txt")
    tampered = [
        *good[:i],
        ("raw/ping.txt", b"PONG 127.0.0.1 56(84) bytes of data.\n"),
        *good[i + 1 :],
    ]
    err = _error(tmp_path, tampered)
    assert err.member == "raw/ping.txt" and "SHA-256 mismatch" in str(err)


def test_wrong_size(tmp_path: Path, good: Members) -> None:
    tampered = [*good[:-1], (good[-1][0], good[-1][1] + b"!")]
    err = _error(tmp_path, tampered)
    assert err.member == good[-1][0] and "the manifest says" in str(err)


def test_bad_json_line_is_named(tmp_path: Path, good: Members) -> None:
    lines = good[1][1].decode().splitlines(keepends=True)
    lines[1] = '{"kind": "probe.icmp",\n'
    err = _error(tmp_path, _refresh(good, "results.ndjson", "".join(lines).encode()))
    assert (err.member, err.line) == ("results.ndjson", 2)
    assert str(err).startswith("b.tar.gz: results.ndjson line 2: not valid JSON")


def test_invalid_result_line_is_named(tmp_path: Path, good: Members) -> None:
    lines = good[1][1].decode().splitlines(keepends=True)
    record = json.loads(lines[2])
    record["status"] = "failed"  # failed needs an error sentence
    lines[2] = json.dumps(record) + "\n"
    err = _error(tmp_path, _refresh(good, "results.ndjson", "".join(lines).encode()))
    assert (err.member, err.line) == ("results.ndjson", 3) and "not a valid Result" in str(err)


def test_bad_profiling_line_is_named(tmp_path: Path, good: Members) -> None:
    data = good[2][1] + b'{"type": "Sample", "metric": "x", "data": {}}\n'
    err = _error(tmp_path, _refresh(good, "profiling.ndjson", data))
    assert (err.member, err.line) == ("profiling.ndjson", 4)


def test_cut_line_and_empty_line(tmp_path: Path, good: Members) -> None:
    err = _error(tmp_path, _refresh(good, "results.ndjson", good[1][1].rstrip(b"\n")))
    assert "no newline" in str(err)
    err = _error(tmp_path, _refresh(good, "results.ndjson", b"\n" + good[1][1]))
    assert err.line == 1 and "empty line" in str(err)


def test_unknown_format_version(tmp_path: Path, good: Members) -> None:
    err = _error(tmp_path, edit_manifest(good, bundle_format=2, new_field=True))
    assert err.member == "manifest.json"
    assert "unknown bundle_format 2 (this reader knows 1)" in str(err)


def test_manifest_schema_violation(tmp_path: Path, good: Members) -> None:
    err = _error(tmp_path, edit_manifest(good, started_at="yesterday"))
    assert err.member == "manifest.json" and "started_at" in str(err)
    err = _error(tmp_path, [("manifest.json", b"{not json"), *good[1:]])
    assert "manifest.json: not valid JSON" in str(err)


def test_count_mismatch(tmp_path: Path, good: Members) -> None:
    doc = json.loads(good[0][1])
    doc["members"][0]["records"] = 4
    err = _error(tmp_path, [("manifest.json", json.dumps(doc).encode()), *good[1:]])
    assert err.member == "results.ndjson" and "says 4 records, found 3" in str(err)


def test_member_set_must_match(tmp_path: Path, good: Members) -> None:
    assert "missing from the archive" in str(_error(tmp_path, good[:-1]))
    extra = _error(tmp_path, [*good, ("raw/zzz", b"")])
    assert extra.member == "raw/zzz" and "not in the manifest" in str(extra)
    swapped = _error(tmp_path, [good[0], good[2], good[1], *good[3:]])
    assert swapped.member == "profiling.ndjson"


def test_manifest_must_come_first(tmp_path: Path, good: Members) -> None:
    err = _error(tmp_path, [good[1], good[0], *good[2:]])
    assert "first member must be manifest.json" in str(err)


def test_damage_after_the_last_member_is_caught(tmp_path: Path) -> None:
    data = bytearray(archive_bytes(filled_writer(None)))
    data[-6] ^= 0xFF  # the gzip CRC trailer
    path = tmp_path / "crc.tar.gz"
    path.write_bytes(bytes(data))
    with pytest.raises(BundleError, match="truncated or corrupt"):
        verify_bundle(path)
    with pytest.raises(gzip.BadGzipFile):
        gzip.decompress(bytes(data))


def test_manifest_member_names_follow_the_layout(tmp_path: Path, good: Members) -> None:
    doc = json.loads(good[0][1])
    doc["members"][2]["name"] = "../etc/passwd"
    err = _error(tmp_path, [("manifest.json", json.dumps(doc).encode()), *good[1:]])
    assert err.member == "manifest.json" and "is not raw/<name>" in str(err)
