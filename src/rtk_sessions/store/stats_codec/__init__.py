"""A compact, exact binary encoding of the samples of ``peer.stats`` events.

One stored row holds one event's samples, each encoded against the previous
sample of the same track (kind, direction, ssrc). That previous sample may be in
an earlier row of the same peer, the row's *base*: the encoder is handed the
base's ``PeerTail`` (each track's last sample there, compactly), the decoder the
peer's rows in the order they were stored. Every value round-trips exactly: ints
stay ints of any size, floats the identical float, ``None`` stays ``None``, ``ts``
an equal aware datetime (UTC, microseconds).

Row layout (``data``)::

    flags:u8  h2:i64le  [base_h1:i64le]  [session: 16-byte UUID | u32le length + UTF-8]
    msgpack [ts, (extras), zero_xors, residual, residual, ...]

``flags`` says whether a base follows, how the session id is kept (a canonical
UUID as its 16 bytes, none, or text), whether ``ts`` counts milliseconds and
whether ``extras`` is there. ``ts`` is the first sample's time as a
delta-of-delta (its distance from the base row's last sample, less the base
row's own such distance), then, when the event holds several instants, a list
of that and the steps from sample to sample. ``extras`` is a map of what
changes rarely: the row's tracks (``0``, when not the base's tracks in the
base's order: a base track's index or a new track's key) and the order of the
samples over them (``1``, when not round-robin), the presence masks of new
tracks and of tracks whose set of known fields changed (``2``), identity
strings that are new or changed (``3``, a canonical UUID as its 16 bytes) and
candidate pairs (``4``: per field against the peer's previous pair, ``0`` when
equal).

The numeric fields are 27 *slots* (counters, gauges, the quality-limitation
reason and the four quality-limitation durations). Each slot known in a sample
(not ``None``) has a *residual*: the value less its prediction from the track's
previous sample. Counters predict their delta: none (plain delta: losses, PLI,
FIR, drops, resolution ...), the previous delta scaled by the time since the
last sample (packets, samples received, key frames), the previous bytes per
packet times this delta of packets (bytes), frames per second times the time
(frames), the delta of the counter it follows (the jitter buffer's emitted
count: total samples received for audio, frames decoded for video). A float
whose value is ``k / 10**6`` for an integer ``k`` stores the delta of ``k``
(times 4, plus a code of how many decimal zeros were divided out). The reason
is ``0`` when unchanged. A residual of ``0`` is left out and marked in the
sample's zero mask, stored as its XOR with the track's previous zero mask.
What fits none of this (a float that is no ``k / 10**6``, an int in a float
field, an int beyond 64 bits, a value of another type) is stored as it is, a
*literal*, from which the slot starts over.

Decoding works per track over all the rows at once: the residuals of a
track's run of samples with one presence mask become columns, undone with
``itertools.accumulate`` (plain deltas, floats) or one small loop
(predictions), and samples are built positionally.
"""

from __future__ import annotations

from rtk_sessions.store.stats_codec.columns import decode_row_check, row_base
from rtk_sessions.store.stats_codec.decode import decode_each_row, decode_rows
from rtk_sessions.store.stats_codec.encode import encode_event
from rtk_sessions.store.stats_codec.schema import event_id_hashes
from rtk_sessions.store.stats_codec.tail import PeerTail

__all__ = [
    "PeerTail",
    "decode_each_row",
    "decode_row_check",
    "decode_rows",
    "encode_event",
    "event_id_hashes",
    "row_base",
]
