"""The ``rtk-sessions`` command: serve, migrate, token, webhook-key, ingest, demo."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from rtk_sessions.clock import iso_ms, system_clock
from rtk_sessions.config import Settings, load_settings

# What only some commands need is imported inside them: `serve`'s supervisor process
# then holds the CLI and the settings, not the database layer its workers load.
if TYPE_CHECKING:
    from rich.progress import Progress

    from rtk_sessions.ingest.pipeline import IngestReport
    from rtk_sessions.store.database import Database

app = typer.Typer(
    help="Session analytics for real-time video apps, with the RealtimeKit Sessions API.",
    no_args_is_help=True,
    add_completion=False,
)
token_app = typer.Typer(help="Create, list and revoke API tokens.", no_args_is_help=True)
app.add_typer(token_app, name="token")
webhook_key_app = typer.Typer(
    help="Set, list and remove the public keys that verify RealtimeKit webhook deliveries.",
    no_args_is_help=True,
)
app.add_typer(webhook_key_app, name="webhook-key")
alert_app = typer.Typer(
    help="Set, list and remove the URL each app's quality alerts are POSTed to.",
    no_args_is_help=True,
)
app.add_typer(alert_app, name="alert-webhook")
err = Console(stderr=True, soft_wrap=True, highlight=False)

INGEST_CHUNK = 5_000


def _settings(**overrides: object) -> Settings:
    try:
        return load_settings(**overrides)
    except Exception as exc:  # pydantic ValidationError, missing config file
        err.print(f"[red]invalid settings:[/red] {exc}")
        raise typer.Exit(2) from None


def _database(settings: Settings) -> Database:
    from rtk_sessions.ingest import fold  # noqa: F401 - registers the fold with the store
    from rtk_sessions.store.database import database_for
    from rtk_sessions.store.migrate import upgrade

    database = database_for(settings)
    upgrade(database)
    return database


@app.command()
def migrate() -> None:
    """Create or upgrade the database schema to the newest revision."""
    from rtk_sessions.store.database import database_for
    from rtk_sessions.store.migrate import upgrade

    settings = _settings()
    revision = upgrade(database_for(settings))
    err.print(f"schema at revision {revision}")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to bind (RTK_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (RTK_PORT).")] = None,
    workers: Annotated[int | None, typer.Option(help="Worker processes (RTK_WORKERS).")] = None,
    server: Annotated[str | None, typer.Option(help="granian or uvicorn (RTK_SERVER).")] = None,
) -> None:
    """Serve the API (migrating the database first)."""
    settings = _settings(host=host, port=port, workers=workers, server=server)
    # migrated by a short-lived child: the supervisor never loads the database layer
    migrated = subprocess.run([sys.executable, "-m", "rtk_sessions.cli", "migrate"])
    if migrated.returncode != 0:
        raise typer.Exit(migrated.returncode)
    run_server(settings)


@app.command()
def worker() -> None:
    """Run a job worker (summaries) and a folder until interrupted; any number may share
    a database."""
    import signal
    import threading

    from rtk_sessions.jobs.folder import start_folder_thread
    from rtk_sessions.jobs.worker import Worker

    settings = _settings()
    database = _database(settings)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    job_worker = Worker(database, settings)
    folder, stop_folder = start_folder_thread(database, settings.fold_poll_seconds)
    err.print(f"job worker {job_worker.worker_id} waiting for jobs (Ctrl-C to stop)")
    try:
        job_worker.run_until(stop)
    except KeyboardInterrupt:
        pass
    finally:
        stop_folder.set()
        folder.join(timeout=30)
        database.dispose()


@app.command()
def fold() -> None:
    """Fold appended events into sessions and peers until interrupted (`serve` runs one
    of these beside its workers; any number may share a database)."""
    import signal
    import threading

    from rtk_sessions.jobs.folder import run_folder

    settings = _settings()
    database = _database(settings)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        run_folder(database, settings.fold_poll_seconds, stop)
    except KeyboardInterrupt:
        pass
    finally:
        database.dispose()


def run_server(settings: Settings) -> None:
    # Every worker writes its metrics to files in one fresh folder, which a scrape of
    # any worker sums (prometheus-client's multiprocess mode); set before they start.
    import shutil
    import tempfile

    from rtk_sessions.jobs.folder_process import FolderProcess  # imports nothing of ours

    metrics_dir = tempfile.mkdtemp(prefix="rtk-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    # Workers and the folder build their settings from RTK_*: hand the flags on.
    os.environ.update(
        {
            "RTK_HOST": settings.host,
            "RTK_PORT": str(settings.port),
            "RTK_DATABASE_URL": settings.database_url,
        }
    )
    try:
        with FolderProcess():
            _serve_with(settings)
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)


def _serve_with(settings: Settings) -> None:
    err.print(
        f"serving on http://{settings.host}:{settings.port} ({settings.server}, "
        f"{settings.workers} worker(s)); docs at /docs, SDK base URL "
        f"http://{settings.host}:{settings.port}/client/v4"
    )
    if settings.server == "uvicorn":
        import uvicorn

        uvicorn.run(
            "rtk_sessions.asgi:app",
            host=settings.host,
            port=settings.port,
            workers=settings.workers,
            log_level=settings.log_level,
            access_log=False,
        )
        return
    from granian import Granian
    from granian.http import HTTP1Settings

    Granian(
        "rtk_sessions.asgi:app",
        address=settings.host,
        port=settings.port,
        interface="asgi",
        workers=settings.workers,
        log_level=settings.log_level,
        loop="uvloop" if sys.platform != "win32" else "auto",
        # a client that trickles its headers is cut off (a slow body: see read_limited)
        http1_settings=HTTP1Settings(
            header_read_timeout=int(settings.header_read_timeout_seconds * 1000)
        ),
    ).serve()


@token_app.command("create")
def token_create(
    account: Annotated[str, typer.Option(help="Account id the token is for.")],
    app_id: Annotated[
        list[str] | None,
        typer.Option(
            "--app", help="Limit to this app (repeatable); default: every app of the account."
        ),
    ] = None,
    scope: Annotated[
        list[str] | None, typer.Option(help="read, ingest, admin (repeatable); default: read.")
    ] = None,
    email: Annotated[
        str | None, typer.Option(help="Bind to this email (checked with X-Auth-Email).")
    ] = None,
    name: Annotated[str | None, typer.Option(help="A label for `token list`.")] = None,
) -> None:
    """Create a token. The token is printed once, alone on the last line of standard output."""
    from rtk_sessions.store import tokens

    settings = _settings()
    database = _database(settings)
    try:
        with database.write() as conn:
            grant, secret = tokens.create_token(
                conn,
                account_id=account,
                app_ids=app_id or None,
                scopes=scope or ["read"],
                email=email,
                name=name,
                now_ms=system_clock(),
            )
    except ValueError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    apps = ", ".join(grant.app_ids) if grant.app_ids else "all apps"
    err.print(
        f"token {grant.token_id} for account {grant.account_id} ({apps}), "
        f"scopes {', '.join(sorted(grant.scopes))}. It is shown only now:"
    )
    print(secret)


@token_app.command("list")
def token_list(
    account: Annotated[str | None, typer.Option(help="Only this account's tokens.")] = None,
) -> None:
    """List tokens (ids and grants; secrets are not stored)."""
    from rich.table import Table

    from rtk_sessions.store import tokens

    database = _database(_settings())
    with database.read() as conn:
        grants = tokens.list_tokens(conn, account)
    table = Table("id", "account", "apps", "scopes", "email", "name", "created", "revoked")
    for g in grants:
        table.add_row(
            g.token_id,
            g.account_id,
            ", ".join(g.app_ids) if g.app_ids else "*",
            ",".join(sorted(g.scopes)),
            g.email or "",
            g.name or "",
            iso_ms(g.created_ms),
            iso_ms(g.revoked_ms) or "",
        )
    _table_console().print(table)


@token_app.command("revoke")
def token_revoke(
    token_id: Annotated[str, typer.Argument(help="The id shown by `token list`.")],
) -> None:
    """Revoke a token; requests with it fail with 401 from then on."""
    from rtk_sessions.store import tokens

    database = _database(_settings())
    with database.write() as conn:
        revoked = tokens.revoke(conn, token_id, system_clock())
    if not revoked:
        err.print(f"[red]no active token with id {token_id}[/red]")
        raise typer.Exit(1)
    err.print(f"token {token_id} revoked")


def _table_console() -> Console:
    console = Console()
    return console if console.is_terminal else Console(width=200)  # piped: do not squeeze


@webhook_key_app.command("set")
def webhook_key_set(
    pem_file: Annotated[
        Path,
        typer.Argument(
            help="RealtimeKit's public key (PEM), saved from its /.well-known/webhooks.json.",
            exists=True,
            dir_okay=False,
            readable=True,
        ),
    ],
    account: Annotated[str, typer.Option(help="Account id in the webhook URL.")],
    app_id: Annotated[str, typer.Option("--app", help="App id in the webhook URL.")],
) -> None:
    """Verify this app's webhook deliveries with the key in PEM_FILE (replaces any earlier one)."""
    from rtk_sessions.ingest.webhooks import fingerprint, load_public_key
    from rtk_sessions.store.webhook_keys import WebhookKeyRow, set_webhook_key

    pem = pem_file.read_text(encoding="utf-8", errors="replace").strip() + "\n"
    try:
        key = load_public_key(pem)
    except ValueError as exc:
        err.print(f"[red]{pem_file}: {exc}[/red]")
        raise typer.Exit(2) from None
    row = WebhookKeyRow(account, app_id, pem, fingerprint(key), system_clock())
    set_webhook_key(_database(_settings()), row)
    err.print(
        f"webhook key for {account}/{app_id} set (RSA {key.key_size} bits, "
        f"sha256 {row.fingerprint[:16]}...). Register this URL with RealtimeKit: "
        f"https://<your host>/webhooks/rtk/accounts/{account}/apps/{app_id}"
    )


