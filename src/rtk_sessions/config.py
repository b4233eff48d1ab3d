"""Settings: ``RTK_*`` environment variables, then an optional TOML file, then defaults.

Nothing else in the package reads ``os.environ``. Every field here is listed in
the README's settings table (a test checks that).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from rtk_sessions.ingest.enrich import check_mmdb_file

DEFAULT_CONFIG_FILE = "rtk-sessions.toml"


class Settings(BaseSettings):
    """How one rtk-sessions process is configured."""

    model_config = SettingsConfigDict(env_prefix="RTK_", extra="forbid", frozen=True)

    database_url: str = Field(
        "sqlite:///./rtk-data/rtk.db",
        description="SQLAlchemy URL of the database. SQLite (WAL) by default; "
        "postgresql+psycopg://user@host/db for PostgreSQL.",
    )
    db_pool_size: int = Field(
        5,
        ge=1,
        le=1000,
        description="PostgreSQL: connections each server process keeps open. Replicas x "
        "workers x (pool size + overflow) must stay under the server's max_connections.",
    )
    db_max_overflow: int = Field(
        5,
        ge=0,
        le=1000,
        description="PostgreSQL: extra connections a process may open under load, closed "
        "again when idle.",
    )
    sqlite_synchronous: Literal["NORMAL", "FULL"] = Field(
        "NORMAL",
        description="SQLite's synchronous mode (WAL). NORMAL: an acknowledged write survives "
        "a crash of the process, but a power loss or OS crash may lose the last "
        "transactions (never corrupts). FULL: also survives power loss, at the cost of "
        "an fsync per transaction.",
    )
    db_busy_timeout_ms: int = Field(
        30_000,
        ge=100,
        le=600_000,
        description="How long a request waits for a database lock (SQLite's busy timeout, "
        "PostgreSQL's lock_timeout) before it is answered 503 with nothing written.",
    )
    host: str = Field("127.0.0.1", description="Address `serve` binds to.")
    port: int = Field(8000, ge=1, le=65535, description="Port `serve` listens on.")
    server: Literal["granian", "uvicorn"] = Field(
        "granian", description="ASGI server used by `serve`."
    )
    workers: int = Field(1, ge=1, le=64, description="Server worker processes.")
    session_grace_seconds: float = Field(
        60.0,
        ge=0,
        description="A session with nobody in it ends this many seconds after the last peer left.",
    )
    stats_period_seconds: float = Field(
        7.0,
        gt=0,
        le=3600,
        description="Nominal interval between a client's WebRTC stats samples; an interval "
        "longer than 3 periods is a gap, not scored (quality.md).",
    )
    quality_cache_mb: int = Field(
        64,
        ge=0,
        le=65536,
        description="Memory per server process for call quality already derived from a peer's "
        "stats (reused until new stats arrive); 0 = derive on every request.",
    )
    ingest_max_events: int = Field(
        10_000, ge=1, description="Most events one ingest request may carry (else 413)."
    )
    ingest_max_bytes: int = Field(
        10 * 1024 * 1024,
        ge=1024,
        description="Largest ingest body in bytes, before and after gunzip (else 413).",
    )
    webhook_max_bytes: int = Field(
        1024 * 1024,
        ge=1024,
        description="Largest RealtimeKit webhook delivery in bytes (else 413).",
    )
    webhooks_allow_unsigned: bool = Field(
        False,
        description="UNSAFE, for local testing only: accept webhook deliveries without a "
        "valid rtk-signature when no key is configured for the app (anyone who can "
        "reach the server can then write that app's sessions).",
    )
    webhooks_fetch_files: bool = Field(
        False,
        description="Fetch the chat and transcript files (and summary) a webhook delivery "
        "links to, in a job, and ingest them; off: the links are only recorded.",
    )
    webhook_file_max_bytes: int = Field(
        100 * 1024 * 1024,
        ge=1024,
        description="Largest file fetched from a webhook delivery's link (else the job fails).",
    )
    rate_limit_per_minute: int = Field(
        0,
        ge=0,
        description="Requests a token (or, without one, a client address) may make per "
        "minute and server process; past it 429 with Retry-After. 0: no limit.",
    )
    body_read_timeout_seconds: float = Field(
        30.0,
        gt=0,
        le=3600,
        description="How long a client may take to send an ingest or webhook body (else 408).",
    )
    header_read_timeout_seconds: float = Field(
        10.0,
        gt=0,
        le=600,
        description="How long a client may take to send a request's headers before the "
        "connection is closed (granian; uvicorn has no such setting).",
    )
    ingest_cors_origins: str = Field(
        "",
        description="Web origins (scheme://host[:port]) whose pages may POST to the ingest "
        "endpoint from a browser (CORS), comma-separated; * for any. Empty = none.",
    )
    ui_refresh_seconds: int = Field(
        15,
        ge=1,
        le=3600,
        description="How often the dashboard's sessions page refreshes its rows while it "
        "shows live sessions (or the newest ones).",
    )
    metrics_token: SecretStr = Field(
        SecretStr(""),
        description="Bearer token that GET /metrics (Prometheus) asks for; empty: /metrics "
        "is off (404). Never logged.",
    )
    retain_telemetry_days: int = Field(
        0, ge=0, description="Purge raw WebRTC stats (peer.stats) older than this; 0 keeps them."
    )
    retain_chat_days: int = Field(
        0, ge=0, description="Purge chat messages older than this; 0 keeps them."
    )
    retain_transcripts_days: int = Field(
        0,
        ge=0,
        description="Purge transcript segments (and summaries) older than this; 0 keeps them.",
    )
    retain_peer_metadata_days: int = Field(
        0,
        ge=0,
        description="Purge peer metadata (IPs, user agents, devices) older than this; 0 keeps it.",
    )
    retain_sessions_days: int = Field(
        0,
        ge=0,
        description="Purge whole sessions (with peers, events, summaries) that started longer "
        "ago than this; 0 keeps them.",
    )
    alerts_scan_seconds: float = Field(
        30.0,
        gt=0,
        le=3600,
        description="How often the job workers look for ended sessions and low-quality "
        "peers to alert on, while any app has an alert webhook.",
    )
    retention_interval_minutes: float = Field(
        60.0, gt=0, le=10_080, description="How often the retention purge runs."
    )
    log_format: Literal["text", "json"] = Field(
        "text",
        description="Log lines as text, or as one JSON object per line (for log shippers).",
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        "info", description="Log level of the server."
    )
    geoip: Literal["asn", "country", "off"] = Field(
        "asn",
        description="Offline IP lookup for participant details: country and network owner "
        "(~60 MiB once loaded), country only (~36 MiB), or off.",
    )
    geoip_mmdb: str = Field(
        "",
        description="MaxMind DB files (GeoLite2/GeoIP2 City and/or ASN .mmdb), comma-separated, "
        "for city, region, timezone, coordinates and AS number. Empty = none.",
    )
    openapi_enabled: bool = Field(True, description="Serve /openapi.json and /docs.")
    token_cache_seconds: float = Field(
        1.0,
        ge=0,
        le=60,
        description="How long a process reuses a token's grant before reading it again: a "
        "revoked token stops working within this time. 0 = read on every request.",
    )
    public_url: str = Field(
        "",
        description="Base URL clients reach this server at (e.g. https://rtk.example.com), "
        "for download links. Empty = the scheme and host of each request.",
    )
    download_link_seconds: int = Field(
        3600, ge=10, le=7 * 24 * 3600, description="How long a download link works."
    )
    download_secret: SecretStr = Field(
        SecretStr(""),
        description="Key that signs download links. Empty = one generated on first start and "
        "kept in the database. Changing it invalidates the links already given out.",
    )
    s3_bucket: str = Field(
        "", description="S3 bucket for downloads (empty = served by rtk-sessions itself)."
    )
    s3_endpoint_url: str = Field(
        "", description="S3-compatible endpoint (empty = AWS); e.g. http://minio:9000."
    )
    s3_region: str = Field("us-east-1", description="Region of the S3 bucket.")
    s3_prefix: str = Field("rtk-sessions/", description="Key prefix of uploaded downloads.")
    s3_access_key_id: str = Field("", description="S3 access key (empty = boto3's defaults).")
    s3_secret_access_key: SecretStr = Field(SecretStr(""), description="S3 secret key.")
    jobs_in_serve: bool = Field(
        True,
        description="Each `serve` process also runs a job worker (summaries). Off: run "
        "`rtk-sessions worker` separately.",
    )
    fold_poll_seconds: float = Field(
        0.02,
        gt=0,
        le=60,
        description="How often the background folder (`serve`'s folder process, "
        "`rtk-sessions worker`'s thread) looks for appended events to fold.",
    )
    job_lease_seconds: float = Field(
        300.0,
        ge=1,
        description="A claimed job whose worker has not finished it after this long is taken "
        "again by another worker (its worker is presumed dead).",
    )
    job_max_attempts: int = Field(
        3, ge=1, le=100, description="Tries of a failing job before it is recorded as failed."
    )
    job_poll_seconds: float = Field(
        1.0, gt=0, le=60, description="How often an idle job worker looks for work."
    )
    summary_llm_url: str = Field(
        "",
        description="OpenAI-compatible API base URL (e.g. http://127.0.0.1:11434/v1 for "
        "Ollama) to write summaries with. Empty = the built-in offline extractive summary.",
    )
    summary_llm_model: str = Field("", description="Model name sent to summary_llm_url.")
    summary_llm_api_key: SecretStr = Field(
        SecretStr(""), description="Bearer key for summary_llm_url (empty = none sent)."
    )
    summary_llm_timeout_seconds: float = Field(
        120.0, gt=0, le=3600, description="How long one summary request to the LLM may take."
    )

    @field_validator("database_url")
    @classmethod
    def _known_backend(cls, url: str) -> str:
        if not url.startswith(("sqlite", "postgresql")):
            raise ValueError("database_url must be a sqlite:// or postgresql:// URL")
        return url

    @field_validator("public_url", "summary_llm_url", "s3_endpoint_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL (or empty)")
        return value.rstrip("/")

    @field_validator("geoip_mmdb")
    @classmethod
    def _usable_mmdb_files(cls, value: str) -> str:
        """Each named file must open as a City or ASN MaxMind DB, checked at start-up
        so that a typo stops the process instead of silently leaving fields null."""
        for path in split_paths(value):
            check_mmdb_file(path)  # ValueError naming the file and the problem
        return value

    @field_validator("ingest_cors_origins")
    @classmethod
    def _origins(cls, value: str) -> str:
        for origin in split_paths(value):
            if origin != "*" and not re.fullmatch(r"https?://[^/\s?#]+", origin):
                raise ValueError(
                    f"RTK_INGEST_CORS_ORIGINS: {origin!r} is not an origin like "
                    "https://app.example.com (scheme and host, no path)"
                )
        return value

    @property
    def ingest_cors_origin_set(self) -> frozenset[str]:
        return frozenset(origin.rstrip("/") for origin in split_paths(self.ingest_cors_origins))

    @property
    def geoip_mmdb_paths(self) -> tuple[str, ...]:
        """The ``geoip_mmdb`` files, in the order given (``()`` when unset)."""
        return split_paths(self.geoip_mmdb)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_file = _config_file_path()
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if toml_file is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_file))
        return tuple(sources)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def split_paths(value: str) -> tuple[str, ...]:
    """``"a.mmdb, b.mmdb"`` → ``("a.mmdb", "b.mmdb")``: blanks around commas and
    empty items are dropped."""
    return tuple(part.strip() for part in value.split(",") if part.strip())


def _config_file_path() -> Path | None:
    """``RTK_CONFIG_FILE`` if set (it must exist), else ./rtk-sessions.toml if present."""
    explicit = os.environ.get("RTK_CONFIG_FILE")
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise FileNotFoundError(f"RTK_CONFIG_FILE={explicit} does not exist")
        return path
    default = Path(DEFAULT_CONFIG_FILE)
    return default if default.is_file() else None


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment and config file; ``overrides`` win (CLI flags)."""
    return Settings(**{k: v for k, v in overrides.items() if v is not None})
