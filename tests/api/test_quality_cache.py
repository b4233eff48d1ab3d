"""The per-process memo of derived call quality (``api.quality_cache``)."""

from __future__ import annotations

import msgspec

from rtk_sessions.api.quality_cache import DerivedQuality, QualityCache
from rtk_sessions.clock import iso_ms
from tests.api.support import AppUnderTest, running_server
from tests.factories import MIN, SEC, T0, event, started, visit


def derived(size: int) -> DerivedQuality:
    return DerivedQuality(participant_entry=msgspec.Raw(b"x" * (size - 1024)))


def key(peer: str, version: int = 1) -> tuple:
    return (1, peer, (version, 0, 0), 7.0, "entry")


def test_least_recently_used_out_past_the_byte_budget() -> None:
    cache = QualityCache(max_bytes=2500)
    cache.put(key("a"), derived(1100))  # sizes are the JSON's bytes + 1 KiB of overhead
    cache.put(key("b"), derived(1100))
    assert cache.get(key("a")) is not None  # a is now the most recent
    cache.put(key("c"), derived(1100))  # 3300 > 2500: b, the least recent, goes
    assert cache.get(key("b")) is None
    assert cache.get(key("a")) is not None and cache.get(key("c")) is not None
    cache.put(key("d"), derived(2600))  # larger than the whole budget: not kept
    assert cache.get(key("d")) is None and len(cache) == 2


def test_a_budget_of_zero_keeps_nothing() -> None:
    cache = QualityCache(max_bytes=0)
    cache.put(key("a"), derived(1025))
    assert cache.get(key("a")) is None


def stats(t: int, received: int) -> dict:
    return event(
        "peer.stats",
        T0 + t * SEC + 500,
        peer_id="p",
        samples=[
            {
                "ts": iso_ms(T0 + t * SEC),
                "kind": "audio",
                "direction": "producer",
                "ssrc": 1,
                "packets_sent": received,
                "packets_lost": 0,
                "jitter": 0.01,
            }
        ],
    )


def test_new_stats_are_in_the_next_answer(app: AppUnderTest) -> None:
    app.ingest(
        [started("s1", "m1", T0), *visit("s1", "p", T0, T0 + 10 * MIN), stats(0, 0), stats(7, 350)]
    )
    first = app.ok("/sessions/peer-report/p")["data"]["participant"]
    assert len(first["peer_report"]["quality"]["audio_producer"]) == 1
    assert app.ok("/sessions/peer-report/p")["data"]["participant"] == first  # kept
    app.ingest([stats(14, 700)])  # a later batch: a new version of the peer's stats
    again = app.ok("/sessions/peer-report/p")["data"]["participant"]
    assert len(again["peer_report"]["quality"]["audio_producer"]) == 2
    assert again["quality_stats"]["end"] == iso_ms(T0 + 14 * SEC)
    details = app.ok("/sessions/s1/participants/p")["data"]["participant"]
    assert details["quality_stats"][0]["end"] == iso_ms(T0 + 14 * SEC)
    app.ingest([stats(21, 1050)])  # the details endpoint sees new stats too
    details = app.ok("/sessions/s1/participants/p")["data"]["participant"]
    assert details["quality_stats"][0]["end"] == iso_ms(T0 + 21 * SEC)


def test_without_the_cache_the_answers_are_the_same(app: AppUnderTest, tmp_path) -> None:
    events = [
        started("s1", "m1", T0),
        *visit("s1", "p", T0, T0 + 10 * MIN),
        stats(0, 0),
        stats(7, 350),
        stats(14, 700),
    ]
    app.ingest(events)
    cached = app.ok("/sessions/peer-report/p")["data"]
    with running_server(app.server.backend, tmp_path, quality_cache_mb=0) as uncached:
        assert uncached.ingest(events).status_code == 200
        with uncached.client() as http:
            response = http.get(uncached.api() + "/sessions/peer-report/p")
    assert response.json()["data"] == cached
