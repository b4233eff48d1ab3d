"""Call every endpoint of the Sessions issue through the official ``cloudflare`` SDK.

    python sdk_calls.py <base_url> <token> <account> <app> <ids.json>

Runs in any environment that has the ``cloudflare`` package (5.0.0, the seed's
generation, or the current 5.x): it imports nothing from ``rtk_sessions``.
Every client is built the way a user points an official SDK at us::

    Cloudflare(api_token=..., base_url=base_url + "/client/v4",
               _strict_response_validation=True, max_retries=0)

so a response that does not match the SDK's generated model raises
``cloudflare.APIResponseValidationError``. Pydantic validates in lax mode,
so strict validation still *coerces* some wrong types (a numeric string
``"115.75"`` for a ``float`` field, ``1`` for a ``bool``); each call is
therefore also made through ``with_raw_response`` and the raw JSON is
compared, type for type, with what the SDK parsed: a value the SDK had to
convert is reported as ``coerced`` and fails the run like a validation error.

``ids.json`` names the data to call with (see ``conftest.plan`` and
``test_sdk_demo.plan_demo``); a few keys are optional, with the defaults the
examples/basic run relies on: ``key_token`` (the token of the X-Auth-Key style,
bound to ``email``; default: ``<token>``), ``live_search`` ("STELLA"),
``participants_range`` ("1:5"), ``participants_exact`` ("5") and
``breakout_rooms`` (``[breakout_room]``: each room's raw participants are listed).

Prints one JSON document on stdout::

    {"sdk_version", "generation_features", "calls": {name: {"kwargs", "response"}},
     "facts": {...read through the SDK's typed attributes...},
     "errors": {name: {"exception", "status_code"}}, "failures": [...]}

and exits 1 if any call failed (an unexpected exception, a coercion, a
typed part of the response the SDK reads as absent, or an expected error
that did not happen), with the tracebacks on stderr.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import sys
import traceback
import typing
from collections.abc import Callable
from datetime import datetime
from typing import Any

# The SDK reads CLOUDFLARE_* variables (token, key, email, base URL, headers):
# only what this script passes must reach the server.
for _name in [n for n in os.environ if n.startswith("CLOUDFLARE_")]:
    del os.environ[_name]

import cloudflare  # noqa: E402
from cloudflare import Cloudflare  # noqa: E402

SESSION_FIELDS = (
    "id",
    "associated_id",
    "created_at",
    "started_at",
    "updated_at",
    "ended_at",
    "status",
    "type",
    "minutes_consumed",
    "max_concurrent_participants",
    "live_participants",
    "meeting_display_name",
    "organization_id",
)
PARTICIPANT_FIELDS = (
    "id",
    "user_id",
    "display_name",
    "custom_participant_id",
    "preset_name",
    "joined_at",
    "left_at",
    "duration",
    "created_at",
    "updated_at",
)


# --------------------------------------------------------------------------
# reading what the SDK parsed
# --------------------------------------------------------------------------


def get(obj: Any, name: str) -> Any:
    """A field of a parsed model (typed or extra) or of a plain dict (an untyped part)."""
    if isinstance(obj, dict):
        return obj.get(name)
    return getattr(obj, name, None)


def as_json(obj: Any) -> Any:
    """A parsed model as JSON-able data (models, lists of models, plain values)."""
    if hasattr(obj, "to_dict"):
        return obj.to_dict(mode="json")
    if isinstance(obj, list):
        return [as_json(item) for item in obj]
    if isinstance(obj, dict):
        return {key: as_json(value) for key, value in obj.items()}
    return obj


def typed_fields(model: Any) -> list[str]:
    """The fields the SDK's generated model declares (the rest are 'extra')."""
    fields = getattr(type(model), "model_fields", None)
    if fields is None:  # pydantic v1 style
        fields = getattr(type(model), "__fields__", {})
    return sorted(fields)


