"""The schema, in SQLAlchemy Core. Alembic migrations (``store/migrations``) create it.

Layout:

- ``events`` is the append-only log of every accepted event (the source of
  truth; idempotent on ``(app_pk, event_id)``). Telemetry, chat, transcript
  and peer metadata are read from it by session or peer.
- ``meetings``, ``sessions`` and ``peers`` hold the state derived from the
  lifecycle events. Merges are commutative (min/max and a deterministic
  tie-break), so the state does not depend on arrival order.
- ``sessions`` also keeps, per session, the aggregates the list endpoint
  sorts and filters on, so a page of 100k sessions never scans the peers.
  The clock-dependent parts (status, minutes of a live session) are
  expressions over those columns and "now" (see ``store/sessions.py``).
- ``apps.listed_sessions`` is the unfiltered total of the sessions list,
  maintained by the fold (counting per request is the trap described in
  PERFORMANCE.md).
- ``fold_queue`` lists what was appended to the log and not yet folded into
  meetings, sessions and peers (append, then fold: ``store/folding.py``).

Times are integer milliseconds since the Unix epoch, UTC.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "pk": "pk_%(table_name)s",
    }
)

Ms = BigInteger  # milliseconds since the epoch

apps = Table(
    "apps",
    metadata,
    Column("app_pk", Integer, primary_key=True, autoincrement=True),
    Column("account_id", String(256), nullable=False),
    Column("app_id", String(256), nullable=False),
    Column("created_ms", Ms, nullable=False),
    Column("listed_sessions", Integer, nullable=False, server_default="0"),
    # Moves with every commit that changes the app's meetings, sessions or peers (a
    # fold, an erasure, retention): a fold that worked out its rows outside SQLite's
    # write lock finds out whether another fold committed first (store/folding.py).
    Column("fold_version", BigInteger, nullable=False, server_default="0"),
    UniqueConstraint("account_id", "app_id"),
)

events = Table(
    "events",
    metadata,
    Column("app_pk", Integer, primary_key=True),
    Column("event_id", String(256), primary_key=True),
    Column("type", String(32), nullable=False),
    Column("ts_ms", Ms, nullable=False),
    Column("session_id", String(256)),
    Column("peer_id", String(256)),
    Column("payload", Text, nullable=False),  # the event as received, JSON
    Column("received_ms", Ms, nullable=False),
    Index(None, "app_pk", "session_id", "type", "ts_ms"),
    # events about a peer only: session events (no peer) would sort first as NULLs and
    # mislead SQLite's sampled statistics (migration 0008)
    Index(
        "ix_events_app_pk_peer_id_type_ts_ms_received_ms",
        "app_pk",
        "peer_id",
        "type",
        "ts_ms",
        "received_ms",
        sqlite_where=text("peer_id IS NOT NULL"),
        postgresql_where=text("peer_id IS NOT NULL"),
    ),
    sqlite_with_rowid=False,
)

# Telemetry (``peer.stats``), the bulk of what an app stores, compactly (once the folder
# compacted it out of ``stats_inbox``): one row per event, found again by a 64-bit hash
# of its id (``h1``; the row's data carries a second one, to tell a collision from a
# re-delivery), its samples delta-encoded against the previous sample of each track,
# which may be in an earlier row of the peer (its "base", named by its h1;
# ``store/stats_codec``). No sequence and no primary key beyond the
# two indexes a row needs (PostgreSQL would index a key of its own): a peer's rows are
# put in base order when read. A peer's numbers (rows, latest sample, latest arrival)
# are kept on its ``stats_peers`` row: the version its derived call quality is cached
# under, what retention and the alert scan look at.
stats_peers = Table(
    "stats_peers",
    metadata,
    Column("peer_key", Integer, primary_key=True, autoincrement=True),
    Column("app_pk", Integer, nullable=False),
    Column("peer_id", String(256), nullable=False),
    Column("session_id", String(256)),  # as the peer's latest stats event named it
    Column("rows", Integer, nullable=False, server_default="0"),
    Column("last_ms", Ms, nullable=False, server_default="0"),  # the latest sample's time
    Column("last_received_ms", Ms, nullable=False, server_default="0"),
    # times the peer's rows were rewritten (erasure): a row remembered from before is no
    # base for new ones (what it decodes to changed)
    Column("rewrites", Integer, nullable=False, server_default="0"),
    UniqueConstraint("app_pk", "peer_id"),
    Index(None, "app_pk", "last_received_ms"),
)

stats = Table(
    "stats",
    metadata,
    Column("app_pk", Integer, nullable=False),
    Column("peer_key", Integer, nullable=False),
    Column("h1", BigInteger, nullable=False),
    Column("data", LargeBinary, nullable=False),
    UniqueConstraint("app_pk", "h1"),
    Index(None, "peer_key"),
)

# ``peer.stats`` events appended and not yet compacted: each as received (its JSON;
# PostgreSQL compresses the column with lz4 where it can), found by the same key as a compact row (a re-delivery is a duplicate
# wherever the event is). Encoding an event against its peer's previous row costs ~20 us
# a sample, several times what appending it does, so the append puts it here and the
# background folder compacts it into ``stats`` (``store/stats_compact.py``), oldest
# first; reads take a peer's rows from both. Rows only come and go: a queue, small while
# the folder keeps up.
stats_inbox = Table(
    "stats_inbox",
    metadata,
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("app_pk", Integer, nullable=False),
    Column("peer_key", Integer, nullable=False),
    Column("h1", BigInteger, nullable=False),
    Column("h2", BigInteger, nullable=False),  # tells a re-delivery from another event
    Column("data", LargeBinary, nullable=False),
    UniqueConstraint("app_pk", "h1"),
    Index(None, "app_pk", "seq"),
    Index(None, "peer_key"),
)

# What the log holds that is not yet folded into meetings, sessions and peers: one row per
# append (the ids of its new lifecycle and meeting events), deleted by the fold that takes
# it in. Appends only insert here, so appends of one app never wait for each other; folds
# of one app take turns (store/folding.py). A read first folds what is here for its app.
fold_queue = Table(
    "fold_queue",
    metadata,
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("app_pk", Integer, nullable=False),
    Column("event_ids", LargeBinary, nullable=False),  # msgpack list of event ids
    Column("events", Integer, nullable=False),  # how many
    Column("appended_ms", Ms, nullable=False),  # when the append committed (the fold lag)
    Index(None, "app_pk", "seq"),
)

meetings = Table(
    "meetings",
    metadata,
    Column("app_pk", Integer, primary_key=True),
    Column("meeting_id", String(256), primary_key=True),
    Column("title", Text),
    Column("session_type", String(16), nullable=False),
    # (ts, event id) of the meeting.upserted that won: the latest.
    Column("version_ms", Ms, nullable=False),
    Column("version_event_id", String(256), nullable=False),
)

sessions = Table(
    "sessions",
    metadata,
    Column("app_pk", Integer, primary_key=True),
    Column("session_id", String(256), primary_key=True),
    Column("meeting_id", String(256)),
    Column("parent_session_id", String(256)),
    # The earliest session.started (ts, id) and what it said.
    Column("start_event_ms", Ms),
    Column("start_event_id", String(256)),
    Column("meta", Text),
    # The earliest session.ended (ts, id) and its reason.
    Column("end_event_ms", Ms),
    Column("end_event_id", String(256)),
    Column("end_reason", String(32)),
    # Copied from the meeting so that the list is one table.
    Column("meeting_title", Text),
    Column("session_type", String(16), nullable=False, server_default="meeting"),
    Column("search_text", Text, nullable=False, server_default=""),
    # --- derived by analytics.lifecycle.summarize_session ---
    Column("started_ms", Ms),  # NULL: nothing says when it started yet; not listed
    Column("listed", Boolean, nullable=False, server_default="0"),
    Column("superseded_ms", Ms),  # start of the meeting's next session
    Column("closed_ms", Ms),  # forced end: session.ended or superseded
    Column("peer_count", Integer, nullable=False, server_default="0"),
    Column("open_peers", Integer, nullable=False, server_default="0"),
    Column("open_join_sum_ms", Ms, nullable=False, server_default="0"),
    Column("closed_peer_ms", Ms, nullable=False, server_default="0"),
    Column("max_concurrent", Integer, nullable=False, server_default="0"),
    Column("quiet_since_ms", Ms),  # max(started, last leave)
    Column("ended_ms", Ms),  # ended_at, once it has ended
    Column("updated_ms", Ms),
    # Breakout tree (self + child rooms), for the parent's status.
    Column("tree_open_peers", Integer, nullable=False, server_default="0"),
    Column("tree_quiet_since_ms", Ms),
    Index(None, "app_pk", "listed", "started_ms", "session_id"),
    # sort by minutes: sessions with nobody in, by their fixed total (store/sessions.py)
    Index(None, "app_pk", "listed", "open_peers", "closed_peer_ms", "session_id"),
    # status: only sessions nothing has closed can be live
    Index(None, "app_pk", "listed", "closed_ms"),
    Index(None, "app_pk", "meeting_id", "started_ms"),
    # breakout rooms by parent: only rooms (most sessions have none; migration 0006)
    Index(
        "ix_sessions_rooms",
        "app_pk",
        "parent_session_id",
        sqlite_where=text("parent_session_id IS NOT NULL"),
        postgresql_where=text("parent_session_id IS NOT NULL"),
    ),
)

peers = Table(
    "peers",
    metadata,
    Column("app_pk", Integer, primary_key=True),
    Column("session_id", String(256), primary_key=True),
    Column("peer_id", String(256), primary_key=True),
    Column("joined_ms", Ms),  # earliest peer.joined; NULL until one arrives
    Column("join_event_id", String(256)),
    Column("left_ms", Ms),  # latest peer.left
    Column("left_event_id", String(256)),
    Column("user_id", String(256)),
    Column("display_name", Text),
    Column("custom_participant_id", Text),
    Column("preset_name", Text),
    Column("preset_view_type", String(16)),
    Column("role", Text),
    Column("socket_session_id", Text),
    Column("search_text", Text, nullable=False, server_default=""),
    Index(None, "app_pk", "peer_id"),
    sqlite_with_rowid=False,
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("token_id", String(32), primary_key=True),  # public handle, e.g. for revoke
    Column("secret_sha256", String(64), nullable=False, unique=True),
    Column("account_id", String(256), nullable=False),
    Column("app_ids", Text),  # JSON list, NULL = every app of the account
    Column("scopes", String(64), nullable=False),  # comma-separated: read,ingest
    Column("email", String(320)),
    Column("name", String(200)),
    Column("created_ms", Ms, nullable=False),
    Column("revoked_ms", Ms),
)


# --- downloads and the job queue ------------------------------------------------------

instance_secrets = Table(
    "instance_secrets",
    metadata,
    Column("name", String(64), primary_key=True),  # e.g. "download_links"
    Column("value", Text, nullable=False),
    Column("created_ms", Ms, nullable=False),
)

jobs = Table(
    "jobs",
    metadata,
    Column("job_id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(32), nullable=False),  # "summary"
    Column("app_pk", Integer, nullable=False),
    Column("session_id", String(256), nullable=False),
    Column("params", Text, nullable=False),  # JSON object, what the job was asked to do
    Column("status", String(16), nullable=False),  # queued | running | done | failed
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("max_attempts", Integer, nullable=False),
    Column("run_after_ms", Ms, nullable=False),  # not before (retry back-off)
    Column("lease_until_ms", Ms),  # running: taken again by another worker after this
    Column("worker_id", String(64)),
    Column("error", Text),  # the last failure
    Column("created_ms", Ms, nullable=False),
    Column("updated_ms", Ms, nullable=False),
    Column("finished_ms", Ms),
    Index(None, "status", "run_after_ms"),
    Index(None, "app_pk", "session_id", "kind", "job_id"),
    # at most one queued or running job per (app, session, kind): a second POST queues none
    Index(
        "uq_jobs_active",
        "app_pk",
        "session_id",
        "kind",
        unique=True,
        sqlite_where=text("status IN ('queued', 'running')"),
        postgresql_where=text("status IN ('queued', 'running')"),
    ),
)

summaries = Table(
    "summaries",
    metadata,
    Column("app_pk", Integer, primary_key=True),
    Column("session_id", String(256), primary_key=True),
    Column("text", Text, nullable=False),
    Column("text_format", String(16), nullable=False),  # plain_text | markdown
    Column("params", Text, nullable=False),  # JSON: summary_type, word_limit, text_format
    Column("transcript_version", String(64), nullable=False),  # of the transcript it read
    Column("job_id", Integer, nullable=False),
    Column("created_ms", Ms, nullable=False),
)

# The public key (PEM) RealtimeKit signs an app's webhook deliveries with, as the
# operator saved it from RealtimeKit's /.well-known/webhooks.json. Keyed by the
# ids in the webhook URL: a key may be set before anything was ingested for the app.
webhook_keys = Table(
    "webhook_keys",
    metadata,
    Column("account_id", String(256), primary_key=True),
    Column("app_id", String(256), primary_key=True),
    Column("public_key_pem", Text, nullable=False),
    Column("fingerprint", String(64), nullable=False),  # SHA-256 of the key (DER), hex
    Column("updated_ms", Ms, nullable=False),
)

# Where an app's quality alerts go (rtk-sessions alert-webhook set), with the secret
# that signs them (HMAC-SHA256; it must be stored to sign with) and the MOS rule.
alert_webhooks = Table(
    "alert_webhooks",
    metadata,
    Column("account_id", String(256), primary_key=True),
    Column("app_id", String(256), primary_key=True),
    Column("url", Text, nullable=False),
    Column("secret", String(128), nullable=False),
    Column("mos_below", Float, nullable=False),  # mos_quality 0..1
    Column("low_intervals", Integer, nullable=False),
    Column("created_ms", Ms, nullable=False),
)

# Every alert raised, once (its id is the idempotency id the receiver sees), with the
# JSON body delivered; a job per alert delivers it, retried with back-off.
alert_outbox = Table(
    "alert_outbox",
    metadata,
    Column("app_pk", Integer, primary_key=True),
    Column("alert_id", String(256), primary_key=True),
    Column("kind", String(32), nullable=False),  # session.ended | peer.low_quality
    Column("payload", Text, nullable=False),
    Column("created_ms", Ms, nullable=False),
)
