"""Participants: one peer's times in a session, the consolidated view, peer events.

Pure functions over plain data. A *participant* row is a peer (one join of
one user). The consolidated view folds a user's peers across a session and
its breakout rooms into one row.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from rtk_sessions.analytics.lifecycle import PeerSpan, effective_left_ms, peer_duration_ms

_EVENT_NAMESPACE = uuid.UUID("0f4b6a56-8a47-4c38-9d3f-6b2f4b3c9a11")


@dataclass(frozen=True, slots=True)
class ParticipantView:
    """A peer as the API shows it; ``left_ms`` None while still in the call."""

    peer_id: str
    session_id: str
    user_id: str | None
    display_name: str | None
    custom_participant_id: str | None
    preset_name: str | None
    preset_view_type: str | None
    socket_session_id: str | None
    search_text: str
    joined_ms: int
    left_ms: int | None
    duration_ms: int  # milliseconds in the session (up to now if still in)

    @property
    def updated_ms(self) -> int:
        return self.joined_ms if self.left_ms is None else max(self.left_ms, self.joined_ms)


def participant_view(
    peer: Mapping[str, Any], closed_ms: int | None, now_ms: int
) -> ParticipantView:
    """A stored peer row seen at ``now_ms`` in a session closed at ``closed_ms`` (or not)."""
    span = PeerSpan(peer["peer_id"], peer["joined_ms"], peer["left_ms"])
    return ParticipantView(
        peer_id=peer["peer_id"],
        session_id=peer["session_id"],
        user_id=peer["user_id"],
        display_name=peer["display_name"],
        custom_participant_id=peer["custom_participant_id"],
        preset_name=peer["preset_name"],
        preset_view_type=peer["preset_view_type"],
        socket_session_id=peer["socket_session_id"],
        search_text=peer.get("search_text") or "",
        joined_ms=span.joined_ms,
        left_ms=effective_left_ms(span, closed_ms),
        duration_ms=peer_duration_ms(span, closed_ms, now_ms),
    )


def consolidate(views: Iterable[ParticipantView], session_id: str) -> list[ParticipantView]:
    """One row per user over a session and its rooms.

    Earliest join, latest leave (None if any of the user's peers is still
    in), summed duration; ``id`` and the other fields come from the user's
    first peer. Peers without a user id stand alone. Rows are in join order.
    """
    groups: dict[str, list[ParticipantView]] = {}
    for view in views:
        groups.setdefault(view.user_id or f"peer:{view.peer_id}", []).append(view)
    rows = []
    for members in groups.values():
        members.sort(key=lambda v: (v.joined_ms, v.peer_id))
        still_in = any(v.left_ms is None for v in members)
        rows.append(
            replace(
                members[0],
                session_id=session_id,
                search_text="\x1f".join(v.search_text for v in members),
                left_ms=None if still_in else max(v.left_ms for v in members),  # type: ignore[type-var]
                duration_ms=sum(v.duration_ms for v in members),
            )
        )
    rows.sort(key=lambda v: (v.joined_ms, v.peer_id))
    return rows


def peer_lifecycle_events(view: ParticipantView) -> list[dict[str, Any]]:
    """PEER_CREATED and PEER_JOINING at the join, PEER_LEAVING at the leave (if any).

    Ids are stable (derived from session, peer and event name), so repeated
    reads return the same ids. ``minutes_consumed`` is the peer's minutes at
    that event (0 on joining). Times are epoch ms; the API formats them.
    """

    def event(name: str, at_ms: int, minutes_ms: int) -> dict[str, Any]:
        key = f"{view.session_id}/{view.peer_id}/{name}"
        return {
            "id": str(uuid.uuid5(_EVENT_NAMESPACE, key)),
            "created_ms": at_ms,
            "updated_ms": at_ms,
            "event_name": name,
            "minutes_ms": minutes_ms,
            "participant_id": view.user_id,
            "peer_id": view.peer_id,
            "preset_view_type": view.preset_view_type,
            "session_id": view.session_id,
            "socket_session_id": view.socket_session_id,
        }

    events = [event("PEER_CREATED", view.joined_ms, 0), event("PEER_JOINING", view.joined_ms, 0)]
    if view.left_ms is not None:
        events.append(event("PEER_LEAVING", view.left_ms, view.duration_ms))
    return events
