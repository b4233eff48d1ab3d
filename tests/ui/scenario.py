"""One meeting the dashboard tests look at, built from native events, with every time
written out here: the expected values of the tests are these numbers, not the server's.

Session ``s-weekly`` (meeting "Weekly sync") of app ``ui-app``, 10:00 to 10:30 UTC on
2026-01-01 (T0 = 00:00, so +10 h):

- Ada joins at +0, leaves at +10 min, rejoins as a second peer at +15 min, leaves at +30;
- Bo joins at +5 min and leaves at +30; Bo's microphone sends stats every 7 s, and loses
  10 packets in 100 in the two intervals from +7 min 36 s to +7 min 50 s (10 %);
- breakout room ``s-room`` starts at +20 min; Cy is in it from +20 to +25 min;
- two chat messages and three transcript lines; the session ends at +30 min.

Session ``s-live`` ("Daily standup") started 10 minutes before NOW with Dee, still in.

People present: 1 (0-5), 2 (5-10), 1 (10-15), 2 (15-30): peak 2. Participant-minutes of
the main session: Ada 10 + 15, Bo 25 = 50; of the room: Cy 5.
"""

from __future__ import annotations

from datetime import datetime

from rtk_sessions.clock import iso_ms
from tests.factories import (
    MIN,
    SEC,
    T0,
    chat_message,
    ended,
    event,
    meeting,
    peer_metadata,
    started,
    transcript_segment,
    visit,
)

ACCOUNT, APP = "acc-1", "ui-app"
OTHER_ACCOUNT, OTHER_APP, OTHER_SESSION = "acc-2", "ui-other", "s-secret"
SESSION, ROOM, LIVE = "s-weekly", "s-room", "s-live"
START = T0 + 10 * 60 * MIN  # 2026-01-01T10:00:00Z
END = START + 30 * MIN
NOW = START + 60 * MIN  # well past the end and its grace

# (peer, user, name, joined, left, session)
STAYS = [
    ("p-ada-1", "u-ada", "Ada Lovelace", START, START + 10 * MIN, SESSION),
    ("p-bo", "u-bo", "Bo Diddley", START + 5 * MIN, START + 30 * MIN, SESSION),
    ("p-ada-2", "u-ada", "Ada Lovelace", START + 15 * MIN, START + 30 * MIN, SESSION),
    ("p-cy", "u-cy", "Cy Twombly", START + 20 * MIN, START + 25 * MIN, ROOM),
]
STATS_PERIOD = 7 * SEC
FIRST_SAMPLE = START + 5 * MIN + 2 * SEC
LOSSY_ENDS = (FIRST_SAMPLE + 23 * STATS_PERIOD, FIRST_SAMPLE + 24 * STATS_PERIOD)  # +7:43, +7:50
CHAT = [
    ("m1", "p-bo", START + 6 * MIN, "Hello Ada"),
    ("m2", "p-ada-1", START + 7 * MIN, "=SUM(1,1) is two"),
]
TRANSCRIPT = [
    ("p-ada-1", START + 1 * MIN, "Welcome to the weekly sync. Today we review the launch plan."),
    ("p-bo", START + 6 * MIN, "The launch plan is ready and the budget was approved."),
    ("p-ada-2", START + 16 * MIN, "Action item: Bo sends the launch checklist by Friday."),
]


def bo_microphone() -> list[dict]:
    """Bo's sent audio: a sample every 7 s from +5 min 02 s while in the call."""
    samples, sent, lost, at = [], 0, 0, FIRST_SAMPLE
    while at < START + 30 * MIN:
        samples.append(
            {
                "ts": _iso(at),
                "kind": "audio",
                "direction": "producer",
                "ssrc": 4242,
                "packets_sent": sent,
                "bytes_sent": sent * 160,
                "packets_lost": lost,
                "jitter": 0.004,
                "round_trip_time": 0.04,
            }
        )
        at += STATS_PERIOD
        sent += 100
        lost += 10 if at in LOSSY_ENDS else 0
    return samples


def events_of_the_meeting() -> list[dict]:
    events = [
        meeting("m-weekly", "Weekly sync", ts=START - MIN),
        started(SESSION, "m-weekly", START),
        started(ROOM, "m-weekly", START + 20 * MIN, parent=SESSION),
        ended(ROOM, START + 25 * MIN),
        ended(SESSION, END),
    ]
    for peer, user, name, joined, left, session in STAYS:
        events += visit(
            session, peer, joined, left, user_id=user, meeting_id="m-weekly", display_name=name
        )
    events.append(
        peer_metadata(
            "p-bo",
            START + 5 * MIN,
            user_agent="Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/126.0.0.0 Safari/537.36",
            ip="81.2.69.160",
        )
    )
    samples = bo_microphone()
    for i in range(0, len(samples), 10):
        events.append(
            event("peer.stats", _ms(samples[i]["ts"]), peer_id="p-bo", samples=samples[i : i + 10])
        )
    for message_id, peer, at, text in CHAT:
        events.append(chat_message(SESSION, peer, at, message_id, text))
    for peer, at, text in TRANSCRIPT:
        events.append(transcript_segment(SESSION, peer, at, at, at + 20 * SEC, text))
    return events


def events_of_the_live_session() -> list[dict]:
    return [
        meeting("m-standup", "Daily standup", ts=NOW - 11 * MIN),
        started(LIVE, "m-standup", NOW - 10 * MIN),
        *visit(LIVE, "p-dee", NOW - 10 * MIN, None, user_id="u-dee", display_name="Dee Dee"),
    ]


def events_of_the_other_account() -> list[dict]:
    return [
        meeting("m-secret", "Secret board meeting", ts=START),
        started(OTHER_SESSION, "m-secret", START),
        *visit(OTHER_SESSION, "p-eve", START, START + MIN, user_id="u-eve", display_name="Eve"),
        ended(OTHER_SESSION, START + MIN),
    ]


def _iso(ms: int) -> str:
    return iso_ms(ms)  # type: ignore[return-value]


def _ms(iso: str) -> int:
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)
