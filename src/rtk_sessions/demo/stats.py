"""Raw WebRTC stats of one peer, as ``RTCPeerConnection.getStats()`` reports them.

One sample per track every ~7 s with cumulative counters (packets, bytes,
frames, lost, concealment, jitter-buffer totals, key frames, PLI/FIR, the
encoder's time limited by CPU or bandwidth) and gauges (jitter and round-trip
time in seconds, resolution, frames per second, the encoder's current
quality-limitation reason). Several sample instants travel in one
``peer.stats`` event, as the SDK batches them.

What the scores then show: peers on a good network score near 1; on a lossy
network audio drops far lower (loss and jitter), RTT and loss show in the
cumulatives and PLIs pile up; in a "bad patch" the camera's encoder steps
down to 320x180 at a few frames per second, limited by bandwidth; a weak
phone's encoder is now and then limited by its CPU.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from .attendance import Peer
from .recorder import Recorder, iso_ms

PERIOD_MS = 7_000

# network -> (loss fraction range, jitter range in s, rtt range in s)
NETWORKS: dict[str, tuple[tuple[float, float], tuple[float, float], tuple[float, float]]] = {
    "good": ((0.0, 0.003), (0.003, 0.012), (0.025, 0.090)),
    "fair": ((0.01, 0.03), (0.012, 0.022), (0.080, 0.180)),
    "lossy": ((0.05, 0.15), (0.025, 0.040), (0.150, 0.350)),
}


@dataclass(slots=True)
class StatsPlan:
    """How a peer's call went, network-wise. Windows are (start_ms, end_ms)."""

    network: str  # good | fair | lossy
    audio_only: bool = False
    consumer_only: bool = False  # a livestream viewer
    reset_at: int | None = None  # counters restart from zero here (a new transport)
    gap: tuple[int, int] | None = None  # no samples (> 21 s)
    muted: tuple[int, int] | None = None  # own microphone muted: no audio packets sent
    silent: tuple[int, int] | None = None  # the remote muted: no audio packets received
    bad_patch: tuple[int, int] | None = None  # a stretch of a lossy network
    screenshare: tuple[int, int] | None = None
    weak_device: bool = False  # a phone whose encoder is sometimes CPU-bound


@dataclass(slots=True)
class _Track:
    kind: str
    direction: str
    ssrc: int
    mid: str
    track_id: str
    width: int = 0
    height: int = 0
    # cumulative counters, as the browser keeps them
    packets: int = 0
    bytes: int = 0
    lost: int = 0
    frames: int = 0
    dropped: int = 0
    concealment: int = 0
    samples: int = 0
    jb_emitted: int = 0
    jb_delay: float = 0.0
    key_frames: int = 0
    pli: int = 0
    fir: int = 0
    limited_s: dict[str, float] = field(default_factory=dict)  # seconds per limitation reason
    resolution_changes: int = 0
    reason: str = "none"

    def reset(self) -> None:
        self.packets = self.bytes = self.lost = self.frames = self.dropped = 0
        self.concealment = self.samples = self.jb_emitted = 0
        self.key_frames = self.pli = self.fir = self.resolution_changes = 0
        self.jb_delay = 0.0
        self.limited_s = {}


