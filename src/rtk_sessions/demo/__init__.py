"""A realistic synthetic app for ``rtk-sessions demo``: native events, no I/O.

The app has a dozen meetings (stand-ups, customer calls, a livestreamed town
hall, a 1:1, workshops with breakout rooms, a Japanese, a German and a French
team) and a month of their sessions: people joining late and leaving early,
dropping and rejoining, moving into breakout rooms and back, sessions ended by
the host, by the last person leaving, or by nobody (the server ends those
after its grace period), and two or three sessions live at ``now``. Around
them: chat, transcripts, device and network metadata, and raw WebRTC stats
from good and bad networks, with a counter reset, a gap and a muted stretch.

Everything is drawn from ``random.Random(seed)``: the same ``seed`` and
``now`` give the same events, ids included.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .attendance import play_slot
from .conversation import Conversation
from .people import build_people
from .recorder import Recorder, to_ms
from .schedule import build_meetings, build_slots
from .telemetry import record_peer_telemetry

__all__ = ["generate_demo_events"]


def generate_demo_events(
    now: datetime, *, seed: int = 7, meetings: int = 12, days: int = 30
) -> list[dict[str, Any]]:
    """Events of one synthetic app, ending at ``now`` (timezone-aware UTC).

    Returns plain JSON-able dicts (native events, ``ingest.md`` §1) in time
    order; every timestamp is at or before ``now``. ``meetings`` meetings hold
    sessions spread over the last ``days`` days (about 200 sessions and 50-60
    thousand events at the defaults).
    """
    if meetings < 1 or days < 1:
        raise ValueError("meetings and days must be at least 1")
    rec = Recorder(seed, to_ms(now))
    people = build_people(rec, max(24, 4 * meetings))
    all_meetings = build_meetings(rec, people, meetings, days)
    conversation = Conversation(rec)
    sessions = []
    for slot in build_slots(rec, all_meetings, days):
        for session in play_slot(rec, slot):
            conversation.record(session)
            sessions.append(session)
    record_peer_telemetry(rec, sessions)
    return rec.events()
