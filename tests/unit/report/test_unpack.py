"""Bundle checks of the analysis: every damaged or foreign archive is a Skip with its reason."""

from __future__ import annotations

import hashlib
import json
import tempfile
from pathlib import Path

import pytest

from tests.support.builders import (
    archive_bytes,
    edit_manifest,
    filled_writer,
    members_of,
    pack,
)
from waddleperf.report.staging import tag_lines
from waddleperf.report.unpack import Skip, unpack


def _pack(members: list[tuple[str, bytes]]) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        return pack(Path(tmp) / "b.tar.gz", members).read_bytes()


@pytest.fixture
def good() -> bytes:
    return archive_bytes(filled_writer(None))


def test_a_good_bundle_unpacks_with_its_members(good: bytes) -> None:
    got = unpack("b.tar.gz", good)
    assert got.manifest.run_id == "run-1" and got.size == len(good)
    assert got.results.count(b"\n") == 3 and got.profiling.count(b"\n") == 3
    assert unpack("b", good, got.sha256).sha256 == got.sha256


def _reason(data: bytes, sha: str | None = None) -> str:
    with pytest.raises(Skip) as caught:
        unpack("b.tar.gz", data, sha)
    return str(caught.value)


def test_damage_is_named(good: bytes) -> None:
    assert "truncated" in _reason(good[: len(good) // 2])
    assert "truncated" in _reason(good[:-4])
    flipped = bytearray(good)
    flipped[len(good) // 2] ^= 0xFF
    assert "corrupt" in _reason(bytes(flipped)) or "SHA-256" in _reason(bytes(flipped))
    assert "corrupt" in _reason(b"not a gzip file")
    assert "differs from the store's" in _reason(good, "0" * 64)


def test_foreign_and_partial_archives_are_named(good: bytes) -> None:
    members = members_of(good)
    assert "unknown bundle_format 2" in _reason(_pack(edit_manifest(members, bundle_format=2)))
    assert "first member must be manifest.json" in _reason(_pack(members[1:]))
    assert "missing from the archive" in _reason(_pack(members[:-1]))
    assert "not in the manifest" in _reason(_pack([*members, ("raw/zzz", b"x")]))
    swapped = [members[0], ("results.ndjson", members[1][1] + b"{}\n"), *members[2:]]
    assert "results.ndjson" in _reason(_pack(swapped))
    assert "does not fit the manifest schema" in _reason(_pack(edit_manifest(members, agent="")))
    assert "manifest.json" in _reason(_pack([("manifest.json", b"{"), *members[1:]]))


def test_record_count_and_cut_lines_are_checked(good: bytes) -> None:
    members = members_of(good)
    doc = json.loads(members[0][1])
    cut = members[1][1][:-1]  # the last newline gone
    doc["members"][0].update(size_bytes=len(cut), sha256=hashlib.sha256(cut).hexdigest())
    forged = [("manifest.json", json.dumps(doc).encode()), ("results.ndjson", cut), *members[2:]]
    assert "no newline" in _reason(_pack(forged))


def test_lines_are_tagged_with_their_bundle() -> None:
    assert tag_lines(7, b'{"a":1}\n{"b":2}\n') == b'{"_b":7,"a":1}\n{"_b":7,"b":2}\n'
    assert tag_lines(7, b"") == b""


def test_every_line_must_be_an_object(good: bytes) -> None:
    members = members_of(good)
    doc = json.loads(members[0][1])
    for body in (members[1][1] + b" {}\n", members[1][1] + b"\n", b"[1]\n" + members[1][1]):
        lines = body.count(b"\n")
        doc["members"][0].update(size_bytes=len(body), sha256=hashlib.sha256(body).hexdigest(),
                                 records=lines)  # fmt: skip
        forged = [("manifest.json", json.dumps(doc).encode()), ("results.ndjson", body),
                  *members[2:]]  # fmt: skip
        assert "every line must be one JSON object" in _reason(_pack(forged)), body[-20:]


def test_tagging_refuses_what_it_cannot_tag() -> None:
    with pytest.raises(ValueError):
        tag_lines(7, b'{"a":1}\n [2]\n')
    with pytest.raises(ValueError):
        tag_lines(7, b'{"a":1}')
