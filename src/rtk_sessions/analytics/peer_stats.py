"""``peer_stats`` of the participant-details endpoint, from stored peer events.

Pure functions over plain dicts (the stored event payloads) and the
enrichment Structs; no I/O, no framework, no geo database. The shape is the
seed's ``…ParticipantPeerStats`` (``sessions-api.md``, "Fetch details of a
participant"), with two superset keys: ``events[].metadata`` and
``ip_information.ip``. Unknown values are ``null``, never invented; a value
that is present always has the JSON type the seed gives it (a stored value of
the wrong type is dropped to ``null`` rather than passed through).
"""

from __future__ import annotations

import copy
import ipaddress
import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rtk_sessions.ingest.enrich import BrowserInfo, IpLocation

__all__ = ["SECTIONS", "fold_metadata", "participant_peer_stats"]

#: The ``filters`` values that select a ``peer_stats`` section.
SECTIONS = frozenset({"device_info", "ip_information", "precall_network_information", "events"})

#: Envelope keys of a stored event, not part of the folded metadata.
_ENVELOPE = frozenset({"id", "type", "ts"})
_EPOCH = datetime.min.replace(tzinfo=UTC)


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------


def _parse_ts(value: Any) -> datetime | None:
    """An aware UTC datetime from an ISO 8601 string (naive → taken as UTC)."""
    if isinstance(value, datetime):
        ts = value
    elif isinstance(value, str):
        try:
            ts = datetime.fromisoformat(value)
        except ValueError:
            return None
    else:
        return None
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


def _format_ts(ts: datetime) -> str:
    """``2023-02-01T10:51:08.039Z``: UTC, milliseconds (truncated)."""
    return ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"


def _order_key(event: Mapping[str, Any]) -> tuple[datetime, str, str]:
    """Total order on stored events: (ts, id), then content as a last resort.

    An unparsable/missing ``ts`` sorts first. The content tiebreak only
    matters for two events with equal ts and id (ids are unique per app,
    so not in practice) and keeps the fold independent of input order.
    """
    event_id = event.get("id")
    return (
        _parse_ts(event.get("ts")) or _EPOCH,
        event_id if isinstance(event_id, str) else "",
        json.dumps(event, sort_keys=True, default=str),
    )


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _num(value: Any) -> int | float | None:
    """An int or float as given; bools and anything else → ``None``."""
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


