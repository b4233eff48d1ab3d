"""RealtimeKit webhook deliveries for tests: payloads shaped as ``ingest.md`` §2 gives
them, signed as RealtimeKit signs them (RSA-SHA256, PKCS#1 v1.5, base64), with keys
made here. Written from the spec, not from the code under test."""

from __future__ import annotations

import base64
import functools
import json
import uuid
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from rtk_sessions.clock import iso_ms


@functools.cache
def private_key(name: str = "rtk") -> rsa.RSAPrivateKey:
    """An RSA key per name, made once per test run (2048 bits, as RealtimeKit's)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_pem(name: str = "rtk") -> str:
    return (
        private_key(name)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def sign(body: bytes, name: str = "rtk") -> str:
    signature = private_key(name).sign(body, padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(signature).decode()


@dataclass(frozen=True)
class Delivery:
    body: bytes
    uuid: str

    def headers(self, key: str | None = "rtk") -> dict[str, str]:
        """The headers RealtimeKit sends, signed with ``key`` (None: unsigned)."""
        headers = {
            "content-type": "application/json",
            "rtk-uuid": self.uuid,
            "rtk-webhook-id": "wh-1",
        }
        if key is not None:
            headers["rtk-signature"] = sign(self.body, key)
        return headers


def delivery(payload: dict[str, Any], delivery_uuid: str | None = None) -> Delivery:
    return Delivery(json.dumps(payload).encode(), delivery_uuid or str(uuid.uuid4()))


def meeting(meeting_id: str, session_id: str, title: str, started_ms: int, **extra: Any) -> dict:
    return {
        "id": meeting_id,
        "sessionId": session_id,
        "title": title,
        "roomName": f"room-{meeting_id}",
        "status": "LIVE",
        "createdAt": iso_ms(started_ms - 60_000),
        "startedAt": iso_ms(started_ms),
        "organizedBy": {"id": "org-1", "name": "Org"},
        **extra,
    }


def meeting_started(meeting_obj: dict) -> dict:
    return {"event": "meeting.started", "meeting": meeting_obj}


def meeting_ended(meeting_obj: dict, ended_ms: int, reason: str) -> dict:
    return {
        "event": "meeting.ended",
        "meeting": {**meeting_obj, "status": "ENDED", "endedAt": iso_ms(ended_ms)},
        "reason": reason,
    }


def participant_joined(meeting_obj: dict, participant: dict) -> dict:
    return {"event": "meeting.participantJoined", "meeting": meeting_obj, "participant": participant}


def participant_left(meeting_obj: dict, participant: dict, left_ms: int) -> dict:
    return {
        "event": "meeting.participantLeft",
        "meeting": meeting_obj,
        "participant": {**participant, "leftAt": iso_ms(left_ms)},
    }
