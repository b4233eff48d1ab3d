"""The binary encoding of peer.stats samples (``ingest.stats_codec``): exact round
trips of anything a sample may hold, rows that refer to earlier rows, and its size
on the demo's data."""

from __future__ import annotations

import hashlib
import math
import struct
import sys
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rtk_sessions.ingest.events import (
    CandidatePair,
    PeerStats,
    QualityLimitationDurations,
    StatsSample,
)
from rtk_sessions.store.stats_codec import (
    PeerTail,
    decode_row_check,
    decode_rows,
    encode_event,
    event_id_hashes,
)

ROOT = Path(__file__).resolve().parents[2]


def exact(value: object) -> object:
    """What must round-trip, comparable with ==: every value with its type, a float by its
    bits (0.0 is not -0.0, a NaN is itself), a datetime by its instant."""
    if isinstance(value, list):
        return [exact(v) for v in value]
    if isinstance(value, msgspec.Struct):
        fields = value.__struct_fields__
        return (type(value).__name__, *(exact(getattr(value, f)) for f in fields))
    if isinstance(value, float):
        return ("float", struct.pack("<d", value))
    if isinstance(value, datetime):
        return ("datetime", value.tzinfo is not None, value.timestamp(), value.microsecond)
    return (type(value).__name__, value)


def encode_all(events, *, session_id="4f1c9a4e-3b0e-4c57-9a57-8d1f1b0e2a11", bases=None):
    """(h1, data) rows and the tails, each event encoded against the previous tail, or
    against the tail ``bases(i, tails)`` chooses (None: none)."""
    rows: list[tuple[int, bytes]] = []
    tails: list[PeerTail] = []
    for i, samples in enumerate(events):
        h1, h2 = event_id_hashes(f"ev-{i}")
        base = tails[-1] if tails else None
        if bases is not None:
            base = bases(i, tails)
        data, tail = encode_event(samples, session_id=session_id, h2=h2, base=base, h1=h1)
        assert tail.h1 == h1
        assert decode_row_check(data) == (h2, session_id)
        rows.append((h1, data))
        tails.append(tail)
    return rows, tails


# --------------------------------------------------------------------------- strategies

UUIDS = [str(uuid.UUID(int=i * 0x1F3A5B7C9D2E4F60718293A4B5C6D7E9)) for i in range(1, 4)]
TEXTS = st.sampled_from(["0", "1", "", "mid-é", UUIDS[0], UUIDS[1], UUIDS[2].upper(), "x" * 40])
HUGE = st.sampled_from([2**64, 2**64 - 1, -(2**63) - 1, -(2**63), 2**100, -(2**90), 10**30])

any_float = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 0.1 + 0.2, 0.1, 1e-7, 0.0015719999999999998, 4972.8, 27.3,
                     123456789.123456, 9e9, 8.99e9, -5e-324, 1e308, 2.5]),
    st.builds(lambda k, e: k / 10**e, st.integers(-10**12, 10**12), st.integers(0, 6)),
)
# what no declared field holds, but a Struct built in code may: kept as it is
junk = st.one_of(st.booleans(), st.text(max_size=5), HUGE)


@st.composite
def counter_walk(draw, n: int) -> list:
    """n values of a counter: steady growth, resets, drops, gaps (None), huge values."""
    value = draw(st.one_of(st.integers(-10, 10**6), HUGE))
    step = draw(st.integers(0, 5_000))
    out = []
    for _ in range(n):
        move = draw(st.integers(0, 19))
        if move == 0:
            value = 0  # a reset
        elif move == 1:
            value = draw(st.one_of(st.integers(), HUGE))
        elif move == 2:
            out.append(None)
            continue
        elif move == 3:
            out.append(draw(st.one_of(junk, any_float)))
            continue
        elif move == 4:
            step = draw(st.integers(-1000, 10**7))
        else:
            value += step + draw(st.integers(-3, 3))
        out.append(value)
    return out


@st.composite
def gauge_walk(draw, n: int) -> list:
    out = []
    value = draw(any_float)
    for _ in range(n):
        move = draw(st.integers(0, 9))
        if move == 0:
            out.append(None)
            continue
        if move == 1:
            out.append(draw(st.one_of(junk, st.integers(-5, 5))))
            continue
        if move in (2, 3):
            value = draw(any_float)
        elif move in (4, 5) and math.isfinite(value) and abs(value) < 1e9:
            value = round(value + draw(st.integers(-3000, 3000)) / 1000, 3)
        out.append(value)
    return out