def record_stats(rec: Recorder, peer: Peer, plan: StatsPlan) -> None:
    """Record ``peer``'s ``peer.stats`` events, from a few seconds after it joined until it left."""
    rng = rec.rng
    tracks = _tracks(rec, peer, plan)
    end = peer.end_ms
    instants: list[int] = []
    moment = peer.joined_ms + rng.randrange(2_000, PERIOD_MS)
    while moment <= end:
        if plan.gap is None or not plan.gap[0] <= moment < plan.gap[1]:
            instants.append(moment)
        moment += PERIOD_MS + rng.randrange(-150, 150)
    loss, jitter, rtt = (rng.uniform(*bounds) for bounds in NETWORKS[plan.network])
    bad = NETWORKS["lossy"]
    bad_loss, bad_jitter, bad_rtt = rng.uniform(*bad[0]), rng.uniform(*bad[1]), rng.uniform(*bad[2])
    previous = peer.joined_ms
    batch: list[dict] = []
    batch_size = rng.randint(4, 8)
    for index, moment in enumerate(instants):
        dt = (moment - previous) / 1000
        last, previous = previous, moment
        if plan.reset_at is not None and last < plan.reset_at <= moment:
            for track in tracks:
                track.reset()
        in_bad = plan.bad_patch is not None and plan.bad_patch[0] <= moment < plan.bad_patch[1]
        net = (bad_loss, bad_jitter, bad_rtt) if in_bad else (loss, jitter, rtt)
        ts = iso_ms(moment)
        for track in tracks:
            if track.kind == "screenshare_video" and not _within(plan.screenshare, moment):
                continue
            batch.append(_sample(rng, track, ts, dt, net, in_bad, plan, moment))
        if len(batch) >= batch_size * len(tracks) or index == len(instants) - 1:
            batch[0]["candidate_pair"] = _candidate_pair(rng, peer, net[2])
            sent = min(moment + rng.randrange(40, 600), end)
            rec.record(
                "peer.stats",
                sent,
                peer_id=peer.peer_id,
                session_id=peer.session.session_id,
                samples=batch,
            )
            batch = []
            batch_size = rng.randint(4, 8)


def _within(window: tuple[int, int] | None, moment: int) -> bool:
    return window is not None and window[0] <= moment < window[1]


def _tracks(rec: Recorder, peer: Peer, plan: StatsPlan) -> list[_Track]:
    rng = rec.rng
    kinds = ["audio"] if plan.audio_only else ["audio", "video"]
    directions = ["consumer"] if plan.consumer_only else ["producer", "consumer"]
    tracks = []
    mobile = peer.person.is_mobile
    for direction in directions:
        for kind in kinds:
            width, height = (1280, 720) if kind == "video" else (0, 0)
            if kind == "video" and (mobile or plan.network == "lossy" or rng.random() < 0.2):
                width, height = 640, 360
            tracks.append(
                _Track(
                    kind,
                    direction,
                    rng.getrandbits(32),
                    str(len(tracks)),
                    rec.new_id(),
                    width,
                    height,
                )
            )
    if plan.screenshare is not None:
        tracks.append(
            _Track(
                "screenshare_video",
                "producer",
                rng.getrandbits(32),
                str(len(tracks)),
                rec.new_id(),
                1920,
                1080,
            )
        )
    return tracks


def _sample(
    rng: random.Random,
    track: _Track,
    ts: str,
    dt: float,
    net: tuple[float, float, float],
    in_bad: bool,
    plan: StatsPlan,
    moment: int,
) -> dict:
    """Advance ``track``'s counters by ``dt`` seconds of media and return its sample."""
    loss, jitter, rtt = net
    random_ = rng.random
    producer = track.direction == "producer"
    sample = {
        "ts": ts,
        "kind": track.kind,
        "direction": track.direction,
        "ssrc": track.ssrc,
        "mid": track.mid,
        "track_id": track.track_id,
    }
    if track.kind == "audio":
        quiet = _within(plan.muted if producer else plan.silent, moment)
        packets = 0 if quiet else int(50 * dt + 0.5)  # Opus, 20 ms a packet
        size = 95 + 30 * random_()
    else:
        fps = _fps(rng, track, plan.network, in_bad)
        width, height = track.width, track.height
        if in_bad and track.kind == "video":
            width, height = 320, 180  # the encoder steps down on a bad network
        bitrate = _BITRATES.get(width, 180_000)
        packets = int(bitrate * dt / 8_800 * (0.8 + 0.4 * random_()))
        size = 1_100
        frames = int(fps * dt + 0.5)
        track.frames += frames
        sample["frame_width"] = width
        sample["frame_height"] = height
        sample["frames_per_second"] = round(fps, 1)
    lost = int(packets * loss * (0.6 + 0.8 * random_()) + 0.5)
    if track.kind != "audio":
        _video_feedback(
            rng,
            track,
            sample,
            dt,
            frames,
            lost,
            in_bad or plan.network == "lossy",
            plan.weak_device,
        )
    track.lost += lost
    track.bytes += int(packets * size)
    sample["packets_lost"] = track.lost
    sample["jitter"] = round(jitter * (0.8 + 0.4 * random_()), 4)
    if producer:
        track.packets += packets
        sample["packets_sent"] = track.packets
        sample["bytes_sent"] = track.bytes
        sample["round_trip_time"] = round(rtt * (0.85 + 0.35 * random_()), 4)
        if track.kind != "audio":
            sample["frames_encoded"] = track.frames
        return sample
    track.packets += packets - lost
    sample["packets_received"] = track.packets
    sample["bytes_received"] = track.bytes
    if track.kind == "audio":
        emitted = 0 if packets == 0 else int(48_000 * dt)
        track.concealment += int(lost * 0.4 + 0.5) + (random_() < 0.04)
        track.samples += emitted
        sample["concealment_events"] = track.concealment
        sample["total_samples_received"] = track.samples
        delay_s = 0.02 + 2 * jitter + 0.01 * random_()
    else:
        emitted = frames
        track.dropped += int(frames * loss * 0.5 * random_() + 0.5) + (random_() < 0.05)
        sample["frames_decoded"] = track.frames
        sample["frames_dropped"] = track.dropped
        delay_s = 0.03 + 2 * jitter + 0.02 * random_()
    track.jb_emitted += emitted
    track.jb_delay += emitted * delay_s
    sample["jitter_buffer_delay"] = round(track.jb_delay, 3)
    sample["jitter_buffer_emitted_count"] = track.jb_emitted
    return sample


