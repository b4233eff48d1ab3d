"""Reading event files for ``rtk-sessions ingest``: NDJSON or a JSON array, maybe gzip."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path

from rtk_sessions.ingest.normalize import BodyError, split_body


def _open(path: Path):  # type: ignore[no-untyped-def]
    with path.open("rb") as probe:
        magic = probe.read(2)
    return gzip.open(path, "rb") if magic == b"\x1f\x8b" else path.open("rb")


def _is_ndjson(path: Path, first_byte: bytes) -> bool:
    suffixes = [s.lower() for s in path.suffixes]
    if ".ndjson" in suffixes or ".jsonl" in suffixes:
        return True
    return first_byte != b"["


def file_size(path: Path) -> int:
    return path.stat().st_size


def read_chunks(path: Path, chunk_size: int) -> Iterator[tuple[list[bytes | BodyError], int]]:
    """Items of the file in chunks of ``chunk_size``, each with the bytes read so far.

    NDJSON is streamed line by line; a JSON array is read whole.
    """
    with _open(path) as stream:
        head = stream.read(1)
        while head.isspace():
            head = stream.read(1)
        if not _is_ndjson(path, head):
            items = split_body(head + stream.read(), ndjson=False)
            for start in range(0, len(items), chunk_size):
                yield items[start : start + chunk_size], file_size(path)
            return
        chunk: list[bytes | BodyError] = []
        pending = head
        for line in stream:
            line = pending + line
            pending = b""
            chunk += split_body(line, ndjson=True)
            if len(chunk) >= chunk_size:
                yield chunk, _position(stream, path)
                chunk = []
        if pending:
            chunk += split_body(pending, ndjson=True)
        if chunk:
            yield chunk, file_size(path)


def _position(stream, path: Path) -> int:  # type: ignore[no-untyped-def]
    raw = getattr(stream, "fileobj", None)  # gzip: position in the compressed file
    try:
        return (raw or stream).tell()
    except (OSError, ValueError):
        return file_size(path)
