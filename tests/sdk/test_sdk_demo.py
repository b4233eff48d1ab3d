"""The demo answers every endpoint of the Sessions issue through both official SDK generations.

As a user runs it: ``rtk-sessions demo --no-serve`` loads the synthetic app into a
fresh SQLite file and prints its token alone on the last stdout line;
``rtk-sessions token create --email ...`` adds a token for the X-Auth-Key +
X-Auth-Email style (the demo's token is bound to no email, so a wrong email
would not be refused with it); ``rtk-sessions serve`` serves the file.

The demo's ids and times depend on the clock, so nothing here is hard-coded:
the ids ``sdk_calls.py`` needs (an ended session where a user rejoined, a
parent with breakout rooms, a live session with a peer still in and one who
left, peers with device metadata, search strings, a combined filter...) are
chosen from the demo's own answers over the plain HTTP API, which also give
what every SDK call must read. Then ``sdk_calls.py`` runs with the current SDK
(5.9.0) and the seed's (5.0.0), strict validation and raw-vs-parsed types.
"""

from __future__ import annotations

import copy
import json
import os
import sqlite3
import subprocess
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
from harness import (
    CLI,
    GENERATIONS,
    NESTED_DETAILS,
    PYTHON_GENERATIONS,
    TS_GENERATIONS,
    TWIN,
    Outcome,
    interpreter,
    last_line_token,
    sdk_runner,
    start_server,
    stop,
)
from test_sdk_conformance import allowed_seed_failure, ids_of, when, without_volatile

# tests/sdk is on sys.path (no __init__.py here).
from rtk_sessions.ingest.stored import stats_samples
from rtk_sessions.store.apps import app_key
from rtk_sessions.store.database import Database
from rtk_sessions.store.stats import load_stats

pytestmark = pytest.mark.sdk

DEMO_ACCOUNT = "demo-account"
DEMO_APP = "demo-app"
OTHER_ACCOUNT = "demo-account-other"
EMAIL = "sdk-demo@example.com"
DEMO_TIMEOUT_S = 300
LIST_PAGE = 100  # per_page of sdk_calls.py's long session lists


# --------------------------------------------------------------------------
# the demo, loaded and served
# --------------------------------------------------------------------------


@dataclass
class Catalog:
    """The demo app as the plain HTTP API answers it (read once, before the SDK runs)."""

    total: int  # paging.total_count of GET /sessions
    sessions: list[dict[str, Any]]  # top-level, createdAt ASC (ties by id ASC)
    rooms: dict[str, dict[str, Any]]  # breakout rooms by id
    peers: dict[str, list[dict[str, Any]]]  # raw participants (joinedAt ASC), every session
    live_peer_has_metadata: bool
    telemetry: dict[str, str] = field(default_factory=dict)  # role -> peer id (raw stats)

    @property
    def by_id(self) -> dict[str, dict[str, Any]]:
        return {s["id"]: s for s in self.sessions}

    def desc(self) -> list[str]:
        """Top-level ids as GET /sessions lists them by default (createdAt DESC, id DESC)."""
        return [s["id"] for s in reversed(self.sessions)]

    def live(self) -> set[str]:
        return {s["id"] for s in self.sessions if s["status"] == "LIVE"}

    def volatile(self) -> set[str]:
        """What grows with the clock: live sessions and their peers still in."""
        return self.live() | {
            p["id"] for sid in self.live() for p in self.peers[sid] if p.get("left_at") is None
        }


@dataclass(frozen=True)
class DemoServer:
    base_url: str
    token: str  # the demo's, from the last stdout line
    key_token: str  # bound to EMAIL
    account: str
    app: str
    ids: dict[str, Any]
    ids_file: Path
    log: Path  # attached to failing tests' reports by conftest
    catalog: Catalog


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoServer]:
    work = tmp_path_factory.mktemp("sdk-demo")
    log = work / "server.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("RTK_")}
    env["RTK_DATABASE_URL"] = f"sqlite:///{work / 'demo.db'}"

    seed = os.environ.get("RTK_TEST_DEMO_SEED")  # the demo's own default if unset
    loaded = subprocess.run(
        [str(CLI), "demo", "--no-serve", *(["--seed", seed] if seed else [])],
        env=env,
        cwd=work,
        capture_output=True,
        text=True,
        timeout=DEMO_TIMEOUT_S,
    )
    token = last_line_token(loaded, "rtk-sessions demo --no-serve")
    assert "rejected 0" in loaded.stderr, (
        f"the demo's events were not all accepted:\n{loaded.stderr[-4000:]}"
    )
    created = subprocess.run(
        [
            str(CLI),
            "token",
            "create",
            "--account",
            DEMO_ACCOUNT,
            "--scope",
            "read",
            "--email",
            EMAIL,
            "--name",
            "sdk-demo-key",
        ],
        env=env,
        cwd=work,
        capture_output=True,
        text=True,
        timeout=120,
    )
    key_token = last_line_token(created, "rtk-sessions token create")
    assert key_token != token

    proc, base_url = start_server(env, work, log)
    try:
        api = f"{base_url}/accounts/{DEMO_ACCOUNT}/realtime/kit/{DEMO_APP}"
        with httpx.Client(
            base_url=api, headers={"Authorization": f"Bearer {token}"}, timeout=60
        ) as http:
            catalog = read_catalog(http)
            catalog.telemetry = telemetry_roles(work / "demo.db")
            ids = plan_demo(http, catalog, key_token)
            ids["report_peers"] = sorted(catalog.telemetry.values())
        ids_file = work / "ids.json"
        ids_file.write_text(json.dumps(ids, indent=1, ensure_ascii=False), encoding="utf-8")
        yield DemoServer(
            base_url=base_url,
            token=token,
            key_token=key_token,
            account=DEMO_ACCOUNT,
            app=DEMO_APP,
            ids=ids,
            ids_file=ids_file,
            log=log,
            catalog=catalog,
        )
    finally:
        stop(proc)


