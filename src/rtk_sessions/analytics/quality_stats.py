"""``quality_stats``: the media a participant received (``quality.md`` §4).

Participant details and the peer report summarise a peer's consumer camera
(``video``) and microphone (``audio``) tracks: "how the call looked and
sounded to this participant", as the fields' names (``concealment_events``,
``frames_dropped``, ``…_packet_received``) say.
"""

from __future__ import annotations

from msgspec import Struct

from rtk_sessions.analytics.quality import Measured, Series
from rtk_sessions.analytics.quality_rows import (
    AudioStat,
    Timestamps,
    VideoStat,
    build_rows,
    column,
    in_time_order,
    known_values,
    mean,
    round4,
    whole,
)
from rtk_sessions.clock import iso_ms

__all__ = ["PeerQualityStats", "QualityStats", "participant_entry", "quality_stats"]


class QualityStats(Struct, kw_only=True, omit_defaults=True):
    """One peer's received camera and microphone media (participant details, quality.md §4).

    ``start``/``end``: first and last sample of the peer; ``average_quality``:
    mean of the scored qualities in ``audio_stats`` and ``video_stats``;
    ``*_bandwidth``: mean bitrate of those intervals (bit/s); ``*_packet_loss``:
    100 · Σlost / (Σreceived + Σlost) over every measured interval.
    """

    peer_id: str
    start: str | None = None
    end: str | None = None
    audio_stats: list[AudioStat]
    video_stats: list[VideoStat]
    average_quality: float | None = None
    audio_bandwidth: int | None = None
    video_bandwidth: int | None = None
    audio_packet_loss: float | None = None
    video_packet_loss: float | None = None


class PeerQualityStats(QualityStats, kw_only=True):
    """The peer report's ``quality_stats``: totals are received + lost packets."""

    peer_ids: list[str]
    total_audio_packets: int | None = None
    total_audio_packets_lost: int | None = None
    total_video_packets: int | None = None
    total_video_packets_lost: int | None = None
    first_audio_packet_received: str | None = None
    last_audio_packet_received: str | None = None
    first_video_packet_received: str | None = None
    last_video_packet_received: str | None = None


def quality_stats(peer_id: str, measured: Measured) -> PeerQualityStats:
    """The received-media summary of one peer (use :func:`participant_entry` for the
    participant-details shape)."""
    audio = measured.of("audio", "consumer")
    video = measured.of("video", "consumer")
    audio_rows = [(s, s.rows()) for s in audio]
    video_rows = [(s, s.rows()) for s in video]
    qualities = known_values(column(audio_rows, "mos") + column(video_rows, "mos"))
    audio_received = measured.received.get("audio")
    video_received = measured.received.get("video")
    at = Timestamps()
    return PeerQualityStats(
        peer_id=peer_id,
        start=iso_ms(measured.first_ms),
        end=iso_ms(measured.last_ms),
        audio_stats=in_time_order(
            [e for s, i in audio_rows for e in build_rows(AudioStat, s, i, at)]
        ),
        video_stats=in_time_order(
            [e for s, i in video_rows for e in build_rows(VideoStat, s, i, at)]
        ),
        average_quality=round4(mean(qualities)),
        audio_bandwidth=whole(mean(known_values(column(audio_rows, "bitrate")))),
        video_bandwidth=whole(mean(known_values(column(video_rows, "bitrate")))),
        audio_packet_loss=_loss_of(audio),
        video_packet_loss=_loss_of(video),
        peer_ids=[peer_id],
        total_audio_packets=_total(audio, "expected_packets"),
        total_audio_packets_lost=_total(audio, "packets_lost"),
        total_video_packets=_total(video, "expected_packets"),
        total_video_packets_lost=_total(video, "packets_lost"),
        first_audio_packet_received=iso_ms(audio_received[0]) if audio_received else None,
        last_audio_packet_received=iso_ms(audio_received[1]) if audio_received else None,
        first_video_packet_received=iso_ms(video_received[0]) if video_received else None,
        last_video_packet_received=iso_ms(video_received[1]) if video_received else None,
    )


def participant_entry(stats: PeerQualityStats) -> QualityStats:
    """The participant-details entry: the same numbers without the peer report's extras."""
    return QualityStats(**{name: getattr(stats, name) for name in QualityStats.__struct_fields__})


def _total(series: list[Series], name: str) -> int | None:
    """Σ of a per-interval count over every measured interval (gaps included: the
    counters run on across them), ``None`` if no interval knows it."""
    known = [v for s in series for v in getattr(s, name) if v is not None]
    return sum(known) if known else None


def _loss_of(series: list[Series]) -> float | None:
    """100 · Σlost / (Σreceived + Σlost) over every measured interval (gaps included)."""
    pairs = [
        (e, x)
        for s in series
        for e, x in zip(s.expected_packets, s.packets_lost, strict=True)
        if e is not None and x is not None
    ]
    expected = sum(e for e, _ in pairs)
    return round(100 * sum(x for _, x in pairs) / expected, 4) if expected else None
