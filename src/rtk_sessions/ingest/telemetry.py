"""Telemetry on its way in: ``peer.stats`` events as compact rows (``stats_codec``).

Each event becomes one row, encoded against the last row stored for its peer (its
"base"), so that a track's identity and the counters that move a little from poll to
poll take a byte or two. The base is the one this process stored last for the peer
(kept for a minute, for the 50,000 peers seen last): the previous event of the same
batch, or of an earlier one, as long as it is still stored and the peer's rows were
not rewritten since (erasure; the append checks it, in its transaction). Without one
(a new peer, another process stored its last event, a restart) an event is encoded
on its own, just larger.

A row's key is a 64-bit hash of its event id; before encoding, the keys are looked
up: a key stored with the same check hash is a re-delivery (a duplicate), one stored
with another is a collision, and that event is kept in the log as received instead,
like an event with keys the schema does not declare.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from weakref import WeakKeyDictionary

from msgspec.structs import replace

from rtk_sessions.clock import datetime_to_ms
from rtk_sessions.ingest.events import PeerStats
from rtk_sessions.ingest.normalize import NormalizedEvent
from rtk_sessions.store.database import Database
from rtk_sessions.store.rows import StatsRow
from rtk_sessions.store.stats import (
    StatsAppended,
    stored_rows,
)
from rtk_sessions.store.stats_codec import (
    PeerTail,
    decode_row_check,
    encode_event,
    event_id_hashes,
)

TAIL_PEERS = 50_000  # peers whose last row this process remembers
TAIL_SECONDS = 60.0  # and for how long


@dataclass(frozen=True, slots=True)
class _Remembered:
    at: float  # time.monotonic() when stored
    tail: PeerTail
    rewrites: int  # of the peer's rows then: once rewritten (erasure), the row is no base


class Tails:
    """The last row this process stored for each recently active peer, by (app, peer)."""

    def __init__(self, peers: int = TAIL_PEERS, seconds: float = TAIL_SECONDS) -> None:
        self._peers, self._seconds = peers, seconds
        self._tails: OrderedDict[tuple[int, str], _Remembered] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, app_pk: int, peer_id: str) -> _Remembered | None:
        with self._lock:
            found = self._tails.get((app_pk, peer_id))
        if found is None or time.monotonic() - found.at > self._seconds:
            return None
        return found

    def put(self, app_pk: int, tails: dict[str, PeerTail], rewrites: dict[str, int]) -> None:
        now = time.monotonic()
        with self._lock:
            for peer_id, tail in tails.items():
                self._tails[(app_pk, peer_id)] = _Remembered(now, tail, rewrites[peer_id])
                self._tails.move_to_end((app_pk, peer_id))
            while len(self._tails) > self._peers:
                self._tails.popitem(last=False)

    def forget(self, app_pk: int, peer_ids: Iterable[str]) -> None:
        with self._lock:
            for peer_id in peer_ids:
                self._tails.pop((app_pk, peer_id), None)


_TAILS: WeakKeyDictionary[Database, Tails] = WeakKeyDictionary()
_TAILS_GUARD = threading.Lock()


def tails_of(db: Database) -> Tails:
    with _TAILS_GUARD:
        return _TAILS.setdefault(db, Tails())


@dataclass(slots=True)
class PreparedStats:
    """A batch's ``peer.stats`` events as rows to append."""

    rows: list[StatsRow] = field(default_factory=list)
    keys: dict[str, int] = field(default_factory=dict)  # event id -> h1, of the compact rows
    duplicates: set[str] = field(default_factory=set)  # ids stored before
    tails: dict[str, PeerTail] = field(default_factory=dict)  # of each peer's last row


def prepare_stats(
    db: Database,
    app_pk: int | None,
    items: list[NormalizedEvent],
    received_ms: int,
    *,
    chained: bool = True,
) -> PreparedStats:
    """Rows for the batch's (valid, distinct) ``peer.stats`` events of app ``app_pk``
    (None: the app is new, nothing of it is stored). Not ``chained``: each row encoded
    on its own (larger), so that none depends on another event of the batch, which a
    concurrent writer may store first."""
    prepared = PreparedStats()
    if not items:
        return prepared
    hashes = {item.event_id: event_id_hashes(item.event_id) for item in items}
    remembered = _remembered(db, app_pk, items) if app_pk else {}
    keys = [h1 for h1, _ in hashes.values()] + [r.tail.h1 for r in remembered.values()]
    stored = stored_rows(db, app_pk, keys) if app_pk else {}
    bases = {peer_id: r for peer_id, r in remembered.items() if r.tail.h1 in stored}
    taken: set[int] = set()  # keys of this batch
    for item in items:
        event = item.event
        assert isinstance(event, PeerStats)
        h1, h2 = hashes[item.event_id]
        if h1 in stored and decode_row_check(stored[h1])[0] == h2:
            prepared.duplicates.add(item.event_id)
            continue
        row = StatsRow(event.peer_id, event.session_id, h1, _last_ms(event), received_ms, b"")
        if h1 in stored or h1 in taken or item.unknown_keys:
            row = replace(row, kept=item.logged(received_ms))
        else:
            base = prepared.tails.get(event.peer_id) if chained else None
            if base is None and chained and event.peer_id in bases:
                base = bases[event.peer_id].tail
            data, prepared.tails[event.peer_id] = encode_event(
                event.samples, session_id=event.session_id, h2=h2, base=base, h1=h1
            )
            remembered_base = bases.get(event.peer_id)
            row = replace(
                row,
                data=data,
                check=h2,
                base=None if base is None else base.h1,
                base_rewrites=None if remembered_base is None else remembered_base.rewrites,
            )
            taken.add(h1)
            prepared.keys[item.event_id] = h1
        prepared.rows.append(row)
    return prepared


def _remembered(db: Database, app_pk: int, items: list[NormalizedEvent]) -> dict[str, _Remembered]:
    """The rows this process stored last for the batch's peers."""
    tails = tails_of(db)
    found = {peer_id: tails.get(app_pk, peer_id) for peer_id in {i.peer_id for i in items}}
    return {peer_id: r for peer_id, r in found.items() if r is not None}  # type: ignore[misc]


def remember_tails(
    db: Database, app_pk: int, prepared: PreparedStats, appended: StatsAppended
) -> None:
    """Once the append committed: each peer's last row is the base of its next one, if
    this append stored it (a copy another writer stored may be encoded otherwise), while
    the peer's rows are not rewritten (``appended.rewrites``, as the append found them)."""
    tails = {peer_id: tail for peer_id, tail in prepared.tails.items() if tail.h1 in appended.keys}
    tails_of(db).put(app_pk, tails, appended.rewrites)


def forget_tails(db: Database, app_pk: int | None, peer_ids: Iterable[str]) -> None:
    """No base for these peers' next rows: theirs were rewritten."""
    if app_pk is not None:
        tails_of(db).forget(app_pk, peer_ids)


def _last_ms(event: PeerStats) -> int:
    return max(datetime_to_ms(sample.ts) for sample in event.samples)
