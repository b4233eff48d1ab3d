"""Meetings of the demo app and when their sessions happen.

A slot is one planned session of a meeting: its start, its planned end, and
how it will end. Slots of one meeting never overlap (at least five minutes
apart), every finished slot ends at least ten minutes before ``now`` (so the
server's grace period has passed for sessions nobody ended), and the live
slots started within the last half hour and run until ``now``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from .catalog import MEETING_TEMPLATES, MeetingTemplate
from .people import Person
from .recorder import Recorder

MINUTE_MS = 60_000
HOUR_MS = 3_600_000
DAY_MS = 86_400_000
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


@dataclass(slots=True)
class Meeting:
    meeting_id: str
    title: str
    session_type: str
    template: MeetingTemplate
    roster: list[Person]  # roster[0] hosts every session

    @property
    def host(self) -> Person:
        return self.roster[0]


@dataclass(slots=True)
class Slot:
    meeting: Meeting
    start_ms: int
    end_ms: int  # planned end; ``now`` for a live slot
    ending: str  # host | all_left | none | live
    breakout: bool = False


def build_meetings(rec: Recorder, people: list[Person], count: int, days: int) -> list[Meeting]:
    """``count`` meetings, each announced by a ``meeting.upserted`` before the window opens."""
    rng = rec.rng
    meetings = []
    for index in range(count):
        template = MEETING_TEMPLATES[index % len(MEETING_TEMPLATES)]
        title, session_type = template.title, template.session_type
        if index >= len(MEETING_TEMPLATES):
            title = f"{title} #{index // len(MEETING_TEMPLATES) + 1}"
            session_type = "meeting"  # one livestream and one 1:1 meeting are enough
        if session_type == "participant":
            roster = people[:2]  # the title names Priya and Marco, people[0] and people[1]
        else:
            roster = rng.sample(people, min(template.roster, len(people)))
        meeting = Meeting(rec.new_id(), title, session_type, template, roster)
        created = rec.now_ms - days * DAY_MS - rng.randrange(1, 20 * DAY_MS)
        rec.record(
            "meeting.upserted",
            created,
            meeting_id=meeting.meeting_id,
            title=title,
            session_type=session_type,
        )
        meetings.append(meeting)
    return meetings


def build_slots(rec: Recorder, meetings: list[Meeting], days: int) -> list[Slot]:
    """Every session the app will have had by ``now``, finished and live, in start order."""
    rng = rec.rng
    live_meetings = rng.sample(meetings, min(rng.choice((2, 3)), len(meetings)))
    live_ids = {meeting.meeting_id for meeting in live_meetings}
    slots: list[Slot] = []
    for meeting in meetings:
        planned = _planned_slots(rec, meeting, days)
        if meeting.meeting_id in live_ids:
            live_start = rec.now_ms - rng.randrange(4 * MINUTE_MS, 28 * MINUTE_MS)
            planned = [slot for slot in planned if slot.end_ms < live_start - 5 * MINUTE_MS]
            planned.append(Slot(meeting, live_start, rec.now_ms, "live"))
        slots.extend(planned)
    slots.sort(key=lambda slot: (slot.start_ms, slot.meeting.meeting_id))
    _assign_endings(rec, slots)
    _assign_breakouts(rec, slots)
    return slots


def _planned_slots(rec: Recorder, meeting: Meeting, days: int) -> list[Slot]:
    rng = rec.rng
    template = meeting.template
    window_start = rec.now_ms - days * DAY_MS
    latest_end = rec.now_ms - 10 * MINUTE_MS
    first_day, last_day = window_start // DAY_MS, rec.now_ms // DAY_MS
    per_day = template.per_week / (5 if template.weekdays_only else 7)
    starts = []
    for day in range(first_day, last_day + 1):
        if template.weekdays_only and date.fromordinal(_EPOCH_ORDINAL + day).weekday() >= 5:
            continue
        count = int(per_day) + (rng.random() < per_day - int(per_day))
        for k in range(count):
            if count == 1:
                hour = template.hour_utc + rng.gauss(0, 0.2)
            else:  # several a day (a drop-in room): spread over the working day
                hour = template.hour_utc + k * 8 / count + rng.uniform(0, 1.5)
            starts.append(day * DAY_MS + int(hour * HOUR_MS) + rng.randrange(0, 120_000))
    slots: list[Slot] = []
    free_from = window_start
    for start in sorted(starts):
        minutes = max(3.0, template.minutes * rng.uniform(0.7, 1.35))
        end = start + int(minutes * MINUTE_MS)
        if start < free_from or end > latest_end:
            continue
        slots.append(Slot(meeting, start, end, "all_left"))
        free_from = end + 5 * MINUTE_MS
    return slots


def _assign_endings(rec: Recorder, slots: list[Slot]) -> None:
    rng = rec.rng
    finished = [slot for slot in slots if slot.ending != "live"]
    for slot in finished:
        slot.ending = rng.choices(("host", "all_left", "none"), weights=(40, 40, 20))[0]
    # Every kind of ending appears at least once, whatever the dice said.
    endings = ("host", "all_left", "none")
    for slot, ending in zip(rng.sample(finished, min(3, len(finished))), endings, strict=False):
        slot.ending = ending


def _assign_breakouts(rec: Recorder, slots: list[Slot]) -> None:
    candidates = [
        slot
        for slot in slots
        if slot.ending != "live"
        and slot.meeting.template.breakouts
        and slot.end_ms - slot.start_ms >= 25 * MINUTE_MS
    ]
    chosen = rec.rng.sample(candidates, min(len(candidates), max(3, len(candidates) // 3)))
    for slot in chosen:
        slot.breakout = True
