"""The synthetic demo app (``rtk_sessions.demo``): valid, deterministic, and realistic."""

from __future__ import annotations

import ipaddress
import re
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta

import msgspec
import pytest

from rtk_sessions.demo import generate_demo_events
from rtk_sessions.ingest.events import Event, PeerStats

NOW = datetime(2026, 1, 15, 12, 0, 0, 123_000, tzinfo=UTC)
TS_FORMAT = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
GRACE = timedelta(seconds=60)
COUNTERS = (
    "packets_sent",
    "packets_received",
    "bytes_sent",
    "bytes_received",
    "packets_lost",
    "concealment_events",
    "total_samples_received",
    "frames_encoded",
    "frames_decoded",
    "frames_dropped",
    "jitter_buffer_delay",
    "jitter_buffer_emitted_count",
)


def parse(ts: str) -> datetime:
    return datetime.fromisoformat(ts.replace("Z", "+00:00"))


@pytest.fixture(scope="module")
def events() -> list[dict]:
    return generate_demo_events(NOW)


class App:
    """The demo's events indexed the way the server derives sessions from them."""

    def __init__(self, events: list[dict]) -> None:
        self.by_type: dict[str, list[dict]] = defaultdict(list)
        for event in events:
            self.by_type[event["type"]].append(event)
        self.started = {e["session_id"]: e for e in self.by_type["session.started"]}
        self.ended = {e["session_id"]: e for e in self.by_type["session.ended"]}
        self.joined = {e["peer_id"]: e for e in self.by_type["peer.joined"]}
        self.left = {e["peer_id"]: e for e in self.by_type["peer.left"]}
        self.peers: dict[str, list[dict]] = defaultdict(list)
        for joined in self.by_type["peer.joined"]:
            self.peers[joined["session_id"]].append(joined)
        self.top_level = [s for s in self.started.values() if not s.get("parent_session_id")]
        self.rooms = [s for s in self.started.values() if s.get("parent_session_id")]

    def present(self, session_id: str) -> list[dict]:
        return [p for p in self.peers[session_id] if p["peer_id"] not in self.left]

    def is_live(self, session_id: str) -> bool:
        return session_id not in self.ended and bool(self.present(session_id))

    def live(self) -> list[str]:
        return [s for s in self.started if self.is_live(s)]

    def ended_at(self, session_id: str) -> datetime:
        """When the session stopped (``NOW`` while live), as ``api.md`` defines it."""
        end = self.ended.get(session_id)
        if end is not None and end["reason"] == "HOST_ENDED_MEETING":
            return parse(end["ts"])
        if self.is_live(session_id):
            return NOW
        return max(parse(self.left[p["peer_id"]]["ts"]) for p in self.peers[session_id])


@pytest.fixture(scope="module")
def app(events: list[dict]) -> App:
    return App(events)


def test_every_event_validates_with_utc_millisecond_timestamps(events: list[dict]) -> None:
    for event in events:
        parsed = msgspec.convert(event, Event)
        assert parsed.ts.utcoffset() == timedelta(0)
        assert TS_FORMAT.match(event["ts"]), event["ts"]
        if isinstance(parsed, PeerStats):
            for sample, raw in zip(parsed.samples, event["samples"], strict=False):
                assert sample.ts.utcoffset() == timedelta(0)
                assert TS_FORMAT.match(raw["ts"]), raw["ts"]


def test_events_are_plain_json(events: list[dict]) -> None:
    # msgspec's JSON encoder refuses anything that is not plain JSON data (datetimes included
    # are encoded as strings, so look for them explicitly).
    assert msgspec.json.decode(msgspec.json.encode(events)) == events
    assert not any(isinstance(v, datetime) for e in events for v in e.values())


def test_ids_are_unique(events: list[dict], app: App) -> None:
    assert len({e["id"] for e in events}) == len(events)
    assert all(e["id"].startswith("ev-") for e in events)
    assert len(app.joined) == len(app.by_type["peer.joined"])
    messages = [e["message_id"] for e in app.by_type["chat.message"]]
    assert len(set(messages)) == len(messages)


