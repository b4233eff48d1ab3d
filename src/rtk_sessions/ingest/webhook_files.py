"""The files a RealtimeKit webhook links to, as native events.

``meeting.chatSynced`` links the session's chat as CSV, ``meeting.transcript`` its
transcript as CSV (the formats of ``exports.md``, which our own downloads write too).
Ids are derived from the session and the row, so fetching the same file again adds
nothing.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from rtk_sessions.clock import iso_ms

CHAT_COLUMNS = ("id", "participantId", "displayName", "payloadType", "payload", "createdAt")
TRANSCRIPT_COLUMNS = ("Timestamp", "Participant ID", "Transcript")
MS_PER_WORD = 400  # a segment's length when the file gives only starts (~150 words/min)


class FileFormatError(ValueError):
    """The file is not the CSV its delivery announced (the job fails with this)."""


def _rows(text: str, required: tuple[str, ...], what: str) -> list[dict[str, str]]:
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    missing = [c for c in required if c not in (reader.fieldnames or ())]
    if missing:
        raise FileFormatError(f"{what} CSV has no column {', '.join(missing)}")
    return list(reader)


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in ("true", "1", "yes")


def chat_events(text: str, session_id: str) -> list[dict[str, Any]]:
    """chat.message events from a chat CSV (``id,participantId,...,createdAt``)."""
    events = []
    for row in _rows(text, CHAT_COLUMNS, "chat"):
        event: dict[str, Any] = {
            "id": f"rtk-chat:{session_id}:{row['id']}",
            "type": "chat.message",
            "ts": row["createdAt"],
            "session_id": session_id,
            "message_id": row["id"],
            "peer_id": row["participantId"],
            "payload_type": row["payloadType"] or "TEXT_MESSAGE",
            "payload": row["payload"],
            "pinned": _flag(row.get("pinned")),
            "is_edited": _flag(row.get("isEdited")),
        }
        if row.get("displayName"):
            event["display_name"] = row["displayName"]
        events.append(event)
    return events


def transcript_events(text: str, session_id: str, session_start_ms: int) -> list[dict[str, Any]]:
    """transcript.segment events from a transcript CSV (``Timestamp`` in ms from the
    session start). The CSV has no end times: a segment ends where the next one starts,
    or after ``MS_PER_WORD`` per word, whichever comes first."""
    rows = _rows(text, TRANSCRIPT_COLUMNS, "transcript")
    starts = []
    for n, row in enumerate(rows, start=2):
        try:
            starts.append(int(float(row["Timestamp"])))
        except ValueError:
            raise FileFormatError(
                f"transcript CSV line {n}: Timestamp {row['Timestamp']!r} is not ms"
            ) from None
    next_later = _next_later_starts(starts)
    events = []
    for n, (row, start) in enumerate(zip(rows, starts, strict=True)):
        spoken = start + MS_PER_WORD * max(1, len(row["Transcript"].split()))
        later = next_later[n]
        end = spoken if later is None else min(spoken, later)
        events.append(
            {
                "id": f"rtk-transcript:{session_id}:{n}",
                "type": "transcript.segment",
                "ts": iso_ms(session_start_ms + start),
                "session_id": session_id,
                "peer_id": row["Participant ID"],
                "start_ms": start,
                "end_ms": end,
                "text": row["Transcript"],
            }
        )
    return events


def _next_later_starts(starts: list[int]) -> list[int | None]:
    """For each row, the first start after it that is later than its own (rows that
    start together overlap; the next later one ends them): the next greater element,
    found in one pass from the end with a stack of candidates."""
    found: list[int | None] = [None] * len(starts)
    candidates: list[int] = []  # starts to the right, increasing towards the bottom
    for n in range(len(starts) - 1, -1, -1):
        while candidates and candidates[-1] <= starts[n]:
            candidates.pop()
        found[n] = candidates[-1] if candidates else None
        candidates.append(starts[n])
    return found
