"""What the export writers read: a session's chat messages, transcript segments and the
peers who spoke, as the store hands them out (pure data, no I/O)."""

from __future__ import annotations

import msgspec


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
