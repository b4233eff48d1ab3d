"""What the peer report reads, in one snapshot: the peer, its session, the events about it."""

from __future__ import annotations

from dataclasses import dataclass

from rtk_sessions.store.apps import Missing
from rtk_sessions.store.database import Database
from rtk_sessions.store.folding import readable_app
from rtk_sessions.store.participants import find_peer, peer_event_payloads
from rtk_sessions.store.prepared import Snapshot
from rtk_sessions.store.rows import PeerRow
from rtk_sessions.store.sessions import session_row
from rtk_sessions.store.stats import StatsVersion, stats_versions


@dataclass(frozen=True, slots=True)
class StoredPeer:
    """A peer as stored: the peer, its session's forced end, the events about it.

    ``metadata`` and ``events`` are the decoded ``peer.metadata`` / ``peer.event``
    payloads in time order; ``stats_version`` the version of its ``peer.stats``
    events (:class:`~rtk_sessions.store.stats.StoredStats`), which are read with
    :func:`~rtk_sessions.store.stats.load_stats` when needed.
    """

    app_pk: int
    peer: PeerRow
    session_closed_ms: int | None
    metadata: list[dict]
    events: list[dict]
    stats_version: StatsVersion


def load_peer(db: Database, account_id: str, app_id: str, peer_id: str) -> StoredPeer:
    """The (joined) peer ``peer_id`` of the app, in whichever session (raises :class:`Missing`)."""
    app_pk = readable_app(db, account_id, app_id)
    with db.read() as conn:
        peer = find_peer(conn, app_pk, peer_id) if app_pk is not None else None
        if app_pk is None or peer is None:
            raise Missing(f"peer {peer_id} not found")
        session = session_row(conn, app_pk, peer.session_id)
        stored = peer_event_payloads(conn, app_pk, peer_id, ["peer.metadata", "peer.event"])
        version = stats_versions(Snapshot.of(conn), app_pk, [peer_id])[peer_id]
    return StoredPeer(
        app_pk=app_pk,
        peer=peer,
        session_closed_ms=session.closed_ms if session else None,
        metadata=stored["peer.metadata"],
        events=stored["peer.event"],
        stats_version=version,
    )
