"""The chat download: a session's messages as CSV, streamed in chunks (pure, no I/O).

``stream_csv`` and ``neutralize_formula`` are shared with the transcript CSV.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence

from rtk_sessions.clock import iso_ms
from rtk_sessions.exports.records import ChatLine

CHAT_COLUMNS = (
    "id",
    "participantId",
    "sessionId",
    "meetingId",
    "displayName",
    "pinned",
    "isEdited",
    "payloadType",
    "payload",
    "createdAt",
)

#: Characters of text (not bytes) gathered before a chunk is handed out; bounds memory.
CHUNK_CHARS = 64 * 1024

# A spreadsheet reads a cell starting with one of these as a formula (OWASP "CSV injection").
_FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def neutralize_formula(cell: str) -> str:
    """The cell with a leading ``'`` when a spreadsheet would run it as a formula."""
    return "'" + cell if cell.startswith(_FORMULA_TRIGGERS) else cell


def stream_csv(header: Sequence[str], rows: Iterable[Sequence[object]]) -> Iterator[bytes]:
    """UTF-8 CSV (RFC 4180 quoting, CRLF line ends) in chunks of about ``CHUNK_CHARS``.

    Every cell is written as ``str(cell)`` after ``neutralize_formula``; only one chunk
    is held at a time, so the rows can come from an iterator of any length.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([neutralize_formula(str(cell)) for cell in row])
        if buffer.tell() >= CHUNK_CHARS:
            yield _drain(buffer)
    if buffer.tell():
        yield _drain(buffer)


def _drain(buffer: io.StringIO) -> bytes:
    chunk = buffer.getvalue().encode()
    buffer.seek(0)
    buffer.truncate()
    return chunk


def chat_csv(
    lines: Iterable[ChatLine], *, session_id: str, meeting_id: str | None
) -> Iterator[bytes]:
    """The chat CSV (columns ``CHAT_COLUMNS``), one row per message in the order given.

    ``createdAt`` is ISO 8601 UTC with milliseconds; ``pinned``/``isEdited`` are
    ``true``/``false``; missing meeting id and display name are empty cells.
    """
    rows = (_chat_row(line, session_id, meeting_id or "") for line in lines)
    return stream_csv(CHAT_COLUMNS, rows)


def _chat_row(line: ChatLine, session_id: str, meeting_id: str) -> tuple[str, ...]:
    return (
        line.message_id,
        line.peer_id,
        session_id,
        meeting_id,
        line.display_name or "",
        _true_false(line.pinned),
        _true_false(line.is_edited),
        line.payload_type,
        line.payload,
        iso_ms(line.created_ms) or "",
    )


def _true_false(value: bool) -> str:
    return "true" if value else "false"
