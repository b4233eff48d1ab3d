"""Signed, expiring download links: ``/downloads/<artifact>?exp=<unix s>&sig=<hex>``.

``sig`` is HMAC-SHA256, under the instance's download secret, of the link's path and
``exp``; it is compared in constant time. The artifact part names what to serve (kind,
app, session, format) as base64url JSON, so a link works for its artifact only.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from typing import Literal

import msgspec

DOWNLOADS_PATH = "/downloads/"
ArtifactKind = Literal["chat", "transcript", "summary"]
Verdict = Literal["ok", "tampered", "expired"]


class Artifact(msgspec.Struct, frozen=True, array_like=True):
    """What a link serves: a session's chat, its transcript in a format, or its summary."""

    kind: ArtifactKind
    app_pk: int
    session_id: str
    format: str = ""  # transcript: CSV | JSON | SRT | VTT

    def path(self) -> str:
        token = base64.urlsafe_b64encode(msgspec.json.encode(self)).rstrip(b"=").decode()
        return DOWNLOADS_PATH + token


def artifact_of(token: str) -> Artifact | None:
    """The artifact a link's path names, or None if it names none."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        return msgspec.json.decode(raw, type=Artifact)
    except (binascii.Error, ValueError, msgspec.DecodeError):
        return None


def signature(secret: str, path: str, expires_s: int) -> str:
    message = f"{path}\n{expires_s}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signed_query(secret: str, path: str, expires_s: int) -> str:
    return f"exp={expires_s}&sig={signature(secret, path, expires_s)}"


def verify(secret: str, path: str, exp: str | None, sig: str | None, now_s: int) -> Verdict:
    """Signature first (a forged expiry is tampering, not expiry), then the time."""
    if not exp or not sig or not exp.isdigit():
        return "tampered"
    expected = signature(secret, path, int(exp))
    if not hmac.compare_digest(expected.encode(), sig.encode()):
        return "tampered"
    return "expired" if now_s > int(exp) else "ok"
