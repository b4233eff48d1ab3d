"""From request bodies to validated, normalized events.

One body (JSON array or NDJSON, maybe gzip) becomes a list of raw items;
each item is validated on its own, so one bad event is rejected with its
index and reason while the others go on.
"""

from __future__ import annotations

import functools
import operator
import zlib
from dataclasses import dataclass
from datetime import datetime
from operator import attrgetter
from typing import Any

import msgspec

from rtk_sessions.clock import datetime_to_ms
from rtk_sessions.ingest.events import (
    DeclaredPeerStats,
    Event,
    PeerStats,
)
from rtk_sessions.store.rows import EventRow


class BodyError(Exception):
    """The body as a whole cannot be read (HTTP 400), or is too large (413)."""

    def __init__(self, message: str, *, too_large: bool = False) -> None:
        super().__init__(message)
        self.too_large = too_large


@dataclass(frozen=True, slots=True)
class NormalizedEvent:
    """A valid event, with the columns the store indexes pulled out."""

    event_id: str
    type: str
    ts_ms: int
    session_id: str | None
    peer_id: str | None
    payload: str  # the event's JSON exactly as received
    event: Event
    # a peer.stats event with keys the schema does not declare (the log keeps them: such
    # an event is stored as received, not compactly)
    unknown_keys: bool = False

    def logged(self, received_ms: int) -> EventRow:
        """The event as the log stores it, received at ``received_ms``."""
        return EventRow(
            event_id=self.event_id,
            type=self.type,
            ts_ms=self.ts_ms,
            session_id=self.session_id,
            peer_id=self.peer_id,
            payload=self.payload,
            received_ms=received_ms,
        )


@dataclass(frozen=True, slots=True)
class Rejection:
    index: int
    id: str | None
    error: str


@dataclass(slots=True)
class ValidatedBatch:
    events: list[NormalizedEvent]
    rejected: list[Rejection]
    duplicates_in_batch: int


_RAW_LIST = msgspec.json.Decoder(list[msgspec.Raw])
_EVENT = msgspec.json.Decoder(Event)
# The same, refusing a peer.stats event with an undeclared key: telemetry is stored
# compactly, from its declared fields, unless it has keys of its own (then as received).
_DECLARED = msgspec.json.Decoder(
    functools.reduce(
        operator.or_,
        [c for c in Event.__args__ if c is not PeerStats] + [DeclaredPeerStats],  # type: ignore[attr-defined]
    )
)
_ANY = msgspec.json.Decoder()


def gunzip_limited(body: bytes, max_bytes: int) -> bytes:
    """Decompress gzip (all members, as ``cat a.gz b.gz`` makes), refusing to inflate
    past ``max_bytes`` (a zip bomb stops early) and refusing trailing garbage."""
    out = bytearray()
    remaining = body
    while True:
        inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        try:
            out += inflater.decompress(remaining, max_bytes + 1 - len(out))
        except zlib.error as exc:
            raise BodyError(f"body is not valid gzip: {exc}") from None
        if len(out) > max_bytes or inflater.unconsumed_tail:
            raise BodyError(
                f"decompressed body is larger than the limit of {max_bytes} bytes", too_large=True
            )
        if not inflater.eof:
            raise BodyError("body is not valid gzip: truncated stream")
        remaining = inflater.unused_data
        if not remaining:
            return bytes(out)


def split_body(body: bytes, *, ndjson: bool) -> list[bytes | BodyError]:
    """The body's items as raw JSON; an NDJSON line that is not JSON becomes a BodyError item."""
    if ndjson:
        return [_check_json(line) for line in body.splitlines() if line.strip()]
    stripped = body.lstrip()
    if stripped.startswith(b"{"):
        return [bytes(body)]  # a single event object is accepted as a batch of one
    try:
        return [bytes(raw) for raw in _RAW_LIST.decode(body)]
    except _UNREADABLE as exc:
        raise BodyError(f"body is not a JSON array of events: {_reason(exc)}") from None


def _check_json(line: bytes) -> bytes | BodyError:
    try:
        _ANY.decode(line)
    except _UNREADABLE as exc:
        return BodyError(f"line is not valid JSON: {_reason(exc)}")
    return line


# What decoding untrusted bytes can raise besides a validation error.
_UNREADABLE = (msgspec.DecodeError, UnicodeDecodeError, RecursionError)


def _reason(exc: Exception) -> str:
    if isinstance(exc, UnicodeDecodeError):
        return "not valid UTF-8"
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    return str(exc)


