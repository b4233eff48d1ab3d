"""Synthetic native events at scale, for benchmarks: meetings, sessions over two years,
peers with rejoins, breakout rooms, and telemetry, chat and transcripts for some sessions.

    .venv/bin/python bench/generate.py --sessions 1000000 --out /tmp/events.ndjson.gz
    .venv/bin/python bench/generate.py --sessions 100000 --load sqlite:////tmp/gen.db [--apps 2]

Shape: ~20 sessions a meeting (each meeting's people come from its own circle of 40
users, so participants recur), ~5 peers a session (1..30; 1 in 2,000 is a webinar of
200..400), 10% of users drop and rejoin as a second peer, 2% of sessions open 2..4
breakout rooms, every ``telemetry_every``-th session carries ``peer.metadata``,
``peer.stats``, chat and transcript events, and the last sessions (1%, at most 300)
are still live. Lines come session by session in start order, each session's events
(with its rooms') in time order. Same arguments, same bytes.
"""

from __future__ import annotations

import argparse
import gzip
import random
import sys
import time
import zlib
from collections.abc import Iterator
from functools import lru_cache
from operator import itemgetter
from pathlib import Path

import msgspec

DAY, MIN = 86_400_000, 60_000
START_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z
SPAN_MS = 730 * DAY  # sessions start over two years after ``start_ms``
BATCH = 5_000  # lines per ingest call with --load
Span = tuple[str, int, int, int | None]  # a peer: (peer_id, user, joined ms, left ms or None)

TITLE_HEADS = (
    "Weekly|Daily|Quarterly|Product|Design|Engineering|Sales|Customer|Board|Hiring|Marketing|"
    "Support|Équipe|Projekt|Réunion|週次|Equipo|Große"
).split("|")
TITLE_TAILS = (
    "standup|review|planning|sync|retro|all-hands|kickoff|demo|office hours|onboarding|"
    "interview|1:1|Übersicht|ミーティング|planificación|café virtuel|webinar|town hall"
).split("|")
FIRST = (
    "Ada Bruno Chloé Dmitri Emma Farid Greta Hiro Inès Jonas Kenji Lea María Nikolai Olga "
    "Priya Quentin Rosa Søren Zoë Yuki Wei Анна 李"
).split()
LAST = "Smith Müller García Rossi Novak Kim Tanaka Okafor Dubois Silva Jensen Öztürk Chen".split()
PHRASES = (
    "Can everyone hear me?|Sharing my screen now|Let's take five minutes|I'll send the notes|"
    "Next item on the agenda|Ça marche, merci !|Sounds good to me|Any questions?|我们开始吧"
).split("|")
USER_AGENTS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
]
IPS = ["81.2.69.160", "89.160.20.112", "175.16.199.0", "216.160.83.56", "2.125.160.216"]
PRESETS = {"GROUP_CALL": ("group_call_host", "group_call_participant")}
PRESETS["WEBINAR"] = ("webinar_presenter", "webinar_viewer")
REASONS = ("ALL_PARTICIPANTS_LEFT", "HOST_ENDED_MEETING")
_encode = msgspec.json.Encoder().encode
_by_ts = itemgetter("ts")


@lru_cache(maxsize=1024)
def _day(day: int) -> str:
    return time.strftime("%Y-%m-%dT", time.gmtime(day * 86_400))


def iso(ms: int) -> str:
    """Epoch ms as ISO 8601 UTC with milliseconds, e.g. ``2026-01-01T09:30:00.250Z``."""
    day, rest = divmod(ms, DAY)
    seconds, milli = divmod(rest, 1000)
    minutes, second = divmod(seconds, 60)
    hour, minute = divmod(minutes, 60)
    return f"{_day(day)}{hour:02d}:{minute:02d}:{second:02d}.{milli:03d}Z"


def _name(user: int) -> str:
    return f"{FIRST[user % len(FIRST)]} {LAST[user // len(FIRST) % len(LAST)]}"


