"""RealtimeKit deliveries without a server: signatures, reading, mapping, linked files."""

from __future__ import annotations

import json

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from rtk_sessions.ingest import webhooks
from rtk_sessions.ingest.webhook_files import FileFormatError, chat_events, transcript_events
from tests.factories import SEC, T0
from tests.rtk_webhooks import (
    delivery,
    meeting,
    meeting_ended,
    participant_joined,
    participant_left,
    public_pem,
    sign,
)

M = meeting("m1", "s1", "Standup", T0)


def parsed(payload: dict, uuid: str = "u-1") -> webhooks.Delivery:
    return webhooks.parse_delivery(json.dumps(payload).encode(), uuid)


class TestSignature:
    body = b'{"event": "meeting.started"}'

    def test_a_signature_of_the_body_with_the_apps_key_verifies(self):
        webhooks.verify_signature(public_pem(), self.body, sign(self.body))

    @pytest.mark.parametrize(
        ("signature", "says"),
        [
            (None, "missing"),
            ("", "missing"),
            ("not base64 at all!", "not base64"),
            ("c2lnbmF0dXJl", "does not match"),  # base64 of "signature"
        ],
    )
    def test_a_missing_or_malformed_signature_is_refused(self, signature, says):
        with pytest.raises(webhooks.SignatureError, match=says):
            webhooks.verify_signature(public_pem(), self.body, signature)

    def test_a_tampered_body_or_another_key_is_refused(self):
        signature = sign(self.body)
        with pytest.raises(webhooks.SignatureError, match="does not match"):
            webhooks.verify_signature(public_pem(), self.body + b" ", signature)
        with pytest.raises(webhooks.SignatureError, match="does not match"):
            webhooks.verify_signature(public_pem("other"), self.body, signature)

    def test_only_rsa_public_keys_in_pem_are_taken(self):
        with pytest.raises(ValueError, match="not a PEM public key"):
            webhooks.load_public_key("-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----")
        ec_pem = (
            ec.generate_private_key(ec.SECP256R1())
            .public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode()
        )
        with pytest.raises(ValueError, match="not an RSA public key"):
            webhooks.load_public_key(ec_pem)


@pytest.mark.parametrize(
    ("raw", "uuid", "says"),
    [
        (b'{"event": "meeting.started"}', None, "missing rtk-uuid"),
        (b'{"event": "meeting.started"}', "x" * 201, "longer than 200"),
        (b"{oops", "u", "not valid JSON"),
        (b"\xff\xfe", "u", "not valid JSON"),
        (b"[]", "u", "JSON object"),
        (b'{"event": 7}', "u", "`event`"),
        (b'{"event": "meeting.started", "x": "\\u0000"}', "u", "NUL"),
        (b"[" * 100_000, "u", "JSON"),
    ],
)
def test_an_unreadable_delivery_says_what_is_wrong(raw, uuid, says):
    with pytest.raises(webhooks.DeliveryError, match=says):
        webhooks.parse_delivery(raw, uuid)


@pytest.mark.parametrize(
    ("participant", "user"),
    [
        ({"userId": "u", "clientSpecificId": "cs", "customParticipantId": "c"}, "u"),
        ({"clientSpecificId": "cs", "customParticipantId": "c"}, "cs"),
        ({"userId": "", "customParticipantId": "c"}, "c"),
        ({}, None),
    ],
)
def test_the_user_is_user_id_else_client_specific_id_else_custom_participant_id(
    participant, user
):
    base = {"peerId": "p1", "joinedAt": "2026-01-01T00:00:01.000Z"}
    [event] = webhooks.native_events(parsed(participant_joined(M, base | participant)))
    assert event.get("user_id") == user
    assert event["type"] == "peer.joined" and event["peer_id"] == "p1"
    assert event["session_id"] == "s1" and event["meeting_id"] == "m1"


