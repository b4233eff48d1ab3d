"""Decoding, the rows: each track's samples as a chain over the rows, built positionally.

Part of the stats codec: see ``__init__``."""

from __future__ import annotations

from collections.abc import Iterable
from functools import reduce
from itertools import repeat
from operator import add, and_, call, eq, getitem, invert, mul, sub

from rtk_sessions.ingest.events import CandidatePair, StatsSample
from rtk_sessions.store.stats_codec.columns import (
    _QLD,
    _SPREADS,
    _ZPAD,
    _ZPADS,
    _counter,
    _Datetimes,
    _float,
    _reason,
)
from rtk_sessions.store.stats_codec.encode import _cp_apply
from rtk_sessions.store.stats_codec.schema import (
    _DEC,
    _DIV,
    _DUR,
    _DUR_OF,
    _ENUM,
    _EQ,
    _F_BASE,
    _F_EXTRAS,
    _F_MS,
    _F_NOSESSION,
    _F_UUID,
    _FDEC,
    _FLT,
    _FPS,
    _FPS_SLOT,
    _I64,
    _INT,
    _MODES,
    _NO_CP,
    _NO_STRS,
    _NONES,
    _NSLOTS,
    _POW10,
    _QLD_BIT,
    _QLD_SLOTS,
    _RATIO,
    _RATIO_REF,
    _REASON_SLOT,
    _SLOT_OF_FIELD,
    _SLOTMASK,
    _TSR,
    _U32,
    _X_CPS,
    _X_GROUPS,
    _X_LITS,
    _X_MASKS,
    _X_ORDER,
    _X_RESETS,
    _X_STRS,
    _ZEROS,
    _unpack_id,
)
from rtk_sessions.store.stats_codec.tail import _key_of


