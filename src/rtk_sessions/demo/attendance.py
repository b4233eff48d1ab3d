"""Who is in each session when: joins, leaves, rejoins, breakout rooms and endings.

A stint is one stay of one person in one session; each stint becomes one peer
(``peer.joined`` and, unless the peer was still in when the host ended the
session or is still in now, ``peer.left``). A person who drops and comes back,
or who moves into a breakout room and back, gets a new peer each time.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .catalog import PRESETS, ROOM_NAMES, SESSION_META
from .people import Person
from .recorder import Recorder
from .schedule import MINUTE_MS, Meeting, Slot

_SECOND_MS = 1000


@dataclass(slots=True)
class Session:
    session_id: str
    meeting: Meeting
    start_ms: int
    end_ms: int = 0  # ended_at, or ``now`` while live
    live: bool = False
    parent: Session | None = None
    peers: list[Peer] = field(default_factory=list)


@dataclass(slots=True)
class Peer:
    peer_id: str
    person: Person
    session: Session
    joined_ms: int
    left_ms: int | None  # None: still in when the host ended the session, or now
    is_host: bool
    ip: str
    dropped: bool = False  # left because the connection broke; the person rejoins
    rejoined: bool = False  # the new peer of a person who dropped

    @property
    def end_ms(self) -> int:
        """When this peer stopped being in the session (``now`` if still in a live one)."""
        return self.left_ms if self.left_ms is not None else self.session.end_ms


@dataclass(slots=True)
class _Stint:
    person: Person
    joined_ms: int
    left_ms: int | None
    dropped: bool = False
    rejoined: bool = False


def play_slot(rec: Recorder, slot: Slot) -> list[Session]:
    """Record the lifecycle events of one slot; the session first, then its breakout rooms."""
    rng = rec.rng
    meeting = slot.meeting
    session = Session(rec.new_id(), meeting, slot.start_ms, live=slot.ending == "live")
    meta = rng.choice(SESSION_META) if rng.random() < 0.3 else None
    rec.record(
        "session.started",
        slot.start_ms,
        session_id=session.session_id,
        meeting_id=meeting.meeting_id,
        **({"meta": meta} if meta else {}),
    )
    stints = _attend(rec, slot)
    rooms: list[tuple[Session, list[_Stint]]] = []
    if slot.breakout:
        stints, rooms = _split_into_rooms(rec, session, slot, stints)
    else:
        stints = _with_rejoins(rec, stints, slot.end_ms)
    _record_peers(rec, session, stints)
    _finish(rec, session, slot.ending, slot.end_ms)
    sessions = [session]
    for index, (room, room_stints) in enumerate(rooms):
        _record_peers(rec, room, room_stints)
        _finish(rec, room, "all_left" if index == 0 else rng.choice(("all_left", "none")), 0)
        sessions.append(room)
    return sessions


def _attend(rec: Recorder, slot: Slot) -> list[_Stint]:
    rng = rec.rng
    meeting, start, end = slot.meeting, slot.start_ms, slot.end_ms
    low, high = meeting.template.size
    count = min(rng.randint(low, high) - 1, len(meeting.roster) - 1)
    others = rng.sample(meeting.roster[1:], count)
    stints = [_Stint(meeting.host, start + rng.randrange(200, 1500), None)]
    latest_join = end - (20 if slot.ending == "live" else 90) * _SECOND_MS
    for person in others:
        roll = rng.random()
        if roll < 0.7 or slot.breakout:
            offset = rng.randrange(2, 180) * _SECOND_MS
        elif roll < 0.9:
            offset = rng.randrange(180, 600) * _SECOND_MS
        else:
            latest = max(601, int((end - start) * 0.4) // _SECOND_MS)
            offset = rng.randrange(600, latest) * _SECOND_MS
        joined = min(start + offset + rng.randrange(1000), latest_join)
        stints.append(_Stint(person, joined, _leave_time(rec, slot, joined)))
    if slot.ending not in ("host", "live"):
        # Without a host to end it, the host leaves too, near the end like everyone else.
        stints[0].left_ms = end - rng.randrange(0, 90_000)
    return stints


def _leave_time(rec: Recorder, slot: Slot, joined: int) -> int | None:
    rng, end = rec.rng, slot.end_ms
    early = rng.random() < (0.05 if slot.breakout else 0.15)
    if early and end - joined > 3 * MINUTE_MS:
        return rng.randrange(joined + MINUTE_MS, end - 30 * _SECOND_MS)
    if slot.ending in ("host", "live"):
        return None  # still in when the host ends it (or still in now)
    return max(joined + 30 * _SECOND_MS, end - rng.randrange(0, 240_000))


def _with_rejoins(rec: Recorder, stints: list[_Stint], end: int) -> list[_Stint]:
    """Some people drop (a broken connection) and come back as a new peer seconds later."""
    rng = rec.rng
    result = []
    for stint in stints:
        left = stint.left_ms if stint.left_ms is not None else end
        if stint is stints[0] or left - stint.joined_ms < 5 * MINUTE_MS or rng.random() > 0.12:
            result.append(stint)
            continue
        drop = rng.randrange(stint.joined_ms + MINUTE_MS, left - 2 * MINUTE_MS)
        back = drop + rng.randrange(3_000, 90_000)
        result.append(_Stint(stint.person, stint.joined_ms, drop, dropped=True))
        result.append(_Stint(stint.person, back, stint.left_ms, rejoined=True))
    return result


def _split_into_rooms(
    rec: Recorder, parent: Session, slot: Slot, stints: list[_Stint]
) -> tuple[list[_Stint], list[tuple[Session, list[_Stint]]]]:
    """Move most people into 2-3 breakout rooms for the middle of the session, then back."""
    rng = rec.rng
    length = slot.end_ms - slot.start_ms
    opens = slot.start_ms + int(length * rng.uniform(0.25, 0.35))
    closes = slot.start_ms + int(length * rng.uniform(0.6, 0.7))
    movers = [
        stint
        for stint in stints[1:]
        if stint.joined_ms < opens - 30 * _SECOND_MS
        and (stint.left_ms is None or stint.left_ms > closes + MINUTE_MS)
    ]
    if len(movers) < 2:
        return stints, []
    count = 2 if len(movers) < 6 else 3
    rooms = [Session(rec.new_id(), parent.meeting, opens, parent=parent) for _ in range(count)]
    for index, room in enumerate(rooms):
        rec.record(
            "session.started",
            opens,
            session_id=room.session_id,
            meeting_id=parent.meeting.meeting_id,
            parent_session_id=parent.session_id,
            meta={"breakout_room": ROOM_NAMES[index % len(ROOM_NAMES)]},
        )
    rng.shuffle(movers)
    room_stints: list[list[_Stint]] = [[] for _ in rooms]
    moving = {id(stint) for stint in movers}
    result = [stint for stint in stints if id(stint) not in moving]
    for index, stint in enumerate(movers):
        out_of_parent = opens + rng.randrange(500, 6_000)
        into_room = out_of_parent + rng.randrange(1_000, 4_000)
        out_of_room = closes + rng.randrange(500, 8_000)
        back = out_of_room + rng.randrange(1_000, 4_000)
        result.append(_Stint(stint.person, stint.joined_ms, out_of_parent))
        room_stints[index % count].append(_Stint(stint.person, into_room, out_of_room))
        result.append(_Stint(stint.person, back, stint.left_ms))
    return result, list(zip(rooms, room_stints, strict=False))


def _record_peers(rec: Recorder, session: Session, stints: list[_Stint]) -> None:
    rng = rec.rng
    meeting = session.meeting
    host_preset, other_preset, view_type, host_role, other_role = PRESETS[meeting.template.preset]
    for stint in sorted(stints, key=lambda stint: stint.joined_ms):
        person = stint.person
        is_host = person is meeting.host
        roaming = (person.is_mobile and rng.random() < 0.3) or (
            stint.rejoined and rng.random() < 0.5
        )
        peer = Peer(
            rec.new_id(),
            person,
            session,
            stint.joined_ms,
            stint.left_ms,
            is_host,
            person.travel_ip if roaming else person.home_ip,
            stint.dropped,
            stint.rejoined,
        )
        session.peers.append(peer)
        rec.record(
            "peer.joined",
            peer.joined_ms,
            session_id=session.session_id,
            meeting_id=meeting.meeting_id,
            peer_id=peer.peer_id,
            user_id=person.user_id,
            display_name=person.display_name,
            custom_participant_id=person.custom_participant_id,
            preset_name=host_preset if is_host else other_preset,
            preset_view_type=view_type,
            role=host_role if is_host else other_role,
            socket_session_id=rec.new_id(),
        )
        if peer.left_ms is not None:
            rec.record(
                "peer.left", peer.left_ms, session_id=session.session_id, peer_id=peer.peer_id
            )


def _finish(rec: Recorder, session: Session, ending: str, planned_end: int) -> None:
    if ending == "live":
        session.live = True
        session.end_ms = rec.now_ms
        return
    if ending == "host":
        session.end_ms = planned_end
        rec.record(
            "session.ended", planned_end, session_id=session.session_id, reason="HOST_ENDED_MEETING"
        )
        return
    session.end_ms = max(peer.end_ms for peer in session.peers if peer.left_ms is not None)
    if ending == "all_left":
        rec.record(
            "session.ended",
            session.end_ms,
            session_id=session.session_id,
            reason="ALL_PARTICIPANTS_LEFT",
        )
