"""A peer's call quality, derived from its stored stats once per version of them.

Scoring an hour of a peer's WebRTC stats (about 2,000 samples) takes tens of
milliseconds of pure Python; the answer only changes when the peer's stored
``peer.stats`` events do. Each process keeps the derived JSON of recently
asked-for peers, keyed by (app, peer, stats version, sampling period), where
the version (how many events, the latest sample time, the latest arrival) is
read from the database in the request's own transaction. New stats, from any
process, change the version, so an answer is never stale; the cache only
saves repeating the same computation. Bounded by bytes, least recently used
first out.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import msgspec

from rtk_sessions.analytics.peer_report import CandidatePairs, candidate_pairs
from rtk_sessions.analytics.quality import intervals_of
from rtk_sessions.analytics.quality_report import peer_quality
from rtk_sessions.analytics.quality_stats import participant_entry, quality_stats
from rtk_sessions.ingest.stored import stats_samples
from rtk_sessions.store.database import Database
from rtk_sessions.store.stats import StoredStats, load_stats

#: (app, peer, stats version, sampling period, "report" | "entry")
CacheKey = tuple[int, str, tuple[int, int, int], float, str]
_ENCODE = msgspec.json.Encoder()


class DerivedQuality(msgspec.Struct, frozen=True):
    """What the API shows that is computed from a peer's samples, as JSON: the peer
    report's ``quality`` and ``quality_stats`` and the transports' candidate pairs (None
    where only the participant-details entry was derived), and that entry (None: the
    peer sent no samples)."""

    participant_entry: msgspec.Raw | None
    quality: msgspec.Raw | None = None
    quality_stats: msgspec.Raw | None = None
    candidate_pairs: CandidatePairs | None = None

    @property
    def size(self) -> int:
        parts = (self.participant_entry, self.quality, self.quality_stats)
        return sum(len(part) for part in parts if part is not None) + 1024


def derive_quality(
    peer_id: str, stats: StoredStats, period_s: float, *, report: bool
) -> DerivedQuality:
    """The participant-details entry, and with ``report`` the whole peer report's part."""
    samples = stats_samples(stats)
    measured = intervals_of(samples, period_s)
    summary = quality_stats(peer_id, measured)
    entry = participant_entry(summary) if measured.first_ms is not None else None
    derived = DerivedQuality(
        participant_entry=None if entry is None else msgspec.Raw(_ENCODE.encode(entry))
    )
    if not report:
        return derived
    return msgspec.structs.replace(
        derived,
        quality=msgspec.Raw(_ENCODE.encode(peer_quality(measured))),
        quality_stats=msgspec.Raw(_ENCODE.encode(summary)),
        candidate_pairs=candidate_pairs(samples),
    )


class QualityCache:
    """Derived quality by key, least recently used out past ``max_bytes`` (0: keep none)."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[CacheKey, DerivedQuality] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: CacheKey) -> DerivedQuality | None:
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
            return found

    def put(self, key: CacheKey, value: DerivedQuality) -> None:
        if value.size > self.max_bytes:
            return
        with self._lock:
            old = self._entries.pop(key, None)
            self._bytes -= old.size if old is not None else 0
            self._entries[key] = value
            self._bytes += value.size
            while self._bytes > self.max_bytes:
                _, evicted = self._entries.popitem(last=False)
                self._bytes -= evicted.size

    def __len__(self) -> int:
        return len(self._entries)

    def derived(
        self,
        db: Database,
        app_pk: int,
        versions: dict[str, tuple[int, int, int]],
        period_s: float,
        *,
        report: bool,
    ) -> dict[str, DerivedQuality]:
        """The derived quality of each peer (in ``versions``' order) at its stats version,
        for the peer report (``report``) or participant details: kept, else computed from
        the stats as stored now and kept under their version (a report's also serves details)."""
        part = "report" if report else "entry"
        found: dict[str, DerivedQuality] = {}
        missing = []
        for peer_id, version in versions.items():
            cached = self.get((app_pk, peer_id, version, period_s, part))
            if cached is None and not report:
                cached = self.get((app_pk, peer_id, version, period_s, "report"))
            if cached is None:
                missing.append(peer_id)
            else:
                found[peer_id] = cached
        if missing:
            for peer_id, stats in load_stats(db, app_pk, missing).items():
                found[peer_id] = derive_quality(peer_id, stats, period_s, report=report)
                self.put((app_pk, peer_id, stats.version, period_s, part), found[peer_id])
        return {peer_id: found[peer_id] for peer_id in versions}