class _Chain:
    """Consecutive samples of one track with one presence mask, each encoded against
    the one before (the first against ``init``: the sample before it, if any)."""

    __slots__ = ("key", "pmask", "zmask", "full", "cnt", "strs", "strs_at", "init", "lit",
                 "bodies", "poss", "zms", "ts", "ends", "out", "vals", "ds", "codes",
                 "dts")  # fmt: skip

    def __init__(self, key, pmask, zmask, strs, init) -> None:  # noqa: ANN001
        self.key, self.zmask = key, zmask
        self.set_pmask(pmask)
        self.strs = strs  # the identity strings now
        self.strs_at: list = [(0, strs)]  # (from sample, strings)
        self.init = init  # (tc, ds, ts, dt) of the sample before, or None
        self.lit = 0  # the slots with residuals that are no ints
        # a sample: its row's body and where its residuals start there, its zero mask,
        # ts and row (lists of what is there anyway: no objects for the GC to count)
        self.bodies: list[list] = []
        self.poss: list[int] = []
        self.zms: list[int] = []
        self.ts: list[int] = []
        self.ends: list[_RowEnd] | None = []
        self.out: list | None = None  # the samples, once decoded

    def set_pmask(self, pmask: int) -> None:
        self.pmask = pmask
        self.full = _SPREADS[pmask & _SLOTMASK].full
        self.cnt = (self.full & ~self.zmask).bit_count()  # nonzero residuals a sample

    def set_strs(self, strs: tuple) -> None:
        self.strs = strs
        if self.strs_at[-1][0] == len(self.poss):
            self.strs_at[-1] = (len(self.poss), strs)
        else:
            self.strs_at.append((len(self.poss), strs))

    def going_on(self, end: _RowEnd) -> _Chain:
        """The chain to go on with from this one's last sample in the row ``end``."""
        ends = self.ends
        if self.out is None and ends[-1] is end:  # type: ignore[index]
            return self
        return self.following(len(ends) - 1 - ends[::-1].index(end))  # type: ignore[index]

    def following(self, idx: int, pmask_xor: int = 0, reset: int = 0) -> _Chain:
        """A new chain that goes on from this one's sample ``idx`` (the slots in ``reset``
        start over)."""
        self.decode(_Datetimes())
        tc: list = [None] * _NSLOTS
        for i in range(_NSLOTS):
            if reset >> i & 1:
                continue
            if self.codes[i] is not None:  # a float
                codes = self.codes[i]
                if type(codes) is tuple:  # (k / 10**e, e)
                    tc[i] = codes[0][idx] * 8 + codes[1]
                else:
                    tc[i] = codes[idx]
            elif self.vals[i] is not None:
                tc[i] = self.vals[i][idx]
        ds = [0 if c is None else c[idx] for c in self.ds]
        init = (tc, ds, self.ts[idx], self.dts[idx])
        strs = next(s for at, s in reversed(self.strs_at) if at <= idx)
        return _Chain(self.key, self.pmask ^ pmask_xor, self.zms[idx], strs, init)

    def decode(self, datetimes: _Datetimes) -> None:
        if self.out is not None:
            return
        zms, ts, poss = self.zms, self.ts, self.poss
        n = len(poss)
        pm = self.pmask
        stops = map(add, poss, map(int.bit_count, map(and_, map(invert, zms), repeat(self.full))))
        res = map(getitem, self.bodies, map(slice, poss, stops))
        init_tc, init_ds, init_ts, init_dt = self.init or (_NONES, _ZEROS, None, 0)
        dts = list(map(sub, ts, [ts[0] if init_ts is None else init_ts, *ts[:-1]])) if n else []
        pdts = [init_dt, *dts[:-1]]
        vals: list = [None] * _NSLOTS
        ds: list = [None] * _NSLOTS
        codes: list = [None] * _NSLOTS
        fks = None
        spread = _SPREADS[pm & _SLOTMASK]
        if spread.slots and n:
            spreads = map(call, map(spread.__getitem__, zms), map(add, res, repeat(_ZPAD)))
            columns = list(zip(*spreads, strict=True))
            zero = reduce(and_, zms)  # slots whose residual is 0 all along
            lits = self.lit
            for j, i in enumerate(spread.slots):
                mode = _MODES[i]
                col = columns[j]
                pv = init_tc[i]
                lit = lits >> i & 1
                if mode == _FLT and zero >> j & 1 and type(pv) is int:
                    e = pv & 7
                    vals[i] = [(pv >> 3) / _DIV[e]] * n
                    codes[i] = ([pv >> 3] * n, e)
                    if i == _FPS_SLOT:
                        fks = [(pv >> 3) * _POW10[e]] * n
                elif mode == _FLT or mode == _DUR:
                    predus = None
                    if mode == _DUR and vals[_REASON_SLOT] is not None:
                        limited = map(eq, vals[_REASON_SLOT], repeat(_DUR_OF[i]))
                        predus = list(map(mul, dts, limited))
                    vals[i], codes[i], k = _float(col, pv, lit, i == _FPS_SLOT, predus)
                    if i == _FPS_SLOT:
                        fks = k
                elif mode == _ENUM:
                    vals[i] = _reason(col, pv, lit)
                elif mode == _INT and zero >> j & 1:
                    vals[i] = [pv if type(pv) is int else 0] * n
                    ds[i] = [0] * n
                else:
                    ref = ref_pd = None
                    if mode == _RATIO:
                        r = _RATIO_REF[i]
                        ref, ref_pd = ds[r], init_ds[r]
                        if ref is None:
                            ref, ref_pd = [0] * n, 0
                    elif mode == _EQ:
                        ref = ds[_TSR] if pm >> _TSR & 1 else ds[_FDEC]
                    vals[i], ds[i] = _counter(
                        mode, col, pv, init_ds[i], dts, pdts, ref, ref_pd,
                        (fks or [None] * n) if mode == _FPS else None, lit,
                    )  # fmt: skip
        self.vals, self.ds, self.codes, self.dts = vals, ds, codes, dts
        if not n:
            self.out = []
            return
        nones = repeat(None)
        kind, direction, ssrc = self.key
        if len(self.strs_at) == 1:
            mid, tid, pid, ppid = (repeat(s) for s in self.strs_at[0][1])
        else:
            per: list = []
            ends = [at for at, _ in self.strs_at[1:]] + [n]
            for (at, s), until in zip(self.strs_at, ends, strict=True):
                per += [s] * (until - at)
            mid, tid, pid, ppid = zip(*per, strict=True)
        cols: list = [
            map(datetimes.__getitem__, ts), repeat(kind), repeat(direction), repeat(ssrc),
            mid, tid, pid, ppid,
        ]  # fmt: skip
        for f in range(8, 32):
            if f == 30:
                if pm & _QLD_BIT:
                    subs = (nones if vals[s] is None else vals[s] for s in _QLD_SLOTS)
                    cols.append(map(_QLD, *subs))
                else:
                    cols.append(nones)
            else:
                col = vals[_SLOT_OF_FIELD[f]]
                cols.append(nones if col is None else col)
        self.out = list(map(StatsSample, *cols))


