"""A peer's tail (each track's last sample: what its next row is encoded against) and
the per-layout encoders generated for it.

Part of the stats codec: see ``__init__``."""

from __future__ import annotations

from operator import itemgetter
from typing import Any

import msgspec
from msgspec.structs import astuple

from rtk_sessions.store.stats_codec.schema import (
    _DUR,
    _DUR_OF,
    _ENC,
    _ENUM,
    _EQ,
    _FDEC,
    _FLT_MAX,
    _FPS,
    _FPS_DIV,
    _FPS_ROUND,
    _FPS_SLOT,
    _INT,
    _KD,
    _KD_NAMES,
    _KEEPS_D,
    _MAX,
    _MIN,
    _MODES,
    _NSLOTS,
    _POW10,
    _RATE,
    _RATIO,
    _RATIO_REF,
    _REASON_CODE,
    _TSR,
    _X_INT,
    _abs_code,
    _blob,
    _deep_raw,
    _ext,
    _ext_hook,
    _lit,
    _raw,
    _same,
    _unpack_id,
)


class PeerTail(msgspec.Struct, frozen=True, gc=False):
    """What the next encoded row of the same peer may refer to: the h1 of the last row
    encoded for the peer, and (``state``, msgpack) the time of that row's last sample,
    the peer's last candidate pair, and per track the absolute values of that track's
    last sample in that row with what its predictions need."""

    h1: int
    state: bytes


def _getter(idx: tuple[int, ...]):  # noqa: ANN202
    """itemgetter(*idx) that always returns a tuple."""
    if len(idx) > 1:
        return itemgetter(*idx)
    if idx:
        i = idx[0]
        return lambda x: (x[i],)
    return lambda x: ()


def _counter_other(v: object, pv: object) -> object:
    """A counter's residual when it or the one before is no int: the value on its own."""
    if type(v) is not int:
        return _lit(v)
    return v if _MIN <= v <= _MAX else _ext(_X_INT, v)  # type: ignore[operator]


_RATE_PRED = "((pds[{j}] * dt + pdt // 2) // pdt if pdt > 0 else pds[{j}])"
_PREDICTIONS = {  # a counter's predicted delta, by mode
    _INT: "0",
    _RATE: _RATE_PRED,
    _RATIO: "((pds[{j}] * ds[{ref}] + pds[{ref}] // 2) // pds[{ref}] if pds[{ref}] > 0 else 0)",
    _FPS: "((fps_k * dt + _FPS_ROUND) // _FPS_DIV if fps_k is not None else " + _RATE_PRED + ")",
    _EQ: "ds[{ref}]",
}
_COUNTER = """
    v = vals[{j}]
    pv = pcodes[{j}]
    if type(v) is int and type(pv) is int:
        d = v - pv
        r = d - {pred}
        if _MIN <= r <= _MAX:{keep}
            if r:
                append(r)
            else:
                zm |= {zbit}
        else:
            append(_ext(_X_INT, v))
            lits |= {bit}
    else:
        r = _counter_other(v, pv)
        if type(r) is not int:
            append(r)
            lits |= {bit}
        elif r:
            append(r)
        else:
            zm |= {zbit}
"""
_FLOAT = """
    v = vals[{j}]
    k = None
    if type(v) is float and -_FLT_MAX < v < _FLT_MAX:
        k = round(v * 1e6)
        if k / 1e6 != v or (k == 0 and str(v)[0] == "-"):
            k = None{fps}
    if k is None:
        codes[{j}] = r = _lit(v)
        append(r)
        lits |= {bit}
    else:
        pv = pcodes[{j}]
        if type(pv) is int:
            unit = _POW10[pv & 7]
            dk = k - (pv >> 3) * unit
            if dk % unit:  # finer than the track's unit so far: start over
                codes[{j}] = r = _abs_code(k)
                reset |= {bit}
            else:
                r = dk // unit
                codes[{j}] = (k // unit) * 8 + (pv & 7){dur}
        else:
            codes[{j}] = r = _abs_code(k)
        if r:
            append(r)
        else:
            zm |= {zbit}
"""
_REASON = """
    v = vals[{j}]
    if _same(v, pcodes[{j}]):
        zm |= {zbit}
    else:
        r = _REASON_CODE.get(v, 0) if type(v) is str else 0
        if r:
            append(r)
        else:
            append(_lit(v))
            lits |= {bit}
"""