def _bool(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def _obj(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _section(values: dict[str, Any]) -> dict[str, Any] | None:
    """The section, or ``None`` when every value in it is unknown."""
    return values if any(v is not None for v in values.values()) else None


# --------------------------------------------------------------------------
# fold
# --------------------------------------------------------------------------


def _merge(into: dict[str, Any], update: Mapping[str, Any]) -> None:
    """Overlay ``update`` on ``into``: non-null values win, objects merge per field."""
    for key, value in update.items():
        if value is None:
            continue
        current = into.get(key)
        if isinstance(value, Mapping) and isinstance(current, dict):
            _merge(current, value)
        elif isinstance(value, Mapping):
            fresh: dict[str, Any] = {}
            _merge(fresh, value)
            into[key] = fresh
        else:
            into[key] = copy.deepcopy(value)


def fold_metadata(events: list[dict[str, Any]]) -> dict[str, Any]:
    """One peer's metadata as of its latest ``peer.metadata`` event.

    ``events`` are the stored payloads (each with ``ts`` and ``id``), in
    any order. They are applied in (ts, id) order; a later event's non-null
    field overrides an earlier one, nested objects (``device_info``,
    ``precall_network_information``) are merged field by field, and a null
    never erases a known value. Envelope keys (``id``, ``type``, ``ts``) are
    left out; every other key, including unknown ones, is kept. Inputs are
    not modified. No events → ``{}``.
    """
    folded: dict[str, Any] = {}
    for event in sorted(events, key=_order_key):
        _merge(folded, {k: v for k, v in event.items() if k not in _ENVELOPE})
    return folded


# --------------------------------------------------------------------------
# sections
# --------------------------------------------------------------------------


def _device_info(metadata: Mapping[str, Any], browser: BrowserInfo | None) -> dict[str, Any] | None:
    """Reported ``device_info`` first, the UA-derived values as fallback.

    ``os``/``os_version`` are taken as a pair from one source: the SDK's if
    it reported an ``os``, else the UA's (never an OS from one and a version
    from the other). ``is_mobile`` is the SDK's if reported, else the UA's.
    ``browser``, ``browser_version`` and ``engine`` come only from the UA.
    """
    reported = _obj(metadata.get("device_info"))
    reported_os = _str(reported.get("os"))
    os_name: str | None
    os_version: str | None
    if reported_os is not None:
        os_name, os_version = reported_os, _str(reported.get("os_version"))
    elif browser is not None:
        os_name, os_version = browser.os, browser.os_version
    else:
        os_name, os_version = None, None
    is_mobile = _bool(reported.get("is_mobile"))
    if is_mobile is None and browser is not None:
        is_mobile = browser.is_mobile
    return _section(
        {
            "browser": browser.browser if browser else None,
            "browser_version": browser.browser_version if browser else None,
            "cpus": _num(reported.get("cpus")),
            "engine": browser.engine if browser else None,
            "is_mobile": is_mobile,
            "memory": _num(reported.get("memory")),
            "os": os_name,
            "os_version": os_version,
            "sdk_name": _str(metadata.get("sdk_name")),
            "sdk_version": _str(metadata.get("sdk_version")),
            "user_agent": _str(metadata.get("user_agent")),
            "webgl_support": _str(metadata.get("webgl_support")),
        }
    )


def _ip_information(
    metadata: Mapping[str, Any], location: IpLocation | None
) -> dict[str, Any] | None:
    """The reported IP and what the offline database says about it.

    ``ipv4`` holds the address only when it is IPv4 (an IPv4-mapped IPv6
    address counts, unwrapped); an IPv6 address is *not* put in ``ipv4``
    but in the superset key ``ip``, which carries the address whatever its
    family. An unparsable reported IP is dropped. ``ip_location`` is
    ``"lat,lon"`` when the database has coordinates; ``org`` is the AS
    organisation; ``portal`` is unknown (null).
    """
    raw = _str(metadata.get("ip"))
    if raw is None and location is not None:
        raw = location.ip
    addr: ipaddress.IPv4Address | ipaddress.IPv6Address | None = None
    if raw is not None:
        try:
            addr = ipaddress.ip_address(raw.strip())
        except ValueError:
            addr = None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    lat = location.latitude if location else None
    lon = location.longitude if location else None
    return _section(
        {
            "city": location.city if location else None,
            "country": location.country if location else None,
            "ip_location": f"{lat},{lon}" if lat is not None and lon is not None else None,
            "ipv4": str(addr) if isinstance(addr, ipaddress.IPv4Address) else None,
            "org": location.org if location else None,
            "portal": None,
            "region": location.region if location else None,
            "timezone": location.timezone if location else None,
            "ip": str(addr) if addr is not None else None,
        }
    )


def _precall(metadata: Mapping[str, Any]) -> dict[str, Any] | None:
    """The reported pre-call test; ``throughput`` is served as the seed's ``throughtput``."""
    pre = _obj(metadata.get("precall_network_information"))
    return _section(
        {
            "backend_rtt": _num(pre.get("backend_rtt")),
            "effective_networktype": _str(pre.get("effective_networktype")),
            "fractional_loss": _num(pre.get("fractional_loss")),
            "jitter": _num(pre.get("jitter")),
            "reflexive_connectivity": _bool(pre.get("reflexive_connectivity")),
            "relay_connectivity": _bool(pre.get("relay_connectivity")),
            "rtt": _num(pre.get("rtt")),
            "throughtput": _num(pre.get("throughput")),
            "turn_connectivity": _bool(pre.get("turn_connectivity")),
        }
    )


def _events(peer_events: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """``peer.event`` payloads in (ts, id) order as ``{timestamp, type, metadata}``.

    ``timestamp`` is normalized to UTC with milliseconds (an unparsable one
    is passed through if it is a string); ``metadata`` is the event's object
    as stored, or null.
    """
    out: list[dict[str, Any]] = []
    for event in sorted(peer_events, key=_order_key):
        ts = _parse_ts(event.get("ts"))
        metadata = event.get("metadata")
        out.append(
            {
                "timestamp": _format_ts(ts) if ts else _str(event.get("ts")),
                "type": _str(event.get("name")),
                "metadata": copy.deepcopy(dict(metadata))
                if isinstance(metadata, Mapping)
                else None,
            }
        )
    return out


def participant_peer_stats(
    metadata: Mapping[str, Any],
    peer_events: list[dict[str, Any]],
    browser: BrowserInfo | None,
    location: IpLocation | None,
    sections: set[str] | frozenset[str],
) -> dict[str, Any]:
    """The seed-shaped ``peer_stats`` object of one peer.

    ``metadata`` is :func:`fold_metadata`'s result, ``peer_events`` the
    stored ``peer.event`` payloads (any order), ``browser``/``location``
    the enrichment of ``metadata["user_agent"]``/``metadata["ip"]``.
    ``sections`` names the sections to include (see :data:`SECTIONS`; other
    names such as ``quality_stats`` are ignored). A section not named is
    absent from the dict; a named one with no data is ``None``, except
    ``events`` which is ``[]``. ``config`` and ``status`` are always present
    and ``None``: we have no data for them. Keys follow the seed's order.
    """
    stats: dict[str, Any] = {"config": None}
    if "device_info" in sections:
        stats["device_info"] = _device_info(metadata, browser)
    if "events" in sections:
        stats["events"] = _events(peer_events)
    if "ip_information" in sections:
        stats["ip_information"] = _ip_information(metadata, location)
    if "precall_network_information" in sections:
        stats["precall_network_information"] = _precall(metadata)
    stats["status"] = None
    return stats
