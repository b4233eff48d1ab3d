"""Encoding one event's samples into a row (against its base's tail).

Part of the stats codec: see ``__init__``."""

from __future__ import annotations

from itertools import compress, repeat
from operator import is_not, mod, sub

from msgspec.structs import astuple

from rtk_sessions.ingest.events import CandidatePair, QualityLimitationDurations, StatsSample
from rtk_sessions.store.stats_codec.schema import (
    _CP_FLT,
    _CP_INT,
    _DEC,
    _ENC,
    _F_BASE,
    _F_EXTRAS,
    _F_MS,
    _F_NOSESSION,
    _F_UUID,
    _I64,
    _MAX,
    _MIN,
    _NO_CP,
    _NO_CP_BLOB,
    _NO_QLD,
    _NO_STRS,
    _PREFIX,
    _QLD_BIT,
    _U32,
    _X_CPS,
    _X_GROUPS,
    _X_INT,
    _X_LITS,
    _X_MASKS,
    _X_ORDER,
    _X_RESETS,
    _X_STRS,
    _blob,
    _ext,
    _fcode,
    _fdelta,
    _lit,
    _pack_id,
    _raw,
    _same,
    _scaled,
    _slot_values,
    _ts_us,
    _unlit,
)
from rtk_sessions.store.stats_codec.tail import (
    _BITS,
    _LAYOUTS,
    PeerTail,
    _key_spec,
    _tail_bytes,
    _tail_state,
    _Track,
)


def _cp_sparse(cp: tuple, ref: tuple) -> list:
    """The fields of ``cp`` that are not the same as in ``ref``, as [index, code, ...]."""
    out: list = []
    for i, v in enumerate(cp):
        pv = ref[i]
        if _same(v, pv):
            continue
        if i in _CP_INT and type(v) is int:
            r = v - pv if type(pv) is int else v
            out += (i, r if _MIN <= r <= _MAX else _ext(_X_INT, v))  # a literal: absolute
        elif i in _CP_FLT and (k := _scaled(v)) is not None:
            pk = _scaled(pv)
            out += (i, _fcode(k - pk if pk is not None else k))
        elif i in _CP_INT or i in _CP_FLT:
            out += (i, None if v is None else _lit(v))
        else:
            out += (i, _raw(v))
    return out


def _cp_apply(ref: tuple, pairs: list) -> tuple:
    vals = list(ref)
    for j in range(0, len(pairs), 2):
        i, c = pairs[j], pairs[j + 1]
        if type(c) is int and i in _CP_INT:
            pv = vals[i]
            vals[i] = pv + c if type(pv) is int else c
        elif type(c) is int and i in _CP_FLT:
            pk = _scaled(vals[i])
            vals[i] = (_fdelta(c) + (pk if pk is not None else 0)) / 1e6
        else:
            vals[i] = _unlit(c)
    return tuple(vals)