def _encoder(plan: tuple):  # noqa: ANN202
    """The residuals of a sample whose known slots are ``plan``'s, as straight-line code:
    ``(values, previous codes, previous deltas, dt, previous dt, reason)`` -> (codes,
    deltas, residuals, zero mask, literal slots, slots that start over)."""
    lines = [
        "def encode(vals, pcodes, pds, dt, pdt, reason):",
        "    codes = list(vals)",
        f"    ds = [0] * {len(plan)}",
        "    rec = []",
        "    append = rec.append",
        "    zm = lits = reset = 0",
        "    fps_k = None",
    ]
    for j, (zbit, i, mode, bit, ref) in enumerate(plan):
        fields = {"j": j, "zbit": zbit, "bit": bit, "ref": ref}
        if mode <= _EQ:
            pred = _PREDICTIONS[mode] if ref is not None or mode not in (_RATIO, _EQ) else "0"
            keep = f"\n            ds[{j}] = d" if i in _KEEPS_D else ""
            lines.append(_COUNTER.format(pred=pred.format(**fields), keep=keep, **fields))
        elif mode < _ENUM:
            fps = "\n    fps_k = k" if i == _FPS_SLOT else ""
            dur = ""
            if mode == _DUR:  # the time limited by the reason grows
                dur = (
                    f"\n                if reason == {ref!r}:\n                    r -= dt // unit"
                )
            lines.append(_FLOAT.format(fps=fps, dur=dur, **fields))
        else:
            lines.append(_REASON.format(**fields))
    lines.append("    return codes, ds, rec, zm, lits, reset")
    scope = {
        "_MIN": _MIN, "_MAX": _MAX, "_FLT_MAX": _FLT_MAX, "_POW10": _POW10, "_X_INT": _X_INT,
        "_FPS_ROUND": _FPS_ROUND, "_FPS_DIV": _FPS_DIV, "_REASON_CODE": _REASON_CODE,
        "_ext": _ext, "_lit": _lit, "_same": _same, "_abs_code": _abs_code,
        "_counter_other": _counter_other,
    }  # fmt: skip
    exec(compile("\n".join(lines), "<stats codec encoder>", "exec"), scope)  # noqa: S102
    return scope["encode"]


class _Layout:
    """For a presence mask: the known slots, and how the encoder walks and keeps them."""

    __slots__ = ("ns", "nnone", "plan", "take", "spread", "take_keep", "spread_keep", "nones",
                 "zeros", "encode")  # fmt: skip

    def __init__(self, pmask: int) -> None:
        slots = tuple(i for i in range(_NSLOTS) if pmask >> i & 1)
        self.ns = ns = len(slots)
        self.nnone = _NSLOTS - ns  # how many slots are None
        pos = {i: j for j, i in enumerate(slots)}
        plan = []
        for i in slots:
            mode = _MODES[i]
            ref: object = None  # what the prediction needs: a slot's place, or a reason
            if mode == _RATIO:
                ref = pos.get(_RATIO_REF[i])
            elif mode == _EQ:
                ref = pos.get(_TSR, pos.get(_FDEC))
            elif mode == _DUR:
                ref = _DUR_OF[i]
            plan.append((1 << len(plan), i, mode, 1 << i, ref))
        self.plan = tuple(plan)
        self.take = _getter(slots)  # all slots -> the known ones
        self.spread = _getter(tuple(pos.get(i, ns) for i in range(_NSLOTS)))  # and back, + pad
        keep = tuple(j for j, i in enumerate(slots) if i in _KEEPS_D)
        self.take_keep = _getter(keep)  # the deltas a tail keeps
        self.spread_keep = _getter(
            tuple(keep.index(j) if j in keep else len(keep) for j in range(ns))
        )
        self.nones = (None,) * ns
        self.zeros = (0,) * ns
        self.encode = _encoder(self.plan)