class _RowEnd:
    """What a later row may refer to: the row's tracks (their chains), its last sample's
    time, its first sample's distance from its base, the last candidate pair."""

    __slots__ = ("tracks", "ts_last", "ts_d", "cp")


def decode_rows(rows: Iterable[tuple[int, bytes]]) -> list[StatsSample]:
    """The samples of one peer's rows, given as (h1, data) with every row after its
    base (a row whose base is not in the input raises ValueError). Samples come out in
    row order, then in each row's order."""
    return _decode(rows, [])


def decode_each_row(rows: Iterable[tuple[int, bytes]]) -> list[list[StatsSample]]:
    """The samples of each of the rows (as ``decode_rows`` takes them), a list a row."""
    bounds: list[int] = []
    flat = _decode(rows, bounds)
    return [flat[start:end] for start, end in zip([0, *bounds], bounds, strict=False)]


def _decode(rows: Iterable[tuple[int, bytes]], bounds: list[int]) -> list[StatsSample]:
    """decode_rows, noting in ``bounds`` where each row's samples end."""
    ends: dict[int, _RowEnd] = {}
    seq: list[_Chain] = []  # the chain of every sample, in output order
    cps_at: list = []  # (output index, candidate pair values)
    chains: list[_Chain] = []
    decode = _DEC.decode
    unpack_i64 = _I64.unpack_from
    for h1, data in rows:
        flags = data[0]
        off = 9
        bend = None
        if flags & _F_BASE:
            (base_h1,) = unpack_i64(data, 9)
            bend = ends.get(base_h1)
            if bend is None:
                raise ValueError(f"stats row {h1}: its base row {base_h1} is not given")
            off = 17
        if flags & _F_UUID:
            off += 16
        elif not flags & _F_NOSESSION:
            off += 4 + _U32.unpack_from(data, off)[0]
        body = decode(data[off:])
        end = _RowEnd()
        if flags & _F_EXTRAS:
            extras = body[1]
            pos = 3
        else:
            extras = None
            pos = 2
        zxs = body[pos - 1]

        # the row's tracks
        specs = extras.get(_X_GROUPS) if extras else None
        if specs is not None:
            groups = []
            for spec in specs:
                if type(spec) is not int:
                    ch = _Chain(_key_of(spec), 0, 0, _NO_STRS, None)
                elif bend is None:
                    raise ValueError(f"stats row {h1}: refers to a track of no base")
                else:
                    ch = bend.tracks[spec].going_on(bend)
                if not ch.poss:
                    chains.append(ch)
                groups.append(ch)
        elif bend is None:
            groups = []
        else:
            groups = bend.tracks
            for ch in groups:
                if ch.out is not None or ch.ends[-1] is not bend:  # type: ignore[index]
                    groups = [ch.going_on(bend) for ch in groups]
                    chains += (ch for ch in groups if not ch.poss)
                    break

        # timestamps
        ts_item = body[0]
        unit = 1000 if flags & _F_MS else 1
        if bend is not None:
            t, first_d = bend.ts_last, bend.ts_d
        else:
            t, first_d = 0, 0
        steps = None
        if type(ts_item) is list:
            first_d += ts_item[0] * unit
            steps = ts_item
        elif ts_item is not None:
            first_d += ts_item * unit
        t += first_d

        if type(zxs) is int:
            if zxs:
                raise ValueError(f"stats row {h1}: a bad zero mask")
            nsamples = len(groups)
        else:
            nsamples = len(zxs)
        if extras:
            order, masks, strs_ch, resets = (
                extras.get(x) for x in (_X_ORDER, _X_MASKS, _X_STRS, _X_RESETS)
            )  # fmt: skip
        else:
            order = masks = strs_ch = resets = None
        if (order is not None and len(order) != nsamples) or (
            steps is not None and len(steps) != nsamples
        ):
            raise ValueError(f"stats row {h1}: inconsistent sample counts")
        lits = extras.get(_X_LITS, 0) if extras else 0
        if (
            order is None and masks is None and strs_ch is None and resets is None
            and steps is None and nsamples == len(groups)
        ):  # fmt: skip
            # the usual row: a sample a track, in the tracks' order
            for ch, zx in (
                zip(groups, zxs, strict=True)
                if type(zxs) is list
                else zip(groups, _ZPADS, strict=False)
            ):
                if zx:
                    ch.zmask ^= zx
                    ch.cnt = (ch.full & ~ch.zmask).bit_count()
                ch.bodies.append(body)
                ch.poss.append(pos)
                ch.zms.append(ch.zmask)
                ch.ts.append(t)
                ch.ends.append(end)  # type: ignore[union-attr]
                ch.lit |= lits
                pos += ch.cnt
            seq += groups
        else:
            groups = list(groups)
            mask_at = dict(zip(masks[::2], masks[1::2], strict=True)) if masks else {}
            reset_at = dict(zip(resets[::2], resets[1::2], strict=True)) if resets else {}
            strs_at: dict = {}
            if strs_ch:
                for j in range(0, len(strs_ch), 2):
                    strs_at.setdefault(strs_ch[j] >> 2, []).append((strs_ch[j] & 3, strs_ch[j + 1]))
            ngroups = len(groups)
            for n in range(nsamples):
                g = order[n] if order is not None else n % ngroups
                ch = groups[g]
                if n in mask_at or n in reset_at:
                    if ch.poss:
                        ch = groups[g] = ch.following(
                            len(ch.poss) - 1, mask_at.get(n, 0), reset_at.get(n, 0)
                        )
                        chains.append(ch)
                    else:
                        ch.set_pmask(ch.pmask ^ mask_at.get(n, 0))
                        if ch.init is not None and n in reset_at:
                            tc = list(ch.init[0])
                            for i in range(_NSLOTS):
                                if reset_at[n] >> i & 1:
                                    tc[i] = None
                            ch.init = (tc, *ch.init[1:])
                if n in strs_at:
                    strs = list(ch.strs)
                    for f, v in strs_at[n]:
                        strs[f] = _unpack_id(v)
                    ch.set_strs(tuple(strs))
                if steps is not None and n:
                    t += steps[n] * unit
                if type(zxs) is list and zxs[n]:
                    ch.zmask ^= zxs[n]
                    ch.cnt = (ch.full & ~ch.zmask).bit_count()
                ch.bodies.append(body)
                ch.poss.append(pos)
                ch.zms.append(ch.zmask)
                ch.ts.append(t)
                ch.ends.append(end)  # type: ignore[union-attr]
                ch.lit |= lits
                pos += ch.cnt
                seq.append(ch)
        if pos != len(body):
            raise ValueError(f"stats row {h1}: {len(body) - pos} residuals left over")

        # candidate pairs
        cp = bend.cp if bend is not None else None
        if extras and (cps := extras.get(_X_CPS)):
            out_base = len(seq) - nsamples
            for j in range(0, len(cps), 2):
                enc = cps[j + 1]
                ref = cp if cp is not None else _NO_CP
                cp = ref if type(enc) is int else _cp_apply(ref, enc)
                cps_at.append((out_base + cps[j], cp))
        end.cp = cp
        if nsamples:
            end.tracks, end.ts_last, end.ts_d = groups, t, first_d
        else:
            end.tracks, end.ts_last, end.ts_d = [], None, 0
        ends[h1] = end
        bounds.append(len(seq))
    datetimes = _Datetimes()
    for ch in chains:
        ch.decode(datetimes)
        ch.ends = None  # no cycles (chain -> row -> chain) left for the GC
    its = {ch: iter(ch.out) for ch in chains}  # type: ignore[arg-type]
    out = list(map(next, map(its.__getitem__, seq)))
    for i, cpt in cps_at:
        out[i].candidate_pair = CandidatePair(*cpt)
    return out
