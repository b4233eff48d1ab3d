"""The schema of the encoding: slots, their modes, codes, literals and hashes.

Part of the stats codec: see ``__init__``."""

from __future__ import annotations

import struct
from datetime import UTC, datetime, timedelta
from hashlib import blake2b
from operator import itemgetter

import msgspec
from msgspec.msgpack import Ext

from rtk_sessions.ingest.events import CandidatePair, QualityLimitationDurations, StatsSample

_SAMPLE_FIELDS = (
    "ts", "kind", "direction", "ssrc", "mid", "track_id", "producer_id", "producer_peer_id",
    "packets_sent", "packets_received", "bytes_sent", "bytes_received", "packets_lost",
    "jitter", "round_trip_time", "concealment_events", "total_samples_received",
    "frames_encoded", "frames_decoded", "frames_dropped", "frame_width", "frame_height",
    "frames_per_second", "jitter_buffer_delay", "jitter_buffer_emitted_count",
    "key_frames_encoded", "key_frames_decoded", "pli_count", "fir_count",
    "quality_limitation_reason", "quality_limitation_durations",
    "quality_limitation_resolution_changes", "candidate_pair",
)  # fmt: skip
_QLD_FIELDS = ("cpu", "bandwidth", "none", "other")
if (
    StatsSample.__struct_fields__ != _SAMPLE_FIELDS
    or QualityLimitationDurations.__struct_fields__ != _QLD_FIELDS
):  # pragma: no cover - a schema change must come with a new version of the codec
    raise ImportError("stats_codec: StatsSample's fields changed; the codec must follow")

# How a slot's residual is made. Counter modes (<= _EQ) keep the slot's delta.
_INT, _RATE, _RATIO, _FPS, _EQ, _FLT, _DUR, _ENUM = range(8)

# (field, mode) by slot, in the order they are encoded (what a prediction uses comes
# first); a slot's bit in presence masks is its index. Zero masks have a bit per known
# slot, in this order: slots whose residual is now zero, now not, come first, so that
# the XOR of two zero masks is a small int.
_SLOTS: tuple[tuple[str, int], ...] = (
    ("packets_lost", _INT),  # 0
    ("pli_count", _INT),
    ("fir_count", _INT),
    ("key_frames_encoded", _RATE),
    ("key_frames_decoded", _RATE),
    ("frames_dropped", _INT),  # 5
    ("concealment_events", _INT),
    ("packets_sent", _RATE),
    ("packets_received", _RATE),
    ("frames_per_second", _FLT),
    ("frames_encoded", _FPS),  # 10
    ("frames_decoded", _FPS),
    ("quality_limitation_reason", _ENUM),
    ("qld.bandwidth", _DUR),
    ("qld.none", _DUR),
    ("qld.cpu", _DUR),  # 15
    ("qld.other", _DUR),
    ("bytes_received", _RATIO),
    ("bytes_sent", _RATIO),
    ("total_samples_received", _RATE),
    ("jitter_buffer_emitted_count", _EQ),  # 20
    ("jitter", _FLT),
    ("round_trip_time", _FLT),
    ("jitter_buffer_delay", _FLT),
    ("frame_width", _INT),
    ("frame_height", _INT),  # 25
    ("quality_limitation_resolution_changes", _INT),
)
_NSLOTS = len(_SLOTS)
_MODES = tuple(mode for _, mode in _SLOTS)
_SLOTMASK = (1 << _NSLOTS) - 1
_QLD_BIT = 1 << _NSLOTS  # the presence bit of quality_limitation_durations itself
_QLD_SLOTS = (15, 13, 14, 16)  # cpu, bandwidth, none, other
_FPS_SLOT = 9
_REASON_SLOT = 12
_RATIO_REF = {17: 8, 18: 7}  # bytes follow packets
_TSR, _FDEC = 19, 11  # what the emitted count follows: samples (audio), else frames decoded
_DUR_OF = {13: "bandwidth", 14: "none", 15: "cpu", 16: "other"}  # grows while the reason
_KEEPS_D = frozenset(i for i, m in enumerate(_MODES) if m in (_RATE, _RATIO, _FPS))
_PLAN = tuple((i, _MODES[i], 1 << i, _RATIO_REF.get(i) or _DUR_OF.get(i)) for i in range(_NSLOTS))