def session_fact(session: Any) -> dict[str, Any]:
    fact = {name: get(session, name) for name in SESSION_FIELDS}
    fact["breakout_room_ids"] = [get(room, "id") for room in (get(session, "breakout_rooms") or [])]
    fact["meta"] = get(session, "meta")
    return fact


def participant_fact(participant: Any) -> dict[str, Any]:
    fact = {name: get(participant, name) for name in PARTICIPANT_FIELDS}
    events = get(participant, "peer_events")
    fact["peer_events"] = (
        None
        if events is None
        else [
            {
                "event_name": get(e, "event_name"),
                "peer_id": get(e, "peer_id"),
                "session_id": get(e, "session_id"),
                "preset_view_type": get(e, "preset_view_type"),
            }
            for e in events
        ]
    )
    return fact


def report_fact(participant: Any) -> dict[str, Any]:
    """What a peer report says, read through the SDK's typed attributes where it has them."""
    report = get(participant, "peer_report")
    quality = get(report, "quality")
    metadata = get(report, "metadata")
    mos = get(get(get(quality, "audio_consumer_cumulative"), "quality_mos"), "avg")
    return {
        "id": get(participant, "id"),
        "user_id": get(participant, "user_id"),
        "role": get(participant, "role"),
        "duration": get(participant, "duration"),
        "rows": {
            kind: len(get(quality, kind) or [])
            for kind in ("audio_producer", "audio_consumer", "video_producer", "video_consumer")
        },
        "audio_consumer_mos_avg": mos,
        "browser": get(get(metadata, "browser_metadata"), "browser"),
        "sdk_name": get(metadata, "sdk_name"),
        "producing_pairs": len(get(get(metadata, "candidate_pairs"), "producing_transport") or []),
        "peer_events": len(get(participant, "peer_events") or []),
    }


def _report_model() -> Any:
    from cloudflare.types.realtime_kit import session_get_participant_data_from_peer_id_response

    return session_get_participant_data_from_peer_id_response.SessionGetParticipantDataFromPeerIDResponse


def session_view(data: Any) -> tuple[str, Any]:
    """The session object this generation types: ``data`` (5.3+) or ``data.session`` (5.0)."""
    if "session" in typed_fields(data):
        return "nested", data.session
    return "flat", data


# --------------------------------------------------------------------------
# exact types: what the server sent == what the SDK parsed, without coercion
# --------------------------------------------------------------------------


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def coercions(raw: Any, parsed: Any, path: str = "$") -> list[str]:
    """Places where the parsed value is not the raw JSON value (type or content)."""
    raw_kind, parsed_kind = _kind(raw), _kind(parsed)
    if raw_kind != parsed_kind:
        return [f"{path}: server sent {raw_kind} {raw!r}, SDK parsed {parsed_kind} {parsed!r}"]
    if raw_kind == "object":
        problems = []
        for key in sorted(set(raw) | set(parsed)):
            if key not in parsed:
                problems.append(f"{path}.{key}: sent but dropped by the SDK")
            elif key not in raw:
                problems.append(f"{path}.{key}: not sent but present after parsing")
            else:
                problems += coercions(raw[key], parsed[key], f"{path}.{key}")
        return problems
    if raw_kind == "array":
        if len(raw) != len(parsed):
            return [f"{path}: {len(raw)} items sent, {len(parsed)} parsed"]
        return [
            problem
            for i, (r, q) in enumerate(zip(raw, parsed, strict=False))
            for problem in coercions(r, q, f"{path}[{i}]")
        ]
    if raw != parsed:
        return [f"{path}: server sent {raw!r}, SDK parsed {parsed!r}"]
    return []


# --------------------------------------------------------------------------
# never null: an unknown value is left out (api.md)
# --------------------------------------------------------------------------

#: Objects whose values are the client's own, kept as sent (null included).
AS_SENT = ("meta", "metadata")


