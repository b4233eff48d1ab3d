"""``peer_stats`` of the participant-details endpoint, from stored peer events.

Pure functions over plain dicts (the stored event payloads) and the
enrichment Structs; no I/O, no framework, no geo database. The shape is the
seed's ``…ParticipantPeerStats`` (``sessions-api.md``, "Fetch details of a
participant"), with two superset keys: ``events[].metadata`` and
``ip_information.ip``. Unknown values are left out (api.md: absent, never
null), never invented; a value that is present always has the JSON type the
seed gives it (a stored value of the wrong type is left out rather than passed
through).
"""

from __future__ import annotations

import copy
import ipaddress
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from rtk_sessions.analytics.json_values import (
    flag,
    format_ts,
    known,
    mapping,
    number,
    order_key,
    parse_ts,
    section,
    text,
)

if TYPE_CHECKING:
    from rtk_sessions.ingest.enrich import BrowserInfo, IpLocation

__all__ = ["SECTIONS", "fold_metadata", "participant_peer_stats"]

#: The ``filters`` values that select a ``peer_stats`` section.
SECTIONS = frozenset({"device_info", "ip_information", "precall_network_information", "events"})

#: Envelope keys of a stored event, not part of the folded metadata.
_ENVELOPE = frozenset({"id", "type", "ts"})


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
    for event in sorted(events, key=order_key):
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
    reported = mapping(metadata.get("device_info"))
    reported_os = text(reported.get("os"))
    os_name: str | None
    os_version: str | None
    if reported_os is not None:
        os_name, os_version = reported_os, text(reported.get("os_version"))
    elif browser is not None:
        os_name, os_version = browser.os, browser.os_version
    else:
        os_name, os_version = None, None
    is_mobile = flag(reported.get("is_mobile"))
    if is_mobile is None and browser is not None:
        is_mobile = browser.is_mobile
    return section(
        {
            "browser": browser.browser if browser else None,
            "browser_version": browser.browser_version if browser else None,
            "cpus": number(reported.get("cpus")),
            "engine": browser.engine if browser else None,
            "is_mobile": is_mobile,
            "memory": number(reported.get("memory")),
            "os": os_name,
            "os_version": os_version,
            "sdk_name": text(metadata.get("sdk_name")),
            "sdk_version": text(metadata.get("sdk_version")),
            "user_agent": text(metadata.get("user_agent")),
            "webgl_support": text(metadata.get("webgl_support")),
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
    organisation; ``portal`` is never known (left out).
    """
    raw = text(metadata.get("ip"))
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
    return section(
        {
            "city": location.city if location else None,
            "country": location.country if location else None,
            "ip_location": f"{lat},{lon}" if lat is not None and lon is not None else None,
            "ipv4": str(addr) if isinstance(addr, ipaddress.IPv4Address) else None,
            "org": location.org if location else None,
            "region": location.region if location else None,
            "timezone": location.timezone if location else None,
            "ip": str(addr) if addr is not None else None,
        }
    )


def _precall(metadata: Mapping[str, Any]) -> dict[str, Any] | None:
    """The reported pre-call test; ``throughput`` is served as the seed's ``throughtput``."""
    pre = mapping(metadata.get("precall_network_information"))
    return section(
        {
            "backend_rtt": number(pre.get("backend_rtt")),
            "effective_networktype": text(pre.get("effective_networktype")),
            "fractional_loss": number(pre.get("fractional_loss")),
            "jitter": number(pre.get("jitter")),
            "reflexive_connectivity": flag(pre.get("reflexive_connectivity")),
            "relay_connectivity": flag(pre.get("relay_connectivity")),
            "rtt": number(pre.get("rtt")),
            "throughtput": number(pre.get("throughput")),
            "turn_connectivity": flag(pre.get("turn_connectivity")),
        }
    )


def _events(peer_events: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """``peer.event`` payloads in (ts, id) order as ``{timestamp, type, metadata}``.

    ``timestamp`` is normalized to UTC with milliseconds (an unparsable one
    is passed through if it is a string); ``metadata`` is the event's object
    as stored; each left out when unknown.
    """
    out: list[dict[str, Any]] = []
    for event in sorted(peer_events, key=order_key):
        ts = parse_ts(event.get("ts"))
        metadata = event.get("metadata")
        out.append(
            known(
                {
                    "timestamp": format_ts(ts) if ts else text(event.get("ts")),
                    "type": text(event.get("name")),
                    "metadata": copy.deepcopy(dict(metadata))
                    if isinstance(metadata, Mapping)
                    else None,
                }
            )
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
    names such as ``quality_stats`` are ignored). A section not named, or
    named but with nothing known, is absent from the dict, except ``events``
    which is ``[]``. ``config`` and ``status`` are never known here: absent.
    Keys follow the seed's order.
    """
    stats: dict[str, Any] = {}
    if "device_info" in sections:
        stats["device_info"] = _device_info(metadata, browser)
    if "events" in sections:
        stats["events"] = _events(peer_events)
    if "ip_information" in sections:
        stats["ip_information"] = _ip_information(metadata, location)
    if "precall_network_information" in sections:
        stats["precall_network_information"] = _precall(metadata)
    return known(stats)