@webhook_key_app.command("list")
def webhook_key_list(
    account: Annotated[str | None, typer.Option(help="Only this account's keys.")] = None,
) -> None:
    """List the apps that have a webhook key, with each key's SHA-256 fingerprint."""
    from rich.table import Table

    from rtk_sessions.store.webhook_keys import webhook_keys_of

    table = Table("account", "app", "key sha256", "set")
    for key in webhook_keys_of(_database(_settings()), account):
        table.add_row(key.account_id, key.app_id, key.fingerprint, iso_ms(key.updated_ms))
    _table_console().print(table)


@webhook_key_app.command("remove")
def webhook_key_remove(
    account: Annotated[str, typer.Option(help="Account id.")],
    app_id: Annotated[str, typer.Option("--app", help="App id.")],
) -> None:
    """Remove the app's webhook key: its deliveries get 401 from then on."""
    from rtk_sessions.store.webhook_keys import remove_webhook_key

    if not remove_webhook_key(_database(_settings()), account, app_id):
        err.print(f"[red]no webhook key set for {account}/{app_id}[/red]")
        raise typer.Exit(1)
    err.print(f"webhook key for {account}/{app_id} removed")


@alert_app.command("set")
def alert_webhook_set(
    url: Annotated[str, typer.Argument(help="Where to POST the alerts (http or https).")],
    account: Annotated[str, typer.Option(help="Account id.")],
    app_id: Annotated[str, typer.Option("--app", help="App id.")],
    mos_below: Annotated[
        float, typer.Option(help="Alert when a peer's mos_quality (0..1) stays below this.")
    ] = 0.5,
    intervals: Annotated[
        int, typer.Option(help="... for this many stats intervals in a row (7 s each).")
    ] = 3,
) -> None:
    """POST app B's quality alerts to URL (replaces any earlier one). The signing secret
    is printed once, alone on the last line of standard output."""
    import secrets

    from rtk_sessions.store.alerts import AlertTarget, set_target

    if not url.startswith(("http://", "https://")) or not 0 < mos_below <= 1 or intervals < 1:
        err.print("[red]URL must be http(s), --mos-below in (0, 1], --intervals 1 or more[/red]")
        raise typer.Exit(2)
    secret = secrets.token_hex(32)
    target = AlertTarget(account, app_id, url, secret, mos_below, intervals, system_clock())
    set_target(_database(_settings()), target)
    err.print(
        f"alerts of {account}/{app_id} go to {url} (mos_quality below {mos_below} for "
        f"{intervals} intervals, and every ended session). Signing secret, shown only now:"
    )
    print(secret)