def encode_event(
    samples: list[StatsSample], *, session_id: str | None, h2: int, base: PeerTail | None, h1: int
) -> tuple[bytes, PeerTail]:
    """The row data of one stats event with key h1: the check hash h2, the event's
    session_id, the base row's h1 (when ``base`` is given and any track matches), and
    the samples. A sample whose track (kind, direction, ssrc) has a sample in ``base`` is
    encoded against it; the 2nd.. samples of a track within the same event against the
    previous one of that event. Returns the data and the tail for the next row."""
    rows = list(map(astuple, samples))
    keys = [r[1:4] for r in rows]
    ts_last: int | None = None
    ts_d = 0
    cp_ref: tuple | None = None
    cp_blob: bytes | None = None
    based: dict[tuple, tuple] = {}
    if base is not None:
        b_ts_last, b_ts_d, b_cp_blob, b_tracks = _tail_state(base)
        if any(k in b_tracks for k in keys):
            ts_last, ts_d, cp_blob, based = b_ts_last, b_ts_d, b_cp_blob, b_tracks
            if cp_blob is not None:
                cp_ref = tuple(_DEC.decode(cp_blob))
        else:
            base = None
    extras: dict = {}

    # the row's tracks, and which sample is of which
    group_of: dict = {}
    order = []
    for k in keys:
        g = group_of.get(k)
        if g is None:
            g = group_of[k] = len(group_of)
        order.append(g)
    group_keys = list(group_of)
    if group_keys != list(based):
        index_in_base = {k: i for i, k in enumerate(based)}
        extras[_X_GROUPS] = [
            index_in_base[k] if k in index_in_base else _key_spec(k) for k in group_keys
        ]
    ngroups = len(group_keys)
    if ngroups and order != list(range(ngroups)) * (len(order) // ngroups):
        extras[_X_ORDER] = order

    # timestamps
    us: list[int] = []
    last_ts: object = None
    last_us = 0
    for r in rows:
        if r[0] is not last_ts and (r[0] != last_ts or type(r[0]) is not type(last_ts)):
            last_ts, last_us = r[0], _ts_us(r[0])
        us.append(last_us)
    ts_item: object = None
    ts_ms = False
    if us:
        first_d = us[0] - ts_last if ts_last is not None else us[0]
        codes = [first_d - ts_d, *map(sub, us[1:], us)]
        ts_ms = not any(map(mod, codes, repeat(1000)))
        if ts_ms:
            codes = [c // 1000 for c in codes]
        ts_item = codes if any(codes[1:]) else codes[0]
        ts_last, ts_d = us[-1], first_d

    # the samples
    states: dict[tuple, tuple] = {}
    masks: list = []
    strs_changes: list = []
    cps: list = []
    zxs: list = []
    values: list = []
    lits = 0  # the slots with a residual that is no int
    resets: list = []  # [sample, slots that start over from an absolute code, ...]
    for n, row in enumerate(rows):
        key = keys[n]
        t = us[n]
        prev = states.get(key) or based.get(key)
        qld = row[30]
        if qld is None:
            sv = _slot_values(row + _NO_QLD)
            pm = 0
        elif isinstance(qld, QualityLimitationDurations):  # or the strict kind ingest checks
            sv = _slot_values(row + astuple(qld))
            pm = _QLD_BIT
        else:
            raise TypeError("stats codec: quality_limitation_durations must be the Struct")
        if prev is not None:
            prev, pstrs_enc, pds = prev
        if prev is not None and (prev.pmask & _QLD_BIT) == pm:
            lay = _LAYOUTS[prev.pmask]  # known slots as before? (the usual case)
            vals = lay.take(sv)
            if None not in vals and sv.count(None) == lay.nnone:
                pm = prev.pmask
            else:
                pm |= sum(compress(_BITS, map(is_not, sv, repeat(None))))
                lay = _LAYOUTS[pm]
                vals = lay.take(sv)
        else:
            pm |= sum(compress(_BITS, map(is_not, sv, repeat(None))))
            lay = _LAYOUTS[pm]
            vals = lay.take(sv)
        if prev is None:
            pcodes, pds = lay.nones, lay.zeros
            pzm = ppm = dt = pdt = 0
            pstrs_enc = b""
            kd, ssrc = _key_spec(key)
        else:
            pzm, ppm, kd, ssrc = prev.zmask, prev.pmask, prev.kd, prev.ssrc
            if ppm == pm:
                pcodes = prev.codes
            else:  # other slots known: line the previous ones up with these
                was = _LAYOUTS[ppm]
                pcodes = lay.take(was.spread([*prev.codes, None]))
                pds = lay.take(was.spread([*pds, 0]))
            dt = t - prev.ts
            pdt = prev.dt
        codes, ds, rec, zm, slot_lits, reset = lay.encode(vals, pcodes, pds, dt, pdt, row[29])
        lits |= slot_lits
        if pm != ppm:
            masks += (n, pm ^ ppm)
        if reset:
            resets += (n, reset)
        strs = row[4:8]
        strs_enc = _blob(strs)
        if strs_enc != pstrs_enc:
            packed = [_pack_id(s) for s in strs]
            pstrs = _NO_STRS if prev is None else tuple(_DEC.decode(pstrs_enc))
            for f in range(4):
                if not _same(strs[f], pstrs[f]):
                    strs_changes += (n * 4 + f, packed[f])
        else:
            packed = prev.packed  # type: ignore[union-attr]
        cp = row[32]
        if cp is not None:
            if not isinstance(cp, CandidatePair):
                raise TypeError("stats codec: candidate_pair must be the Struct")
            cpt = astuple(cp)
            blob = _blob(cpt)
            if blob == cp_blob or (cp_blob is None and blob == _NO_CP_BLOB):
                cps += (n, 0)
            else:
                cps += (n, _cp_sparse(cpt, cp_ref if cp_ref is not None else _NO_CP))
            cp_ref, cp_blob = cpt, blob
        zxs.append(zm ^ pzm)
        values += rec
        states[key] = (
            _Track(kd, ssrc, packed, pm, zm, t, dt, codes, lay.take_keep(ds)),
            strs_enc,
            ds,
        )

    if masks:
        extras[_X_MASKS] = masks
    if strs_changes:
        extras[_X_STRS] = strs_changes
    if cps:
        extras[_X_CPS] = cps
    if lits:
        extras[_X_LITS] = lits
    if resets:
        extras[_X_RESETS] = resets

    # the row
    flags = (_F_BASE if base is not None else 0) | (_F_MS if ts_ms else 0)
    parts = [b""]
    if base is not None:
        parts.append(_I64.pack(base.h1))
    if session_id is None:
        flags |= _F_NOSESSION
    elif type(session_id) is not str:
        raise TypeError("stats codec: session_id must be a str or None")
    elif type(packed_id := _pack_id(session_id)) is bytes:
        flags |= _F_UUID
        parts.append(packed_id)
    else:
        text = session_id.encode()
        parts += (_U32.pack(len(text)), text)
    body: list = [ts_item]
    if extras:
        flags |= _F_EXTRAS
        body.append(extras)
    body.append(0 if len(zxs) == ngroups and not any(zxs) else zxs)
    body += values
    parts[0] = _PREFIX.pack(flags, h2)
    parts.append(_ENC.encode(body))
    tail = _tail_bytes(ts_last, ts_d, cp_blob, [states[k][0] for k in group_keys])
    return b"".join(parts), PeerTail(h1, tail)