def test_deterministic_for_seed_and_now(events: list[dict]) -> None:
    assert generate_demo_events(NOW) == events
    small = generate_demo_events(NOW, meetings=3, days=4)
    other = generate_demo_events(NOW, seed=8, meetings=3, days=4)
    assert other != small
    assert not {e["id"] for e in other} & {e["id"] for e in small}
    later = generate_demo_events(NOW + timedelta(hours=1), meetings=3, days=4)
    assert max(e["ts"] for e in later) > max(e["ts"] for e in small)


def test_nothing_after_now_and_in_time_order(events: list[dict]) -> None:
    times = [parse(e["ts"]) for e in events]
    assert max(times) <= NOW
    assert times == sorted(times)
    assert min(times) >= NOW - timedelta(days=60)
    for event in events:
        for sample in event.get("samples", ()):
            assert sample["ts"] <= event["ts"]


def test_size_at_the_defaults(events: list[dict], app: App) -> None:
    assert 40_000 <= len(events) <= 80_000
    assert 150 <= len(app.top_level) <= 250
    assert set(app.by_type) == {
        "meeting.upserted",
        "session.started",
        "session.ended",
        "peer.joined",
        "peer.left",
        "peer.metadata",
        "peer.event",
        "peer.stats",
        "chat.message",
        "transcript.segment",
    }


def test_meetings(app: App) -> None:
    meetings = app.by_type["meeting.upserted"]
    assert len(meetings) == 12
    types = Counter(m["session_type"] for m in meetings)
    assert types == {"meeting": 10, "livestream": 1, "participant": 1}
    titles = [m["title"] for m in meetings]
    assert any(not t.isascii() for t in titles)
    assert any('"' in t for t in titles) and any("'" in t for t in titles)
    ids = {m["meeting_id"] for m in meetings}
    assert {s["meeting_id"] for s in app.started.values()} <= ids
    for joined in app.joined.values():
        assert joined["meeting_id"] == app.started[joined["session_id"]]["meeting_id"]
    assert any("meta" in s for s in app.top_level)


def test_breakout_rooms_belong_to_a_parent_of_the_same_meeting(app: App) -> None:
    parents = {room["parent_session_id"] for room in app.rooms}
    assert len(parents) >= 3
    for room in app.rooms:
        parent = app.started[room["parent_session_id"]]
        assert not parent.get("parent_session_id")
        assert parent["meeting_id"] == room["meeting_id"]
        assert parse(parent["ts"]) <= parse(room["ts"]) <= app.ended_at(parent["session_id"])
        parent_users = Counter(p["user_id"] for p in app.peers[parent["session_id"]])
        for peer in app.peers[room["session_id"]]:
            # left the parent for the room, came back as a new peer
            assert parent_users[peer["user_id"]] >= 2
            assert peer["peer_id"] not in {p["peer_id"] for p in app.peers[parent["session_id"]]}


def test_live_sessions(app: App) -> None:
    live = app.live()
    assert 2 <= len(live) <= 3
    for session_id in live:
        start = parse(app.started[session_id]["ts"])
        assert NOW - timedelta(minutes=30) <= start <= NOW
    meetings = [app.started[s]["meeting_id"] for s in live]
    assert len(set(meetings)) == len(meetings)


def test_endings(app: App) -> None:
    reasons = Counter(e["reason"] for e in app.ended.values())
    assert reasons["HOST_ENDED_MEETING"] >= 10 and reasons["ALL_PARTICIPANTS_LEFT"] >= 10
    for session_id, end in app.ended.items():
        peers = app.peers[session_id]
        if end["reason"] == "HOST_ENDED_MEETING":
            assert app.present(session_id), "the host ends it while people are still in"
            assert all(
                parse(app.left[p["peer_id"]]["ts"]) <= parse(end["ts"])
                for p in peers
                if p["peer_id"] in app.left
            )
        else:
            assert not app.present(session_id)
            assert end["ts"] == max(app.left[p["peer_id"]]["ts"] for p in peers)
    unended = [s for s in app.started if s not in app.ended and not app.is_live(s)]
    assert len(unended) >= 5
    for session_id in unended:
        # everyone left long enough ago for the server's grace period to have run out
        assert app.ended_at(session_id) < NOW - GRACE