@alert_app.command("list")
def alert_webhook_list(
    account: Annotated[str | None, typer.Option(help="Only this account's.")] = None,
) -> None:
    """List the apps' alert URLs and rules (not their secrets)."""
    from rich.table import Table

    from rtk_sessions.store.alerts import targets

    table = Table("account", "app", "url", "mos below", "intervals", "set")
    for t in targets(_database(_settings()), account):
        table.add_row(
            t.account_id,
            t.app_id,
            t.url,
            str(t.mos_below),
            str(t.low_intervals),
            iso_ms(t.created_ms),
        )
    _table_console().print(table)


@alert_app.command("remove")
def alert_webhook_remove(
    account: Annotated[str, typer.Option(help="Account id.")],
    app_id: Annotated[str, typer.Option("--app", help="App id.")],
) -> None:
    """Stop sending the app's alerts (queued deliveries are dropped)."""
    from rtk_sessions.store.alerts import remove_target

    if not remove_target(_database(_settings()), account, app_id):
        err.print(f"[red]no alert webhook for {account}/{app_id}[/red]")
        raise typer.Exit(1)
    err.print(f"alert webhook of {account}/{app_id} removed")


@app.command("erase-user")
def erase_user_command(
    user_id: Annotated[str, typer.Argument(help="The user id as ingested (peer.joined user_id).")],
    account: Annotated[str, typer.Option(help="Account id.")],
    app_id: Annotated[str, typer.Option("--app", help="App id.")],
) -> None:
    """Erase a user's names, ids, IPs, user agents, chat and transcript lines; numbers stay."""
    from rtk_sessions.store.apps import app_key
    from rtk_sessions.store.erasure import erase_user

    database = _database(_settings())
    app_pk = app_key(database, account, app_id)
    report = erase_user(database, app_pk, user_id, system_clock()) if app_pk else None
    if report is None or report.pseudonym is None:
        err.print(f"[red]no user {user_id!r} in {account}/{app_id}[/red]")
        raise typer.Exit(1)
    err.print(
        f"erased user {user_id!r} in {account}/{app_id}: {report.peers} peers in "
        f"{report.sessions} sessions now {report.pseudonym}; {report.events_rewritten} "
        f"events scrubbed, {report.events_tombstoned} chat/transcript/webhook events "
        f"erased, {report.summaries_deleted} summaries deleted"
    )