def nulls(raw: Any, path: str = "$") -> list[str]:
    """Paths of the nulls in an answer, outside what clients sent as it is."""
    if raw is None:
        return [path]
    if isinstance(raw, list):
        return [p for i, item in enumerate(raw) for p in nulls(item, f"{path}[{i}]")]
    if isinstance(raw, dict):
        return [
            p
            for key, value in raw.items()
            if key not in AS_SENT
            for p in nulls(value, f"{path}.{key}")
        ]
    return []


# --------------------------------------------------------------------------
# every field the SDK declares that the answer lacks (the test says which may be)
# --------------------------------------------------------------------------


def _models_in(annotation: Any) -> list[Any]:
    """The pydantic model classes an annotation names, directly or inside Optional/List."""
    found = []
    if isinstance(annotation, type) and hasattr(annotation, "model_fields"):
        found.append(annotation)
    for arg in typing.get_args(annotation):
        found += _models_in(arg)
    return found


def missing_fields(model: Any, raw: Any, path: str = "$") -> list[str]:
    """Paths of fields ``model`` declares that the raw JSON object lacks, recursively
    through nested models and lists of models."""
    if not isinstance(raw, dict):
        return []
    problems = []
    for name, info in model.model_fields.items():
        key = info.alias or name
        if key not in raw:
            problems.append(f"{path}.{key}")
            continue
        value = raw[key]
        for inner in _models_in(info.annotation):
            items = value if isinstance(value, list) else [value]
            for i, item in enumerate(items):
                where = f"{path}.{key}[{i}]" if isinstance(value, list) else f"{path}.{key}"
                problems += missing_fields(inner, item, where)
    return problems


def validation_errors(exc: Exception) -> list[dict[str, Any]]:
    """Where strict validation failed: the path, pydantic's error type, the value sent."""
    cause = exc.__cause__
    errors = cause.errors() if hasattr(cause, "errors") else []
    return [
        {
            "loc": ".".join(str(part) for part in error["loc"]),
            "type": error["type"],
            "input": error.get("input"),
        }
        for error in errors
    ]


# --------------------------------------------------------------------------
# the run
# --------------------------------------------------------------------------