class Generator:
    """Builds the data set one top-level session at a time, counting rooms, peers, events."""

    def __init__(
        self,
        sessions: int,
        *,
        seed: int = 1,
        apps: int = 1,
        telemetry_every: int = 1000,
        start_ms: int = START_MS,
    ) -> None:
        self.rng, self.seed, self.apps = random.Random(seed), seed, apps
        self.sessions, self.telemetry_every, self.start_ms = sessions, telemetry_every, start_ms
        # a multiple of ``apps``: meeting m's sessions (m, m + meetings, ...) share an app
        self.meetings = max(apps, sessions // 20 // apps * apps)
        self.live_from = sessions - min(300, max(1, sessions // 100))
        self.gap = (SPAN_MS - DAY) / max(1, sessions)
        self.users = max(1_000, sessions)
        self.rooms = self.peers = self.events = 0
        self.out: list[dict] = []  # the events of the session being built

    def blocks(self) -> Iterator[tuple[int, list[bytes]]]:
        """(app index, NDJSON lines) of each top-level session with its rooms, in start order."""
        for index in range(self.sessions):
            self.out = []
            self._session(index)
            self.out.sort(key=_by_ts)
            lines = []
            for event in self.out:
                event["ts"] = iso(event["ts"])
                lines.append(_encode(event))
            self.events += len(lines)
            yield index % self.apps, lines

    def _emit(self, kind: str, ts: int, event_id: str, **fields: object) -> None:
        self.out.append({"id": event_id, "type": kind, "ts": ts, **fields})  # ts: ms for now

    def _id(self, kind: int, number: int) -> str:
        return f"{self.seed:08x}-{kind:04x}-4000-8000-{number:012x}"  # UUID-shaped, unique

    def _session(self, index: int) -> None:
        rng, meeting = self.rng, index % self.meetings
        meeting_id, session_id = self._id(4, meeting), self._id(0, index)
        start = self.start_ms + int(index * self.gap) + rng.randrange(max(1, int(self.gap)))
        webinar, live = rng.random() < 1 / 2000, index >= self.live_from
        end = start + (rng.randint(60, 180) if webinar else rng.randint(10, 120)) * MIN
        if index < self.meetings:
            title = f"{rng.choice(TITLE_HEADS)} {rng.choice(TITLE_TAILS)} #{meeting}"
            self._emit(
                "meeting.upserted", start - DAY, meeting_id, meeting_id=meeting_id, title=title
            )
        self._emit(
            "session.started", start, session_id, session_id=session_id, meeting_id=meeting_id
        )
        users = self._users(meeting, webinar)
        spans = self._peers(session_id, users, start, end, live, webinar)
        if not (live or webinar) and len(users) >= 4 and end - start >= 30 * MIN:
            if rng.random() < 0.05:  # of the sessions that can: ~2% of all
                self._breakout_rooms(session_id, meeting_id, users, start, end)
        if index % self.telemetry_every == 0:
            self._telemetry(spans)
            self._conversation(session_id, start, spans)
        if not live:
            last, reason = max(map(_by_ts, self.out)), rng.choice(REASONS)
            self._emit(
                "session.ended",
                last + 1000,
                f"{session_id}:end",
                session_id=session_id,
                reason=reason,
            )

    def _users(self, meeting: int, webinar: bool) -> list[int]:
        if webinar:
            return self.rng.sample(range(self.users), self.rng.randint(200, 400))
        count = min(30, 1 + int(self.rng.expovariate(1 / 3.8)))
        circle = meeting * 7  # neighbouring meetings share some people
        return [(circle + n) % self.users for n in self.rng.sample(range(40), count)]

    def _peers(
        self, session_id: str, users: list[int], start: int, end: int, live: bool, webinar: bool
    ) -> list[Span]:
        """Join (and, unless live, leave) events of each user; the span of each peer."""
        rng, spans = self.rng, []
        view = "WEBINAR" if webinar else "GROUP_CALL"
        for n, user in enumerate(users):
            preset = PRESETS[view][n > 0]  # the first to join hosts
            join = start + 1000 + (rng.randrange((end - start) // 4) if n else 0)
            leave = None if live else rng.randint(join + MIN, end)
            if rng.random() < 0.1 and (leave or end) - join > 4 * MIN:  # dropped, came back
                drop = rng.randrange(join + MIN, (leave or end) - 2 * MIN)
                spans.append(self._peer(session_id, user, join, drop, preset, view))
                join = drop + rng.randint(5_000, 60_000)
            spans.append(self._peer(session_id, user, join, leave, preset, view))
        return spans

    def _peer(
        self, session_id: str, user: int, join: int, leave: int | None, preset: str, view: str
    ) -> Span:
        self.peers += 1
        peer_id = self._id(2, self.peers)
        self._emit(
            "peer.joined",
            join,
            f"{peer_id}:join",
            session_id=session_id,
            peer_id=peer_id,
            user_id=self._id(3, user),
            display_name=_name(user),
            custom_participant_id=f"member-{user}",
            preset_name=preset,
            preset_view_type=view,
        )
        if leave is not None:
            self._emit(
                "peer.left", leave, f"{peer_id}:leave", session_id=session_id, peer_id=peer_id
            )
        return peer_id, user, join, leave

    def _breakout_rooms(
        self, parent: str, meeting_id: str, users: list[int], start: int, end: int
    ) -> None:
        """2..4 rooms over the middle third of the parent; each user goes to one of them."""
        rng, count = self.rng, self.rng.randint(2, min(4, len(users) // 2))
        opened, closed = start + (end - start) // 3, start + 2 * (end - start) // 3
        for number in range(count):
            self.rooms += 1
            room = self._id(1, self.rooms)
            self._emit(
                "session.started",
                opened,
                room,
                session_id=room,
                meeting_id=meeting_id,
                parent_session_id=parent,
            )
            for user in users[number::count]:
                join, leave = opened + rng.randint(2_000, 20_000), closed - rng.randint(0, 20_000)
                self._peer(room, user, join, leave, "group_call_participant", "GROUP_CALL")
            reason = "HOST_ENDED_MEETING"
            self._emit(
                "session.ended", closed + 1000, f"{room}:end", session_id=room, reason=reason
            )

    def _telemetry(self, spans: list[Span]) -> None:
        """For the first 3 peers: metadata, and 3 stats events of 3 samples (7 s apart) of
        the audio and video producers, a quarter, half and three quarters into the stay."""
        rng = self.rng
        for peer_id, _, join, leave in spans[:3]:
            loss, rtt = rng.choice([0.0, 0.001, 0.02, 0.08]), rng.uniform(0.02, 0.3)
            self._emit(
                "peer.metadata",
                join + 500,
                f"{peer_id}:meta",
                peer_id=peer_id,
                user_agent=rng.choice(USER_AGENTS),
                ip=rng.choice(IPS),
                sdk_name="web-core",
                sdk_version="1.2.0",
                device_info={"cpus": rng.choice([4, 8]), "memory": 8, "os": "Windows"},
                precall_network_information={"rtt": rtt * 1000, "fractional_loss": loss},
            )
            step = ((leave or join + 10 * MIN) - join) // 4
            for k in (1, 2, 3):
                ts = join + k * step
                samples = [
                    _sample(peer_id, kind, join, at, loss, rtt)
                    for at in (ts - 14_000, ts - 7_000, ts)
                    for kind in ("audio", "video")
                ]
                self._emit(
                    "peer.stats", ts, f"{peer_id}:stats{k}", peer_id=peer_id, samples=samples
                )

    def _conversation(self, session_id: str, start: int, spans: list[Span]) -> None:
        """Three chat messages and three transcript segments early in the speakers' stays."""
        for k in range(3):
            peer_id, user, join, _ = spans[k % len(spans)]
            ts, text, said = join + (k + 1) * 5_000, self.rng.choice(PHRASES), f"{session_id}:{k}"
            self._emit(
                "chat.message",
                ts,
                f"{said}:chat",
                session_id=session_id,
                peer_id=peer_id,
                message_id=said,
                display_name=_name(user),
                payload=text,
            )
            self._emit(
                "transcript.segment",
                ts + 2_000,
                f"{said}:text",
                session_id=session_id,
                peer_id=peer_id,
                start_ms=ts - start,  # from the session's start
                end_ms=ts + 2_000 - start,
                text=text,
                language="en",
            )


def _sample(peer_id: str, kind: str, join: int, at: int, loss: float, rtt: float) -> dict:
    """A producer track's cumulative counters at ``at`` (epoch ms) for a peer joined at ``join``."""
    packets = (at - join) * (50 if kind == "audio" else 90) // 1000
    return {
        "ts": iso(at),
        "kind": kind,
        "direction": "producer",
        "track_id": f"{peer_id}:{kind}",
        "ssrc": zlib.crc32(f"{peer_id}{kind}".encode()),
        "packets_sent": packets,
        "bytes_sent": packets * (120 if kind == "audio" else 1100),
        "packets_lost": int(packets * loss),
        "jitter": 0.004 + loss / 4,
        "round_trip_time": rtt,
    }


def generate(
    sessions: int,
    *,
    seed: int = 1,
    apps: int = 1,
    telemetry_every: int = 1000,
    start_ms: int = START_MS,
) -> Iterator[bytes]:
    """NDJSON lines (one event each, no newline) of ``sessions`` top-level sessions."""
    generator = Generator(
        sessions, seed=seed, apps=apps, telemetry_every=telemetry_every, start_ms=start_ms
    )
    for _, lines in generator.blocks():
        yield from lines


def _write(path: Path, blocks: Iterator[tuple[int, list[bytes]]]) -> int:
    """Write the lines (gzip if ``path`` ends with .gz); the uncompressed size in bytes."""
    size = 0
    with gzip.open(path, "wb", 3) if path.suffix == ".gz" else open(path, "wb") as out:
        for _, lines in blocks:
            size += out.write(b"\n".join(lines) + b"\n")
    return size


def _load(url: str, apps: int, blocks: Iterator[tuple[int, list[bytes]]], now_ms: int) -> int:
    """Ingest app by app in batches of ``BATCH`` lines; the NDJSON size in bytes."""
    from rtk_sessions.ingest.pipeline import ingest_items
    from rtk_sessions.store.database import Database
    from rtk_sessions.store.migrate import upgrade

    db, size = Database(url), 0
    upgrade(db)
    pending: list[list[bytes]] = [[] for _ in range(apps)]

    def send(app: int, lines: list[bytes]) -> None:
        report = ingest_items(db, "bench", f"app{app}", lines, now_ms)  # type: ignore[arg-type]
        if report.rejected:
            sys.exit(f"app{app}: {len(report.rejected)} rejected, e.g. {report.rejected[:3]}")

    for app, lines in blocks:
        size += sum(map(len, lines)) + len(lines)
        pending[app] += lines
        while len(pending[app]) >= BATCH:
            send(app, pending[app][:BATCH])
            del pending[app][:BATCH]
    for app, rest in enumerate(pending):
        if rest:
            send(app, rest)
    db.dispose()
    return size


def main(argv: list[str] | None = None) -> None:
    from rich.console import Console
    from rich.progress import Progress

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=1_000_000, help="top-level sessions")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--apps", type=int, default=1, help="apps, round-robin (with --load)")
    parser.add_argument("--telemetry-every", type=int, default=1000)
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--out", type=Path, help="NDJSON file to write (gzip if .gz)")
    target.add_argument("--load", metavar="DATABASE_URL", help="sqlite:///... or postgresql://...")
    args = parser.parse_args(argv)
    if args.out and args.apps > 1:
        parser.error("--apps > 1 needs --load: a file does not say which app an event is for")
    generator = Generator(
        args.sessions, seed=args.seed, apps=args.apps, telemetry_every=args.telemetry_every
    )
    started = time.perf_counter()
    with Progress(console=Console(stderr=True)) as progress:
        task = progress.add_task("sessions", total=args.sessions)

        def tracked() -> Iterator[tuple[int, list[bytes]]]:
            for done, block in enumerate(generator.blocks(), 1):
                yield block
                if done % 1000 == 0 or done == args.sessions:
                    progress.update(task, completed=done)

        if args.out:
            size = _write(args.out, tracked())
        else:
            size = _load(args.load, args.apps, tracked(), generator.start_ms + SPAN_MS)
    seconds = time.perf_counter() - started
    print(
        f"sessions {args.sessions + generator.rooms:,} ({generator.rooms:,} breakout rooms), "
        f"peers {generator.peers:,}, events {generator.events:,}, bytes {size:,} "
        f"(uncompressed NDJSON), {seconds:.1f} s, {generator.events / seconds:,.0f} events/s",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
