"""RealtimeKit webhook deliveries (``ingest.md`` §2): verified, recorded, mapped onto
native events.

A delivery is stored twice over, in one transaction: as an ``rtk.webhook`` record
(the body exactly as received, whatever its type, id ``rtk:<rtk-uuid>``) and as the
native events it means (ids ``rtk:<rtk-uuid>:<n>``). Both ids come from the
delivery's ``rtk-uuid``, so a redelivery is a duplicate of every one of them and
changes nothing. Derivation reads only the native events, so sessions and
participants come out exactly as if the native events had been sent.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from rtk_sessions.clock import datetime_to_ms
from rtk_sessions.ingest.normalize import NormalizedEvent

RECORD_TYPE = "rtk.webhook"
FILE_EVENTS = {
    "meeting.chatSynced": "chat",
    "meeting.transcript": "transcript",
    "meeting.summary": "summary",
}
KNOWN_EVENTS = frozenset(
    {
        "meeting.started",
        "meeting.ended",
        "meeting.participantJoined",
        "meeting.participantLeft",
        "meeting.chatSynced",
        "meeting.transcript",
        "meeting.summary",
        "recording.statusUpdate",
        "livestreaming.statusUpdate",
    }
)
_MAX_UUID = 200
_OBJECT = msgspec.json.Decoder(dict[str, Any])


class DeliveryError(ValueError):
    """The delivery cannot be read at all (HTTP 400: RealtimeKit does not retry it)."""


class SignatureError(Exception):
    """Missing, malformed or wrong signature, or no key to check it with (HTTP 401)."""


# -- keys and signatures -------------------------------------------------------------


def load_public_key(pem: str) -> rsa.RSAPublicKey:
    """The RSA public key in ``pem``; ValueError saying what is wrong otherwise."""
    try:
        key = serialization.load_pem_public_key(pem.encode())
    except (ValueError, TypeError) as exc:
        raise ValueError(f"not a PEM public key ({exc})") from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("not an RSA public key (RealtimeKit signs with RSA-SHA256)")
    return key


def fingerprint(key: rsa.RSAPublicKey) -> str:
    """SHA-256 of the key's DER form, hex: names a key in listings without printing it."""
    der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(der).hexdigest()


@functools.lru_cache(maxsize=256)
def _cached_key(pem: str) -> rsa.RSAPublicKey:
    return load_public_key(pem)