class Run:
    def __init__(self) -> None:
        self.calls: dict[str, Any] = {}
        self.errors: dict[str, Any] = {}
        self.failures: list[dict[str, Any]] = []
        self.report_missing: dict[str, list[str]] = {}
        self.report_validation: dict[str, list[dict[str, Any]]] = {}
        self.report_digest: dict[str, str] = {}

    def fail(self, name: str, kind: str, message: str, **details: Any) -> None:
        self.failures.append({"call": name, "kind": kind, "message": message, **details})
        print(f"--- {name}: {kind}: {message}", file=sys.stderr)

    def call(self, name: str, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``method`` is a ``with_raw_response`` method; returns the parsed model or None."""
        try:
            raw_response = method(*args, **kwargs)
            raw = raw_response.json()
            parsed = raw_response.parse()
        except cloudflare.APIResponseValidationError as exc:
            traceback.print_exc()
            self.fail(
                name,
                "validation",
                str(exc),
                cause=str(exc.__cause__),
                status_code=exc.status_code,
                body=_short(exc.body),
            )
            return None
        except Exception as exc:  # noqa: BLE001 - every failure is reported, then the run fails
            traceback.print_exc()
            self.fail(
                name,
                type(exc).__name__,
                str(exc),
                status_code=getattr(exc, "status_code", None),
                body=_short(getattr(exc, "body", None)),
            )
            return None
        self.no_nulls(name, raw)
        response = as_json(parsed)
        problems = coercions(raw, response)
        if problems:
            self.fail(
                name,
                "coerced",
                f"the SDK converted {len(problems)} value(s) it should have read as sent",
                problems=problems[:5],
            )
        self.calls[name] = {
            "kwargs": {k: _jsonable(v) for k, v in kwargs.items()},
            "response": response,
        }
        return parsed

    def call_report(
        self, name: str, model: Any, method: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> tuple[dict[str, Any] | None, Any]:
        """A peer-report call: (raw JSON, parsed model or None).

        A strict-validation failure is recorded (``report_validation``) rather
        than failing the run: the seed's generation types some fractional
        quantities as integers (api.md), and the test decides which failures
        are those. Fields the SDK declares but the answer lacks are recorded
        (``report_missing``); coercions of a parsed answer fail the run as usual.
        """
        try:
            raw_response = method(*args, **kwargs)
            raw = raw_response.json()
        except Exception as exc:  # noqa: BLE001
            traceback.print_exc()
            self.fail(name, type(exc).__name__, str(exc),
                      status_code=getattr(exc, "status_code", None))
            return None, None
        self.no_nulls(name, raw)
        self.report_missing[name] = missing_fields(model, raw)
        self.report_digest[name] = hashlib.sha256(
            json.dumps(raw, sort_keys=True).encode()
        ).hexdigest()
        try:
            parsed = raw_response.parse()
        except cloudflare.APIResponseValidationError as exc:
            self.report_validation[name] = validation_errors(exc)
            return raw, None
        self.report_validation[name] = []
        problems = coercions(raw, as_json(parsed))
        if problems:
            self.fail(name, "coerced", f"the SDK converted {len(problems)} value(s)",
                      problems=problems[:5])
        return raw, parsed

    def no_nulls(self, name: str, raw: Any) -> None:
        found = nulls(raw)
        if found:
            self.fail(name, "null", f"{len(found)} null value(s): unknown values are left out",
                      paths=found[:20])

    def present(self, name: str, parsed: Any, *path: str) -> bool:
        """The typed path (all Optional in the SDK's models) is there; else a failure."""
        obj = parsed
        for i, part in enumerate(path):
            obj = get(obj, part)
            if obj is None:
                self.fail(
                    name,
                    "missing",
                    f"{'.'.join(path[: i + 1])} is absent or null: "
                    "the SDK parses the response but reads nothing there",
                )
                return False
        return True

    def expect_error(
        self,
        name: str,
        expected: type[BaseException],
        method: Callable[..., Any],
        *args: Any,
        **kwargs: Any,
    ) -> None:
        try:
            method(*args, **kwargs)
        except expected as exc:
            self.errors[name] = {
                "exception": type(exc).__name__,
                "status_code": getattr(exc, "status_code", None),
                "body": getattr(exc, "body", None),
            }
            return
        except Exception as exc:  # noqa: BLE001
            traceback.print_exc()
            self.fail(
                name,
                type(exc).__name__,
                f"expected {expected.__name__}, got {exc!r}",
                status_code=getattr(exc, "status_code", None),
            )
            return
        self.fail(name, "no-error", f"expected {expected.__name__}, the call succeeded")


def _short(body: Any) -> str:
    text = json.dumps(body, default=str)
    return text if len(text) <= 600 else text[:600] + "..."


def _jsonable(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def fetch_download(url: str) -> dict[str, Any]:
    """A download link fetched as a browser does (no token): status, type, text."""
    import httpx

    response = httpx.get(url, timeout=60)
    return {
        "status": response.status_code,
        "content_type": response.headers.get("content-type"),
        "text": response.content.decode("utf-8", errors="replace"),
    }


def downloads(
    run: Any, raw: Any, sessions: Any, scope: dict[str, Any], ids: dict, facts: dict
) -> None:
    """Chat, transcript in every format, summary generation and the summary, each link
    fetched; and the 404 of a session without chat."""
    import time

    session_id = ids["download_session"]
    found = facts.setdefault("downloads", {})
    parsed = run.call("chat", raw.get_session_chat, session_id, **scope)
    if run.present("chat", parsed, "data", "chat_download_url"):
        found["chat"] = fetch_download(parsed.data.chat_download_url)
    transcript_params = inspect.signature(sessions.get_session_transcripts).parameters
    formats = ("CSV", "JSON", "SRT", "VTT") if "format" in transcript_params else ("CSV",)
    for fmt in formats:
        name = f"transcript_{fmt}"
        extra = {"format": fmt} if "format" in transcript_params else {}
        parsed = run.call(name, raw.get_session_transcripts, session_id, **scope, **extra)
        if run.present(name, parsed, "data", "transcript_download_url"):
            found[name] = fetch_download(parsed.data.transcript_download_url)
    returns = inspect.signature(sessions.generate_summary_of_transcripts).return_annotation
    if returns in (None, "None"):  # 5.0.0 types the response as nothing: it parses none
        try:
            sessions.generate_summary_of_transcripts(session_id, **scope)
        except Exception as exc:  # noqa: BLE001 - reported, then the run fails
            run.fail("summary_generate", type(exc).__name__, str(exc))
    else:
        run.call("summary_generate", raw.generate_summary_of_transcripts, session_id, **scope)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            sessions.get_session_summary(session_id, **scope)
            break
        except cloudflare.NotFoundError:  # being generated
            time.sleep(0.2)
    parsed = run.call("summary", raw.get_session_summary, session_id, **scope)
    if run.present("summary", parsed, "data", "summary_download_url"):
        found["summary"] = fetch_download(parsed.data.summary_download_url)
    run.expect_error(
        "not_found_chat",
        cloudflare.NotFoundError,
        sessions.get_session_chat,
        ids["no_chat_session"],
        **scope,
    )


def main(argv: list[str]) -> int:
    if len(argv) != 6:
        print(__doc__, file=sys.stderr)
        return 2
    base_url, token, account, app, ids_path = argv[1:]
    with open(ids_path, encoding="utf-8") as handle:
        ids = json.load(handle)
    sdk_base = base_url.rstrip("/") + "/client/v4"

    def client(**auth: Any) -> Cloudflare:
        return Cloudflare(
            base_url=sdk_base, _strict_response_validation=True, max_retries=0, timeout=60, **auth
        )

    # The X-Auth-Key style may use another token (one bound to ids["email"]): the
    # demo prints a token bound to no email, the operator creates the bound one.
    key_token = ids.get("key_token", token)
    bearer = client(api_token=token)
    keyed = client(api_key=key_token, api_email=ids["email"])
    sessions = bearer.realtime_kit.sessions
    raw = sessions.with_raw_response
    scope = {"account_id": account, "app_id": app}

    details_params = inspect.signature(sessions.get_session_participant_details).parameters
    has_filters = "filters" in details_params
    features = {"participant_details_filters": has_filters}

    run = Run()
    facts: dict[str, Any] = {
        "sessions": {},
        "session": {},
        "participants": {},
        "participant": {},
        "paging": {},
    }

    def list_sessions(name: str, client_raw: Any = raw, **params: Any) -> None:
        parsed = run.call(name, client_raw.get_sessions, **scope, **params)
        if parsed is not None and run.present(name, parsed, "data", "sessions"):
            facts["sessions"][name] = [session_fact(s) for s in (parsed.data.sessions or [])]
            facts["paging"][name] = as_json(get(parsed, "paging"))

    def session_details(name: str, session_id: str, client_raw: Any = raw, **params: Any) -> None:
        parsed = run.call(name, client_raw.get_session_details, session_id, **scope, **params)
        if parsed is not None and run.present(name, parsed, "data"):
            shape, view = session_view(parsed.data)
            if view is None:
                run.fail(name, "missing", "data.session is absent: this SDK reads no session")
                return
            facts["session"][name] = {"shape": shape, **session_fact(view)}

    def participants(name: str, session_id: str, client_raw: Any = raw, **params: Any) -> None:
        parsed = run.call(name, client_raw.get_session_participants, session_id, **scope, **params)
        if parsed is not None and run.present(name, parsed, "data", "participants"):
            facts["participants"][name] = [
                participant_fact(p) for p in (parsed.data.participants or [])
            ]
            facts["paging"][name] = as_json(get(parsed.data, "paging"))

    def participant(
        name: str, session_id: str, peer_id: str, client_raw: Any = raw, **params: Any
    ) -> None:
        parsed = run.call(
            name,
            client_raw.get_session_participant_details,
            peer_id,
            session_id=session_id,
            **scope,
            **params,
        )
        if parsed is not None and run.present(name, parsed, "data", "participant"):
            p = parsed.data.participant
            fact = participant_fact(p)
            fact["peer_stats"] = as_json(get(p, "peer_stats"))
            fact["quality_stats"] = as_json(get(p, "quality_stats"))
            fact["typed_fields"] = typed_fields(p)
            facts["participant"][name] = fact

    report_model = _report_model()
    report_params = inspect.signature(sessions.get_participant_data_from_peer_id).parameters
    features["peer_report_include_peer_events"] = "include_peer_events" in report_params
    facts["peer_report"] = {}

    def peer_report(name: str, peer_id: str, client_raw: Any = raw, **params: Any) -> None:
        _, parsed = run.call_report(
            name, report_model, client_raw.get_participant_data_from_peer_id, peer_id, **scope,
            **params,
        )
        if parsed is not None and run.present(name, parsed, "data", "participant"):
            facts["peer_report"][name] = report_fact(parsed.data.participant)

    start_time = datetime.fromisoformat(ids["start_time"])
    end_time = datetime.fromisoformat(ids["end_time"])

    # ---- GET /sessions ------------------------------------------------------
    # The user's way first: the plain method, no parameters.
    try:
        plain = sessions.get_sessions(**scope)
        facts["plain_get_sessions_ids"] = [s.id for s in (plain.data.sessions or [])]
    except Exception as exc:  # noqa: BLE001
        traceback.print_exc()
        run.fail("plain_get_sessions", type(exc).__name__, str(exc))
    list_sessions("sessions_default")
    list_sessions("sessions_zero_paging", page_no=0, per_page=0)
    list_sessions(
        "sessions_created_desc", sort_by="createdAt", sort_order="DESC", page_no=1.0, per_page=100.0
    )
    list_sessions("sessions_created_asc", sort_by="createdAt", sort_order="ASC", per_page=100.0)
    list_sessions(
        "sessions_minutes_desc", sort_by="minutesConsumed", sort_order="DESC", per_page=100.0
    )
    list_sessions(
        "sessions_minutes_asc", sort_by="minutesConsumed", sort_order="ASC", per_page=100.0
    )
    for page in range(1, 8):  # 10 a page until a page past the end
        list_sessions(f"sessions_page_{page}", page_no=float(page), per_page=10.0)
        if not facts["sessions"].get(f"sessions_page_{page}"):
            break
    list_sessions("sessions_live", status="LIVE")
    list_sessions("sessions_ended", status="ENDED", per_page=100.0)
    list_sessions("sessions_search", search=ids["search"], per_page=100.0)
    list_sessions("sessions_associated", associated_id=ids["associated_id"], per_page=100.0)
    list_sessions("sessions_time_range", start_time=start_time, end_time=end_time, per_page=100.0)
    list_sessions(
        "sessions_participants_1_5",
        participants=ids.get("participants_range", "1:5"),
        per_page=100.0,
    )
    list_sessions(
        "sessions_participants_exact",
        participants=ids.get("participants_exact", "5"),
        per_page=100.0,
    )
    list_sessions(
        "sessions_combined",
        status="ENDED",
        participants=ids["combined_participants"],
        search=ids["combined_search"],
        sort_by="minutesConsumed",
        sort_order="ASC",
        start_time=datetime.fromisoformat(ids["combined_start_time"]),
        end_time=datetime.fromisoformat(ids["combined_end_time"]),
        page_no=1.0,
        per_page=50.0,
    )

    # ---- GET /sessions/{id} -------------------------------------------------
    session_details("details_ended", ids["ended_session"])
    session_details("details_parent", ids["parent_session"])
    session_details("details_parent_rooms", ids["parent_session"], include_breakout_rooms=True)
    session_details("details_parent_no_rooms", ids["parent_session"], include_breakout_rooms=False)
    session_details("details_breakout_room", ids["breakout_room"])
    session_details("details_live", ids["live_session"], include_breakout_rooms=True)

    # ---- GET /sessions/{id}/participants ------------------------------------
    participants("participants_ended_default", ids["ended_session"])
    participants(
        "participants_ended",
        ids["ended_session"],
        sort_by="joinedAt",
        sort_order="ASC",
        page_no=1.0,
        per_page=100.0,
    )
    participants("participants_ended_page_2", ids["ended_session"], page_no=2.0, per_page=5.0)
    participants(
        "participants_ended_duration_desc",
        ids["ended_session"],
        sort_by="duration",
        sort_order="DESC",
        per_page=100.0,
    )
    participants("participants_ended_search", ids["ended_session"], search=ids["search_user_id"])
    participants(
        "participants_ended_events",
        ids["ended_session"],
        include_peer_events=True,
        view="raw",
        per_page=100.0,
    )
    participants("participants_parent_raw", ids["parent_session"], view="raw", per_page=100.0)
    participants(
        "participants_parent_consolidated",
        ids["parent_session"],
        view="consolidated",
        per_page=100.0,
    )
    participants(
        "participants_parent_consolidated_events",
        ids["parent_session"],
        view="consolidated",
        include_peer_events=True,
        per_page=100.0,
    )
    participants(
        "participants_parent_consolidated_duration",
        ids["parent_session"],
        view="consolidated",
        sort_by="duration",
        sort_order="DESC",
        per_page=3.0,
        page_no=1.0,
    )
    for i, room in enumerate(ids.get("breakout_rooms", [ids["breakout_room"]])):
        participants(f"participants_breakout_room_{i}_raw", room, view="raw", per_page=100.0)
    participants("participants_live", ids["live_session"], include_peer_events=True)
    participants(
        "participants_live_search", ids["live_session"], search=ids.get("live_search", "STELLA")
    )

    # ---- GET /sessions/{id}/participants/{peer} -----------------------------
    participant("participant_ended", ids["ended_session"], ids["ended_peer"])
    participant(
        "participant_ended_events",
        ids["ended_session"],
        ids["ended_peer"],
        include_peer_events=True,
    )
    participant("participant_live", ids["live_session"], ids["live_peer"])
    participant(
        "participant_live_events", ids["live_session"], ids["live_peer"], include_peer_events=True
    )
    participant("participant_left", ids["live_session"], ids["left_peer"])
    if has_filters:  # 5.0.0 only: newer SDKs dropped the parameter
        participant(
            "participant_live_device_info",
            ids["live_session"],
            ids["live_peer"],
            filters="device_info",
        )
        participant(
            "participant_live_quality_stats",
            ids["live_session"],
            ids["live_peer"],
            filters="quality_stats",
        )
        participant(
            "participant_live_events_filter",
            ids["live_session"],
            ids["live_peer"],
            filters="events",
            include_peer_events=True,
        )

    # ---- GET /sessions/peer-report/{peer} -----------------------------------
    peer_report("report_live", ids["live_peer"])
    peer_report("report_live_quality", ids["live_peer"], filters="quality_stats")
    peer_report("report_live_device_info", ids["live_peer"], filters="device_info")
    peer_report("report_live_ip_information", ids["live_peer"], filters="ip_information")
    peer_report("report_live_precall", ids["live_peer"], filters="precall_network_information")
    peer_report("report_live_events_filter", ids["live_peer"], filters="events")
    if features["peer_report_include_peer_events"]:  # newer SDKs only
        peer_report("report_live_events", ids["live_peer"], include_peer_events=True)
    peer_report("report_left", ids["left_peer"])
    peer_report("report_ended", ids["ended_peer"])
    for i, peer_id in enumerate(ids.get("report_peers", [])):
        peer_report(f"report_peer_{i}", peer_id)

    # ---- downloads: chat, transcript, summary -------------------------------
    if "download_session" in ids:
        downloads(run, raw, sessions, scope, ids, facts)

    # ---- the X-Auth-Key + X-Auth-Email auth style ---------------------------
    keyed_raw = keyed.realtime_kit.sessions.with_raw_response
    list_sessions("key_sessions", client_raw=keyed_raw, status="LIVE")
    session_details("key_details_live", ids["live_session"], client_raw=keyed_raw)
    participants("key_participants_live", ids["live_session"], client_raw=keyed_raw)
    participant("key_participant_live", ids["live_session"], ids["live_peer"], client_raw=keyed_raw)

    # ---- errors, as the SDK raises them -------------------------------------
    missing = "no-such-session-0000"
    run.expect_error(
        "not_found_session",
        cloudflare.NotFoundError,
        sessions.get_session_details,
        missing,
        **scope,
    )
    run.expect_error(
        "not_found_participants",
        cloudflare.NotFoundError,
        sessions.get_session_participants,
        missing,
        **scope,
    )
    run.expect_error(
        "not_found_participant",
        cloudflare.NotFoundError,
        sessions.get_session_participant_details,
        "no-such-peer-0000",
        session_id=ids["ended_session"],
        **scope,
    )
    run.expect_error(
        "not_found_peer_report",
        cloudflare.NotFoundError,
        sessions.get_participant_data_from_peer_id,
        "no-such-peer-0000",
        **scope,
    )
    bad = client(api_token="rtk_not_a_real_token").realtime_kit.sessions
    run.expect_error(
        "unauthenticated_sessions", cloudflare.AuthenticationError, bad.get_sessions, **scope
    )
    run.expect_error(
        "unauthenticated_details",
        cloudflare.AuthenticationError,
        bad.get_session_details,
        ids["ended_session"],
        **scope,
    )
    bad_key = client(api_key="rtk_not_a_real_token", api_email=ids["email"]).realtime_kit.sessions
    run.expect_error(
        "unauthenticated_key",
        cloudflare.AuthenticationError,
        bad_key.get_session_participants,
        ids["ended_session"],
        **scope,
    )
    other_email = client(
        api_key=key_token, api_email="someone-else@example.com"
    ).realtime_kit.sessions
    run.expect_error(
        "unauthenticated_wrong_email",
        cloudflare.AuthenticationError,
        other_email.get_sessions,
        **scope,
    )  # key_token is bound to ids["email"]
    run.expect_error(
        "forbidden_other_account",
        cloudflare.PermissionDeniedError,
        sessions.get_sessions,
        account_id=ids["other_account"],
        app_id=app,
    )
    run.expect_error(
        "bad_participants_range",
        cloudflare.BadRequestError,
        sessions.get_sessions,
        participants="five",
        **scope,
    )
    run.expect_error(
        "bad_per_page",
        cloudflare.BadRequestError,
        sessions.get_session_participants,
        ids["ended_session"],
        per_page=1000.0,
        **scope,
    )

    out = {
        "sdk_version": cloudflare.__version__,
        "generation_features": features,
        "calls": run.calls,
        "facts": facts,
        "errors": run.errors,
        "failures": run.failures,
        "report_missing": run.report_missing,
        "report_validation": run.report_validation,
        "report_digest": run.report_digest,
    }
    json.dump(out, sys.stdout, indent=1, sort_keys=True, ensure_ascii=False)
    sys.stdout.write("\n")
    return 1 if run.failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