_BITRATES = {1920: 2_200_000, 1280: 1_400_000, 640: 550_000}  # bit/s by frame width


def _video_feedback(
    rng: random.Random,
    track: _Track,
    sample: dict,
    dt: float,
    frames: int,
    lost: int,
    starved: bool,
    weak_device: bool,
) -> None:
    """Key frames, PLI/FIR and (for a producer) the encoder's quality limitation.

    A key frame every ~3 s plus one per picture-loss indication; losses make
    the receiver ask for key frames (PLI, now and then a FIR). A producer on a
    starved link is limited by bandwidth; a weak phone's by its CPU, now and then.
    """
    pli = sum(rng.random() < 0.08 for _ in range(min(lost, 200)))
    fir = int(rng.random() < 0.1 * pli)
    track.pli += pli
    track.fir += fir
    track.key_frames += min(frames, int(dt / 3 + rng.random()) + pli + fir)
    sample["pli_count"] = track.pli
    sample["fir_count"] = track.fir
    if track.direction == "consumer":
        sample["key_frames_decoded"] = track.key_frames
        return
    sample["key_frames_encoded"] = track.key_frames
    if starved and track.kind == "video":
        reason = "bandwidth"
    elif weak_device and rng.random() < 0.2:
        reason = "cpu"
    else:
        reason = "none"
    if reason != track.reason:
        track.resolution_changes += 1  # the encoder steps its resolution down or back up
        track.reason = reason
    track.limited_s[reason] = track.limited_s.get(reason, 0.0) + dt
    sample["quality_limitation_reason"] = reason
    sample["quality_limitation_durations"] = {
        name: round(track.limited_s.get(name, 0.0), 3)
        for name in ("cpu", "bandwidth", "none", "other")
    }
    sample["quality_limitation_resolution_changes"] = track.resolution_changes


def _fps(rng: random.Random, track: _Track, network: str, in_bad: bool) -> float:
    if track.kind == "screenshare_video":
        return 4 + 8 * rng.random()
    if in_bad:
        return 4 + 4 * rng.random()
    top = {"good": 30.0, "fair": 26.0, "lossy": 17.0}[network]
    return top - 4 * rng.random()


def _candidate_pair(rng: random.Random, peer: Peer, rtt: float) -> dict:
    relay = rng.random() < 0.1
    return {
        "local_candidate_type": "relay" if relay else "srflx",
        "local_candidate_protocol": "tcp" if relay and rng.random() < 0.5 else "udp",
        "local_candidate_network_type": "cellular" if peer.person.is_mobile else "wifi",
        "remote_candidate_type": "host",
        "current_round_trip_time": round(rtt, 3),
        "available_outgoing_bitrate": rng.randrange(800_000, 4_000_000),
        "nominated": True,
    }
