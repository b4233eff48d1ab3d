"""The Session page: the API's header numbers, a Gantt timeline (one line per user,
rejoins on it), people present over time, each breakout room nested with its own,
the downloads and the summary."""

from __future__ import annotations

from dataclasses import dataclass

from rtk_sessions.analytics.lifecycle import PeerSpan, effective_left_ms, ended_at_ms
from rtk_sessions.analytics.timeline import Lane, concurrency_steps, lanes_of
from rtk_sessions.api.context import AppContext
from rtk_sessions.api.sessions import Session, render_session
from rtk_sessions.store.exports import ExportSource, export_source
from rtk_sessions.store.participants import session_timeline
from rtk_sessions.store.rows import PeerRow, SessionRow
from rtk_sessions.ui import charts

TRANSCRIPT_FORMATS = ("CSV", "JSON", "SRT", "VTT")
MIN_BAR_PERCENT = 0.4  # a few seconds' stay in a long call stays visible and clickable


@dataclass(frozen=True, slots=True)
class BarView:
    """One stay on a lane, placed in percent of the timeline's width."""

    stay: PeerSpan
    left_pct: float
    width_pct: float
    still_in: bool


@dataclass(frozen=True, slots=True)
class LaneView:
    lane: Lane
    bars: list[BarView]


@dataclass(frozen=True, slots=True)
class Timeline:
    """A session (or room) as the API shows it, its lanes, people over time, its rooms."""

    session: Session
    row: SessionRow
    ended_ms: int | None  # None while live
    start_ms: int
    end_ms: int
    lanes: list[LaneView]
    people: list[tuple[PeerRow, PeerSpan]]
    concurrency: charts.Chart
    rooms: list[Timeline]


def session_view(
    ctx: AppContext, account_id: str, app_id: str, session_id: str
) -> tuple[Timeline, ExportSource]:
    """The session's timeline (with its rooms') and what can be downloaded of it."""
    now_ms = ctx.clock()
    stored = session_timeline(ctx.db, account_id, app_id, session_id)
    by_session: dict[str, list[PeerRow]] = {}
    for peer in stored.peers:
        by_session.setdefault(peer.session_id, []).append(peer)

    def timeline(row: SessionRow, rooms: list[Timeline]) -> Timeline:
        session = render_session(row, app_id, ctx, now_ms, [r.session for r in rooms])
        people = [(peer, _stay(peer, row.closed_ms)) for peer in by_session.get(row.session_id, [])]
        return build_timeline(session, row, people, now_ms, rooms)

    rooms = [timeline(room, []) for room in stored.rooms]
    source = export_source(ctx.db, account_id, app_id, session_id, with_summary=True)
    return timeline(stored.session, rooms), source


def build_timeline(
    session: Session,
    row: SessionRow,
    people: list[tuple[PeerRow, PeerSpan]],
    now_ms: int,
    rooms: list[Timeline],
) -> Timeline:
    """Lanes and the people-present chart over [start, end] of the session: its start,
    and its end (or now while it is live, or the last leave if later)."""
    start = min([row.started_ms or now_ms, *(s.joined_ms for _, s in people)])
    ended = ended_at_ms(session.status, row.ended_ms, row.tree_quiet_since_ms)
    lefts = [s.left_ms for _, s in people if s.left_ms is not None]
    end = max(start + 1000, now_ms if ended is None else ended, *lefts)
    lanes = lanes_of((peer.user_id, peer.display_name, stay) for peer, stay in people)
    steps = concurrency_steps([stay for _, stay in people], end)
    return Timeline(
        session=session,
        row=row,
        ended_ms=ended,
        start_ms=start,
        end_ms=end,
        lanes=[LaneView(lane, [_bar(s, start, end) for s in lane.stays]) for lane in lanes],
        people=sorted(people, key=lambda p: (p[1].joined_ms, p[1].peer_id)),
        concurrency=charts.step_chart("People in the call", steps, start, end),
        rooms=rooms,
    )


def _stay(peer: PeerRow, closed_ms: int | None) -> PeerSpan:
    """The peer's stay as the API counts it: a session's forced end closes it."""
    stored = PeerSpan(peer.peer_id, peer.joined_ms, peer.left_ms)  # type: ignore[arg-type]
    return PeerSpan(peer.peer_id, stored.joined_ms, effective_left_ms(stored, closed_ms))


def _bar(stay: PeerSpan, start: int, end: int) -> BarView:
    span = end - start
    left = end if stay.left_ms is None else stay.left_ms
    left_pct = 100 * (stay.joined_ms - start) / span
    width_pct = max(MIN_BAR_PERCENT, 100 * (left - stay.joined_ms) / span)
    return BarView(
        stay, round(left_pct, 4), round(min(width_pct, 100 - left_pct), 4), stay.left_ms is None
    )