def test_each_lifecycle_delivery_maps_to_its_native_events_with_ids_from_the_uuid():
    peer = {"peerId": "p1", "userId": "u1", "userDisplayName": "Ann", "presetName": "host",
            "customParticipantId": "c1", "joinedAt": "2026-01-01T00:00:01.000Z"}
    started = webhooks.native_events(parsed({"event": "meeting.started", "meeting": M}, "d1"))
    assert started == [
        {"id": "rtk:d1:0", "type": "meeting.upserted", "ts": M["startedAt"], "meeting_id": "m1",
         "title": "Standup"},
        {"id": "rtk:d1:1", "type": "session.started", "ts": M["startedAt"], "session_id": "s1",
         "meeting_id": "m1"},
    ]
    assert webhooks.native_events(parsed(participant_joined(M, peer), "d2")) == [
        {"id": "rtk:d2:0", "type": "peer.joined", "ts": "2026-01-01T00:00:01.000Z",
         "session_id": "s1", "meeting_id": "m1", "peer_id": "p1", "user_id": "u1",
         "display_name": "Ann", "custom_participant_id": "c1", "preset_name": "host"},
    ]
    assert webhooks.native_events(parsed(participant_left(M, peer, T0 + 9 * SEC), "d3")) == [
        {"id": "rtk:d3:0", "type": "peer.left", "ts": "2026-01-01T00:00:09.000Z",
         "session_id": "s1", "peer_id": "p1"},
    ]
    ended = parsed(meeting_ended(M, T0 + 60 * SEC, "ALL_PARTICIPANTS_LEFT"), "d4")
    assert webhooks.native_events(ended) == [
        {"id": "rtk:d4:0", "type": "session.ended", "ts": "2026-01-01T00:01:00.000Z",
         "session_id": "s1", "reason": "ALL_PARTICIPANTS_LEFT"},
    ]


@pytest.mark.parametrize(
    "event", ["meeting.chatSynced", "recording.statusUpdate", "livestreaming.statusUpdate",
              "meeting.somethingNew"]
)
def test_other_types_map_to_no_native_event_and_are_recorded_as_received(event):
    sent = delivery({"event": event, "sessionId": "s9", "anything": {"kept": True}}, "d5")
    got = webhooks.parse_delivery(sent.body, sent.uuid)
    assert webhooks.native_events(got) == []
    record = webhooks.record_of(got, received_ms=T0)
    assert (record.event_id, record.type, record.session_id) == ("rtk:d5", "rtk.webhook", "s9")
    assert record.payload == sent.body.decode() and record.ts_ms == T0


def test_file_links_name_their_kind_session_and_url():
    for event, kind in webhooks.FILE_EVENTS.items():
        got = parsed({"event": event, "sessionId": "s1", f"{kind}DownloadUrl": "https://f/x"})
        assert webhooks.file_link(got) == webhooks.FileLink(kind, "s1", "https://f/x")
    assert webhooks.file_link(parsed({"event": "meeting.chatSynced", "sessionId": "s1"})) is None


def test_chat_rows_become_chat_messages_with_ids_from_session_and_message():
    text = ("id,participantId,sessionId,meetingId,displayName,pinned,isEdited,payloadType,"
            "payload,createdAt\r\nm1,p1,s1,m,Ann,true,false,TEXT_MESSAGE,\"a,\nb\","
            "2026-01-01T00:00:02.000Z\r\n")
    assert chat_events("\ufeff" + text, "s1") == [
        {"id": "rtk-chat:s1:m1", "type": "chat.message", "ts": "2026-01-01T00:00:02.000Z",
         "session_id": "s1", "message_id": "m1", "peer_id": "p1", "payload_type": "TEXT_MESSAGE",
         "payload": "a,\nb", "pinned": True, "is_edited": False, "display_name": "Ann"},
    ]


def test_transcript_rows_end_at_the_next_start_or_after_400_ms_a_word():
    text = ("Timestamp,Participant ID,User ID,Custom Participant ID,Participant Name,Transcript\n"
            "0,p1,,,A,one two three four five six\n"  # 2,400 ms of words; next starts at 1,000
            "1000,p2,,,B,yes\n"  # overlapped by nothing later: 400 ms
            "1000,p1,,,A,same start\n"  # same start as the one before: 800 ms
            "5000,p1,,,A,end\n")
    got = [(e["start_ms"], e["end_ms"], e["ts"]) for e in transcript_events(text, "s1", T0)]
    assert got == [
        (0, 1000, "2026-01-01T00:00:00.000Z"),
        (1000, 1400, "2026-01-01T00:00:01.000Z"),
        (1000, 1800, "2026-01-01T00:00:01.000Z"),
        (5000, 5400, "2026-01-01T00:00:05.000Z"),
    ]


def test_a_file_that_is_not_the_announced_csv_is_refused():
    with pytest.raises(FileFormatError, match="no column"):
        chat_events("just,some,columns\n1,2,3\n", "s1")
    with pytest.raises(FileFormatError, match="line 2: Timestamp 'soon'"):
        transcript_events(
            "Timestamp,Participant ID,Transcript\nsoon,p1,hello\n", "s1", T0
        )