@app.command()
def backup(
    path: Annotated[Path, typer.Argument(help="Where to write the copy (a new file).")],
    force: Annotated[bool, typer.Option(help="Replace PATH if it exists.")] = False,
) -> None:
    """Copy the live SQLite database to PATH, consistently, while serve keeps writing."""
    from rtk_sessions.store.backup import BackupError, backup_sqlite, sqlite_file_of

    settings = _settings()
    try:
        source = sqlite_file_of(settings.database_url)
        started = time.perf_counter()
        report = backup_sqlite(source, path, overwrite=force)
    except BackupError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    err.print(
        f"backed up {source} to {report.path}: {report.bytes / 2**20:.1f} MiB, "
        f"{report.pages:,} pages, integrity ok, {time.perf_counter() - started:.1f} s"
    )


@app.command()
def ingest(
    files: Annotated[
        list[Path],
        typer.Argument(
            help="NDJSON or JSON-array files of native events (gzip ok).",
            exists=True,
            dir_okay=False,
        ),
    ],
    account: Annotated[str, typer.Option(help="Account id.")],
    app_id: Annotated[str, typer.Option("--app", help="App id.")],
) -> None:
    """Load event files through the ingest pipeline (idempotent: re-loading changes nothing)."""
    from rtk_sessions.ingest.files import file_size, read_chunks
    from rtk_sessions.ingest.pipeline import IngestReport, ingest_items
    from rtk_sessions.store.folding import readable_app

    database = _database(_settings())
    total = IngestReport()
    started = time.perf_counter()
    with _progress() as progress:
        for path in files:
            task = progress.add_task(path.name, total=file_size(path))
            seen = 0
            for items, position in read_chunks(path, INGEST_CHUNK):
                report = ingest_items(database, account, app_id, items, system_clock())  # type: ignore[arg-type]
                total.add(report, seen)
                seen += len(items)
                progress.update(task, completed=position)
    readable_app(database, account, app_id)  # folded: the command ends with it all in place
    database.refresh_statistics()
    _print_report(total, time.perf_counter() - started)
    if total.rejected:
        raise typer.Exit(1)


def _progress() -> Progress:
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=False,
    )


def _print_report(report: IngestReport, seconds: float) -> None:
    events = report.accepted + report.duplicates + len(report.rejected)
    rate = events / seconds if seconds > 0 else 0.0
    err.print(
        f"accepted {report.accepted}, duplicates {report.duplicates}, "
        f"rejected {len(report.rejected)} ({events} events in {seconds:.2f} s, "
        f"{rate:,.0f} events/s)"
    )
    for rejection in report.rejected[:20]:
        err.print(f"  event {rejection.index} ({rejection.id}): {rejection.error}")
    if len(report.rejected) > 20:
        err.print(f"  ... and {len(report.rejected) - 20} more")


@app.command()
def demo(
    serve_after: Annotated[
        bool, typer.Option("--serve/--no-serve", help="Serve the API afterwards.")
    ] = True,
    seed: Annotated[int, typer.Option(help="Seed of the synthetic data.")] = 7,
    host: Annotated[str | None, typer.Option(help="Address to bind (RTK_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (RTK_PORT).")] = None,
) -> None:
    """Load a realistic synthetic app (through the ingest pipeline), print a token and serve it."""
    from rtk_sessions.demo_load import load_demo, sdk_snippet
    from rtk_sessions.store import tokens

    settings = _settings(host=host, port=port)
    database = _database(settings)
    with _progress() as progress:
        result = load_demo(database, seed=seed, progress=progress)
    if result.report is None:
        err.print(
            f"demo app {result.account_id}/{result.app_id} already loaded "
            f"({result.sessions} sessions); set RTK_DATABASE_URL to start afresh"
        )
    else:
        _print_report(result.report, result.seconds)
    with database.write() as conn:
        _, secret = tokens.create_token(
            conn,
            account_id=result.account_id,
            app_ids=None,
            scopes=["read", "ingest"],
            email=None,
            name="demo",
            now_ms=system_clock(),
        )
    database.dispose()
    err.print(sdk_snippet(settings, result.account_id, result.app_id, secret))
    print(secret)
    sys.stdout.flush()
    if serve_after:
        run_server(settings)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
