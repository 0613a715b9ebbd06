"""Reading what arrives in pieces (an HTTP body, a downloader's pipe): an exact number of
bytes, or everything to the end into a file."""

from __future__ import annotations

from typing import IO

BLOCK = 1 << 20


def read_exactly(stream: IO[bytes], size: int) -> bytes:
    """`size` bytes, fewer only where the stream ends first."""
    parts, left = [], size
    while left:
        chunk = stream.read(left)
        if not chunk:
            break
        parts.append(chunk)
        left -= len(chunk)
    return b"".join(parts)


def copy(stream: IO[bytes], out: IO[bytes] | None = None) -> int:
    """Everything left in `stream`, into `out` (or nowhere); returns how many bytes."""
    size = 0
    while chunk := stream.read(BLOCK):
        size += len(chunk)
        if out is not None:
            out.write(chunk)
    return size
