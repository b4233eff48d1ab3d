"""Call quality from raw WebRTC stats (``analytics.quality`` and ``analytics.quality_report``).

Expected values are quality.md's worked example (§5) and numbers computed by
hand in each test from the formulas of quality.md §1-3, written out beside
the inputs; none is read back from the code under test.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rtk_sessions.analytics.mos import emodel_mos, q, round_score
from rtk_sessions.analytics.quality import intervals_of
from rtk_sessions.analytics.quality_report import peer_quality, percentile
from rtk_sessions.analytics.quality_stats import participant_entry, quality_stats
from rtk_sessions.ingest.events import StatsSample

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def sample(at_s: float, kind: str = "audio", direction: str = "consumer", **fields: Any):
    """A sample validated as ingest validates it."""
    fields.setdefault("ssrc", 1)
    ts = T0 + timedelta(seconds=at_s)
    return msgspec.convert({"ts": ts, "kind": kind, "direction": direction, **fields}, StatsSample)


def iso(at_s: float) -> str:
    ts = T0 + timedelta(seconds=at_s)
    return ts.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def report(samples: list[StatsSample], period_s: float = 7.0) -> dict[str, Any]:
    """peer_report.quality as JSON would carry it."""
    return msgspec.to_builtins(peer_quality(intervals_of(samples, period_s)))


ABSENT = "<absent>"  # what ``served(row, key)`` gives for a key left out (a null would be None)


def served(row: dict[str, Any], key: str) -> Any:
    """``row[key]``, or :data:`ABSENT` when the key is left out (api.md: unknown values
    are absent, never null)."""
    return row.get(key, ABSENT)


# --------------------------------------------------------------------------
# quality.md §5: the worked example
# --------------------------------------------------------------------------

WORKED = [  # ts, packets_received, packets_lost, jitter, concealment_events
    (0, 0, 0, 0.010, 0),
    (7, 350, 0, 0.012, 0),
    (14, 690, 10, 0.025, 1),
    (21, 1010, 40, 0.040, 4),
    (28, 1010, 40, 0.040, 4),
    (35, 1360, 40, 0.015, 4),
]


def worked_samples() -> list[StatsSample]:
    return [
        sample(t, packets_received=r, packets_lost=lost, jitter=j, concealment_events=c)
        for t, r, lost, j, c in WORKED
    ]


def test_worked_example_intervals() -> None:
    rows = report(worked_samples())["audio_consumer"]
    assert [(r["timestamp"], served(r, "mos_quality")) for r in rows] == [
        (iso(7), 1.0),
        (iso(14), 0.64),
        (iso(21), 0.07),
        (iso(28), ABSENT),  # no packets: not scored, no mos_quality key
        (iso(35), 1.0),
    ]
    assert [r["packets_received"] for r in rows] == [350, 340, 320, 0, 350]
    assert [r["packets_lost"] for r in rows] == [0, 10, 30, 0, 0]
    assert [r["concealment_events"] for r in rows] == [0, 1, 3, 0, 0]
    assert [r["jitter"] for r in rows] == [0.012, 0.025, 0.040, 0.040, 0.015]


def test_worked_example_cumulative() -> None:
    cumulative = report(worked_samples())["audio_consumer_cumulative"]
    assert cumulative["packet_loss"] == {
        "avg": 2.8571,
        "5_or_greater_event_fraction": 0.25,
        "10_or_greater_event_fraction": 0.0,
        "25_or_greater_event_fraction": 0.0,
        "50_or_greater_event_fraction": 0.0,
    }
    assert cumulative["quality_mos"] == {"avg": 0.6775, "p50": 0.82, "p75": 1.0, "p90": 1.0}
    # no jitter-buffer counters in the example: that summary is unknown, left out
    assert "jitter_buffer_delay" not in cumulative
    assert set(cumulative) == {"packet_loss", "quality_mos"}


def test_every_other_kind_is_empty() -> None:
    got = report(worked_samples())
    for name in (
        "audio_producer",
        "video_producer",
        "video_consumer",
        "screenshare_video_producer",
    ):
        assert got[name] == [] and got[f"{name}_cumulative"] == {}
    assert got["skipped_intervals"] == []


# --------------------------------------------------------------------------
# §1: resets, gaps, loss corrections, muted audio, missing inputs
# --------------------------------------------------------------------------


def audio_out(t: float, sent: int, lost: int, jitter: float = 0.01, **extra: Any) -> StatsSample:
    return sample(
        t, direction="producer", packets_sent=sent, packets_lost=lost, jitter=jitter, **extra
    )


def test_a_counter_reset_skips_that_interval_only() -> None:
    samples = [
        audio_out(0, 0, 0),
        audio_out(7, 350, 0),
        audio_out(14, 20, 0),
        audio_out(21, 370, 35),
    ]
    got = report(samples)
    assert [r["timestamp"] for r in got["audio_producer"]] == [iso(7), iso(21)]
    # the interval after the reset counts again: 35 lost of 350 sent = 10 %
    assert [r["packets_sent"] for r in got["audio_producer"]] == [350, 350]
    assert got["audio_producer"][1]["mos_quality"] == round(0.7 * 0 + 0.3, 2)
    assert got["skipped_intervals"] == [
        {
            "kind": "audio",
            "direction": "producer",
            "ssrc": 1,
            "start": iso(7),
            "end": iso(14),
            "reason": "counter_reset",
        }
    ]


def test_a_gap_is_recorded_not_scored() -> None:
    samples = [
        audio_out(0, 0, 0),
        audio_out(7, 350, 0),
        audio_out(30, 1500, 100),
        audio_out(37, 1850, 0),
    ]
    got = report(samples)
    assert [r["timestamp"] for r in got["audio_producer"]] == [iso(7), iso(37)]
    assert got["skipped_intervals"] == [
        {
            "kind": "audio",
            "direction": "producer",
            "ssrc": 1,
            "start": iso(7),
            "end": iso(30),
            "reason": "gap",
        }
    ]
    # the gap's 100 lost packets are in no fraction: both scored intervals had none
    assert got["audio_producer_cumulative"]["packet_loss"]["avg"] == 0.0
    assert got["audio_producer_cumulative"]["quality_mos"]["avg"] == 1.0


def test_exactly_three_periods_is_not_a_gap_and_the_period_is_a_parameter() -> None:
    samples = [audio_out(0, 0, 0), audio_out(21, 1050, 0)]
    assert len(report(samples)["audio_producer"]) == 1
    assert report(samples, period_s=5)["audio_producer"] == []  # 21 s > 15 s
    assert report(samples, period_s=5)["skipped_intervals"][0]["reason"] == "gap"


def test_packets_lost_going_down_counts_as_none_lost() -> None:
    # 12 lost, then the browser corrects to 8 (late packets arrived): Δ = 0, not a reset
    samples = [audio_out(0, 0, 0), audio_out(7, 350, 12), audio_out(14, 700, 8)]
    rows = report(samples)["audio_producer"]
    assert [r["packets_lost"] for r in rows] == [12, 0]
    # 12 / 350 = 3.4286 % → Q = 0.7 · (1 − 0.34286) = 0.46; jitter 10 ms → 0.3
    assert [r["mos_quality"] for r in rows] == [0.76, 1.0]


def test_muted_audio_has_no_score_and_is_left_out_of_every_summary() -> None:
    samples = [
        audio_out(0, 0, 0),
        audio_out(7, 350, 35),  # 10 % loss → 0 + 0.3
        audio_out(14, 350, 35),  # muted: nothing sent
        audio_out(21, 700, 35),  # 0 % → 1.0
    ]
    got = report(samples)
    assert [served(r, "mos_quality") for r in got["audio_producer"]] == [0.3, ABSENT, 1.0]
    assert got["audio_producer"][1]["packets_sent"] == 0  # the muted row is there, unscored
    cumulative = got["audio_producer_cumulative"]
    assert cumulative["quality_mos"] == {"avg": 0.65, "p50": 0.65, "p75": 0.825, "p90": 0.93}
    assert cumulative["packet_loss"]["avg"] == 5.0
    assert cumulative["packet_loss"]["10_or_greater_event_fraction"] == 0.5


def test_all_packets_lost_is_scored_not_muted() -> None:
    samples = [
        sample(0, packets_received=0, packets_lost=0, jitter=0.01, concealment_events=0),
        sample(7, packets_received=0, packets_lost=300, jitter=0.01, concealment_events=5),
    ]
    rows = report(samples)["audio_consumer"]
    # loss 100 % → 0; concealment 5 ≥ 3 → 0; jitter 10 ms → 0.3
    assert rows[0]["mos_quality"] == 0.3


def test_missing_jitter_leaves_the_interval_unscored_never_invented() -> None:
    samples = [
        sample(0, direction="producer", packets_sent=0, packets_lost=0),
        sample(7, direction="producer", packets_sent=350, packets_lost=0),
    ]
    got = report(samples)
    assert got["audio_producer"] == [] and got["audio_producer_cumulative"] == {}


def test_a_missing_rtt_leaves_the_rtt_summary_out() -> None:
    samples = [audio_out(0, 0, 0), audio_out(7, 350, 0)]
    cumulative = report(samples)["audio_producer_cumulative"]
    assert "rtt" not in cumulative
    # the interval is scored all the same (0 % loss, jitter 10 ms → 1.0)
    assert cumulative["quality_mos"] == {"avg": 1.0, "p50": 1.0, "p75": 1.0, "p90": 1.0}
    assert "rtt" not in report(samples)["audio_producer"][0]


def test_rtt_summary_in_milliseconds() -> None:
    samples = [
        audio_out(0, 0, 0, round_trip_time=0.05),
        audio_out(7, 350, 0, round_trip_time=0.08),
        audio_out(14, 700, 0, round_trip_time=0.3),
        audio_out(21, 1050, 0, round_trip_time=0.12),
        audio_out(28, 1400, 0, round_trip_time=0.6),
    ]
    got = report(samples)
    assert [r["rtt"] for r in got["audio_producer"]] == [0.08, 0.3, 0.12, 0.6]  # seconds
    assert got["audio_producer_cumulative"]["rtt"] == {
        "avg": 275.0,  # (80 + 300 + 120 + 600) / 4 ms
        "100ms_or_greater_event_fraction": 0.75,
        "250ms_or_greater_event_fraction": 0.5,
        "500ms_or_greater_event_fraction": 0.25,
    }


def test_jitter_buffer_delay_per_interval_in_milliseconds() -> None:
    base = {"jitter": 0.005, "concealment_events": 0, "packets_lost": 0}
    samples = [
        sample(
            0, packets_received=0, jitter_buffer_delay=0.0, jitter_buffer_emitted_count=0, **base
        ),
        sample(
            7,
            packets_received=350,
            jitter_buffer_delay=24.0,
            jitter_buffer_emitted_count=336_000,
            **base,
        ),
        sample(
            14,
            packets_received=700,
            jitter_buffer_delay=72.0,
            jitter_buffer_emitted_count=432_000,
            **base,
        ),
    ]
    got = report(samples)
    # 1000 · 24 / 336000 = 0.0714 ms; 1000 · 48 / 96000 = 0.5 ms
    assert [r["jitter_buffer_delay"] for r in got["audio_consumer"]] == [0.0714, 0.5]
    assert [r["jitter_buffer_emitted_count"] for r in got["audio_consumer"]] == [336_000, 96_000]
    assert got["audio_consumer_cumulative"]["jitter_buffer_delay"]["avg"] == round(
        (1000 * 24 / 336_000 + 0.5) / 2, 4
    )


def test_several_ssrcs_of_a_kind_are_summarised_together() -> None:
    first = [audio_out(0, 0, 0, ssrc=11), audio_out(7, 350, 0, ssrc=11)]
    second = [audio_out(1, 0, 0, ssrc=22), audio_out(8, 300, 30, ssrc=22)]  # 10 %
    got = report(second + first)
    assert [(r["ssrc"], r["mos_quality"]) for r in got["audio_producer"]] == [(11, 1.0), (22, 0.3)]
    assert got["audio_producer_cumulative"]["packet_loss"]["avg"] == 5.0
    assert got["audio_producer_cumulative"]["quality_mos"]["avg"] == 0.65


# --------------------------------------------------------------------------
# §2: video and screenshare scores
# --------------------------------------------------------------------------


def video(
    t: float,
    frames: int,
    width: int,
    fps: float | None,
    *,
    kind: str = "video",
    direction: str = "consumer",
    sent: int | None = None,
    lost: int = 0,
    jitter: float = 0.01,
    **extra: Any,
) -> StatsSample:
    counters: dict[str, Any] = {
        "packets_lost": lost,
        "jitter": jitter,
        "frame_width": width,
        "frame_height": width * 9 // 16,
    }
    if fps is not None:
        counters["frames_per_second"] = fps
    if direction == "producer":
        counters.update(
            packets_sent=sent if sent is not None else int(t * 100), frames_encoded=frames
        )
    else:
        counters.update(
            packets_received=sent if sent is not None else int(t * 100), frames_decoded=frames
        )
    return sample(t, kind=kind, direction=direction, **counters, **extra)


@pytest.mark.parametrize(
    ("width", "fps", "frames", "loss_lost", "jitter", "expected"),
    [
        (1280, 30.0, 210, 0, 0.010, 1.0),  # all good
        (200, 30.0, 210, 0, 0.010, round(0.8 * 0.85 + 0.2, 2)),  # low resolution: 0.88
        (1280, 5.0, 35, 0, 0.010, round(0.8 * 0.7 + 0.2, 2)),  # lag: 0.76
        (200, 5.0, 35, 0, 0.010, round(0.8 * 0.85 * 0.7 + 0.2, 2)),  # both: 0.68
        (1280, 0.0, 0, 0, 0.010, round(0.8 * 0.5 * 0.7 + 0.2, 2)),  # stuck, 0 fps (lag too): 0.48
        # jitter 25 ms → Q = 0.5; loss 70 of 700 received+lost = 9.0909 % → Q = 0.0909
        (1280, 30.0, 210, 70, 0.025, round(0.8 + 0.2 * 0.5 * (1 - 100 * 70 / 770 / 10), 2)),
    ],
)
def test_video_consumer_score(width, fps, frames, loss_lost, jitter, expected) -> None:
    samples = [
        video(0, 0, width, fps, sent=0),
        video(7, frames, width, fps, sent=700, lost=loss_lost, jitter=jitter),
    ]
    assert report(samples)["video_consumer"][0]["mos_quality"] == expected


def test_fps_falls_back_to_frames_over_time() -> None:
    samples = [video(0, 0, 1280, None, sent=0), video(7, 35, 1280, None, sent=700)]
    row = report(samples)["video_consumer"][0]
    assert row["frames_per_second"] == 5.0 and row["mos_quality"] == round(0.8 * 0.7 + 0.2, 2)


def test_screenshare_has_its_own_thresholds() -> None:
    # 700 px wide and 5 fps: poor and lagging as a camera, fine as a screen share
    camera = [video(0, 0, 700, 5.0, sent=0), video(7, 35, 700, 5.0, sent=700)]
    screen = [
        video(0, 0, 700, 5.0, kind="screenshare_video", sent=0),
        video(7, 35, 700, 5.0, kind="screenshare_video", sent=700),
    ]
    assert report(camera)["video_consumer"][0]["mos_quality"] == round(0.8 * 0.7 + 0.2, 2)
    shared = report(screen)
    assert shared["screenshare_video_consumer"][0]["mos_quality"] == round(0.8 * 0.85 + 0.2, 2)
    assert shared["screenshare_video_consumer_cumulative"]["issues"] == {
        "poor_resolution_fraction": 1.0,
        "lag_fraction": 0.0,
        "no_video_fraction": 0.0,
    }
    low_fps = [
        video(0, 0, 1920, 2.0, kind="screenshare_video", sent=0),
        video(7, 14, 1920, 2.0, kind="screenshare_video", sent=700),
    ]
    assert report(low_fps)["screenshare_video_consumer"][0]["mos_quality"] == round(
        0.8 * 0.7 + 0.2, 2
    )


def test_video_consumer_issues_and_distributions() -> None:
    samples = [
        video(0, 0, 1280, 30.0, sent=0),
        video(7, 210, 1280, 30.0, sent=700),  # fine
        video(14, 245, 200, 5.0, sent=1400),  # low-res and lag
        video(21, 245, 200, 0.0, sent=2100),  # stuck: packets, no frames
        video(28, 455, 640, 30.0, sent=2800),  # fine
    ]
    cumulative = report(samples)["video_consumer_cumulative"]
    assert cumulative["issues"] == {
        "poor_resolution_fraction": 0.5,
        "lag_fraction": 0.5,
        "no_video_fraction": 0.25,
    }
    # widths 1280, 200, 200, 640 → sorted 200, 200, 640, 1280
    assert cumulative["frame_width"] == {"avg": 580.0, "p50": 420.0, "p75": 800.0, "p90": 1088.0}
    assert cumulative["frame_per_second"] == {"avg": 16.25, "p50": 17.5, "p75": 30.0, "p90": 30.0}
    # no jitter-buffer or key-frame counters sent: those summaries are left out
    assert set(cumulative) == {
        "packet_loss",
        "quality_mos",
        "frame_per_second",
        "frame_width",
        "issues",
    }
    assert "key_frames_decoded_fraction" not in cumulative
    assert "jitter_buffer_delay" not in cumulative


def test_video_producer_limitations_feedback_and_key_frames() -> None:
    def out(t, frames, reason, pli, fir, keys, durations):
        return video(
            t,
            frames,
            640,
            30.0,
            direction="producer",
            sent=int(t * 100),
            quality_limitation_reason=reason,
            pli_count=pli,
            fir_count=fir,
            key_frames_encoded=keys,
            quality_limitation_durations=durations,
            quality_limitation_resolution_changes=int(t // 14),
        )

    samples = [
        out(0, 0, "none", 0, 0, 0, {"cpu": 0.0, "bandwidth": 0.0, "none": 0.0, "other": 0.0}),
        out(
            7, 210, "bandwidth", 1, 0, 2, {"cpu": 0.0, "bandwidth": 5.0, "none": 2.0, "other": 0.0}
        ),
        out(
            14,
            420,
            "bandwidth",
            3,
            1,
            3,
            {"cpu": 0.0, "bandwidth": 12.0, "none": 2.0, "other": 0.0},
        ),
        out(21, 630, "cpu", 3, 1, 3, {"cpu": 7.0, "bandwidth": 12.0, "none": 2.0, "other": 0.0}),
        out(28, 840, "none", 4, 1, 5, {"cpu": 7.0, "bandwidth": 12.0, "none": 9.0, "other": 0.0}),
    ]
    got = report(samples)
    cumulative = got["video_producer_cumulative"]
    assert cumulative["issues"] == {
        "poor_resolution_fraction": 0.0,
        "no_video_fraction": 0.0,
        "quality_limitation_fraction": 0.75,
        "cpu_quality_limitation_fraction": 0.25,
        "bandwidth_quality_limitation_fraction": 0.5,
    }
    # ΔPLI + ΔFIR per interval: 1, 3, 0, 1 → one interval with ≥ 2
    assert cumulative["high_negative_feedback_fraction"] == 0.25
    # Σ Δkey frames / Σ Δframes = 5 / 840
    assert cumulative["key_frames_encoded_fraction"] == round(5 / 840, 4)
    second = got["video_producer"][1]
    assert second["quality_limitation_reason"] == "bandwidth"
    assert second["quality_limitation_durations"] == {
        "cpu": 0.0,
        "bandwidth": 7.0,
        "none": 0.0,
        "other": 0.0,
    }
    assert (second["pli_count"], second["fir_count"], second["key_frames_encoded"]) == (2, 1, 1)
    assert second["quality_limitation_resolution_changes"] == 1
    # producer loss is lost / sent: 0 here; every interval 1.0
    assert [r["mos_quality"] for r in got["video_producer"]] == [1.0, 1.0, 1.0, 1.0]


def test_producer_loss_is_over_packets_sent() -> None:
    samples = [
        video(0, 0, 1280, 30.0, direction="producer", sent=0),
        video(7, 210, 1280, 30.0, direction="producer", sent=800, lost=40),
    ]
    got = report(samples)
    # 40 / 800 = 5 % → Q(loss) = 0.5; jitter 10 ms → 1
    assert got["video_producer"][0]["mos_quality"] == 0.9
    assert got["video_producer_cumulative"]["packet_loss"]["avg"] == 5.0


# --------------------------------------------------------------------------
# the formulas themselves
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("score", "expected"),
    [
        (0.825, 0.83),
        (0.2 + 0.325 + 0.3, 0.83),
        (0.8249, 0.82),
        (0.6405, 0.64),
        (0.675, 0.68),
        (1.0, 1.0),
        (0.0, 0.0),
        (0.07142857, 0.07),
    ],
)
def test_scores_round_half_up_to_two_decimals(score, expected) -> None:
    assert round_score(score) == expected


@pytest.mark.parametrize(
    ("x", "weight", "low", "high", "expected"),
    [
        (0, 0.7, 0, 10, 0.7),
        (5, 0.7, 0, 10, 0.35),
        (10, 0.7, 0, 10, 0.0),
        (12, 0.7, 0, 10, 0.0),
        (-1, 0.5, 0, 10, 0.5),
        (0.025, 0.3, 0.020, 0.030, 0.15),
    ],
)
def test_q(x, weight, low, high, expected) -> None:
    assert q(x, weight, low, high) == pytest.approx(expected)


def test_emodel_by_hand() -> None:
    # rtt 50 ms, jitter 5 ms → eff = 70 → R = 93.2 − 1.75 = 91.45; 1 % loss → 88.95
    r = 93.2 - 70 / 40 - 2.5
    assert emodel_mos(50, 5, 1) == pytest.approx(1 + 0.035 * r + 7e-6 * r * (r - 60) * (100 - r))
    # eff = 300 + 20 + 10 = 330 ≥ 160 → R = 93.2 − 21 = 72.2
    r = 93.2 - (330 - 120) / 10
    assert emodel_mos(300, 10, 0) == pytest.approx(1 + 0.035 * r + 7e-6 * r * (r - 60) * (100 - r))
    assert emodel_mos(0, 0, 50) == 1.0  # R ≤ 0
    assert 4.3 < emodel_mos(0, 0, 0) < 4.5


def test_emodel_is_served_beside_mos_for_audio_with_rtt() -> None:
    samples = [
        audio_out(0, 0, 0, round_trip_time=0.05),
        audio_out(7, 350, 0, jitter=0.005, round_trip_time=0.05),
    ]
    row = report(samples)["audio_producer"][0]
    # rtt 50 ms, jitter 5 ms → eff 70 → R = 91.45 → 1 + 3.20075 + 7e-6·91.45·31.45·8.55 = 4.3729
    assert row["mos_emodel"] == 4.37
    consumer = report(worked_samples())["audio_consumer"][0]
    assert "mos_emodel" not in consumer  # a consumer's samples carry no RTT


def test_percentiles_interpolate_linearly_between_closest_ranks() -> None:
    values = [0.07, 0.64, 1.0, 1.0]
    assert [percentile(values, p) for p in (0, 50, 75, 90, 100)] == pytest.approx(
        [0.07, 0.82, 1.0, 1.0, 1.0]
    )
    assert percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 90) == pytest.approx(9.1)
    assert percentile([5], 75) == 5


# --------------------------------------------------------------------------
# §4: quality_stats (received media)
# --------------------------------------------------------------------------


def test_quality_stats_of_received_media() -> None:
    audio = worked_samples()
    camera = [
        video(0, 0, 1280, 30.0, sent=0, lost=0),
        video(7, 210, 1280, 30.0, sent=630, lost=70, bytes_received=700_000),
        video(14, 420, 1280, 30.0, sent=1330, lost=70, bytes_received=1_400_000),
    ]
    camera[0] = video(0, 0, 1280, 30.0, sent=0, lost=0, bytes_received=0)
    sent = [audio_out(3, 0, 0), audio_out(10, 350, 0)]  # a producer track: not in quality_stats
    stats = msgspec.to_builtins(quality_stats("peer-1", intervals_of(audio + camera + sent)))
    assert (stats["start"], stats["end"]) == (iso(0), iso(35))
    assert [served(a, "quality") for a in stats["audio_stats"]] == [1.0, 0.64, 0.07, ABSENT, 1.0]
    # video: 630 received + 70 lost → 10 % loss, jitter 10 ms: 0.8 + 0.2 · 1 · 0 = 0.8; then 1.0
    assert [v["quality"] for v in stats["video_stats"]] == [0.8, 1.0]
    assert stats["video_stats"][0] == {
        "timestamp": iso(7),
        "quality": 0.8,
        "packets_lost": 70,
        "jitter": 0.01,
        "frame_width": 1280,
        "frame_height": 720,
        "frames_per_second": 30.0,
    }  # no frames_dropped counter in the samples: left out
    assert stats["average_quality"] == round((1 + 0.64 + 0.07 + 1 + 0.8 + 1) / 6, 4)
    assert stats["audio_packet_loss"] == round(100 * 40 / 1400, 4)  # Σlost / (Σreceived + Σlost)
    assert stats["video_packet_loss"] == round(100 * 70 / 1400, 4)
    assert stats["video_bandwidth"] == 800_000  # 8 · 700 000 B / 7 s, both intervals
    assert "audio_bandwidth" not in stats  # no byte counters in the audio samples
    assert (stats["total_audio_packets"], stats["total_audio_packets_lost"]) == (1400, 40)
    assert (stats["total_video_packets"], stats["total_video_packets_lost"]) == (1400, 70)
    assert stats["first_audio_packet_received"] == iso(7)  # 0 packets at 0 s
    assert stats["last_audio_packet_received"] == iso(35)
    assert (stats["first_video_packet_received"], stats["last_video_packet_received"]) == (
        iso(7),
        iso(14),
    )
    assert stats["peer_ids"] == ["peer-1"]
    # the participant-details entry: the same numbers without the peer report's extras
    entry = msgspec.to_builtins(
        participant_entry(quality_stats("peer-1", intervals_of(audio + camera)))
    )
    assert entry == {
        "peer_id": "peer-1",
        "start": iso(0),
        "end": iso(35),
        "audio_stats": stats["audio_stats"],
        "video_stats": stats["video_stats"],
        "average_quality": stats["average_quality"],
        # no audio_bandwidth: no byte counters in the audio samples
        "video_bandwidth": 800_000,
        "audio_packet_loss": round(100 * 40 / 1400, 4),
        "video_packet_loss": round(100 * 70 / 1400, 4),
    }
    audio_only = msgspec.to_builtins(
        participant_entry(quality_stats("peer-1", intervals_of(audio)))
    )
    # nothing known of video: its bandwidth and loss are left out, its series empty
    assert set(audio_only) == {
        "peer_id",
        "start",
        "end",
        "audio_stats",
        "video_stats",
        "average_quality",
        "audio_packet_loss",
    }
    assert audio_only["video_stats"] == []


def test_packet_totals_run_across_a_gap() -> None:
    samples = [
        sample(0, packets_received=0, packets_lost=0, jitter=0.01, concealment_events=0),
        sample(60, packets_received=3000, packets_lost=30, jitter=0.01, concealment_events=0),
    ]
    stats = msgspec.to_builtins(quality_stats("p", intervals_of(samples)))
    assert stats["audio_stats"] == [] and "average_quality" not in stats
    assert (stats["total_audio_packets"], stats["total_audio_packets_lost"]) == (3030, 30)


def test_no_samples_no_numbers() -> None:
    stats = msgspec.to_builtins(quality_stats("p", intervals_of([])))
    # no start, end, averages, bandwidths, losses, totals or packet times: all left out
    assert stats == {"peer_id": "p", "audio_stats": [], "video_stats": [], "peer_ids": ["p"]}
    entry = msgspec.to_builtins(participant_entry(quality_stats("p", intervals_of([]))))
    assert entry == {"peer_id": "p", "audio_stats": [], "video_stats": []}


# --------------------------------------------------------------------------
# order independence
# --------------------------------------------------------------------------


def call_samples() -> list[StatsSample]:
    """Two tracks with a reset, a gap, a muted stretch and a duplicate re-sent."""
    audio = [
        audio_out(t, sent, lost, jitter=0.008 + 0.001 * (t % 3), round_trip_time=0.04)
        for t, sent, lost in [
            (0, 0, 0),
            (7, 350, 2),
            (14, 700, 9),
            (21, 700, 9),
            (28, 40, 0),
            (35, 390, 1),
            (70, 2100, 30),
            (77, 2450, 31),
        ]
    ]
    camera = [
        video(
            t,
            int(t * 30),
            1280 if t < 30 else 320,
            30.0 - t / 10,
            sent=int(t * 120),
            lost=int(t),
            jitter=0.012,
        )
        for t in range(0, 80, 7)
    ]
    return audio + camera + [audio[1], camera[3]]


def full_report(samples: list[StatsSample]) -> tuple[Any, Any]:
    measured = intervals_of(samples)
    return msgspec.to_builtins(peer_quality(measured)), msgspec.to_builtins(
        quality_stats("p", measured)
    )


@settings(max_examples=60, deadline=None)
@given(st.randoms(use_true_random=False))
def test_shuffled_or_duplicated_samples_give_the_same_report(rng) -> None:
    samples = call_samples()
    expected = full_report(samples)
    shuffled = samples[:]
    rng.shuffle(shuffled)
    extra = [rng.choice(samples) for _ in range(rng.randint(0, 5))]  # re-sent in other batches
    assert full_report(shuffled + extra) == expected


def test_same_instant_conflict_resolves_whatever_the_order() -> None:
    a = audio_out(7, 350, 2)
    b = audio_out(7, 351, 2)  # a client re-sent the instant with other counters
    base = [audio_out(0, 0, 0), audio_out(14, 700, 2)]
    assert full_report([*base, a, b]) == full_report([b, *base, a])
