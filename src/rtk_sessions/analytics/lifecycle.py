"""Session lifecycle math: durations, participant-minutes, concurrency, status.

Pure functions over plain data (``api.md``, "Lifecycle semantics"). Times
are integer milliseconds since the epoch; minutes are floats.

The summary of a session is split in two so that lists can sort and filter
in SQL: ``summarize_session`` computes everything that does not depend on
the clock (stored at ingest), and ``status``/``minutes_consumed_ms`` add
"now" at read time. For a live session the minutes are
``closed_peer_ms + open_peers * now - open_join_sum_ms``: the finished
peers plus, for each peer still in, the time since it joined.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

MS_PER_MINUTE = 60_000
HOST_ENDED = "HOST_ENDED_MEETING"
LIVE = "LIVE"
ENDED = "ENDED"


@dataclass(frozen=True, slots=True)
class PeerSpan:
    """One join of one user: when it joined and, if known, when it left."""

    peer_id: str
    joined_ms: int
    left_ms: int | None


@dataclass(frozen=True, slots=True)
class SessionFacts:
    """What the session's own events (and its meeting's next session) say."""

    start_event_ms: int | None = None
    end_event_ms: int | None = None
    end_reason: str | None = None
    superseded_ms: int | None = None  # start of the meeting's next top-level session


@dataclass(frozen=True, slots=True)
class SessionSummary:
    """The clock-independent aggregates of one session (stored with the session)."""

    started_ms: int | None
    closed_ms: int | None  # forced end: session.ended, or the next session started
    ended_ms: int | None  # ended_at when closed; None if it can only end by the grace rule
    peer_count: int
    open_peers: int
    open_join_sum_ms: int
    closed_peer_ms: int
    max_concurrent: int
    quiet_since_ms: int | None  # max(started, last leave): the grace period runs from here
    updated_ms: int | None


def closed_at(facts: SessionFacts) -> int | None:
    """When the session was forced to end, or None if nothing forced it."""
    candidates = [t for t in (facts.end_event_ms, facts.superseded_ms) if t is not None]
    return min(candidates) if candidates else None


def effective_left_ms(peer: PeerSpan, closed_ms: int | None) -> int | None:
    """When the peer left, counting a forced end as everyone leaving then.

    Nobody is in a session after it was closed: a missing leave becomes the
    close time, a later leave is clipped to it, and never before the join.
    None means the peer is still in.
    """
    left = peer.left_ms
    if closed_ms is not None:
        left = closed_ms if left is None else min(left, closed_ms)
    return None if left is None else max(left, peer.joined_ms)


def peer_duration_ms(peer: PeerSpan, closed_ms: int | None, now_ms: int) -> int:
    """Milliseconds the peer spent in the session (up to now if still in)."""
    left = effective_left_ms(peer, closed_ms)
    return max(0, (now_ms if left is None else left) - peer.joined_ms)


def max_concurrent(intervals: Iterable[tuple[int, int | None]]) -> int:
    """Most peers present at once; intervals are [joined, left), left None = still in.

    A peer leaving at the millisecond another joins does not overlap it
    (leaves sort before joins at equal times). Any peer at all counts as one.
    """
    edges: list[tuple[int, int]] = []
    for joined, left in intervals:
        edges.append((joined, 1))
        if left is not None:
            edges.append((left, -1))
    if not edges:
        return 0
    edges.sort()
    present = best = 0
    for _, delta in edges:
        present += delta
        best = max(best, present)
    return max(best, 1)


def summarize_session(facts: SessionFacts, peers: Sequence[PeerSpan]) -> SessionSummary:
    """Aggregate a session's peers under its facts; the same for any order of ``peers``."""
    closed = closed_at(facts)
    joins = [p.joined_ms for p in peers]
    started = _min_or_none([facts.start_event_ms, *joins])
    open_count = open_join_sum = closed_ms_sum = 0
    last_left: int | None = None
    spans: list[tuple[int, int | None]] = []
    for peer in peers:
        left = effective_left_ms(peer, closed)
        spans.append((peer.joined_ms, left))
        if left is None:
            open_count += 1
            open_join_sum += peer.joined_ms
        else:
            closed_ms_sum += left - peer.joined_ms
            last_left = left if last_left is None else max(last_left, left)
    raw_times = [facts.start_event_ms, facts.end_event_ms, *joins]
    raw_times += [p.left_ms for p in peers]
    return SessionSummary(
        started_ms=started,
        closed_ms=closed,
        ended_ms=_ended_ms(facts, closed, last_left, bool(peers)),
        peer_count=len(peers),
        open_peers=open_count,
        open_join_sum_ms=open_join_sum,
        closed_peer_ms=closed_ms_sum,
        max_concurrent=max_concurrent(spans),
        quiet_since_ms=_max_or_none([started, last_left]),
        updated_ms=_max_or_none(raw_times),
    )


def _ended_ms(
    facts: SessionFacts, closed: int | None, last_left: int | None, has_peers: bool
) -> int | None:
    """ended_at of a closed session: the host's end time, else the last leave."""
    if closed is None:
        return None
    host_ended = facts.end_reason == HOST_ENDED and facts.end_event_ms == closed
    if host_ended or not has_peers or last_left is None:
        return closed
    return last_left


def status(
    closed_ms: int | None,
    tree_open_peers: int,
    tree_quiet_since_ms: int | None,
    now_ms: int,
    grace_ms: int,
) -> str:
    """LIVE or ENDED: ended if forced, or nobody in it or its rooms for longer than the grace."""
    if closed_ms is not None:
        return ENDED
    if tree_open_peers == 0 and tree_quiet_since_ms is not None:
        if tree_quiet_since_ms + grace_ms < now_ms:  # "more than the grace period ago"
            return ENDED
    return LIVE


def ended_at_ms(
    session_status: str, ended_ms: int | None, tree_quiet_since_ms: int | None
) -> int | None:
    """ended_at: None while live; the forced end, else the tree's last activity."""
    if session_status != ENDED:
        return None
    return ended_ms if ended_ms is not None else tree_quiet_since_ms


def minutes_consumed_ms(
    closed_peer_ms: int, open_peers: int, open_join_sum_ms: int, now_ms: int
) -> int:
    """Participant-milliseconds: finished peers plus each present peer's time so far."""
    return closed_peer_ms + open_peers * now_ms - open_join_sum_ms


def to_minutes(ms: int | float) -> float:
    """Milliseconds as minutes, rounded to 4 decimals (the API's precision).

    Computed as seconds / 60, as RealtimeKit's figures are: the 355 peer
    durations of examples/basic all match. For a session the input is the
    exact integer total of its peers' milliseconds, so the result does not
    depend on the order peers are summed in; where that total is an exact
    tie at the fifth decimal (total ms ≡ 3 mod 6) the reference answers
    were summed in float in arrival order and may round the other way.
    """
    return round(ms / 1000 / 60, 4)


def tree_aggregate(
    own_open: int, own_quiet: int | None, children: Iterable[tuple[int, int | None]]
) -> tuple[int, int | None]:
    """(open peers, quiet since) of a session together with its breakout rooms."""
    total_open, quiet = own_open, own_quiet
    for child_open, child_quiet in children:
        total_open += child_open
        quiet = _max_or_none([quiet, child_quiet])
    return total_open, quiet


def _min_or_none(values: Iterable[int | None]) -> int | None:
    present = [v for v in values if v is not None]
    return min(present) if present else None


def _max_or_none(values: Iterable[int | None]) -> int | None:
    present = [v for v in values if v is not None]
    return max(present) if present else None
