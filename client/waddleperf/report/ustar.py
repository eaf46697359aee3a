"""The members of a plain POSIX ustar archive in memory, found without :mod:`tarfile`.

``tarfile`` builds a ``TarInfo`` per header through a dozen Python-level field parsers and
reads each member through a file object: about 250 µs for a bundle's four members, the largest
single cost of a cold report. A bundle as the writer makes it is the plainest tar there is —
POSIX ustar headers (``ustar\\0`` ``00``), regular files (type ``0``), short ASCII names, octal
sizes, zero blocks at the end — and for exactly that shape this reader finds the members by
slicing, checking each header's checksum as ``tarfile`` does.

Anything else — another magic, a pax or GNU header, a link or directory, a name prefix, a bad
checksum, a header or member cut short, non-ASCII names, base-256 numbers — makes
:func:`plain_members` return ``None``, and the caller reads the archive with ``tarfile``
instead, with its exact semantics and messages. So this is a fast path, never a second
interpretation of a damaged or unusual archive.
"""

from __future__ import annotations

BLOCK = 512
_ZERO = bytes(BLOCK)
_MAGIC = b"ustar\x0000"  # magic (6 bytes) + version (2 bytes), offsets 257..265
_REGULAR = 0x30  # typeflag "0"
_CHKSUM = slice(148, 156)


def _octal(field: bytes) -> int | None:
    # As tarfile's nti() for a plain octal field: up to the first NUL, blanks stripped.
    text = field.split(b"\x00", 1)[0].strip()
    if not text or not text.isdigit():
        return None if text else 0
    try:
        return int(text, 8)
    except ValueError:  # an 8 or a 9
        return None


def plain_members(raw: bytes) -> list[tuple[str, int, int]] | None:
    """``(name, start, size)`` of every member of the uncompressed tar ``raw`` — the member's
    bytes are ``raw[start:start + size]`` — or ``None`` when ``raw`` is not a plain ustar
    archive of regular files that ends in a zero block (read it with ``tarfile`` then)."""
    members: list[tuple[str, int, int]] = []
    offset = 0
    end = len(raw)
    while True:
        if offset + BLOCK > end:
            return None  # no end-of-archive block: tarfile decides what that means
        header = raw[offset : offset + BLOCK]
        if header == _ZERO:
            return members if members else None
        if header[257:265] != _MAGIC or header[156] != _REGULAR or header[345] != 0:
            return None
        stored = _octal(header[_CHKSUM])
        if stored is None or stored != sum(header) - sum(header[_CHKSUM]) + 8 * 0x20:
            return None
        size = _octal(header[124:136])
        raw_name = header[:100].split(b"\x00", 1)[0]
        if size is None or not raw_name or not raw_name.isascii() or raw_name.endswith(b"/"):
            return None
        start = offset + BLOCK
        if start + size > end:
            return None
        members.append((raw_name.decode("ascii"), start, size))
        offset = start + -(-size // BLOCK) * BLOCK
