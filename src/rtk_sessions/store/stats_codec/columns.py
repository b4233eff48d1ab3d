"""Decoding, the columns: a row's prefix and the per-slot undoing of residuals.

Part of the stats codec: see ``__init__``."""

from __future__ import annotations

from datetime import datetime, timedelta
from itertools import accumulate, compress, count, repeat
from operator import add, floordiv, is_not, mul, truediv

from rtk_sessions.ingest.events import QualityLimitationDurations
from rtk_sessions.store.stats_codec.schema import (
    _DIV,
    _EPOCH,
    _EQ,
    _F_BASE,
    _F_NOSESSION,
    _F_UUID,
    _FPS,
    _FPS_DIV,
    _FPS_ROUND,
    _I64,
    _INT,
    _INT_ONLY,
    _NSLOTS,
    _POW10,
    _PREFIX,
    _RATE,
    _RATIO,
    _REASON_OF,
    _U32,
    _unlit,
    _unpack_id,
)
from rtk_sessions.store.stats_codec.tail import _getter


def _prefix(data: bytes) -> tuple[int, int, int | None, str | None, int]:
    flags, h2 = _PREFIX.unpack_from(data, 0)
    off = 9
    base = None
    if flags & _F_BASE:
        (base,) = _I64.unpack_from(data, off)
        off += 8
    if flags & _F_NOSESSION:
        session = None
    elif flags & _F_UUID:
        session = _unpack_id(bytes(data[off : off + 16]))
        off += 16
    else:
        (n,) = _U32.unpack_from(data, off)
        session = bytes(data[off + 4 : off + 4 + n]).decode()
        off += 4 + n
    return flags, h2, base, session, off  # type: ignore[return-value]


def decode_row_check(data: bytes) -> tuple[int, str | None]:
    """(h2, session_id) of a row, without decoding its samples (cheap)."""
    _, h2, _, session, _ = _prefix(data)
    return h2, session


def row_base(data: bytes) -> int | None:
    """The h1 of the row a row is encoded against (its base), if any."""
    return _prefix(data)[2]


_ZPAD = [0]
_ZPADS = repeat(0)
_QLD = QualityLimitationDurations


class _Spread(dict):
    """zero mask -> a function spreading a record (its nonzero residuals, then a 0) over
    the known slots of one presence mask, in slot order."""

    def __init__(self, slots: tuple[int, ...]) -> None:
        super().__init__()
        self.slots = slots
        self.full = (1 << len(slots)) - 1  # a zero mask's bits

    def __missing__(self, zmask: int):  # noqa: ANN204
        zero = [zmask >> j & 1 for j in range(len(self.slots))]
        places = list(accumulate((1 - z for z in zero), initial=0))
        getter = _getter(tuple(places[-1] if z else places[j] for j, z in enumerate(zero)))
        self[zmask] = getter
        return getter


class _Spreads(dict):
    def __missing__(self, pmask: int) -> _Spread:
        self[pmask] = got = _Spread(tuple(i for i in range(_NSLOTS) if pmask >> i & 1))
        return got


_SPREADS = _Spreads()


class _Datetimes(dict):
    def __missing__(self, us: int) -> datetime:
        self[us] = when = _EPOCH + timedelta(microseconds=us)
        return when