def validate_items(items: list[bytes | BodyError]) -> ValidatedBatch:
    """Validate every item; later copies of an id in the same batch count as duplicates."""
    batch = ValidatedBatch(events=[], rejected=[], duplicates_in_batch=0)
    seen: set[str] = set()
    for index, item in enumerate(items):
        if isinstance(item, BodyError):
            batch.rejected.append(Rejection(index, None, str(item)))
            continue
        result = _validate_one(item)
        if isinstance(result, str):
            batch.rejected.append(Rejection(index, _id_of(item), result))
        elif result.event_id in seen:
            batch.duplicates_in_batch += 1
        else:
            seen.add(result.event_id)
            batch.events.append(result)
    return batch


def _validate_one(raw: bytes) -> NormalizedEvent | str:
    unknown_keys = False
    try:
        try:
            event = _DECLARED.decode(raw)
        except msgspec.ValidationError as exc:
            if "unknown field" not in str(exc):
                raise
            event, unknown_keys = _EVENT.decode(raw), True
        payload = raw.decode("utf-8")  # unknown keys are kept: they must be UTF-8 too
    except msgspec.ValidationError as exc:
        return _explain(str(exc), raw)
    except _UNREADABLE as exc:
        return f"not valid JSON: {_reason(exc)}"
    problem = _naive_timestamp(event) or _nul_character(raw)
    if problem:
        return problem
    return NormalizedEvent(
        event_id=event.id,
        type=type(event).__struct_config__.tag,  # type: ignore[assignment]
        ts_ms=datetime_to_ms(event.ts),
        session_id=getattr(event, "session_id", None),
        peer_id=getattr(event, "peer_id", None),
        payload=payload,
        event=event,
        unknown_keys=unknown_keys,
    )


def validate_logged(payload: str) -> NormalizedEvent | None:
    """An event read back from the log, validated as today's ingest would (None when it
    no longer validates)."""
    found = _validate_one(payload.encode("utf-8"))
    return None if isinstance(found, str) else found


def from_log(
    event_id: str, type_: str, ts_ms: int, session_id: str | None, peer_id: str | None, payload: str
) -> NormalizedEvent:
    """An event read back from the log (validated when it was appended)."""
    return NormalizedEvent(
        event_id=event_id,
        type=type_,
        ts_ms=ts_ms,
        session_id=session_id,
        peer_id=peer_id,
        payload=payload,
        event=_EVENT.decode(payload),
    )


def _naive_timestamp(event: Event) -> str | None:
    if _is_naive(event.ts):
        return "ts must be ISO 8601 with a UTC offset, e.g. 2026-01-09T13:00:15.936Z - at `$.ts`"
    # the samples' offsets looked at in C (a stats event holds dozens), the culprit found
    # only when there is one
    if isinstance(event, PeerStats) and None in map(_SAMPLE_TZ, event.samples):
        i = next(i for i, sample in enumerate(event.samples) if _is_naive(sample.ts))
        return f"ts must carry a UTC offset - at `$.samples[{i}].ts`"
    return None


_SAMPLE_TZ = attrgetter("ts.tzinfo")


def _nul_character(raw: bytes) -> str | None:
    """NUL (U+0000) cannot be stored in PostgreSQL text, so no database takes it: the
    same event must not be accepted on SQLite and fail on PostgreSQL. Only events whose
    JSON spells ``\u0000`` are decoded again to find where."""
    if b"\\u0000" not in raw:
        return None
    path = _path_of_nul(_ANY.decode(raw), "$")
    return f"text must not contain NUL (\\u0000) characters - at `{path}`" if path else None


def _path_of_nul(value: Any, path: str) -> str | None:
    if isinstance(value, str):
        return path if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            if "\x00" in key:
                return path
            found = _path_of_nul(item, f"{path}.{key}")
            if found:
                return found
    if isinstance(value, list):
        for i, item in enumerate(value):
            found = _path_of_nul(item, f"{path}[{i}]")
            if found:
                return found
    return None


def _is_naive(value: datetime) -> bool:
    return value.tzinfo is None


def _explain(message: str, raw: bytes) -> str:
    """msgspec's message, made clearer where it is about the event as a whole."""
    if "Object missing required field `type`" in message:
        return "missing field `type` (one of the event types in ingest.md)"
    if message.startswith("Expected `object`"):
        return "event must be a JSON object"
    if "at `$.type`" in message:
        return f"unknown event type {_field(raw, 'type')!r} - at `$.type`"
    return message


def _id_of(raw: bytes) -> str | None:
    value = _field(raw, "id")
    return value if isinstance(value, str) else None


def _field(raw: bytes, name: str) -> Any:
    try:
        obj = _ANY.decode(raw)
    except _UNREADABLE:
        return None
    return obj.get(name) if isinstance(obj, dict) else None


def maybe_gunzip(body: bytes, content_encoding: str | None, max_bytes: int) -> bytes:
    encoding = (content_encoding or "").strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding in ("gzip", "x-gzip"):
        return gunzip_limited(body, max_bytes)
    raise BodyError(f"unsupported Content-Encoding {content_encoding!r}; use gzip or none")
