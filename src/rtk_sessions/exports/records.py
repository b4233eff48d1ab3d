"""What the export writers read: a session's chat messages, transcript segments and the
peers who spoke (pure data, no I/O), decoded from the stored events with the ingest
schema, so that each field of a message or a segment is declared once."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import msgspec

from rtk_sessions.ingest.events import ChatMessage, TranscriptSegment


class ChatLine(msgspec.Struct, frozen=True, kw_only=True):
    """One ``chat.message``; ``created_ms`` is its event time (epoch ms)."""

    message_id: str
    peer_id: str
    display_name: str | None
    payload_type: str  # TEXT_MESSAGE | IMAGE_MESSAGE | FILE_MESSAGE
    payload: str
    pinned: bool
    is_edited: bool
    created_ms: int


class TranscriptLine(msgspec.Struct, frozen=True, kw_only=True):
    """One ``transcript.segment``; times in ms from the session's start."""

    peer_id: str
    start_ms: int
    end_ms: int
    text: str
    language: str | None = None


class Speaker(msgspec.Struct, frozen=True, kw_only=True):
    """The peer behind transcript lines (its join; ``None`` fields when never joined)."""

    peer_id: str
    user_id: str | None = None
    display_name: str | None = None
    custom_participant_id: str | None = None
    joined_ms: int | None = None
    left_ms: int | None = None


_CHAT = msgspec.json.Decoder(ChatMessage)
_SEGMENT = msgspec.json.Decoder(TranscriptSegment)


def chat_lines(stored: Iterable[tuple[int, str]]) -> Iterator[ChatLine]:
    """Stored ``chat.message`` events, (time, JSON), as chat lines (lazily)."""
    for ts_ms, payload in stored:
        message = _CHAT.decode(payload)
        yield ChatLine(
            message_id=message.message_id,
            peer_id=message.peer_id,
            display_name=message.display_name,
            payload_type=message.payload_type,
            payload=message.payload,
            pinned=message.pinned,
            is_edited=message.is_edited,
            created_ms=ts_ms,
        )


def transcript_lines(payloads: Iterable[str]) -> list[TranscriptLine]:
    """Stored ``transcript.segment`` events as lines in speaking order (start, end, peer)."""
    segments = [_SEGMENT.decode(payload) for payload in payloads]
    segments.sort(key=lambda s: (s.start_ms, s.end_ms, s.peer_id, s.text))
    return [
        TranscriptLine(
            peer_id=s.peer_id,
            start_ms=s.start_ms,
            end_ms=s.end_ms,
            text=s.text,
            language=s.language,
        )
        for s in segments
    ]
