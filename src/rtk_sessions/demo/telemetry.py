"""What the SDK reports about each peer: metadata, notable events, and who sends stats.

Most peers send one ``peer.metadata`` right after joining (browser, device,
IP, pre-call network test) and a few ``peer.event``; a bounded subset sends
raw stats, with a handful of deliberately awkward calls among them: a counter
reset, a gap in the samples, a muted stretch, a lossy network, screen sharing.
"""

from __future__ import annotations

import hashlib

from .attendance import Peer, Session
from .catalog import AUDIO_DEVICES, DEVICES, PRESETS
from .recorder import Recorder
from .schedule import DAY_MS, MINUTE_MS
from .stats import StatsPlan, record_stats


def record_peer_telemetry(rec: Recorder, sessions: list[Session]) -> None:
    """Metadata and events for (almost) every peer, then stats for the chosen ones."""
    peers = [peer for session in sessions for peer in session.peers]
    for peer in peers:
        if rec.rng.random() < 0.93:
            _record_metadata(rec, peer)
        _record_events(rec, peer)
    for peer, plan in _plan_stats(rec, peers):
        record_stats(rec, peer, plan)


def _record_metadata(rec: Recorder, peer: Peer) -> None:
    rng = rec.rng
    person = peer.person
    user_agent, os_name, os_version, is_mobile, _, _, webgl = DEVICES[person.device]
    device_info = {
        "cpus": person.cpus,
        "is_mobile": is_mobile,
        "os": os_name,
        "os_version": os_version,
    }
    if person.memory is not None:
        device_info["memory"] = person.memory
    lossy = person.network == "lossy"
    precall = {
        "backend_rtt": round(rng.uniform(180, 420) if lossy else rng.uniform(15, 120), 1),
        "effective_networktype": "3g" if lossy and rng.random() < 0.5 else "4g",
        "fractional_loss": round(rng.uniform(0.02, 0.1), 3) if lossy else 0,
        "jitter": round(rng.uniform(20, 45) if lossy else rng.uniform(0.5, 9), 2),
        "rtt": round(rng.uniform(150, 400) if lossy else rng.uniform(20, 110), 1),
        "throughput": rng.randrange(400, 2_000) if lossy else rng.randrange(3_000, 60_000),
        "reflexive_connectivity": rng.random() < 0.95,
        "relay_connectivity": True,
        "turn_connectivity": rng.random() < 0.97,
    }
    at = min(peer.joined_ms + rng.randrange(300, 2_500), peer.end_ms)
    rec.record(
        "peer.metadata",
        at,
        peer_id=peer.peer_id,
        session_id=peer.session.session_id,
        user_agent=user_agent,
        device_info=device_info,
        sdk_name="web-core",
        sdk_version=person.sdk_version,
        ip=peer.ip,
        precall_network_information=precall,
        room_view_type=PRESETS[peer.session.meeting.template.preset][2],
        webgl_support=webgl,
    )


def _record_events(rec: Recorder, peer: Peer) -> None:
    rng = rec.rng
    start, end = peer.joined_ms, peer.end_ms
    if end - start < 20_000:
        return

    def record(name: str, at: int, **metadata: object) -> None:
        rec.record(
            "peer.event",
            at,
            peer_id=peer.peer_id,
            session_id=peer.session.session_id,
            name=name,
            metadata=metadata,
        )

    def during() -> int:
        return rng.randrange(start + 5_000, end - 5_000)

    if peer.dropped:
        record(
            "reconnecting",
            end - rng.randrange(1_000, 4_000),
            attempt=1,
            reason="ice_disconnected",
            ice_connection_state="disconnected",
        )
    elif peer.person.network == "lossy" and rng.random() < 0.3:
        record(
            "reconnecting",
            during(),
            attempt=rng.randint(1, 3),
            reason="network_quality",
            ice_connection_state="checking",
        )
    if peer.rejoined or (peer.person.is_mobile and rng.random() < 0.2):
        record(
            "network_changed",
            start + rng.randrange(500, 4_000),
            previous_type="wifi",
            type="cellular",
            effective_type="4g",
            downlink_mbps=round(rng.uniform(1.5, 20), 1),
        )
    if rng.random() < 0.12:  # a headset plugged in, then chosen
        label, previous = rng.sample(AUDIO_DEVICES, 2)
        plugged = during()
        device = {"device_id": _device_id(label), "kind": "audioinput", "label": label}
        rec.record(
            "peer.event",
            plugged,
            peer_id=peer.peer_id,
            session_id=peer.session.session_id,
            name="audio_devices_updated",
            metadata={"added": [device], "removed": []},
        )
        record(
            "audio_device_changed",
            min(plugged + rng.randrange(500, 4_000), end),
            **device,
            previous_label=previous,
        )
    if rng.random() < 0.18:
        record(
            "tab_hidden",
            during(),
            visibility_state="hidden",
            hidden_for_ms=rng.randrange(3_000, 240_000),
        )


