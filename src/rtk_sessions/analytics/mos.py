"""The scores of an interval (``quality.md`` §2): our 0..1 ``mos_quality`` and the
E-model's 1..5 listening MOS. Pure arithmetic, documented so anyone can recompute it."""

from __future__ import annotations

import math

from rtk_sessions.analytics.tracks import AUDIO_KINDS


def q(x: float, weight: float, low: float, high: float) -> float:
    """``Q(x, w, lo, hi) = w · (1 − clamp((x − lo) / (hi − lo), 0, 1))`` (quality.md §2)."""
    position = (x - low) / (high - low)
    if position <= 0:
        return weight
    if position >= 1:
        return 0.0
    return weight * (1 - position)


def round_score(score: float) -> float:
    """Half up to 2 decimals, as by hand: 0.825 is 0.83 even though the binary sum of
    its terms may land a hair below it (a tolerance of 1e-9 absorbs that noise)."""
    return math.floor(score * 100 + 0.5 + 1e-9) / 100


def emodel_mos(rtt_ms: float, jitter_ms: float, loss_pct: float) -> float:
    """Listening MOS 1..4.5 of the simplified ITU-T G.107 E-model (quality.md §2)."""
    effective = rtt_ms + 2 * jitter_ms + 10
    r = 93.2 - effective / 40 if effective < 160 else 93.2 - (effective - 120) / 10
    r -= 2.5 * loss_pct
    if r <= 0:
        return 1.0
    if r >= 100:
        return 4.5
    return 1 + 0.035 * r + 7e-6 * r * (r - 60) * (100 - r)


def scores(
    kind: str,
    producer: bool,
    unscorable: list[bool],
    jitter: list[float | None],
    loss: list[float | None],
    concealment: list[int | None],
    flags: tuple[list[bool | None], list[bool | None], list[bool | None]],
) -> list[float | None]:
    """Each interval's 0..1 ``mos_quality``; ``None`` when unscorable or an input is missing.

    - audio producer: Q(loss %, 0.7, 0, 10) + Q(jitter s, 0.3, 0.020, 0.030)
    - audio consumer: Q(Δconcealment, 0.2, 0, 3) + Q(loss %, 0.5, 0, 10) + Q(jitter, 0.3, …)
    - video: 0.8 · (low-res ? 0.85 : 1) · (lag ? 0.7 : 1) · (stuck ? 0.5 : 1)
      + 0.2 · Q(jitter, 1, 0.020, 0.030) · Q(loss %, 1, 0, 10)
    """
    if kind in AUDIO_KINDS and producer:
        return [
            None
            if skip or j is None or x is None
            else round_score(q(x, 0.7, 0, 10) + q(j, 0.3, 0.020, 0.030))
            for skip, j, x in zip(unscorable, jitter, loss, strict=True)
        ]
    if kind in AUDIO_KINDS:
        return [
            None
            if skip or j is None or x is None or c is None
            else round_score(q(c, 0.2, 0, 3) + q(x, 0.5, 0, 10) + q(j, 0.3, 0.020, 0.030))
            for skip, j, x, c in zip(unscorable, jitter, loss, concealment, strict=True)
        ]
    return [
        None
        if skip or j is None or x is None or low is None or slow is None or still is None
        else round_score(
            0.8 * (0.85 if low else 1) * (0.7 if slow else 1) * (0.5 if still else 1)
            + 0.2 * q(j, 1, 0.020, 0.030) * q(x, 1, 0, 10)
        )
        for skip, j, x, low, slow, still in zip(unscorable, jitter, loss, *flags, strict=True)
    ]
