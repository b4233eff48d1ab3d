"""Reading back a peer's stored peer.stats (``ingest.stored``): compact rows in any
order, and events kept in the log as received."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta

from rtk_sessions.ingest.events import StatsSample
from rtk_sessions.ingest.stored import in_base_order, logged_samples, stats_samples
from rtk_sessions.store.stats import StoredStats
from rtk_sessions.store.stats_codec import encode_event, event_id_hashes


def payload(*samples: dict) -> str:
    return json.dumps({"id": "e", "type": "peer.stats", "ts": "2026-01-01T00:00:07Z",
                       "peer_id": "p", "samples": list(samples), "extra": {"kept": True}})


GOOD = {"ts": "2026-01-01T00:00:00Z", "kind": "audio", "direction": "producer",
        "packets_sent": 10, "candidate_pair": {"local_candidate_port": 5000}}
START = datetime(2026, 1, 1, tzinfo=UTC)


def test_samples_of_every_payload_in_order() -> None:
    later = {**GOOD, "ts": "2026-01-01T00:00:07Z", "packets_sent": 20}
    got = logged_samples([payload(GOOD), payload(later)])
    assert [s.packets_sent for s in got] == [10, 20]
    assert got[0].candidate_pair is not None and got[0].candidate_pair.local_candidate_port == 5000


def test_a_sample_stored_before_its_keys_were_declared_is_left_out_alone(caplog) -> None:
    # accepted when candidate_pair was free-form: a port as text
    old = {**GOOD, "ts": "2026-01-01T00:00:07Z", "candidate_pair": {"local_candidate_port": "x"}}
    got = logged_samples([payload(GOOD, old, {**GOOD, "ts": "2026-01-01T00:00:14Z"})])
    assert [s.ts.second for s in got] == [0, 14]
    assert "left out" in caplog.text


def chained_rows(polls: int, chains: int = 1) -> tuple[list[tuple[int, bytes]], list[int]]:
    """Rows of one peer, ``chains`` runs each encoded against the previous row of its run
    (as processes storing a peer's events in turn make them), with packets_sent by row."""
    rows, sent = [], []
    for chain in range(chains):
        tail = None
        for i in range(polls):
            packets = 1000 * chain + 50 * i + i * i
            sample = StatsSample(ts=START + timedelta(seconds=7 * (chain * polls + i)),
                                 kind="audio", direction="producer", ssrc=7, packets_sent=packets)
            h1, h2 = event_id_hashes(f"ev-{chain}-{i}")
            data, tail = encode_event([sample], session_id=None, h2=h2, base=tail, h1=h1)
            rows.append((h1, data))
            sent.append(packets)
    return rows, sent


def test_rows_read_in_any_order_give_every_sample() -> None:
    rows, sent = chained_rows(20, chains=3)
    random.Random(7).shuffle(rows)  # as a table hands them out
    kept = [payload({**GOOD, "packets_sent": 99})]
    got = stats_samples(StoredStats((61, 0, 0), rows, kept))
    assert sorted(s.packets_sent for s in got) == sorted([*sent, 99])


def test_a_row_whose_base_is_gone_is_left_out_with_its_followers(caplog) -> None:
    rows, sent = chained_rows(10)
    del rows[4]  # what rows 5.. were encoded against
    assert [h1 for h1, _ in in_base_order(rows[::-1])] == [h1 for h1, _ in rows[:4]]
    got = stats_samples(StoredStats((9, 0, 0), rows, []))
    assert [s.packets_sent for s in got] == sent[:4]
    assert "5 stored stats rows are left out" in caplog.text
