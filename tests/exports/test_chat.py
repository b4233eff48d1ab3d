"""The chat CSV (``exports.chat``), read back with Python's own ``csv`` reader.

Expected rows are written out by hand from exports.md "Chat CSV"; timestamps are
computed by hand (2026-01-01T00:00:00Z is epoch 1,767,225,600 s).
"""

from __future__ import annotations

import codecs
import csv
import io
import tracemalloc
from collections.abc import Iterable, Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rtk_sessions.exports.chat import CHAT_COLUMNS, chat_csv
from rtk_sessions.exports.records import ChatLine

NEW_YEAR_2026_MS = 1_767_225_600_000
TRIGGERS = ["=", "+", "-", "@", "\t", "\r"]
# Any text a JSON message can carry (lone surrogates cannot be encoded as UTF-8).
ANY_TEXT = st.text(st.characters(blacklist_categories=("Cs",)))


def message(**fields: object) -> ChatLine:
    defaults: dict[str, object] = {
        "message_id": "m1",
        "peer_id": "p1",
        "display_name": "Alice",
        "payload_type": "TEXT_MESSAGE",
        "payload": "hello",
        "pinned": False,
        "is_edited": False,
        "created_ms": NEW_YEAR_2026_MS,
    }
    return ChatLine(**{**defaults, **fields})  # type: ignore[arg-type]


def export(lines: Iterable[ChatLine], meeting_id: str | None = "meet-1") -> bytes:
    return b"".join(chat_csv(lines, session_id="sess-1", meeting_id=meeting_id))


def rows_of(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))


def only_row(line: ChatLine, meeting_id: str | None = "meet-1") -> list[str]:
    header, row = rows_of(export([line], meeting_id))
    return row


def test_header_then_one_row_per_message_in_column_order():
    lines = [
        message(),
        message(
            message_id="m2",
            peer_id="p2",
            display_name="Bob",
            payload_type="IMAGE_MESSAGE",
            payload="https://example.com/cat.png",
            pinned=True,
            is_edited=True,
            created_ms=NEW_YEAR_2026_MS + 3_661_123,  # 1 h 1 min 1.123 s later
        ),
    ]
    assert rows_of(export(lines)) == [
        ["id", "participantId", "sessionId", "meetingId", "displayName"]
        + ["pinned", "isEdited", "payloadType", "payload", "createdAt"],
        ["m1", "p1", "sess-1", "meet-1", "Alice"]
        + ["false", "false", "TEXT_MESSAGE", "hello", "2026-01-01T00:00:00.000Z"],
        ["m2", "p2", "sess-1", "meet-1", "Bob"]
        + ["true", "true", "IMAGE_MESSAGE", "https://example.com/cat.png"]
        + ["2026-01-01T01:01:01.123Z"],
    ]
    assert CHAT_COLUMNS == tuple(rows_of(export([]))[0])


def test_missing_meeting_and_display_name_are_empty_cells():
    row = only_row(message(display_name=None), meeting_id=None)
    assert row[3] == "" and row[4] == ""


def test_bytes_are_utf8_rfc4180_with_crlf_line_ends():
    data = export([message(payload='say "hi", then\nleave')])
    assert data.startswith(b"id,participantId,sessionId,")
    assert data.split(b"\r\n")[0].endswith(b",payload,createdAt")
    # The payload cell is quoted, quotes doubled, its newline kept inside the quotes.
    assert b',"say ""hi"", then\nleave",2026-01-01T00:00:00.000Z\r\n' in data
    assert data.endswith(b"\r\n")
    assert data.count(b"\r\n") == 2


@pytest.mark.parametrize("trigger", TRIGGERS)
def test_payload_starting_like_a_formula_gets_a_quote_prefix(trigger: str):
    assert only_row(message(payload=trigger + "1+1"))[8] == "'" + trigger + "1+1"


