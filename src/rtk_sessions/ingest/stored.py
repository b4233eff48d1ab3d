"""Reading back the ``peer.stats`` samples of a peer's stored events.

Most are compact rows (``ingest.stats_codec``), each encoded against an earlier row
of the peer (its base), so they are decoded with every base before the rows that
refer to it. The rest were kept in the log as received (JSON): what a sample means
is declared once, in ``ingest.events.StatsSample``; an event stored before a key was
declared (e.g. a ``candidate_pair`` of another shape, accepted when it was still
free-form) is read sample by sample, and a sample the declaration refuses is left
out rather than failing the whole report.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import msgspec

from rtk_sessions.ingest.events import StatsSample
from rtk_sessions.store.stats import StoredStats
from rtk_sessions.store.stats_codec import decode_rows
from rtk_sessions.store.stats_rewrite import in_base_order

log = logging.getLogger(__name__)


class _StoredStats(msgspec.Struct, forbid_unknown_fields=False):
    samples: list[StatsSample]


class _LooseStats(msgspec.Struct, forbid_unknown_fields=False):
    samples: list[msgspec.Raw]


_STATS = msgspec.json.Decoder(_StoredStats)
_LOOSE = msgspec.json.Decoder(_LooseStats)
_SAMPLE = msgspec.json.Decoder(StatsSample)


def stats_samples(stored: StoredStats) -> list[StatsSample]:
    """Every sample of a peer's stored stats (in no particular order)."""
    return decode_rows(in_base_order(stored.rows)) + logged_samples(stored.payloads)


def logged_samples(payloads: Iterable[str | bytes]) -> list[StatsSample]:
    """Every sample of ``peer.stats`` events kept in the log as received."""
    samples: list[StatsSample] = []
    for payload in payloads:
        try:
            samples += _STATS.decode(payload).samples
        except msgspec.ValidationError:
            samples += _readable_samples(payload)
    return samples


def _readable_samples(payload: str | bytes) -> list[StatsSample]:
    readable = []
    for raw in _LOOSE.decode(payload).samples:
        try:
            readable.append(_SAMPLE.decode(raw))
        except msgspec.ValidationError as exc:
            log.warning("a stored peer.stats sample is left out: %s", exc)
    return readable