# Where each slot's value is in astuple(sample) + astuple(qld).
_slot_values = itemgetter(
    *(
        _SAMPLE_FIELDS.index(name) if not name.startswith("qld.")
        else len(_SAMPLE_FIELDS) + _QLD_FIELDS.index(name[4:])
        for name, _ in _SLOTS
    )
)  # fmt: skip
_SLOT_OF_FIELD = {_SAMPLE_FIELDS.index(n): i for i, (n, _) in enumerate(_SLOTS) if "." not in n}
_NO_QLD = (None, None, None, None)
_NO_STRS = (None, None, None, None)
_NONES = (None,) * _NSLOTS
_ZEROS = (0,) * _NSLOTS

_KINDS = ("audio", "video", "screenshare_audio", "screenshare_video")
_DIRECTIONS = ("producer", "consumer")
_KD = {(k, d): i * 2 + j for i, k in enumerate(_KINDS) for j, d in enumerate(_DIRECTIONS)}
_KD_NAMES = {code: key for key, code in _KD.items()}
_REASONS = ("none", "cpu", "bandwidth", "other")
_REASON_CODE = {name: i + 1 for i, name in enumerate(_REASONS)}
_REASON_OF = (None, *_REASONS)

_CP_FIELDS = CandidatePair.__struct_fields__
_CP_INT = frozenset(
    i for i, f in enumerate(_CP_FIELDS)
    if f.endswith(("_port", "bytes_sent", "bytes_received", "bytes_discarded_on_send",
                   "packets_sent", "packets_received", "packets_discarded_on_send"))
)  # fmt: skip
_CP_FLT = frozenset(
    i for i, f in enumerate(_CP_FIELDS)
    if f.endswith(("_bitrate", "_round_trip_time", "_timestamp"))
)  # fmt: skip
_NO_CP = (None,) * len(_CP_FIELDS)

# --------------------------------------------------------------------------- numbers

_MIN, _MAX = -(1 << 63), (1 << 64) - 1  # what a msgpack int holds
_FLT_MAX = 9e9  # a float x with |x| < this is k / 10**6 for |k| < 2**53, if at all
_POW10 = tuple(10**e for e in range(7))
_DIV = tuple(float(10 ** (6 - e)) for e in range(7))  # k / 10**6 == (k / 10**e) / _DIV[e]
_POW = (1, 100, 1_000, 100_000)  # the decimal zeros a candidate pair's float code folds in
_FPS_ROUND, _FPS_DIV = 500_000_000_000, 1_000_000_000_000  # frames = k * us / 10**12
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)
_INT_ONLY = {int}
# msgpack extensions: an int where ints are plain values (beyond 64 bits), an int
# literal where a plain int is a residual
_X_BIGINT, _X_INT = 1, 2


class _Lit:
    """An int stored as it is where a plain int is a residual."""

    __slots__ = ("v",)

    def __init__(self, v: object) -> None:
        self.v = v


def _ext_hook(code: int, data: memoryview) -> object:
    v = int.from_bytes(data, "big", signed=True)
    if code == _X_BIGINT:
        return v
    if code == _X_INT:
        return _Lit(v)
    raise ValueError(f"stats codec: unknown msgpack extension {code}")