class _Layouts(dict):
    def __missing__(self, pmask: int) -> _Layout:
        self[pmask] = got = _Layout(pmask)
        return got


_LAYOUTS = _Layouts()
_BITS = tuple(1 << i for i in range(_NSLOTS))


class _Track(msgspec.Struct, array_like=True, gc=False):
    """A track's last sample as the encoder sees it, and as a tail keeps it."""

    kd: Any  # kind and direction as stored: a code, or [kind, direction]
    ssrc: Any
    packed: list  # mid, track_id, producer_id, producer_peer_id as stored (UUIDs as bytes)
    pmask: int  # known slots, and _QLD_BIT
    zmask: int  # a bit for each known slot (in slot order) whose residual was zero
    ts: int  # microseconds since the epoch (in a tail: since the tail's last sample)
    dt: int  # since the track's sample before, 0 for its first (in a tail: less ts_d)
    # for each known slot: a counter's or the reason's value; a float's code
    # (k / 10**e * 8 + e), or what is no code (the float is no k / 10**6, or no float)
    codes: list
    keep: list  # the deltas of the known slots that predict from them (_KEEPS_D)


class _Tail(msgspec.Struct, array_like=True, gc=False):
    ts_last: Any  # the last sample's time (microseconds)
    ts_d: Any  # the first sample's distance from its base's last
    cp: Any  # msgpack of the peer's last candidate pair, if any
    tracks: list[_Track]


_TAIL = msgspec.msgpack.Decoder(_Tail, ext_hook=_ext_hook)


def _key_spec(key: tuple) -> tuple:
    kind, direction, ssrc = key
    code = _KD.get((kind, direction)) if type(kind) is str and type(direction) is str else None
    return (code if code is not None else [_raw(kind), _raw(direction)], _raw(ssrc))


def _key_of(spec: list) -> tuple:
    kd, ssrc = spec
    if type(kd) is int:
        kind, direction = _KD_NAMES[kd]
    else:
        kind, direction = kd
    return (kind, direction, ssrc)


def _tail_bytes(ts_last: int | None, ts_d: int, cp_blob: bytes | None, tracks: list) -> bytes:
    for t in tracks:  # (the tracks are this row's, and done with)
        t.ts -= ts_last
        t.dt -= ts_d
    tail = _Tail(ts_last, ts_d, cp_blob, tracks)
    try:
        return _ENC.encode(tail)
    except OverflowError:  # an int beyond 64 bits
        return _ENC.encode(_deep_raw([ts_last, ts_d, cp_blob, [list(astuple(t)) for t in tracks]]))


def _tail_state(tail: PeerTail) -> tuple[int, int, bytes | None, dict[tuple, tuple]]:
    """The tail's last time, first distance, candidate pair, and per track (its _Track,
    the msgpack of its identity strings, the deltas of its known slots)."""
    state = _TAIL.decode(tail.state)
    ts_last, ts_d = state.ts_last, state.ts_d
    tracks: dict = {}
    layouts = _LAYOUTS
    for t in state.tracks:
        t.ts += ts_last
        t.dt += ts_d
        kd = t.kd
        kind_direction = _KD_NAMES.get(kd) if type(kd) is int else kd
        tracks[(*kind_direction, t.ssrc)] = (  # type: ignore[misc]
            t,
            _blob(list(map(_unpack_id, t.packed))),
            layouts[t.pmask].spread_keep([*t.keep, 0]),
        )
    return ts_last, ts_d, state.cp, tracks