# --------------------------------------------------------------------------
# choosing the ids from the demo's answers (plain HTTP)
# --------------------------------------------------------------------------


def get_json(http: httpx.Client, path: str, **params: Any) -> dict[str, Any]:
    response = http.get(path, params=params)
    assert response.status_code == 200, (
        f"GET {path} {params}: {response.status_code} {response.text[:1000]}"
    )
    body = response.json()
    assert body["success"] is True, body
    return body


def all_participants(http: httpx.Client, session_id: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    page = 1
    while True:
        body = get_json(http, f"/sessions/{session_id}/participants", per_page=200, page_no=page)
        got = body["data"]["participants"]
        rows += got
        if not got or len(rows) >= body["data"]["paging"]["total_count"]:
            return rows
        page += 1


def read_catalog(http: httpx.Client) -> Catalog:
    sessions: list[dict[str, Any]] = []
    page, total = 1, None
    while True:
        body = get_json(
            http, "/sessions", sort_by="createdAt", sort_order="ASC", per_page=100, page_no=page
        )
        total = body["paging"]["total_count"]
        if not body["data"]["sessions"]:
            break
        sessions += body["data"]["sessions"]
        page += 1
    assert len(sessions) == total, f"listed {len(sessions)} sessions, total_count {total}"
    rooms = {room["id"]: room for s in sessions for room in s["breakout_rooms"]}
    peers = {sid: all_participants(http, sid) for sid in [s["id"] for s in sessions] + list(rooms)}
    return Catalog(
        total=total, sessions=sessions, rooms=rooms, peers=peers, live_peer_has_metadata=False
    )


def device_info(http: httpx.Client, session_id: str, peer_id: str) -> dict[str, Any] | None:
    body = get_json(http, f"/sessions/{session_id}/participants/{peer_id}")
    return (body["data"]["participant"].get("peer_stats") or {}).get("device_info")


def raw_audio_loss(samples: list[dict[str, Any]]) -> tuple[float, int] | None:
    """Σ lost / Σ sent (%) of a peer's sent audio straight from its raw samples, and the
    number of intervals; an interval where a counter went down (a reset) is left out."""
    by_track: dict[Any, list[dict[str, Any]]] = defaultdict(list)
    for sample in samples:
        if sample["kind"] == "audio" and sample["direction"] == "producer":
            by_track[sample["ssrc"]].append(sample)
    sent = lost = intervals = 0
    for track in by_track.values():
        track.sort(key=lambda s: s["ts"])
        for before, after in zip(track, track[1:], strict=False):
            if after["packets_sent"] < before["packets_sent"]:
                continue
            sent += after["packets_sent"] - before["packets_sent"]
            lost += max(0, after["packets_lost"] - before["packets_lost"])
            intervals += 1
    return (100 * lost / sent, intervals) if sent else None


def telemetry_roles(database: Path) -> dict[str, str]:
    """Peers whose raw stats (read from the database file, not through the API: the stored
    rows decoded, which tests/store/test_stats.py shows are the samples as sent) show a
    good network, a lossy one, and a camera encoder limited by bandwidth: the longest of
    each."""
    samples: dict[str, list[dict[str, Any]]] = {}
    db = Database(f"sqlite:///{database}")
    try:
        with sqlite3.connect(database) as conn:
            peer_ids = [p for (p,) in conn.execute("SELECT peer_id FROM stats_peers")]
        stored = load_stats(db, app_key(db, DEMO_ACCOUNT, DEMO_APP) or 0, peer_ids)
        for peer_id in peer_ids:
            samples[peer_id] = msgspec.to_builtins(stats_samples(stored[peer_id]))
    finally:
        db.dispose()
    candidates: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for peer_id, peer_samples in samples.items():
        loss = raw_audio_loss(peer_samples)
        if loss is not None and loss[0] < 0.5:
            candidates["good"].append((loss[1], peer_id))
        if loss is not None and loss[0] >= 5:
            candidates["lossy"].append((loss[1], peer_id))
        limited = sum(s.get("quality_limitation_reason") == "bandwidth" for s in peer_samples)
        if limited and loss is not None and loss[0] < 5:  # a bad patch on a fine network
            candidates["bandwidth"].append((limited, peer_id))
    roles: dict[str, str] = {}
    for role in ("good", "lossy", "bandwidth"):  # the longest of each, three different peers
        chosen = [p for _, p in sorted(candidates[role], reverse=True) if p not in roles.values()]
        assert chosen, f"no peer in the demo's raw stats shows a {role} call"
        roles[role] = chosen[0]
    return roles


def rejoined_users(peers: list[dict[str, Any]]) -> list[str]:
    counts = Counter(p["user_id"] for p in peers if p["user_id"])
    return sorted(user for user, n in counts.items() if n >= 2)


def longest_word(title: str) -> str:
    return max(title.split(), key=len)


def iso(ts: datetime) -> str:
    return ts.astimezone(UTC).isoformat(timespec="milliseconds")


def plan_demo(http: httpx.Client, catalog: Catalog, key_token: str) -> dict[str, Any]:
    """The ids and values sdk_calls.py uses, chosen from what the demo answers now."""
    top = catalog.sessions

    # An ended session (not a parent) where a user rejoined, the more peers the better,
    # with a peer who sent device metadata.
    candidates = sorted(
        (
            s
            for s in top
            if s["status"] == "ENDED"
            and not s["breakout_rooms"]
            and rejoined_users(catalog.peers[s["id"]])
        ),
        key=lambda s: (-len(catalog.peers[s["id"]]), s["id"]),
    )
    ended = ended_peer = None
    for session in candidates:
        ended_peer = next(
            (p for p in catalog.peers[session["id"]] if device_info(http, session["id"], p["id"])),
            None,
        )
        if ended_peer is not None:
            ended = session
            break
    if ended is None or ended_peer is None:
        pytest.fail(
            "the demo has no ended session where a user rejoined and a peer sent device metadata",
            pytrace=False,
        )
    peers = catalog.peers[ended["id"]]

    # A parent with breakout rooms: the most rooms; its rooms as the details list them.
    parents = sorted(
        (s for s in top if s["status"] == "ENDED" and s["breakout_rooms"]),
        key=lambda s: (-len(s["breakout_rooms"]), s["id"]),
    )
    if not parents:
        pytest.fail("the demo lists no session with breakout rooms", pytrace=False)
    parent = parents[0]
    detail = get_json(http, f"/sessions/{parent['id']}", include_breakout_rooms="true")
    rooms = sorted(room["id"] for room in detail["data"]["session"]["breakout_rooms"])
    assert rooms, f"GET /sessions/{parent['id']}?include_breakout_rooms=true lists no room"

    # A live session: a peer still in who sent metadata, and one who left, if there are.
    best: tuple[tuple[bool, bool], str, dict[str, Any], dict[str, Any] | None] | None = None
    for session in sorted((s for s in top if s["status"] == "LIVE"), key=lambda s: s["id"]):
        people = catalog.peers[session["id"]]
        still_in = [p for p in people if p.get("left_at") is None]
        if not still_in:
            continue
        stays = next((p for p in still_in if device_info(http, session["id"], p["id"])), None)
        left = next((p for p in people if p.get("left_at") is not None), None)
        score = (stays is not None, left is not None)
        if best is None or score > best[0]:
            best = (score, session["id"], stays or still_in[0], left)
    if best is None:
        pytest.fail("the demo has no live session with a peer still in", pytrace=False)
    (has_metadata, _), live_id, live_peer, left_peer = best
    catalog.live_peer_has_metadata = has_metadata
    if left_peer is None:  # nobody left: any other peer (or the same one) still answers
        others = [p for p in catalog.peers[live_id] if p["id"] != live_peer["id"]]
        left_peer = others[0] if others else live_peer

    # Searches: a title word upper-cased, one with a non-ASCII letter if a title has one
    # (the search is case-insensitive beyond ASCII: "CAFÉ" finds "Café").
    titles = sorted({s["meeting_display_name"] for s in top if s["meeting_display_name"]})
    unicode_words = [
        w
        for t in titles
        for w in t.split()
        if any(ord(c) > 127 and c.upper() != c.lower() for c in w)
    ]
    search = (
        unicode_words[0] if unicode_words else longest_word(ended["meeting_display_name"])
    ).upper()
    started = when(ended["started_at"])
    k = len(peers)
    download, no_chat = downloads_plan(http, top)
    return {
        "download_session": download,
        "no_chat_session": no_chat,
        "email": EMAIL,
        "key_token": key_token,
        "other_account": OTHER_ACCOUNT,
        "ended_session": ended["id"],
        "ended_peer": ended_peer["id"],
        "search_user_id": rejoined_users(peers)[0],
        "parent_session": parent["id"],
        "breakout_room": rooms[0],
        "breakout_rooms": rooms,
        "live_session": live_id,
        "live_peer": live_peer["id"],
        "left_peer": left_peer["id"],
        "live_search": (live_peer["display_name"] or live_peer["id"]).split()[0].upper(),
        "search": search,
        "combined_search": longest_word(ended["meeting_display_name"]).upper(),
        "combined_participants": f"{max(1, k - 1)}:{k + 1}",
        "combined_start_time": iso(started - timedelta(days=7)),
        "combined_end_time": iso(started),  # the ended session's start: inclusive
        "associated_id": ended["associated_id"],
        "start_time": iso(started - timedelta(days=3)),
        "end_time": iso(started),
        "participants_range": "2:4",
        "participants_exact": str(k),
    }


def downloads_plan(http: httpx.Client, top: list[dict[str, Any]]) -> tuple[str, str]:
    """The ended session with the most participant-minutes that has chat and a transcript
    (a long call: a summary worth reading), and a session without chat."""
    download = no_chat = None
    for session in sorted(
        (s for s in top if s["status"] == "ENDED"), key=lambda s: (-s["minutes_consumed"], s["id"])
    ):
        chat = http.get(f"/sessions/{session['id']}/chat").status_code
        if no_chat is None and chat == 404:
            no_chat = session["id"]
        if download is None and chat == 200:
            if http.get(f"/sessions/{session['id']}/transcript").status_code == 200:
                download = session["id"]
        if download and no_chat:
            return download, no_chat
    pytest.fail("the demo has no ended session with chat and a transcript, or none without "
                "chat", pytrace=False)


def stored_conversation(database: Path, session_id: str) -> tuple[list[str], int]:
    """The session's chat message ids in time order and its number of transcript segments,
    read from the database file (not through the API)."""
    with sqlite3.connect(database) as conn:
        chat = [
            json.loads(payload)["message_id"]
            for (payload,) in conn.execute(
                "SELECT payload FROM events WHERE type = 'chat.message' AND session_id = ? "
                "ORDER BY ts_ms, event_id",
                (session_id,),
            )
        ]
        (segments,) = conn.execute(
            "SELECT count(*) FROM events WHERE type = 'transcript.segment' AND session_id = ?",
            (session_id,),
        ).fetchone()
    return chat, segments


# --------------------------------------------------------------------------
# the SDK runs
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def runs(demo_server: DemoServer) -> Callable[[str], Outcome]:
    """sdk_calls.py once per generation against the demo (cached for the module)."""
    return sdk_runner(demo_server)


@pytest.fixture(scope="module", params=GENERATIONS)
def generation(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(scope="module")
def sdk(runs: Callable[[str], Outcome], generation: str) -> dict[str, Any]:
    outcome = runs(generation)
    if outcome.returncode != 0 or outcome.output is None:
        pytest.fail(
            f"sdk_calls.py failed on the demo with the {generation} SDK; see "
            f"test_demo_every_call_parses_strictly[{generation}]",
            pytrace=False,
        )
    return outcome.output


def participant_rows(rows: list[dict[str, Any]], volatile: set[str]) -> list[dict[str, Any]]:
    """The stable part of participant rows (a live peer's duration grows)."""
    keys = (
        "id",
        "user_id",
        "display_name",
        "custom_participant_id",
        "preset_name",
        "joined_at",
        "left_at",
        "duration",
    )
    return [
        {k: row.get(k) for k in keys if not (k == "duration" and row["id"] in volatile)} for row in rows
    ]


STABLE_SESSION_FIELDS = (
    "id",
    "associated_id",
    "created_at",
    "started_at",
    "updated_at",
    "ended_at",
    "status",
    "type",
    "max_concurrent_participants",
    "live_participants",
    "meeting_display_name",
    "organization_id",
)


def session_diff(
    fact: dict[str, Any], want: dict[str, Any], volatile: set[str]
) -> dict[str, tuple[Any, Any]]:
    fields = STABLE_SESSION_FIELDS + (() if want["id"] in volatile else ("minutes_consumed",))
    diff = {f: (fact.get(f), want.get(f)) for f in fields if fact.get(f) != want.get(f)}
    if fact.get("meta") != want["meta"]:
        diff["meta"] = (fact.get("meta"), want["meta"])
    return diff


# --------------------------------------------------------------------------
# every call parses, with either generation
# --------------------------------------------------------------------------


def test_demo_every_call_parses_strictly(runs: Callable[[str], Outcome], generation: str) -> None:
    outcome = runs(generation)
    assert outcome.output is not None, outcome.describe()
    assert outcome.output["failures"] == [], outcome.describe()
    assert outcome.returncode == 0, outcome.describe()
    assert outcome.output["sdk_version"] == interpreter(generation)[1]
    assert outcome.output["generation_features"]["participant_details_filters"] is (
        generation in NESTED_DETAILS
    )


# --------------------------------------------------------------------------
# GET /sessions
# --------------------------------------------------------------------------


def test_demo_session_list(sdk: dict[str, Any], demo_server: DemoServer) -> None:
    catalog = demo_server.catalog
    sessions, paging = sdk["facts"]["sessions"], sdk["facts"]["paging"]
    order = catalog.desc()
    assert paging["sessions_default"]["total_count"] == catalog.total >= 150
    assert ids_of(sessions["sessions_default"]) == order[:20]
    assert sdk["facts"]["plain_get_sessions_ids"] == order[:20]
    assert ids_of(sessions["sessions_created_desc"]) == order[:LIST_PAGE]
    assert ids_of(sessions["sessions_created_asc"]) == order[::-1][:LIST_PAGE]
    pages = sorted(
        (int(k.rsplit("_", 1)[1]), rows)
        for k, rows in sessions.items()
        if k.startswith("sessions_page_")
    )
    assert [sid for _, rows in pages for sid in ids_of(rows)] == order[: 10 * len(pages)]
    for n, _ in pages:
        assert paging[f"sessions_page_{n}"] == {
            "total_count": catalog.total,
            "start_offset": (n - 1) * 10 + 1,
            "end_offset": n * 10,
        }
    for name in ("sessions_minutes_desc", "sessions_minutes_asc"):
        minutes = [s["minutes_consumed"] for s in sessions[name]]
        assert minutes == sorted(minutes, reverse=name.endswith("desc")), name
        assert len(minutes) == min(LIST_PAGE, catalog.total)

    # What the SDK read is what the plain API answered (sessions and their rooms).
    volatile, by_id = catalog.volatile(), catalog.by_id
    read = sessions["sessions_created_desc"] + sessions["sessions_created_asc"]
    assert {
        s["id"]: session_diff(s, by_id[s["id"]], volatile)
        for s in read
        if session_diff(s, by_id[s["id"]], volatile)
    } == {}
    assert {s["id"]: sorted(s["breakout_room_ids"]) for s in read} == {
        s["id"]: sorted(r["id"] for r in by_id[s["id"]]["breakout_rooms"]) for s in read
    }
    assert any(s["breakout_room_ids"] for s in read), "no listed session shows its rooms"


def test_demo_live_and_ended_lists(sdk: dict[str, Any], demo_server: DemoServer) -> None:
    catalog = demo_server.catalog
    sessions, paging = sdk["facts"]["sessions"], sdk["facts"]["paging"]
    live = sessions["sessions_live"]
    assert len(live) >= 2, "the demo has 2-3 live sessions"
    assert {s["status"] for s in live} == {"LIVE"}
    assert {s["ended_at"] for s in live} == {None}
    assert set(ids_of(live)) == catalog.live()
    assert all(s["live_participants"] >= 1 for s in live)
    ended = sessions["sessions_ended"]
    assert {s["status"] for s in ended} == {"ENDED"}
    assert paging["sessions_ended"]["total_count"] == catalog.total - len(catalog.live())
    assert all(s["ended_at"] is not None for s in ended)


def expected_page(catalog: Catalog, wanted: set[str]) -> list[str]:
    """The first page (createdAt DESC, LIST_PAGE a page) of the top-level sessions in ``wanted``."""
    return [sid for sid in catalog.desc() if sid in wanted][:LIST_PAGE]


def test_demo_session_filters(sdk: dict[str, Any], demo_server: DemoServer) -> None:
    catalog, ids = demo_server.catalog, demo_server.ids
    sessions, paging = sdk["facts"]["sessions"], sdk["facts"]["paging"]
    peers = {s["id"]: len(catalog.peers[s["id"]]) for s in catalog.sessions}

    def where(test: Callable[[dict[str, Any]], bool]) -> set[str]:
        return {s["id"] for s in catalog.sessions if test(s)}

    def found(text: str, s: dict[str, Any]) -> bool:  # title, meeting id, session id
        return any(
            text.casefold() in v.casefold()
            for v in (s["meeting_display_name"], s["associated_id"], s["id"])
        )

    def in_range(s: dict[str, Any], start: str, end: str) -> bool:
        return when(start) <= when(s["started_at"]) <= when(end)

    def low_high(text: str) -> tuple[int, int]:
        low, _, high = text.partition(":")
        return int(low), int(high or low)

    lo, hi = low_high(ids["participants_range"])
    filters = {
        "sessions_search": where(lambda s: found(ids["search"], s)),
        "sessions_associated": where(lambda s: s["associated_id"] == ids["associated_id"]),
        "sessions_time_range": where(lambda s: in_range(s, ids["start_time"], ids["end_time"])),
        "sessions_participants_1_5": where(lambda s: lo <= peers[s["id"]] <= hi),
        "sessions_participants_exact": where(
            lambda s: peers[s["id"]] == int(ids["participants_exact"])
        ),
    }
    for name, wanted in filters.items():
        assert wanted, f"{name}: the plan chose a filter that matches nothing"
        assert ids_of(sessions[name]) == expected_page(catalog, wanted), name
        assert paging[name]["total_count"] == len(wanted), name
    assert ids["ended_session"] in filters["sessions_time_range"]  # end is inclusive

    c_lo, c_hi = low_high(ids["combined_participants"])
    combined = where(
        lambda s: s["status"] == "ENDED"
        and c_lo <= peers[s["id"]] <= c_hi
        and found(ids["combined_search"], s)
        and in_range(s, ids["combined_start_time"], ids["combined_end_time"])
    )
    assert ids["ended_session"] in combined
    by_id = catalog.by_id
    assert (
        ids_of(sessions["sessions_combined"])
        == sorted(combined, key=lambda sid: (by_id[sid]["minutes_consumed"], sid))[:50]
    )
    assert paging["sessions_combined"]["total_count"] == len(combined) >= 1


# --------------------------------------------------------------------------
# GET /sessions/{session_id}
# --------------------------------------------------------------------------


def test_demo_session_details(
    sdk: dict[str, Any], demo_server: DemoServer, generation: str
) -> None:
    catalog, ids = demo_server.catalog, demo_server.ids
    details, volatile = sdk["facts"]["session"], catalog.volatile()
    assert {d["shape"] for d in details.values()} == {
        "nested" if generation in NESTED_DETAILS else "flat"}
    want = {**catalog.by_id, **catalog.rooms}
    for name, key in (
        ("details_ended", "ended_session"),
        ("details_parent", "parent_session"),
        ("details_breakout_room", "breakout_room"),
        ("details_live", "live_session"),
    ):
        assert session_diff(details[name], want[ids[key]], volatile) == {}, name
    for name, call in sdk["calls"].items():
        if name.startswith("details_"):
            data = call["response"]["data"]
            assert {k: v for k, v in data.items() if k != "session"} == data["session"], name


def test_demo_breakout_rooms(sdk: dict[str, Any], demo_server: DemoServer) -> None:
    catalog, ids = demo_server.catalog, demo_server.ids
    details = sdk["facts"]["session"]
    rooms = sorted(details["details_parent_rooms"]["breakout_room_ids"])
    assert rooms, "the parent's details list no breakout room"
    assert rooms == ids["breakout_rooms"]
    assert rooms == sorted(r["id"] for r in catalog.by_id[ids["parent_session"]]["breakout_rooms"])
    assert details["details_parent"]["breakout_room_ids"] == []
    assert details["details_parent_no_rooms"]["breakout_room_ids"] == []
    full = sdk["calls"]["details_parent_rooms"]["response"]["data"]["session"]["breakout_rooms"]
    for room in full:
        assert room["parent_session_id"] == ids["parent_session"]
        assert session_diff(room, catalog.rooms[room["id"]], set()) == {}
    listed = ids_of(sdk["facts"]["sessions"]["sessions_created_desc"])
    assert not set(rooms) & set(listed), "a breakout room is listed as a top-level session"


# --------------------------------------------------------------------------
# GET /sessions/{session_id}/participants
# --------------------------------------------------------------------------


def test_demo_participants_of_an_ended_session(
    sdk: dict[str, Any], demo_server: DemoServer
) -> None:
    catalog, ids = demo_server.catalog, demo_server.ids
    want = participant_rows(catalog.peers[ids["ended_session"]], set())
    got, paging = sdk["facts"]["participants"], sdk["facts"]["paging"]
    assert participant_rows(got["participants_ended"], set()) == want
    assert participant_rows(got["participants_ended_default"], set()) == want[:25]
    assert paging["participants_ended"]["total_count"] == len(want)
    assert participant_rows(got["participants_ended_page_2"], set()) == want[5:10]
    durations = [p["duration"] for p in got["participants_ended_duration_desc"]]
    assert durations == sorted(durations, reverse=True)
    searched = got["participants_ended_search"]
    assert len(searched) >= 2, "the searched user rejoined: two peers or more"
    assert participant_rows(searched, set()) == [
        p for p in want if p["user_id"] == ids["search_user_id"]
    ]
    for row in got["participants_ended_events"]:
        events = row["peer_events"]
        assert [e["event_name"] for e in events][:2] == ["PEER_CREATED", "PEER_JOINING"]
        assert events[-1]["event_name"] == "PEER_LEAVING"
        assert {e["peer_id"] for e in events} == {row["id"]}
        assert {e["session_id"] for e in events} == {ids["ended_session"]}


def test_demo_consolidated_view(sdk: dict[str, Any], demo_server: DemoServer) -> None:
    catalog, ids = demo_server.catalog, demo_server.ids
    got, paging = sdk["facts"]["participants"], sdk["facts"]["paging"]
    raw = list(got["participants_parent_raw"])
    assert participant_rows(raw, set()) == participant_rows(
        catalog.peers[ids["parent_session"]], set()
    )
    raw_total = paging["participants_parent_raw"]["total_count"]
    for i, room in enumerate(ids["breakout_rooms"]):
        rows = got[f"participants_breakout_room_{i}_raw"]
        assert participant_rows(rows, set()) == participant_rows(catalog.peers[room], set())
        raw += rows
        raw_total += paging[f"participants_breakout_room_{i}_raw"]["total_count"]
    consolidated = got["participants_parent_consolidated"]
    assert paging["participants_parent_consolidated"]["total_count"] == len(consolidated)
    assert len(consolidated) <= raw_total == len(raw)
    assert len(consolidated) < raw_total, "people moved into breakout rooms and back"
    # One row per user over the parent and its rooms, durations summed.
    assert sorted(p["user_id"] for p in consolidated) == sorted({p["user_id"] for p in raw})
    sums: dict[str, float] = defaultdict(float)
    for p in raw:
        sums[p["user_id"]] += p["duration"]
    rows_of = Counter(p["user_id"] for p in raw)
    off = {
        p["user_id"]: (p["duration"], round(sums[p["user_id"]], 4))
        for p in consolidated
        if abs(p["duration"] - sums[p["user_id"]]) > 0.0001 * rows_of[p["user_id"]] + 1e-9
    }
    assert off == {}, "consolidated duration != the sum of the user's raw rows (4-dp rounding)"
    top3 = got["participants_parent_consolidated_duration"]
    assert [p["duration"] for p in top3] == sorted(
        (p["duration"] for p in consolidated), reverse=True
    )[:3]


# --------------------------------------------------------------------------
# the live session
# --------------------------------------------------------------------------


def test_demo_live_session(sdk: dict[str, Any], demo_server: DemoServer) -> None:
    catalog, ids = demo_server.catalog, demo_server.ids
    live = sdk["facts"]["session"]["details_live"]
    want = catalog.by_id[ids["live_session"]]
    assert live["status"] == "LIVE" and live["ended_at"] is None
    assert live["live_participants"] >= 1
    assert live["breakout_room_ids"] == []
    assert live["minutes_consumed"] >= want["minutes_consumed"]  # grows with the clock

    people = sdk["facts"]["participants"]["participants_live"]
    volatile = catalog.volatile()
    assert participant_rows(people, volatile) == participant_rows(
        catalog.peers[ids["live_session"]], volatile
    )
    by_id = {p["id"]: p for p in people}
    stays = by_id[ids["live_peer"]]
    assert stays["left_at"] is None
    assert [e["event_name"] for e in stays["peer_events"]] == ["PEER_CREATED", "PEER_JOINING"]
    if ids["left_peer"] != ids["live_peer"] and by_id[ids["left_peer"]]["left_at"] is not None:
        gone = by_id[ids["left_peer"]]
        assert [e["event_name"] for e in gone["peer_events"]][-1] == "PEER_LEAVING"
        assert sdk["facts"]["participant"]["participant_left"]["left_at"] == gone["left_at"]
    for row in people:
        names = [e["event_name"] for e in row["peer_events"]]
        assert ("PEER_LEAVING" in names) is (row["left_at"] is not None), row["id"]
    searched = sdk["facts"]["participants"]["participants_live_search"]
    text = ids["live_search"].casefold()
    assert ids["live_peer"] in ids_of(searched)
    assert ids_of(searched) == [
        p["id"]
        for p in catalog.peers[ids["live_session"]]
        if any(
            text in (p.get(k) or "").casefold()
            for k in ("display_name", "user_id", "custom_participant_id", "id")
        )
    ]


# --------------------------------------------------------------------------
# GET /sessions/{session_id}/participants/{participant_id}
# --------------------------------------------------------------------------


def test_demo_participant_details(
    sdk: dict[str, Any], demo_server: DemoServer, generation: str
) -> None:
    catalog, ids = demo_server.catalog, demo_server.ids
    details = sdk["facts"]["participant"]
    with_metadata = ["participant_ended", "participant_ended_events"]
    if catalog.live_peer_has_metadata:
        with_metadata += ["participant_live", "participant_live_events", "key_participant_live"]
    for name in with_metadata:
        fact = details[name]
        # 5.0.0 and 6.x type peer_stats (5.0.0 validates it strictly); 5.3+ and 7.x keep
        # it as extra data.
        assert ("peer_stats" in fact["typed_fields"]) is (generation in NESTED_DETAILS), name
        device = (fact["peer_stats"] or {}).get("device_info") or {}
        assert isinstance(device.get("browser"), str) and device["browser"], (name, device)
        assert isinstance(device.get("os"), str) and device["os"], (name, device)
        assert isinstance(fact["quality_stats"], list), name
    ended = {p["id"]: p for p in catalog.peers[ids["ended_session"]]}[ids["ended_peer"]]
    assert participant_rows([details["participant_ended"]], set()) == participant_rows(
        [ended], set()
    )
    assert details["participant_ended"]["peer_events"] is None
    assert [e["event_name"] for e in details["participant_ended_events"]["peer_events"]] == [
        "PEER_CREATED",
        "PEER_JOINING",
        "PEER_LEAVING",
    ]
    assert details["participant_live"]["left_at"] is None
    if generation in NESTED_DETAILS:
        device_only = details["participant_live_device_info"]
        assert set(device_only["peer_stats"]) == {"device_info"}
        assert (
            device_only["peer_stats"]["device_info"]
            == (details["participant_live"]["peer_stats"]["device_info"])
        )
        assert device_only["quality_stats"] is None
        assert details["participant_live_quality_stats"]["peer_stats"] is None
        assert details["participant_live_events_filter"]["peer_events"] is not None


def peer_report_over_http(demo_server: DemoServer, peer_id: str) -> dict[str, Any]:
    api = f"{demo_server.base_url}/accounts/{DEMO_ACCOUNT}/realtime/kit/{DEMO_APP}"
    with httpx.Client(headers={"Authorization": f"Bearer {demo_server.token}"}, timeout=60) as h:
        response = h.get(f"{api}/sessions/peer-report/{peer_id}")
    assert response.status_code == 200, response.text
    return response.json()["data"]["participant"]


@pytest.mark.parametrize("python_generation", PYTHON_GENERATIONS)
def test_demo_peer_reports_parse_but_for_the_seeds_integer_fractions(
    runs: Callable[[str], Outcome], python_generation: str
) -> None:
    """pydantic's strict validation (the TypeScript generations hold every report
    against their .d.ts in test_demo_every_call_parses_strictly)."""
    validation = runs(python_generation).output["report_validation"]  # type: ignore[index]
    names = [f"report_peer_{i}" for i in range(3)]
    assert set(names) <= set(validation)
    if python_generation == "current":
        assert validation == {name: [] for name in validation}
    else:
        assert [e for v in validation.values() for e in v if not allowed_seed_failure(e)] == []
        assert all(validation[name] for name in names)  # scored: 5.0.0 cannot parse strictly


def test_demo_telemetry_makes_believable_reports(demo_server: DemoServer) -> None:
    """A good network scores near 1; a lossy one visibly lower, with its loss and RTT in
    the cumulatives; a bandwidth-starved camera shows the limitation."""
    roles = demo_server.catalog.telemetry
    good = peer_report_over_http(demo_server, roles["good"])
    lossy = peer_report_over_http(demo_server, roles["lossy"])
    starved = peer_report_over_http(demo_server, roles["bandwidth"])

    good_audio = good["peer_report"]["quality"]["audio_producer_cumulative"]
    lossy_audio = lossy["peer_report"]["quality"]["audio_producer_cumulative"]
    assert good_audio["quality_mos"]["avg"] >= 0.9
    assert good_audio["packet_loss"]["avg"] < 0.5
    assert lossy_audio["quality_mos"]["avg"] <= 0.6
    assert lossy_audio["quality_mos"]["avg"] < good_audio["quality_mos"]["avg"] - 0.3
    assert lossy_audio["packet_loss"]["avg"] >= 5
    assert lossy_audio["packet_loss"]["5_or_greater_event_fraction"] >= 0.5
    assert lossy_audio["rtt"]["avg"] >= 150 and lossy_audio["rtt"]["100ms_or_greater_event_fraction"] > 0.5
    assert good["quality_stats"]["average_quality"] > lossy["quality_stats"]["average_quality"]
    issues = starved["peer_report"]["quality"]["video_producer_cumulative"]["issues"]
    assert issues["bandwidth_quality_limitation_fraction"] > 0
    assert issues["quality_limitation_fraction"] >= issues["bandwidth_quality_limitation_fraction"]
    limited = [r for r in starved["peer_report"]["quality"]["video_producer"]
               if r["quality_limitation_reason"] == "bandwidth"]
    assert limited and all(r["quality_limitation_durations"]["bandwidth"] > 0 for r in limited)


def test_demo_api_key_and_email_auth(sdk: dict[str, Any], demo_server: DemoServer) -> None:
    facts, ids, catalog = sdk["facts"], demo_server.ids, demo_server.catalog
    assert set(ids_of(facts["sessions"]["key_sessions"])) == catalog.live()
    assert facts["session"]["key_details_live"]["id"] == ids["live_session"]
    assert ids_of(facts["participants"]["key_participants_live"]) == [
        p["id"] for p in catalog.peers[ids["live_session"]]
    ]
    assert facts["participant"]["key_participant_live"]["id"] == ids["live_peer"]


def test_demo_downloads_serve_what_was_stored(sdk: dict[str, Any], demo_server: DemoServer) -> None:
    import csv
    import io

    session_id = demo_server.ids["download_session"]
    database = Path(demo_server.log).with_name("demo.db")
    chat_ids, segments = stored_conversation(database, session_id)
    found = sdk["facts"]["downloads"]
    assert {f["status"] for f in found.values()} == {200}
    chat = list(csv.reader(io.StringIO(found["chat"]["text"], newline="")))
    assert [row[0] for row in chat[1:]] == chat_ids
    transcript = list(csv.reader(io.StringIO(found["transcript_CSV"]["text"], newline="")))
    assert len(transcript) - 1 == segments > 100  # a long call
    summary = found["summary"]["text"]
    title = next(s for s in demo_server.catalog.sessions if s["id"] == session_id)
    assert (title["meeting_display_name"] or "Untitled meeting") in summary
    for section in ("Key Discussion Points", "Action Items", "Decisions"):
        assert section in summary
    assert 100 < len(summary.split()) <= 500  # the default word limit


def test_demo_errors_raise_the_sdk_exceptions(sdk: dict[str, Any]) -> None:
    assert {k: (v["exception"], v["status_code"]) for k, v in sdk["errors"].items()} == {
        "not_found_session": ("NotFoundError", 404),
        "not_found_participants": ("NotFoundError", 404),
        "not_found_participant": ("NotFoundError", 404),
        "not_found_peer_report": ("NotFoundError", 404),
        "not_found_chat": ("NotFoundError", 404),
        "unauthenticated_sessions": ("AuthenticationError", 401),
        "unauthenticated_details": ("AuthenticationError", 401),
        "unauthenticated_key": ("AuthenticationError", 401),
        "unauthenticated_wrong_email": ("AuthenticationError", 401),
        "forbidden_other_account": ("PermissionDeniedError", 403),
        "bad_participants_range": ("BadRequestError", 400),
        "bad_per_page": ("BadRequestError", 400),
    }


# --------------------------------------------------------------------------
# the two generations read the same demo
# --------------------------------------------------------------------------


MINUTES_LISTS = ("sessions_minutes_desc", "sessions_minutes_asc")


def comparable(output: dict[str, Any], live: set[str], volatile: set[str]) -> dict[str, Any]:
    """Calls and facts without what the clock moves between the two runs.

    Live sessions' minutes grow, so their places in the minutesConsumed orders move:
    those lists are compared without them (and the first page may gain or lose a
    session at its end when a live one moves across it).
    """
    out = copy.deepcopy(
        {"calls": {k: v["response"] for k, v in output["calls"].items()}, "facts": output["facts"]}
    )
    for name in MINUTES_LISTS:
        response = out["calls"].get(name)
        if response is not None:
            response["data"]["sessions"] = [
                s for s in response["data"]["sessions"] if s["id"] not in live
            ]
        if name in out["facts"]["sessions"]:
            out["facts"]["sessions"][name] = [
                s for s in out["facts"]["sessions"][name] if s["id"] not in live
            ]
    for detail in out["facts"]["session"].values():
        detail.pop("shape")
    for detail in out["facts"]["participant"].values():
        detail.pop("typed_fields")  # what each generation declares differs by design
    out["facts"].pop("peer_report")  # 5.0.0 cannot parse scored reports: see the digests
    return without_volatile(out, volatile)


def trim_minutes_lists(a: dict[str, Any], b: dict[str, Any], live: int) -> None:
    for name in MINUTES_LISTS:
        for x, y in (
            (a["calls"][name]["data"]["sessions"], b["calls"][name]["data"]["sessions"]),
            (a["facts"]["sessions"][name], b["facts"]["sessions"][name]),
        ):
            assert abs(len(x) - len(y)) <= live, name
            n = min(len(x), len(y))
            del x[n:], y[n:]


def test_demo_python_generations_agree(
    runs: Callable[[str], Outcome], demo_server: DemoServer
) -> None:
    outputs = {}
    for generation in PYTHON_GENERATIONS:
        outcome = runs(generation)
        assert outcome.output is not None and outcome.returncode == 0, outcome.describe()
        outputs[generation] = outcome.output
    catalog = demo_server.catalog
    live, volatile = catalog.live(), catalog.volatile()
    only_seed = {
        "participant_live_device_info",
        "participant_live_quality_stats",
        "participant_live_events_filter",
    }
    assert set(outputs["seed"]["calls"]) - set(outputs["current"]["calls"]) == only_seed
    # 5.0.0 has no transcript format parameter and parses no summary-generation response
    only_current = {"transcript_JSON", "transcript_SRT", "transcript_VTT", "summary_generate"}
    assert set(outputs["current"]["calls"]) - set(outputs["seed"]["calls"]) == only_current
    current = comparable(outputs["current"], live, volatile)
    seed = comparable(outputs["seed"], live, volatile)
    for name in only_seed:
        seed["calls"].pop(name)
        seed["facts"]["participant"].pop(name)
    for name in only_current:
        current["calls"].pop(name)
        current["facts"]["downloads"].pop(name, None)
    for name in ("chat", "transcript_CSV", "summary"):  # links signed with each run's expiry
        current["calls"].pop(name)
        seed["calls"].pop(name)
    trim_minutes_lists(current, seed, len(live))
    assert [n for n in current["calls"] if current["calls"][n] != seed["calls"][n]] == []
    assert current["facts"] == seed["facts"]
    assert outputs["current"]["errors"] == outputs["seed"]["errors"]
    steady = [  # reports of peers no longer in a call do not change between the runs
        f"report_peer_{i}"
        for i, peer_id in enumerate(demo_server.ids["report_peers"])
        if peer_id not in volatile
    ]
    digests = {g: outputs[g]["report_digest"] for g in PYTHON_GENERATIONS}
    assert [n for n in steady if digests["current"][n] != digests["seed"][n]] == []


@pytest.mark.parametrize("typescript", TS_GENERATIONS)
def test_demo_each_typescript_generation_reads_what_its_python_twin_reads(
    runs: Callable[[str], Outcome], demo_server: DemoServer, typescript: str
) -> None:
    outputs = {}
    for generation in (typescript, TWIN[typescript]):
        outcome = runs(generation)
        assert outcome.output is not None and outcome.returncode == 0, outcome.describe()
        outputs[generation] = outcome.output
    ts_output, python_output = outputs[typescript], outputs[TWIN[typescript]]
    catalog = demo_server.catalog
    live, volatile = catalog.live(), catalog.volatile()
    # the Python run keeps its peer reports apart (5.0.0 cannot parse a scored one)
    reports = {name for name in ts_output["calls"] if name.startswith("report_")}
    assert set(ts_output["calls"]) - reports == set(python_output["calls"])
    ts, python = comparable(ts_output, live, volatile), comparable(python_output, live, volatile)
    for name in reports:
        ts["calls"].pop(name)
    # links are signed with each run's expiry; the first summary_generate queues the summary
    for name in {"chat", "summary", "summary_generate"} | {
        n for n in python["calls"] if n.startswith("transcript_")
    }:
        ts["calls"].pop(name, None)
        python["calls"].pop(name, None)
    trim_minutes_lists(ts, python, len(live))
    assert [n for n in python["calls"] if ts["calls"][n] != python["calls"][n]] == []
    assert ts["facts"] == python["facts"]
    assert ts_output["errors"] == python_output["errors"]