def _counter(mode: int, col, pv, pd, dts, pdts, ref, ref_pd, fks, lit):  # noqa: ANN001, ANN202
    """A counter slot's values and deltas from its residuals: ``dts``/``pdts`` the time
    since the sample before and before that, ``ref`` the deltas of the slot it follows
    (``ref_pd`` the one before the first), ``fks`` the frames per second's k."""
    if lit and set(map(type, col)) != _INT_ONLY:
        return _counter_any(mode, col, pv, pd, dts, pdts, ref, ref_pd, fks)
    if type(pv) is not int:  # the first value stands on its own
        if not col:
            return [], []
        vals, ds = _counter(
            mode, col[1:], col[0], 0, dts[1:], pdts[1:], ref and ref[1:],
            ref[0] if ref else 0, fks and fks[1:], False,
        )  # fmt: skip
        return [col[0], *vals], [0, *ds]
    if mode == _INT:
        ds = col
    elif mode == _EQ:
        ds = list(map(add, col, ref)) if ref is not None else col
    elif mode == _FPS and None not in fks:
        preds = map(floordiv, map(add, map(mul, fks, dts), repeat(_FPS_ROUND)), repeat(_FPS_DIV))
        ds = list(map(add, col, preds))
    elif mode == _RATIO:
        ds = []
        append = ds.append
        for c, r, pr in zip(col, ref, [ref_pd, *ref[:-1]], strict=False):
            pd = c + ((pd * r + (pr >> 1)) // pr if pr > 0 else 0)
            append(pd)
    elif mode == _RATE:
        ds = []
        append = ds.append
        for c, dt, pdt in zip(col, dts, pdts, strict=False):
            pd = c + ((pd * dt + (pdt >> 1)) // pdt if pdt > 0 else pd)
            append(pd)
    else:
        return _counter_any(mode, col, pv, pd, dts, pdts, ref, ref_pd, fks)
    vals = list(accumulate(ds, initial=pv))
    del vals[0]
    return vals, ds


def _counter_any(mode: int, col, pv, pd, dts, pdts, ref, ref_pd, fks):  # noqa: ANN001, ANN202
    """_counter one residual at a time, literals and all."""
    vals = []
    ds = []
    for i, c in enumerate(col):
        d = 0
        if type(c) is not int:
            pv = _unlit(c)
        elif type(pv) is int:
            if mode == _INT:
                d = c
            elif mode == _RATIO:
                pr = ref_pd if i == 0 else ref[i - 1]
                d = c + ((pd * ref[i] + pr // 2) // pr if pr > 0 else 0)
            elif mode == _EQ:
                d = c + (ref[i] if ref is not None else 0)
            elif mode == _FPS and fks[i] is not None:
                d = c + (fks[i] * dts[i] + _FPS_ROUND) // _FPS_DIV
            else:  # _RATE, or _FPS without frames per second
                pdt = pdts[i]
                d = c + ((pd * dts[i] + pdt // 2) // pdt if pdt > 0 else pd)
            pv += d
        else:
            pv = c
        pd = d
        vals.append(pv)
        ds.append(d)
    return vals, ds


def _float(col, pc, lit, want_k, predus=None):  # noqa: ANN001, ANN202
    """A float slot's values, codes (or (k / 10**e list, e)) and, if wanted, k, from its
    residuals, ``pc`` the code before, ``predus`` the predicted growths in microseconds."""
    if lit:
        odd = list(compress(count(), map(is_not, map(type, col), repeat(int))))
        if odd:
            return _float_parts(col, pc, odd, want_k, predus)
    if type(pc) is not int:  # the first value stands on its own
        if not col:
            return [], ((), 0), []
        pc = col[0]
        col = col[1:]
        if predus is not None:
            predus = predus[1:]
        first = True
    else:
        first = False
    e = pc & 7
    if predus is not None:
        col = map(add, col, map(floordiv, predus, repeat(_POW10[e])))
    units = list(accumulate(col, initial=pc >> 3))
    if not first:
        del units[0]
    vals = list(map(truediv, units, repeat(_DIV[e])))
    ks = list(map(mul, units, repeat(_POW10[e]))) if want_k else None
    return vals, (units, e), ks


def _float_parts(col, pc, odd, want_k, predus):  # noqa: ANN001, ANN202
    """_float of a column with residuals that are no ints (at ``odd``), run by run."""
    vals: list = []
    codes: list = []
    ks: list = []
    start = 0
    for stop in [*odd, len(col)]:
        if stop > start:
            part = predus[start:stop] if predus is not None else None
            v, (units, e), k = _float(col[start:stop], pc, 0, True, part)
            vals += v
            codes += map(add, map(mul, units, repeat(8)), repeat(e))
            ks += k
            pc = codes[-1]
        if stop == len(col):
            break
        pc = col[stop]  # what is no code: the slot starts over
        vals.append(_unlit(pc))
        ks.append(None)
        codes.append(pc)
        start = stop + 1
    return vals, codes, (ks if want_k else None)


def _reason(col, pv, lit):  # noqa: ANN001, ANN202
    if not any(col) and (not lit or set(map(type, col)) == _INT_ONLY):
        return [pv] * len(col)
    vals = []
    for c in col:
        if type(c) is not int:
            pv = _unlit(c)
        elif c:
            if not 0 < c < len(_REASON_OF):
                raise ValueError(f"stats codec: bad quality-limitation reason code {c}")
            pv = _REASON_OF[c]
        vals.append(pv)
    return vals