INT_FIELDS = [f for f in StatsSample.__struct_fields__ if f not in (
    "ts", "kind", "direction", "ssrc", "mid", "track_id", "producer_id", "producer_peer_id",
    "jitter", "round_trip_time", "frames_per_second", "jitter_buffer_delay",
    "quality_limitation_reason", "quality_limitation_durations", "candidate_pair")]  # fmt: skip
FLOAT_FIELDS = ["jitter", "round_trip_time", "frames_per_second", "jitter_buffer_delay"]


@st.composite
def candidate_pairs(draw):
    fields = {}
    for name in CandidatePair.__struct_fields__:
        if draw(st.integers(0, 2)):
            continue
        if name.endswith("_port"):
            fields[name] = draw(st.one_of(st.integers(0, 65535), junk))
        elif name.endswith(("_bitrate", "round_trip_time", "_timestamp")):
            fields[name] = draw(st.one_of(any_float, st.integers(0, 5)))
        elif name.startswith(("bytes", "packets")):
            fields[name] = draw(st.one_of(st.integers(0, 10**9), HUGE))
        elif name == "nominated":
            fields[name] = draw(st.booleans())
        else:
            fields[name] = draw(TEXTS)
    return CandidatePair(**fields)


@st.composite
def timelines(draw):
    """Events (lists of samples) of a few tracks over time."""
    ntracks = draw(st.integers(1, 4))
    kinds = ["audio", "video", "screenshare_audio", "screenshare_video", "data"]
    tracks = [
        (draw(st.sampled_from(kinds)), draw(st.sampled_from(["producer", "consumer", "sfu"])),
         draw(st.one_of(st.none(), st.integers(0, 2**32), HUGE)))
        for _ in range(ntracks)
    ]  # fmt: skip
    npolls = draw(st.integers(1, 14))
    series = {}
    for t in range(ntracks):
        series[t] = {
            **{f: draw(counter_walk(npolls)) for f in INT_FIELDS},
            **{f: draw(gauge_walk(npolls)) for f in FLOAT_FIELDS},
            **{f: draw(st.lists(st.one_of(st.none(), TEXTS, junk), min_size=1, max_size=2))
               for f in ("mid", "track_id", "producer_id", "producer_peer_id")},
            "qld": [draw(gauge_walk(npolls)) for _ in range(4)],
        }  # fmt: skip
    offset = timezone(timedelta(minutes=draw(st.integers(-14 * 60, 14 * 60))))
    when = draw(st.datetimes(datetime(2, 1, 1), datetime(9998, 1, 1))).replace(tzinfo=offset)
    pair = draw(st.one_of(st.none(), candidate_pairs()))
    events: list[list[StatsSample]] = []
    batch: list[StatsSample] = []
    for p in range(npolls):
        step = draw(st.one_of(st.just(7_000_000), st.integers(-10**9, 10**10),
                              st.integers(6_800_000, 7_200_000).map(lambda us: us // 1000 * 1000)))
        when += timedelta(microseconds=step)
        for t in draw(st.permutations(range(ntracks))):
            if draw(st.integers(0, 9)) == 0:
                continue  # a track missing from a poll
            s = series[t]
            if draw(st.integers(0, 4)) == 0:
                pair = draw(st.one_of(st.none(), candidate_pairs(), st.just(pair)))
            qld = None
            if draw(st.integers(0, 3)):
                qld = QualityLimitationDurations(*(s["qld"][k][p] for k in range(4)))
            sample = StatsSample(
                ts=when if draw(st.integers(0, 7)) else when + timedelta(microseconds=draw(
                    st.integers(-10**8, 10**8))),
                kind=tracks[t][0], direction=tracks[t][1], ssrc=tracks[t][2],
                mid=s["mid"][p % len(s["mid"])], track_id=s["track_id"][p % len(s["track_id"])],
                producer_id=s["producer_id"][p % len(s["producer_id"])],
                producer_peer_id=s["producer_peer_id"][p % len(s["producer_peer_id"])],
                quality_limitation_reason=draw(st.sampled_from(
                    [None, "none", "none", "cpu", "bandwidth", "other", "elsewise", 3, True])),
                quality_limitation_durations=qld,
                candidate_pair=pair if draw(st.booleans()) else None,
                **{f: s[f][p] for f in INT_FIELDS + FLOAT_FIELDS},
            )  # fmt: skip
            batch.append(sample)
        if draw(st.integers(0, 2)) == 0 or p == npolls - 1:
            events.append(batch)
            batch = []
    return events


# --------------------------------------------------------------------------- properties


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(timelines(), st.lists(st.integers(0, 9), min_size=40, max_size=40), st.sampled_from(
    [None, "4f1c9a4e-3b0e-4c57-9a57-8d1f1b0e2a11", "4F1C9A4E-3B0E-4C57-9A57-8D1F1B0E2A11", "s-é"]))
def test_any_samples_round_trip_exactly(events, choices, session_id) -> None:
    def bases(i: int, tails: list[PeerTail]) -> PeerTail | None:
        if not tails:
            return None
        pick = choices[i % len(choices)]
        if pick == 0:
            return None  # as another process, which has no tail, would
        if pick == 1:
            return tails[(i * 7) % len(tails)]  # an older row, as after another's row
        return tails[-1]

    rows, _ = encode_all(events, session_id=session_id, bases=bases)
    got = decode_rows(rows)
    want = [s for samples in events for s in samples]
    assert exact(got) == exact(want)
    assert all(s.ts.tzinfo is UTC for s in got)
    no_nan = [i for i, s in enumerate(want) if "nan" not in repr(s)]  # NaN != NaN
    assert [got[i] for i in no_nan] == [want[i] for i in no_nan]


def test_a_base_that_is_not_given_is_an_error() -> None:
    s = StatsSample(ts=datetime(2026, 1, 1, tzinfo=UTC), kind="audio", direction="producer",
                    ssrc=1, packets_sent=10)  # fmt: skip
    later = msgspec.structs.replace(s, ts=s.ts + timedelta(seconds=7), packets_sent=360)
    rows, _ = encode_all([[s], [later]])
    assert decode_rows(rows) == [s, later]
    with pytest.raises(ValueError, match="base"):
        decode_rows(rows[1:])


def test_a_base_of_other_tracks_means_absolute_values() -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    a = StatsSample(ts=t0, kind="audio", direction="producer", ssrc=1, packets_sent=10)
    b = StatsSample(ts=t0, kind="audio", direction="consumer", ssrc=1, packets_received=10)
    c = StatsSample(ts=t0, kind="video", direction="producer", ssrc=1, packets_sent=10)
    d = StatsSample(ts=t0, kind="audio", direction="producer", ssrc=2, packets_sent=10)
    rows, _ = encode_all([[a], [b], [c], [d]])
    for row in rows[1:]:
        assert decode_rows([row]) == decode_rows(rows)[rows.index(row) : rows.index(row) + 1]


def test_event_id_hashes_are_pinned_and_independent() -> None:
    digest = hashlib.blake2b(b"ev-1", digest_size=16).digest()
    assert event_id_hashes("ev-1") == (
        int.from_bytes(digest[:8], "big", signed=True),
        int.from_bytes(digest[8:], "big", signed=True),
    )
    assert event_id_hashes("ev-1") == (8331593866630256584, 7799621841813111232)
    assert event_id_hashes("ev-01HZX3K9") == (-5875971608897510532, -6010189427585942209)
    pairs = [event_id_hashes(f"ev-{i}") for i in range(2000)]
    assert len({h1 for h1, _ in pairs}) == len({h2 for _, h2 in pairs}) == 2000
    assert all(-(2**63) <= h < 2**63 for pair in pairs for h in pair)
    # each bit of h1 agrees with the same bit of h2 about half of the time
    for bit in (0, 17, 40, 63):
        agree = sum((h1 >> bit & 1) == (h2 >> bit & 1) for h1, h2 in pairs)
        assert 850 < agree < 1150


def test_row_check_reads_the_head_only() -> None:
    s = StatsSample(ts=datetime(2026, 1, 1, tzinfo=UTC), kind="audio", direction="producer")
    for session in (None, "a3bb189e-8bf9-3888-9912-ace4e6543002", "Some Session", "é" * 300):
        data, _ = encode_event([s], session_id=session, h2=-5, base=None, h1=3)
        assert decode_row_check(data) == (-5, session)
        assert decode_row_check(data[:60] if session is None else data) == (-5, session)


def test_chromium_samples_round_trip() -> None:
    """Real getStats() output of Chromium, as the JS collector maps it (two polls)."""
    polls = msgspec.json.decode(CHROMIUM_POLLS, type=list[list[StatsSample]])
    rows, _ = encode_all(polls)
    assert exact(decode_rows(rows)) == exact([s for poll in polls for s in poll])
    print(f"chromium: {len(rows[1][1]) / len(polls[1]):.1f} B a sample with a base, "
          f"{len(rows[0][1]) / len(polls[0]):.1f} without")  # fmt: skip


# --------------------------------------------------------------------------- size


def demo_peers() -> dict[str, list[PeerStats]]:
    sys.path.insert(0, str(ROOT))
    from bench.common import demo_lines

    peers: dict[str, list[PeerStats]] = defaultdict(list)
    decoder = msgspec.json.Decoder(PeerStats)
    for line in demo_lines():
        if b'"peer.stats"' in line:
            event = decoder.decode(line)
            peers[event.peer_id].append(event)
    return peers


def test_size_on_the_demo_data() -> None:
    peers = demo_peers()
    total = samples = json_bytes = 0
    based = based_samples = four = four_rows = 0
    batched = 0
    for events in peers.values():
        polls: list[tuple[PeerStats, list[StatsSample]]] = []
        for event in events:
            json_bytes += len(msgspec.json.encode(event))
            by_ts: dict[datetime, list[StatsSample]] = {}
            for s in event.samples:
                by_ts.setdefault(s.ts, []).append(s)
            polls += [(event, poll) for poll in by_ts.values()]
        tail = None
        rows = []
        for i, (event, poll) in enumerate(polls):
            h1, h2 = event_id_hashes(f"{event.id}/{i}")
            data, next_tail = encode_event(
                poll, session_id=event.session_id, h2=h2, base=tail, h1=h1
            )
            rows.append((h1, data))
            total += len(data)
            samples += len(poll)
            if tail is not None:
                based += len(data)
                based_samples += len(poll)
                if len(poll) == 4:
                    four += len(data)
                    four_rows += 1
            tail = next_tail
        assert exact(decode_rows(rows)) == exact([s for _, poll in polls for s in poll])
        assert len(tail.state) < 600  # type: ignore[union-attr]
        tail = None
        for event in events:  # as the demo batches them
            h1, h2 = event_id_hashes(event.id)
            data, tail = encode_event(
                event.samples, session_id=event.session_id, h2=h2, base=tail, h1=h1
            )
            batched += len(data)
    mean = total / samples
    print(
        f"\ndemo, one event a poll: {mean:.2f} B a sample ({based / based_samples:.2f} with a "
        f"base, {four / four_rows / 4:.2f} in events of 4 samples with a base); as batched: "
        f"{batched / samples:.2f}; JSON: {json_bytes / samples:.1f} B a sample"
    )
    assert mean <= 25
    assert four / four_rows / 4 <= 25


CHROMIUM_POLLS = b"""[
[{"ts":"2026-12-04T22:12:26.859Z","kind":"audio","direction":"consumer","ssrc":4126490256,"mid":"0","track_id":"e12b1d0b-19a3-49b6-82c0-7611ec438023","packets_received":149,"bytes_received":7938,"packets_lost":0,"jitter":0,"jitter_buffer_delay":4972.8,"jitter_buffer_emitted_count":142080,"concealment_events":1,"total_samples_received":142560,"candidate_pair":{"id":"CPCuvN22SY_a/JZb0MY","nominated":true,"local_candidate_id":"ICuvN22SY","local_candidate_address":"fd00::2","local_candidate_port":46910,"local_candidate_protocol":"udp","local_candidate_type":"host","local_candidate_network_type":"ethernet","remote_candidate_id":"Ia/JZb0MY","remote_candidate_address":"fd00::2","remote_candidate_port":60247,"remote_candidate_protocol":"udp","remote_candidate_type":"host","available_outgoing_bitrate":3925692,"current_round_trip_time":0.001,"total_round_trip_time":0.003,"bytes_sent":191025,"bytes_received":189287,"packets_sent":378,"packets_received":379}},
 {"ts":"2026-12-04T22:12:26.859Z","kind":"video","direction":"consumer","ssrc":2365498581,"mid":"1","track_id":"0dc9533b-a225-4e3a-9e02-b8a538ca7317","packets_received":205,"bytes_received":175877,"packets_lost":0,"jitter":0,"jitter_buffer_delay":0.370303,"jitter_buffer_emitted_count":58,"pli_count":0,"fir_count":0,"frames_decoded":58,"key_frames_decoded":1,"frames_dropped":0,"frame_width":640,"frame_height":480,"frames_per_second":20},
 {"ts":"2026-12-04T22:12:26.859Z","kind":"audio","direction":"producer","ssrc":3921592920,"mid":"0","track_id":"da9842e2-9aea-4cec-90df-ed5bc0bd388f","packets_sent":149,"bytes_sent":7938,"packets_lost":0,"jitter":0.000145,"round_trip_time":0.0015719999999999998,"candidate_pair":{"id":"CPCuvN22SY_a/JZb0MY","nominated":true,"local_candidate_id":"ICuvN22SY","local_candidate_address":"fd00::2","local_candidate_port":46910,"local_candidate_protocol":"udp","local_candidate_type":"host","local_candidate_network_type":"ethernet","remote_candidate_id":"Ia/JZb0MY","remote_candidate_address":"fd00::2","remote_candidate_port":60247,"remote_candidate_protocol":"udp","remote_candidate_type":"host","available_outgoing_bitrate":3925692,"current_round_trip_time":0.001,"total_round_trip_time":0.003,"bytes_sent":191025,"bytes_received":189287,"packets_sent":378,"packets_received":379}},
 {"ts":"2026-12-04T22:12:26.859Z","kind":"video","direction":"producer","ssrc":3034767983,"mid":"1","track_id":"ce460d98-6422-4406-a422-a94b2a75738c","packets_sent":205,"bytes_sent":177984,"packets_lost":0,"jitter":0.0007109999999999999,"round_trip_time":0.001,"pli_count":0,"fir_count":0,"frames_encoded":60,"key_frames_encoded":1,"frame_width":640,"frame_height":480,"frames_per_second":20,"quality_limitation_reason":"none","quality_limitation_durations":{"cpu":0,"bandwidth":0,"none":3.032,"other":0},"quality_limitation_resolution_changes":0}],
[{"ts":"2026-12-04T22:12:29.858Z","kind":"audio","direction":"consumer","ssrc":4126490256,"mid":"0","track_id":"e12b1d0b-19a3-49b6-82c0-7611ec438023","packets_received":299,"bytes_received":17343,"packets_lost":0,"jitter":0,"jitter_buffer_delay":9292.8,"jitter_buffer_emitted_count":286080,"concealment_events":1,"total_samples_received":286560,"candidate_pair":{"id":"CPCuvN22SY_a/JZb0MY","nominated":true,"local_candidate_id":"ICuvN22SY","local_candidate_address":"fd00::2","local_candidate_port":46910,"local_candidate_protocol":"udp","local_candidate_type":"host","local_candidate_network_type":"ethernet","remote_candidate_id":"Ia/JZb0MY","remote_candidate_address":"fd00::2","remote_candidate_port":60247,"remote_candidate_protocol":"udp","remote_candidate_type":"host","available_outgoing_bitrate":3925692,"current_round_trip_time":0.001,"total_round_trip_time":0.005,"bytes_sent":400081,"bytes_received":394914,"packets_sent":775,"packets_received":773}},
 {"ts":"2026-12-04T22:12:29.858Z","kind":"video","direction":"consumer","ssrc":2365498581,"mid":"1","track_id":"0dc9533b-a225-4e3a-9e02-b8a538ca7317","packets_received":394,"bytes_received":357011,"packets_lost":0,"jitter":0,"jitter_buffer_delay":0.815083,"jitter_buffer_emitted_count":118,"pli_count":0,"fir_count":0,"frames_decoded":118,"key_frames_decoded":1,"frames_dropped":0,"frame_width":640,"frame_height":480,"frames_per_second":20},
 {"ts":"2026-12-04T22:12:29.858Z","kind":"audio","direction":"producer","ssrc":3921592920,"mid":"0","track_id":"da9842e2-9aea-4cec-90df-ed5bc0bd388f","packets_sent":299,"bytes_sent":17343,"packets_lost":0,"jitter":0.000145,"round_trip_time":0.0015719999999999998,"candidate_pair":{"id":"CPCuvN22SY_a/JZb0MY","nominated":true,"local_candidate_id":"ICuvN22SY","local_candidate_address":"fd00::2","local_candidate_port":46910,"local_candidate_protocol":"udp","local_candidate_type":"host","local_candidate_network_type":"ethernet","remote_candidate_id":"Ia/JZb0MY","remote_candidate_address":"fd00::2","remote_candidate_port":60247,"remote_candidate_protocol":"udp","remote_candidate_type":"host","available_outgoing_bitrate":3925692,"current_round_trip_time":0.001,"total_round_trip_time":0.005,"bytes_sent":400081,"bytes_received":394914,"packets_sent":775,"packets_received":773}},
 {"ts":"2026-12-04T22:12:29.858Z","kind":"video","direction":"producer","ssrc":3034767983,"mid":"1","track_id":"ce460d98-6422-4406-a422-a94b2a75738c","packets_sent":396,"bytes_sent":362349,"packets_lost":0,"jitter":0.0006,"round_trip_time":0.001,"pli_count":0,"fir_count":0,"frames_encoded":120,"key_frames_encoded":1,"frame_width":640,"frame_height":480,"frames_per_second":20,"quality_limitation_reason":"none","quality_limitation_durations":{"cpu":0,"bandwidth":0,"none":6.033,"other":0},"quality_limitation_resolution_changes":0}]
]"""
