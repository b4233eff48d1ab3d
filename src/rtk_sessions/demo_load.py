"""Loading the demo app through the ingest pipeline, and the snippet printed for it."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime

import msgspec
from rich.progress import Progress

from rtk_sessions.config import Settings
from rtk_sessions.demo import generate_demo_events
from rtk_sessions.ingest.pipeline import IngestReport, ingest_items
from rtk_sessions.store.database import Database
from rtk_sessions.store.folding import readable_app
from rtk_sessions.store.tables import apps

DEMO_ACCOUNT = "demo-account"
DEMO_APP = "demo-app"
BATCH = 5_000


@dataclass(slots=True)
class DemoLoad:
    account_id: str
    app_id: str
    report: IngestReport | None  # None: it was already loaded
    seconds: float
    sessions: int


def listed_sessions(database: Database, account_id: str, app_id: str) -> int:
    app_pk = readable_app(database, account_id, app_id)
    if app_pk is None:
        return 0
    with database.read() as conn:
        return conn.execute(
            apps.select().with_only_columns(apps.c.listed_sessions).where(apps.c.app_pk == app_pk)
        ).scalar_one()


def load_demo(database: Database, *, seed: int, progress: Progress | None = None) -> DemoLoad:
    """Generate the demo app's events ending now and ingest them in batches."""
    existing = listed_sessions(database, DEMO_ACCOUNT, DEMO_APP)
    if existing:
        return DemoLoad(DEMO_ACCOUNT, DEMO_APP, None, 0.0, existing)
    events = generate_demo_events(datetime.now(UTC), seed=seed)
    encoded: list[bytes | Exception] = [msgspec.json.encode(e) for e in events]
    task = progress.add_task("demo events", total=sum(map(len, encoded))) if progress else None
    report = IngestReport()
    started = time.perf_counter()
    for start in range(0, len(encoded), BATCH):
        chunk = encoded[start : start + BATCH]
        now_ms = int(time.time() * 1000)
        report.add(ingest_items(database, DEMO_ACCOUNT, DEMO_APP, chunk, now_ms), start)
        if progress is not None and task is not None:
            progress.advance(task, sum(map(len, chunk)))  # type: ignore[arg-type]
    readable_app(database, DEMO_ACCOUNT, DEMO_APP)  # folded: the load is done when served
    seconds = time.perf_counter() - started
    database.refresh_statistics()
    sessions = listed_sessions(database, DEMO_ACCOUNT, DEMO_APP)
    return DemoLoad(DEMO_ACCOUNT, DEMO_APP, report, seconds, sessions)


def sdk_snippet(settings: Settings, account_id: str, app_id: str, token: str) -> str:
    base = f"http://{settings.host}:{settings.port}/client/v4"
    return f'''
The demo app is ready. With the official SDK (pip install cloudflare):

    from cloudflare import Cloudflare

    client = Cloudflare(api_token="{token}", base_url="{base}")
    page = client.realtime_kit.sessions.get_sessions(
        app_id="{app_id}", account_id="{account_id}", per_page=5, status="LIVE")
    for session in page.data.sessions:
        print(session.id, session.meeting_display_name, session.status, session.minutes_consumed)

or with curl:

    curl -H "Authorization: Bearer {token}" \\
        "{base}/accounts/{account_id}/realtime/kit/{app_id}/sessions?per_page=5"

API docs: http://{settings.host}:{settings.port}/docs
Dashboard: http://{settings.host}:{settings.port}/ui/ (sign in with the token below)
Token (read + ingest on {account_id}):'''