@pytest.mark.parametrize("trigger", TRIGGERS)
def test_every_cell_is_neutralized_not_only_the_payload(trigger: str):
    line = message(message_id=trigger + "id", peer_id=trigger + "peer", display_name=trigger + "n")
    row = only_row(line, meeting_id=trigger + "meet")
    assert row[:5] == [
        "'" + trigger + "id",
        "'" + trigger + "peer",
        "sess-1",
        "'" + trigger + "meet",
        "'" + trigger + "n",
    ]


def test_hyperlink_formula_in_display_name_is_neutralized():
    row = only_row(message(display_name='=HYPERLINK("http://evil.example","click")'))
    assert row[4] == '\'=HYPERLINK("http://evil.example","click")'


@pytest.mark.parametrize(
    "safe",
    ["5-3", "a=b", "mail@example.com", " =1+1", " -5", "'already quoted", "", "x\t=1"],
)
def test_cells_not_starting_with_a_trigger_are_left_alone(safe: str):
    row = only_row(message(payload=safe, display_name=safe))
    assert (row[4], row[8]) == (safe, safe)


def test_non_ascii_emoji_and_multi_line_payloads_round_trip():
    payloads = [
        "Grüße aus Köln 👋🏽",
        "第一行\n第二行\r\nтретья строка\rlast",
        '👨‍👩‍👧 family, "quoted" and, commas',
        "trailing newline\n",
        "\n\nleading blank lines",
    ]
    lines = [message(message_id=f"m{i}", payload=text) for i, text in enumerate(payloads)]
    assert [row[8] for row in rows_of(export(lines))[1:]] == payloads


@given(payload=ANY_TEXT, display_name=ANY_TEXT)
def test_any_text_round_trips_apart_from_the_formula_prefix(payload: str, display_name: str):
    def expected(cell: str) -> str:
        return "'" + cell if cell[:1] in TRIGGERS else cell

    rows = rows_of(export([message(payload=payload, display_name=display_name)]))
    assert len(rows) == 2
    assert rows[1][4] == expected(display_name)
    assert rows[1][8] == expected(payload)


# --------------------------------------------------------------------------
# Streaming: constant memory over a long chat
# --------------------------------------------------------------------------

MESSAGES = 100_000


def long_chat() -> Iterator[ChatLine]:
    for i in range(MESSAGES):
        yield message(
            message_id=f"msg-{i:08d}",
            peer_id=f"peer-{i % 50:04d}",
            payload=f"message number {i} with some words to make the row longer than a tweet",
            created_ms=NEW_YEAR_2026_MS + i * 1000,
        )


def csv_lines(chunks: Iterable[bytes]) -> Iterator[str]:
    """The chunks' text as lines (ends kept), without holding more than one chunk."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    pending = ""
    for chunk in chunks:
        lines = (pending + decoder.decode(chunk)).splitlines(keepends=True)
        pending = lines.pop() if lines and not lines[-1].endswith("\n") else ""
        yield from lines
    if pending:
        yield pending


def test_a_long_chat_is_written_in_constant_memory():
    chunk_sizes: list[int] = []

    def measured(chunks: Iterable[bytes]) -> Iterator[bytes]:
        for chunk in chunks:
            chunk_sizes.append(len(chunk))
            yield chunk

    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        rows = 0
        last: list[str] = []
        for row in csv.reader(csv_lines(measured(export_stream(long_chat())))):
            rows += 1
            last = row
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert rows == MESSAGES + 1
    assert last[0] == f"msg-{MESSAGES - 1:08d}"
    assert last[9] == "2026-01-02T03:46:39.000Z"  # 99,999 s = 27 h 46 min 39 s after 2026-01-01
    # The whole export is about 17 MB; a writer holding it all would be far past 5 MB.
    assert sum(chunk_sizes) > 15_000_000
    assert peak < 5_000_000, f"peak {peak:,} bytes"
    assert len(chunk_sizes) > 100 and max(chunk_sizes) < 256 * 1024


def export_stream(lines: Iterable[ChatLine]) -> Iterator[bytes]:
    return chat_csv(lines, session_id="sess-1", meeting_id="meet-1")
