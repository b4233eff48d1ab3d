"""Builders of native events for tests. Times are epoch ms; ids are derived from content."""

from __future__ import annotations

import hashlib
from typing import Any

from rtk_sessions.clock import iso_ms

T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z
MIN = 60_000
SEC = 1_000


def _event(kind: str, ts: int, **fields: Any) -> dict[str, Any]:
    key = f"{kind}|{ts}|{sorted(fields.items())}"
    event_id = "ev-" + hashlib.sha1(key.encode()).hexdigest()[:20]
    return {"id": event_id, "type": kind, "ts": iso_ms(ts), **fields}


def meeting(meeting_id: str, title: str, ts: int = T0, session_type: str = "meeting") -> dict:
    return _event(
        "meeting.upserted", ts, meeting_id=meeting_id, title=title, session_type=session_type
    )


def started(
    session_id: str, meeting_id: str, ts: int, parent: str | None = None, meta: dict | None = None
) -> dict:
    fields: dict[str, Any] = {"session_id": session_id, "meeting_id": meeting_id}
    if parent:
        fields["parent_session_id"] = parent
    if meta is not None:
        fields["meta"] = meta
    return _event("session.started", ts, **fields)


def ended(session_id: str, ts: int, reason: str = "ALL_PARTICIPANTS_LEFT") -> dict:
    return _event("session.ended", ts, session_id=session_id, reason=reason)


def joined(
    session_id: str,
    peer_id: str,
    ts: int,
    user_id: str | None = None,
    meeting_id: str | None = None,
    **extra: Any,
) -> dict:
    fields: dict[str, Any] = {
        "session_id": session_id,
        "peer_id": peer_id,
        "user_id": user_id or f"user-{peer_id}",
        "display_name": extra.pop("display_name", f"Name {peer_id}"),
        "custom_participant_id": extra.pop("custom_participant_id", f"cpi-{peer_id}"),
        "preset_name": "group_call_host",
        "preset_view_type": "GROUP_CALL",
        "role": "participant",
        **extra,
    }
    if meeting_id:
        fields["meeting_id"] = meeting_id
    return _event("peer.joined", ts, **fields)


def left(session_id: str, peer_id: str, ts: int) -> dict:
    return _event("peer.left", ts, session_id=session_id, peer_id=peer_id)


def visit(
    session_id: str,
    peer_id: str,
    start: int,
    end: int | None,
    user_id: str | None = None,
    meeting_id: str | None = None,
    **extra: Any,
) -> list[dict]:
    """A peer's join (and leave, unless ``end`` is None)."""
    events = [joined(session_id, peer_id, start, user_id, meeting_id, **extra)]
    if end is not None:
        events.append(left(session_id, peer_id, end))
    return events


# --- the other native event types (ingest.md §1) -------------------------------------------


def event(kind: str, ts: int, **fields: Any) -> dict[str, Any]:
    """Any native event, with an id derived from its content."""
    return _event(kind, ts, **fields)


def peer_metadata(peer_id: str, ts: int, **fields: Any) -> dict:
    return _event("peer.metadata", ts, peer_id=peer_id, **fields)


def peer_event(peer_id: str, ts: int, name: str, metadata: dict | None = None) -> dict:
    return _event("peer.event", ts, peer_id=peer_id, name=name, metadata=metadata or {})


def peer_stats(peer_id: str, ts: int, samples: list[dict] | None = None) -> dict:
    sample = {
        "ts": iso_ms(ts),
        "kind": "audio",
        "direction": "producer",
        "ssrc": 1234,
        "packets_sent": 500,
        "bytes_sent": 40_000,
        "packets_lost": 2,
        "jitter": 0.004,
        "round_trip_time": 0.05,
    }
    return _event("peer.stats", ts, peer_id=peer_id, samples=samples or [sample])


def chat_message(session_id: str, peer_id: str, ts: int, message_id: str, text: str) -> dict:
    return _event(
        "chat.message",
        ts,
        session_id=session_id,
        message_id=message_id,
        peer_id=peer_id,
        display_name=f"Name {peer_id}",
        payload_type="TEXT_MESSAGE",
        payload=text,
        pinned=False,
        is_edited=False,
    )


def transcript_segment(
    session_id: str,
    peer_id: str,
    ts: int,
    start_ms: int,
    end_ms: int,
    text: str,
    language: str | None = "en",
) -> dict:
    return _event(
        "transcript.segment",
        ts,
        session_id=session_id,
        peer_id=peer_id,
        start_ms=start_ms,
        end_ms=end_ms,
        text=text,
        language=language,
    )