def verify_signature(public_key_pem: str, body: bytes, signature: str | None) -> None:
    """Check ``rtk-signature``: base64 RSA-SHA256 (PKCS#1 v1.5) over the raw body."""
    if not signature:
        raise SignatureError("missing rtk-signature header")
    try:
        raw = base64.b64decode(signature.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise SignatureError("rtk-signature is not base64") from None
    try:
        _cached_key(public_key_pem).verify(raw, body, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        raise SignatureError(
            "rtk-signature does not match the body and this app's webhook key"
        ) from None


# -- reading a delivery --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Delivery:
    uuid: str
    event: str  # RealtimeKit's event type, e.g. meeting.participantJoined
    body: dict[str, Any]
    text: str  # the body exactly as received


@dataclass(frozen=True, slots=True)
class FileLink:
    """A file a delivery links to (chat CSV, transcript CSV, summary text)."""

    kind: str  # chat | transcript | summary
    session_id: str
    url: str


def parse_delivery(raw: bytes, uuid: str | None) -> Delivery:
    if not uuid or not uuid.strip():
        raise DeliveryError("missing rtk-uuid header (the delivery's id, used to drop repeats)")
    uuid = uuid.strip()
    if len(uuid) > _MAX_UUID:
        raise DeliveryError(f"rtk-uuid is longer than {_MAX_UUID} characters")
    try:
        body = _OBJECT.decode(raw)
        text = raw.decode("utf-8")
    except msgspec.ValidationError:
        raise DeliveryError("body must be a JSON object") from None
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        raise DeliveryError(f"body is not valid JSON: {exc}") from None
    except RecursionError:
        raise DeliveryError("body is not valid JSON: nested too deeply") from None
    if "\\u0000" in text:
        raise DeliveryError("body must not contain NUL (\\u0000) characters")
    event = body.get("event")
    if not isinstance(event, str) or not event:
        raise DeliveryError("body has no `event` (the delivery's type, e.g. meeting.started)")
    return Delivery(uuid=uuid, event=event, body=body, text=text)


def _meeting(body: dict[str, Any]) -> dict[str, Any]:
    meeting = body.get("meeting")
    return meeting if isinstance(meeting, dict) else {}


def _participant(body: dict[str, Any]) -> dict[str, Any]:
    participant = body.get("participant")
    return participant if isinstance(participant, dict) else {}


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def session_id_of(delivery: Delivery) -> str | None:
    return _text(_meeting(delivery.body).get("sessionId")) or _text(delivery.body.get("sessionId"))


def file_link(delivery: Delivery) -> FileLink | None:
    """The file a chat, transcript or summary delivery links to, if it names one."""
    kind = FILE_EVENTS.get(delivery.event)
    session_id = session_id_of(delivery)
    url = _text(delivery.body.get(f"{kind}DownloadUrl")) if kind else None
    if kind is None or session_id is None or url is None:
        return None
    return FileLink(kind=kind, session_id=session_id, url=url)


def record_of(delivery: Delivery, received_ms: int) -> NormalizedEvent:
    """The delivery as stored: its own type, the body as received; derivation skips it."""
    return NormalizedEvent(
        event_id=f"rtk:{delivery.uuid}",
        type=RECORD_TYPE,
        ts_ms=_event_time_ms(delivery) or received_ms,
        session_id=session_id_of(delivery),
        peer_id=_text(_participant(delivery.body).get("peerId")),
        payload=delivery.text,
        event=None,  # type: ignore[arg-type]  # not a native event: nothing to derive
    )


def _event_time_ms(delivery: Delivery) -> int | None:
    meeting, participant = _meeting(delivery.body), _participant(delivery.body)
    for value in (
        participant.get("leftAt"),
        participant.get("joinedAt"),
        meeting.get("endedAt"),
        meeting.get("startedAt"),
    ):
        if isinstance(value, str):
            try:
                return datetime_to_ms(datetime.fromisoformat(value))
            except ValueError:
                continue
    return None


# -- mapping onto native events ------------------------------------------------------


def native_events(delivery: Delivery) -> list[dict[str, Any]]:
    """The native events (``ingest.md`` §1) a delivery means; none for the types that are
    only recorded. Missing or mistyped fields are passed on as they are, so the native
    validation names them (``$.ts``, ``$.peer_id``, ...) in the response's ``rejected``."""
    mapper = _MAPPERS.get(delivery.event)
    if mapper is None:
        return []
    events = mapper(delivery.body)
    return [{"id": f"rtk:{delivery.uuid}:{n}", **event} for n, event in enumerate(events)]


def _meeting_started(body: dict[str, Any]) -> list[dict[str, Any]]:
    meeting = _meeting(body)
    started_at = meeting.get("startedAt")
    events = []
    if "title" in meeting:
        events.append(
            {
                "type": "meeting.upserted",
                "ts": started_at,
                "meeting_id": meeting.get("id"),
                "title": meeting.get("title"),
            }
        )
    events.append(
        {
            "type": "session.started",
            "ts": started_at,
            "session_id": meeting.get("sessionId"),
            "meeting_id": meeting.get("id"),
        }
    )
    return events


def _meeting_ended(body: dict[str, Any]) -> list[dict[str, Any]]:
    meeting = _meeting(body)
    return [
        {
            "type": "session.ended",
            "ts": meeting.get("endedAt"),
            "session_id": meeting.get("sessionId"),
            "reason": body.get("reason"),
        }
    ]


def _participant_joined(body: dict[str, Any]) -> list[dict[str, Any]]:
    meeting, participant = _meeting(body), _participant(body)
    user_id = (
        _text(participant.get("userId"))
        or _text(participant.get("clientSpecificId"))
        or _text(participant.get("customParticipantId"))
    )
    joined = {
        "type": "peer.joined",
        "ts": participant.get("joinedAt"),
        "session_id": meeting.get("sessionId"),
        "meeting_id": meeting.get("id"),
        "peer_id": participant.get("peerId"),
        "user_id": user_id,
        "display_name": participant.get("userDisplayName"),
        "custom_participant_id": participant.get("customParticipantId"),
        "preset_name": participant.get("presetName"),
    }
    return [{k: v for k, v in joined.items() if v is not None or k in _REQUIRED}]


def _participant_left(body: dict[str, Any]) -> list[dict[str, Any]]:
    meeting, participant = _meeting(body), _participant(body)
    return [
        {
            "type": "peer.left",
            "ts": participant.get("leftAt"),
            "session_id": meeting.get("sessionId"),
            "peer_id": participant.get("peerId"),
        }
    ]


_REQUIRED = {"type", "ts", "session_id", "peer_id"}
_MAPPERS = {
    "meeting.started": _meeting_started,
    "meeting.ended": _meeting_ended,
    "meeting.participantJoined": _participant_joined,
    "meeting.participantLeft": _participant_left,
}