def _ext(code: int, v: int) -> Ext:
    return Ext(code, v.to_bytes((v.bit_length() + 8) // 8, "big", signed=True))


def _enc_hook(v: object) -> Ext:
    if type(v) is _Lit:
        return _ext(_X_INT, v.v)  # type: ignore[arg-type]
    raise TypeError(f"stats codec: cannot store a {type(v).__name__} ({v!r})")


def _raw(v: object) -> object:
    """``v`` where a plain msgpack value is unambiguous (an int beyond 64 bits as an Ext)."""
    t = type(v)
    if t is int:
        return v if _MIN <= v <= _MAX else _ext(_X_BIGINT, v)  # type: ignore[operator,arg-type]
    if v is None or t is str or t is float or t is bool:
        return v
    raise TypeError(f"stats codec: cannot store a {t.__name__} ({v!r})")


def _lit(v: object) -> object:
    """``v`` where a plain int would be a residual: any int as an Ext."""
    t = type(v)
    if t is int:
        return _ext(_X_INT, v)  # type: ignore[arg-type]
    if t is str or t is float or t is bool:
        return v
    raise TypeError(f"stats codec: cannot store a {t.__name__} ({v!r})")


def _unlit(v: object) -> object:
    return v.v if type(v) is _Lit else v


def _deep_raw(v: object) -> object:
    """A tail with ints beyond 64 bits in it, made storable."""
    if type(v) is list or type(v) is tuple:
        return [_deep_raw(x) for x in v]  # type: ignore[union-attr]
    if type(v) is int and not _MIN <= v <= _MAX:  # type: ignore[operator]
        return _ext(_X_BIGINT, v)  # type: ignore[arg-type]
    return v


def _scaled(x: object) -> int | None:
    """The k with ``k / 10**6 == x`` (and the same sign of zero), or None."""
    if type(x) is not float or not -_FLT_MAX < x < _FLT_MAX:  # type: ignore[operator]
        return None
    k = round(x * 1e6)  # type: ignore[operator]
    if k / 1e6 != x or (k == 0 and str(x)[0] == "-"):
        return None
    return k


def _abs_code(k: int) -> int:
    """A float's k as ``k / 10**e`` * 8 + ``e``, for the largest ``e`` <= 6 that divides."""
    if not k:
        return 3  # 0.0: in thousandths, until a finer value says otherwise
    e = 0
    while e < 6 and not k % _POW10[e + 1]:
        e += 1
    return (k // _POW10[e]) * 8 + e


def _fcode(dk: int) -> int:
    """A candidate pair's float delta with its decimal zeros folded in."""
    if dk % 1_000:
        return dk * 4 if dk % 100 else (dk // 100) * 4 + 1
    if dk % 100_000:
        return (dk // 1_000) * 4 + 2
    return (dk // 100_000) * 4 + 3 if dk else 0


def _fdelta(code: int) -> int:
    return (code >> 2) * _POW[code & 3]


def _same(a: object, b: object) -> bool:
    """Equal and of one type, telling 0.0 from -0.0 (NaN is never the same)."""
    if type(a) is not type(b) or a != b:
        return False
    return type(a) is not float or a != 0 or str(a) == str(b)


def _ts_us(ts: object) -> int:
    if not isinstance(ts, datetime):
        raise TypeError(f"stats codec: ts must be a datetime, not {type(ts).__name__}")
    if ts.tzinfo is None or ts.utcoffset() is None:
        raise ValueError("stats codec: ts must be timezone-aware")
    return (ts - _EPOCH) // _US


def _pack_id(s: object) -> object:
    """A canonical lower-case UUID as its 16 bytes, anything else as it is."""
    if type(s) is str and len(s) == 36 and s[8] == s[13] == s[18] == s[23] == "-":  # type: ignore[arg-type]
        hexa = s.replace("-", "")  # type: ignore[union-attr]
        try:
            b = bytes.fromhex(hexa)
        except ValueError:
            return s
        return b if len(b) == 16 and b.hex() == hexa else s
    return _raw(s)


def _unpack_id(v: object) -> object:
    if type(v) is bytes:
        h = v.hex()
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
    return v


def _blob(values: tuple | list) -> bytes:
    """msgpack of plain values, telling their types apart (ints beyond 64 bits too)."""
    try:
        return _ENC.encode(values)
    except OverflowError:
        return _ENC.encode([_raw(v) for v in values])


_ENC = msgspec.msgpack.Encoder(enc_hook=_enc_hook)
_DEC = msgspec.msgpack.Decoder(ext_hook=_ext_hook)
_PREFIX = struct.Struct("<Bq")
_I64 = struct.Struct("<q")
_U32 = struct.Struct("<I")
_F_BASE, _F_UUID, _F_NOSESSION, _F_MS, _F_EXTRAS = 1, 2, 4, 8, 16
_X_GROUPS, _X_ORDER, _X_MASKS, _X_STRS, _X_CPS, _X_LITS, _X_RESETS = range(7)
_NO_CP_BLOB = _ENC.encode(_NO_CP)

# --------------------------------------------------------------------------- hashes


def event_id_hashes(event_id: str) -> tuple[int, int]:
    """Two independent 64-bit hashes of an event id (blake2b, 16 bytes, as two SIGNED
    int64 so they fit BIGINT columns). h1 is the stored key, h2 a check."""
    digest = blake2b(event_id.encode(), digest_size=16).digest()
    return (
        int.from_bytes(digest[:8], "big", signed=True),
        int.from_bytes(digest[8:], "big", signed=True),
    )