def test_rejoins_are_new_peers_of_the_same_user(app: App) -> None:
    parents = {room["parent_session_id"] for room in app.rooms}
    rejoined = [
        session_id
        for session_id in app.started
        if session_id not in parents
        and max(Counter(p["user_id"] for p in app.peers[session_id]).values()) >= 2
    ]
    assert len(rejoined) >= 10
    drops = [e for e in app.by_type["peer.event"] if e["name"] == "reconnecting"]
    assert drops


def test_sessions_of_a_meeting_never_overlap(app: App) -> None:
    by_meeting: dict[str, list[tuple[datetime, datetime]]] = defaultdict(list)
    for session in app.top_level:
        span = (parse(session["ts"]), app.ended_at(session["session_id"]))
        assert span[0] <= span[1]
        by_meeting[session["meeting_id"]].append(span)
    for spans in by_meeting.values():
        spans.sort()
        for (_, end), (next_start, _) in zip(spans, spans[1:], strict=False):
            assert end < next_start


def test_peers_join_after_start_and_leave_after_joining(app: App) -> None:
    assert app.left.keys() <= app.joined.keys()
    for peer_id, joined in app.joined.items():
        session_id = joined["session_id"]
        assert parse(joined["ts"]) >= parse(app.started[session_id]["ts"])
        assert parse(joined["ts"]) <= app.ended_at(session_id)
        if peer_id in app.left:
            assert app.left[peer_id]["session_id"] == session_id
            assert parse(app.left[peer_id]["ts"]) >= parse(joined["ts"])
    sessions_of_peers = Counter(j["session_id"] for j in app.joined.values())
    assert max(sessions_of_peers.values()) >= 12  # the town hall


def test_chat(app: App) -> None:
    messages = app.by_type["chat.message"]
    assert len({m["session_id"] for m in messages}) >= 80
    assert Counter(m["payload_type"] for m in messages).keys() == {
        "TEXT_MESSAGE",
        "IMAGE_MESSAGE",
        "FILE_MESSAGE",
    }
    texts = [m["payload"] for m in messages if m["payload_type"] == "TEXT_MESSAGE"]
    assert any(t.startswith("=") for t in texts)
    assert any("\n" in t for t in texts)
    assert any(not t.isascii() for t in texts)
    assert all(
        m["payload"].startswith("https://") for m in messages if m["payload_type"] != "TEXT_MESSAGE"
    )
    assert any(m["pinned"] for m in messages) and any(m["is_edited"] for m in messages)
    for message in messages:
        assert app.joined[message["peer_id"]]["session_id"] == message["session_id"]


def test_transcripts(app: App) -> None:
    segments = app.by_type["transcript.segment"]
    by_session: dict[str, list[dict]] = defaultdict(list)
    for segment in segments:
        by_session[segment["session_id"]].append(segment)
        assert 0 <= segment["start_ms"] <= segment["end_ms"]
        peer = app.joined[segment["peer_id"]]
        assert peer["session_id"] == segment["session_id"]
        start = parse(app.started[segment["session_id"]]["ts"])
        end = start + timedelta(milliseconds=segment["end_ms"])
        assert end <= app.ended_at(segment["session_id"])
    assert len(by_session) >= 100
    text = " ".join(s["text"] for s in segments)
    for phrase in ("I will send the notes by Friday", "let's decide", "We agreed"):
        assert phrase.lower() in text.lower()
    assert {s["language"] for s in segments} >= {"en-US", "ja-JP", "de-DE", "fr-FR"}
    overlaps = 0
    for session_segments in by_session.values():
        session_segments.sort(key=lambda s: s["start_ms"])
        for first, second in zip(session_segments, session_segments[1:], strict=False):
            if second["start_ms"] < first["end_ms"] and second["peer_id"] != first["peer_id"]:
                overlaps += 1
    assert overlaps >= 20


