"""Participants: one peer's times in a session, the consolidated view, peer events.

Pure functions over plain data. A *participant* row is a peer (one join of
one user). The consolidated view folds a user's peers across a session and
its breakout rooms into one row.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rtk_sessions.analytics.lifecycle import PeerSpan, effective_left_ms, peer_duration_ms

if TYPE_CHECKING:  # only its fields are read here
    from rtk_sessions.store.rows import PeerRow

_EVENT_NAMESPACE = uuid.UUID("0f4b6a56-8a47-4c38-9d3f-6b2f4b3c9a11")


@dataclass(frozen=True, slots=True)
class ParticipantView:
    """A peer as the API shows it at a moment: the stored peer (for a consolidated row,
    the user's first peer) with its times as of then; ``left_ms`` None while in the call.
    A consolidated row of several peers keeps their own views in ``members``."""

    peer: PeerRow
    session_id: str  # the peer's session (for a consolidated row: the parent session)
    search_text: str
    joined_ms: int
    left_ms: int | None
    duration_ms: int  # milliseconds in the session (up to now if still in)
    members: tuple[ParticipantView, ...] = ()

    @property
    def updated_ms(self) -> int:
        return self.joined_ms if self.left_ms is None else max(self.left_ms, self.joined_ms)


def participant_view(peer: PeerRow, closed_ms: int | None, now_ms: int) -> ParticipantView:
    """A stored (joined) peer seen at ``now_ms`` in a session closed at ``closed_ms`` (or not)."""
    span = PeerSpan(peer.peer_id, peer.joined_ms, peer.left_ms)  # type: ignore[arg-type]
    return ParticipantView(
        peer=peer,
        session_id=peer.session_id,
        search_text=peer.search_text,
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
        groups.setdefault(view.peer.user_id or f"peer:{view.peer.peer_id}", []).append(view)
    rows = []
    for members in groups.values():
        if len(members) == 1 and members[0].session_id == session_id:
            rows.append(members[0])  # one peer in the session itself: already its row
            continue
        members.sort(key=lambda v: (v.joined_ms, v.peer.peer_id))
        still_in = any(v.left_ms is None for v in members)
        first = members[0]
        rows.append(
            ParticipantView(
                peer=first.peer,
                session_id=session_id,
                search_text="\x1f".join(v.search_text for v in members),
                joined_ms=first.joined_ms,
                left_ms=None if still_in else max(v.left_ms for v in members),  # type: ignore[type-var]
                duration_ms=sum(v.duration_ms for v in members),
                members=tuple(members),
            )
        )
    rows.sort(key=lambda v: (v.joined_ms, v.peer.peer_id))
    return rows


@dataclass(frozen=True, slots=True)
class PeerMoment:
    """One of a peer's lifecycle events: its stable id, name, time and the peer's
    participant-milliseconds at that time; ``peer`` is the view of the peer it is of."""

    id: str
    name: str
    at_ms: int
    minutes_ms: int
    peer: ParticipantView


def peer_lifecycle_events(view: ParticipantView) -> list[PeerMoment]:
    """PEER_CREATED and PEER_JOINING at each join, PEER_LEAVING at each leave, in time
    order: of the peer, or of every peer a consolidated row folds (each event names its
    own peer and session).

    Ids are stable (derived from session, peer and event name), so repeated
    reads return the same ids, the same as the peer's own row's. The minutes are
    the peer's at that event (0 on joining).
    """
    moments = [moment for peer in view.members or (view,) for moment in _moments_of(peer)]
    moments.sort(key=lambda moment: moment.at_ms)  # stable: join order, then event order
    return moments


def _moments_of(view: ParticipantView) -> list[PeerMoment]:
    def moment(name: str, at_ms: int, minutes_ms: int) -> PeerMoment:
        key = f"{view.session_id}/{view.peer.peer_id}/{name}"
        return PeerMoment(str(uuid.uuid5(_EVENT_NAMESPACE, key)), name, at_ms, minutes_ms, view)

    moments = [moment("PEER_CREATED", view.joined_ms, 0), moment("PEER_JOINING", view.joined_ms, 0)]
    if view.left_ms is not None:
        moments.append(moment("PEER_LEAVING", view.left_ms, view.duration_ms))
    return moments