def _device_id(label: str) -> str:
    """A stable, opaque id per device label (browsers hash theirs per origin)."""
    return hashlib.sha256(label.encode()).hexdigest()[:16]


def _plan_stats(rec: Recorder, peers: list[Peer]) -> list[tuple[Peer, StatsPlan]]:
    """Choose who sends stats (bounded: all live peers, many recent ones, few old ones)."""
    rng = rec.rng
    chosen: list[tuple[Peer, StatsPlan]] = []
    for peer in peers:
        if peer.end_ms - peer.joined_ms < 90_000:
            continue
        age = rec.now_ms - peer.session.start_ms
        share = 1.0 if peer.session.live else 0.5 if age < 3 * DAY_MS else 0.11
        if rng.random() >= share:
            continue
        preset = peer.session.meeting.template.preset
        network = peer.person.network
        if rng.random() >= 0.85:  # a call from somewhere else: a café, a train
            network = rng.choice(("good", "fair", "lossy"))
        plan = StatsPlan(
            network,
            audio_only=preset == "audio_room",
            consumer_only=preset == "livestream" and not peer.is_host,
            weak_device=peer.person.is_mobile and rng.random() < 0.5,
        )
        chosen.append((peer, plan))
    _add_awkward_calls(rec, chosen)
    return chosen


def _add_awkward_calls(rec: Recorder, chosen: list[tuple[Peer, StatsPlan]]) -> None:
    rng = rec.rng
    long_calls = [
        (peer, plan)
        for peer, plan in chosen
        if peer.end_ms - peer.joined_ms >= 8 * MINUTE_MS
        and not plan.consumer_only
        and not plan.audio_only
    ]
    picks = rng.sample(long_calls, min(6, len(long_calls)))
    for role, (peer, plan) in zip(
        ("reset", "gap", "muted", "lossy", "share", "share"), picks, strict=False
    ):
        start, end = peer.joined_ms, peer.end_ms
        middle = rng.randrange(start + 3 * MINUTE_MS, end - 3 * MINUTE_MS)
        if role == "reset":
            plan.reset_at = middle
        elif role == "gap":
            plan.gap = (middle, middle + rng.randrange(28_000, 75_000))
        elif role == "muted":
            plan.muted = (middle, middle + rng.randrange(60_000, 150_000))
            plan.silent = (start + MINUTE_MS, start + MINUTE_MS + rng.randrange(30_000, 90_000))
        elif role == "lossy":
            plan.network = "lossy"
        else:
            plan.screenshare = (start + (end - start) // 5, start + (end - start) * 3 // 5)
    for peer, plan in chosen:
        if plan.network != "lossy" and plan.reset_at is None and rng.random() < 0.2:
            span = peer.end_ms - peer.joined_ms
            if span > 6 * MINUTE_MS:
                begin = peer.joined_ms + rng.randrange(MINUTE_MS, span - 4 * MINUTE_MS)
                plan.bad_patch = (begin, begin + rng.randrange(40_000, 180_000))