def test_peer_metadata_and_events(app: App) -> None:
    metadata = app.by_type["peer.metadata"]
    assert len(metadata) >= 0.85 * len(app.joined)
    assert len({m["user_agent"] for m in metadata}) >= 10
    for browser in ("Chrome/", "Firefox/", "Safari/", "Edg/"):
        assert any(browser in m["user_agent"] for m in metadata)
    systems = {m["device_info"]["os"] for m in metadata}
    assert systems >= {"Windows", "macOS", "Linux", "Android", "iOS"}
    ips = {m["ip"] for m in metadata}
    assert len(ips) >= 12
    addresses = [ipaddress.ip_address(ip) for ip in ips]
    assert all(address.is_global for address in addresses)
    assert {address.version for address in addresses} == {4, 6}
    assert all(m["sdk_name"] == "web-core" and m["peer_id"] in app.joined for m in metadata)
    names = Counter(e["name"] for e in app.by_type["peer.event"])
    assert names.keys() >= {"audio_device_changed", "network_changed", "tab_hidden", "reconnecting"}


def _series(app: App) -> dict[tuple, list[dict]]:
    series: dict[tuple, list[dict]] = defaultdict(list)
    for event in app.by_type["peer.stats"]:
        for sample in event["samples"]:
            key = (event["peer_id"], sample["kind"], sample["direction"], sample["ssrc"])
            series[key].append(sample)
    for samples in series.values():
        samples.sort(key=lambda s: s["ts"])
    return series


def test_stats_counters_are_cumulative_except_one_reset(app: App) -> None:
    series = _series(app)
    assert sum(len(s) for s in series.values()) >= 50_000
    kinds = Counter((kind, direction) for _, kind, direction, _ in series)
    assert kinds.keys() == {
        ("audio", "producer"),
        ("audio", "consumer"),
        ("video", "producer"),
        ("video", "consumer"),
        ("screenshare_video", "producer"),
    }
    assert 1 <= kinds[("screenshare_video", "producer")] <= 2
    reset_peers = set()
    for (peer_id, *_), samples in series.items():
        for before, after in zip(samples, samples[1:], strict=False):
            went_down = [c for c in COUNTERS if c in after and after[c] < before[c]]
            if went_down:
                reset_peers.add(peer_id)
                assert all(after[c] <= before[c] // 10 + 2 for c in went_down)
    assert len(reset_peers) == 1


def test_stats_cover_gaps_mutes_and_bad_networks(app: App) -> None:
    series = _series(app)
    gaps = muted = lossy = 0
    for (peer_id, kind, direction, _), samples in series.items():
        joined = parse(app.joined[peer_id]["ts"])
        assert parse(samples[0]["ts"]) >= joined
        if peer_id in app.left:
            assert parse(samples[-1]["ts"]) <= parse(app.left[peer_id]["ts"])
        for before, after in zip(samples, samples[1:], strict=False):
            if parse(after["ts"]) - parse(before["ts"]) > timedelta(seconds=21):
                gaps += 1
            if kind == "audio" and direction == "producer":
                muted += after["packets_sent"] == before["packets_sent"]
            if direction == "consumer" and after["packets_received"] > before["packets_received"]:
                received = after["packets_received"] - before["packets_received"]
                lost = after["packets_lost"] - before["packets_lost"]
                if 5 <= 100 * lost / (received + lost) <= 15 and 0.025 <= after["jitter"] <= 0.040:
                    lossy += 1
    assert gaps >= 1 and muted >= 5 and lossy >= 50
    producers = [s for (_, _, way, _), ss in series.items() if way == "producer" for s in ss]
    assert all("round_trip_time" in s for s in producers)
    video = [s for (_, kind, _, _), ss in series.items() if kind == "video" for s in ss]
    assert {s["frame_width"] for s in video} >= {1280, 640, 320}


def test_smaller_apps_and_bad_input() -> None:
    events = generate_demo_events(NOW, seed=3, meetings=3, days=5)
    assert events and all(parse(e["ts"]) <= NOW for e in events)
    for event in events:
        msgspec.convert(event, Event)
    with pytest.raises(ValueError):
        generate_demo_events(NOW.replace(tzinfo=None))
