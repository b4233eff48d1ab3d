"""A session's timeline for the dashboard: one lane per user (a user's rejoins on one
line), and the number of people present over time. Pure functions over plain data:
each peer's stay is a ``lifecycle.PeerSpan`` whose ``left_ms`` is its effective leave
(None: still in the call). Times are epoch milliseconds.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rtk_sessions.analytics.lifecycle import PeerSpan


@dataclass(frozen=True, slots=True)
class Lane:
    """A user's line on the timeline: their name and each of their peers' stays, in join
    order. Peers without a user id have a lane each."""

    key: str
    name: str
    stays: tuple[PeerSpan, ...]

    @property
    def rejoins(self) -> int:
        return len(self.stays) - 1


def lanes_of(peers: Iterable[tuple[str | None, str | None, PeerSpan]]) -> list[Lane]:
    """Lanes from (user id, display name, stay) triples, ordered by each lane's first join.

    The lane is named by the user's first peer with a name, else by its user or peer id.
    """
    grouped: dict[str, list[tuple[str | None, PeerSpan]]] = {}
    for user_id, name, stay in peers:
        grouped.setdefault(user_id or f"peer:{stay.peer_id}", []).append((name, stay))
    lanes = []
    for key, members in grouped.items():
        members.sort(key=lambda m: (m[1].joined_ms, m[1].peer_id))
        name = next((n for n, _ in members if n), None) or key.removeprefix("peer:")
        lanes.append(Lane(key, name, tuple(stay for _, stay in members)))
    lanes.sort(key=lambda lane: (lane.stays[0].joined_ms, lane.key))
    return lanes


def concurrency_steps(stays: Sequence[PeerSpan], until_ms: int) -> list[tuple[int, int]]:
    """(time, people present from then on) at every change, ending with (until_ms, n):
    n is who is still in then. A leave and a join at the same millisecond do not
    overlap (leaves count first), as in ``lifecycle.max_concurrent``."""
    edges: list[tuple[int, int]] = []
    for stay in stays:
        if stay.left_ms is not None and stay.left_ms <= stay.joined_ms:
            continue  # left as it joined: never present
        edges.append((stay.joined_ms, 1))
        if stay.left_ms is not None:
            edges.append((stay.left_ms, -1))
    edges.sort()
    steps: list[tuple[int, int]] = []
    present = 0
    for at, delta in edges:
        present += delta
        if steps and steps[-1][0] == at:
            steps[-1] = (at, present)
        else:
            steps.append((at, present))
    if steps and steps[-1][0] < until_ms:
        steps.append((until_ms, present))
    return steps


def peak(steps: Sequence[tuple[int, int]]) -> int:
    return max((count for _, count in steps), default=0)
