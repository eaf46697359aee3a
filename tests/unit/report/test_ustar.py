"""The ustar fast path finds exactly what ``tarfile`` finds in a plain bundle, declines every
other archive, and never changes what :func:`unpack` decides (held against ``tarfile`` itself
on hundreds of damaged archives)."""

from __future__ import annotations

import gzip
import io
import random
import tarfile

import pytest

from tests.support.builders import archive_bytes, filled_writer
from waddleperf.report import unpack as unpack_module
from waddleperf.report.unpack import Skip, unpack
from waddleperf.report.ustar import BLOCK, plain_members


@pytest.fixture(scope="module")
def raw() -> bytes:
    """A real bundle's tar stream, uncompressed."""
    return gzip.decompress(archive_bytes(filled_writer(None)))


def _tar(format_: int, *members: tuple[str, bytes], kind: bytes = tarfile.REGTYPE) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=format_, encoding="utf-8") as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size, info.type = len(data), kind
            tar.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)
    return buf.getvalue()


def test_a_bundle_is_sliced_as_tarfile_reads_it(raw: bytes) -> None:
    found = plain_members(raw)
    with tarfile.open(fileobj=io.BytesIO(raw), mode="r:") as tar:
        truth = [(i.name, i.offset_data, i.size) for i in tar.getmembers()]
        contents = [tar.extractfile(i).read() for i in tar.getmembers()]  # type: ignore[union-attr]
    assert found == truth and len(truth) >= 4
    assert [raw[s : s + n] for _, s, n in found] == contents


def test_every_other_archive_is_declined(raw: bytes) -> None:
    data = b"x" * 700
    assert plain_members(_tar(tarfile.USTAR_FORMAT, ("a", data))) == [("a", BLOCK, 700)]
    assert plain_members(_tar(tarfile.USTAR_FORMAT, ("a", b""))) == [("a", BLOCK, 0)]
    declined = {
        "pax header": _tar(tarfile.PAX_FORMAT, ("n" * 150, data)),
        "gnu magic": _tar(tarfile.GNU_FORMAT, ("a", data)),
        "directory": _tar(tarfile.USTAR_FORMAT, ("d", b""), kind=tarfile.DIRTYPE),
        "symlink": _tar(tarfile.USTAR_FORMAT, ("l", b""), kind=tarfile.SYMTYPE),
        "name prefix": _tar(tarfile.USTAR_FORMAT, ("p" * 90 + "/" + "q" * 90, data)),
        "non-ascii name": _tar(tarfile.USTAR_FORMAT, ("é", data)),
        "cut in a member": raw[: BLOCK + 10],
        "cut in a header": raw[:100],
        "no end block": raw[: BLOCK * 2],
        "empty": b"",
        "only zeros": bytes(BLOCK * 2),
    }
    bad_sum = bytearray(raw)
    bad_sum[0] ^= 0x01  # the first name changes, its checksum no longer fits
    declined["bad checksum"] = bytes(bad_sum)
    bad_size = bytearray(raw)
    bad_size[124:136] = b"0000000009x\x00"
    declined["bad size"] = bytes(bad_size)
    for why, archive in declined.items():
        assert plain_members(archive) is None, why


def _outcome(data: bytes) -> str:
    try:
        got = unpack("b.tar.gz", data)
    except Skip as exc:
        return f"skip: {exc}"
    return f"ok: {got.sha256} {got.manifest.run_id} {got.results!r} {got.profiling!r}"


def test_unpack_decides_as_tarfile_does(raw: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(13)
    archives = [raw]
    for _ in range(300):
        damaged = bytearray(raw)
        for _ in range(rng.randint(1, 3)):
            # mostly the headers and the end blocks, where the fast path makes its decisions
            block = rng.randrange(len(raw) // BLOCK)
            damaged[block * BLOCK + rng.randrange(BLOCK)] = rng.randrange(256)
        archives.append(bytes(damaged))
    archives += [raw[:n] for n in range(0, len(raw), 97)]
    data = [gzip.compress(a, mtime=0) for a in archives]
    fast = [_outcome(d) for d in data]
    monkeypatch.setattr(unpack_module, "plain_members", lambda _raw: None)
    slow = [_outcome(d) for d in data]
    assert fast == slow
    assert fast[0].startswith("ok: ")
    assert sum(o.startswith("ok: ") for o in fast) < len(fast) / 2  # the damage was seen
