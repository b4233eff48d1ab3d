"""Reading back stored peer.stats payloads (``ingest.stored``)."""

from __future__ import annotations

import json

from rtk_sessions.ingest.stored import stats_samples


def payload(*samples: dict) -> str:
    return json.dumps({"id": "e", "type": "peer.stats", "ts": "2026-01-01T00:00:07Z",
                       "peer_id": "p", "samples": list(samples), "extra": {"kept": True}})


GOOD = {"ts": "2026-01-01T00:00:00Z", "kind": "audio", "direction": "producer",
        "packets_sent": 10, "candidate_pair": {"local_candidate_port": 5000}}


def test_samples_of_every_payload_in_order() -> None:
    later = {**GOOD, "ts": "2026-01-01T00:00:07Z", "packets_sent": 20}
    got = stats_samples([payload(GOOD), payload(later)])
    assert [s.packets_sent for s in got] == [10, 20]
    assert got[0].candidate_pair is not None and got[0].candidate_pair.local_candidate_port == 5000


def test_a_sample_stored_before_its_keys_were_declared_is_left_out_alone(caplog) -> None:
    # accepted when candidate_pair was free-form: a port as text
    old = {**GOOD, "ts": "2026-01-01T00:00:07Z", "candidate_pair": {"local_candidate_port": "x"}}
    got = stats_samples([payload(GOOD, old, {**GOOD, "ts": "2026-01-01T00:00:14Z"})])
    assert [s.ts.second for s in got] == [0, 14]
    assert "left out" in caplog.text
