"""``peer_report.metadata`` and the report's ``peer_stats``, from a peer's stored events.

Pure functions over the stored ``peer.metadata`` / ``peer.event`` payloads,
the peer's ``peer.stats`` samples (their ``candidate_pair``) and the
enrichment of its user agent and IP. The shapes are the union of what both
SDK generations declare (``session_get_participant_data_from_peer_id_response``
of ``cloudflare`` 5.0.0 and 5.9.0): every declared field is present, ``null``
where our events do not carry it.

Device changes come from ``peer.event``s (``ingest.md``):
``{audio,video,speaker}_devices_updated`` with ``metadata.added`` /
``metadata.removed`` lists of ``{device_id, kind, label}`` (the set of devices
changed), and ``{audio,video,speaker}_device_changed`` with ``metadata``
``{device_id, kind, label}`` (the device in use changed).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from msgspec import Struct, structs

from rtk_sessions.analytics.json_values import (
    flag,
    format_ts,
    mapping,
    number,
    order_key,
    parse_ts,
    text,
)
from rtk_sessions.analytics.peer_stats import participant_peer_stats
from rtk_sessions.ingest.events import CandidatePair, StatsSample

if TYPE_CHECKING:
    from rtk_sessions.ingest.enrich import BrowserInfo, IpLocation

__all__ = ["PeerReportMetadata", "candidate_pairs", "report_metadata", "report_peer_stats"]

_DEVICE_SETS = {
    "audio_devices_updated": "audio_devices_updates",
    "video_devices_updated": "video_devices_updates",
    "speaker_devices_updated": "speaker_devices_updates",
}
_DEVICE_IN_USE = {
    "audio_device_changed": "audioinput",
    "video_device_changed": "videoinput",
    "speaker_device_changed": "audiooutput",
}
#: Candidate-pair fields the seed's SDK types as integers (counters, ports, bit/s, ms).
_WHOLE_PAIR_FIELDS = frozenset(
    {
        "available_outgoing_bitrate",
        "available_incoming_bitrate",
        "last_packet_sent_timestamp",
        "last_packet_received_timestamp",
    }
)


class Device(Struct, kw_only=True):
    device_id: str | None
    kind: str | None
    label: str | None


class DevicesUpdate(Struct, kw_only=True):
    """The set of available devices changed at ``timestamp``."""

    added: list[Device]
    removed: list[Device]
    timestamp: str | None


class SelectedDeviceUpdate(Struct, kw_only=True):
    """The device in use changed at ``timestamp``."""

    device: Device
    timestamp: str | None


class BrowserMetadata(Struct, kw_only=True):
    """``webgl_support`` is typed a string by the seed's SDK and a boolean by the
    current one; no value satisfies both, so it is always ``null`` here (the
    reported string is in ``peer_stats.device_info.webgl_support``)."""

    browser: str | None
    browser_version: str | None
    engine: str | None
    user_agent: str | None
    webgl_support: None = None


class CandidatePairs(Struct, kw_only=True):
    """The latest state of each ICE candidate pair the peer's transports used."""

    producing_transport: list[dict[str, Any]]
    consuming_transport: list[dict[str, Any]]


class ReportDeviceInfo(Struct, kw_only=True):
    cpus: int | float | None
    is_mobile: bool | None
    os: str | None
    os_version: str | None


class ReportEvent(Struct, kw_only=True):
    """A ``peer.event``; ``metadata`` keeps its scalar values (the SDK types no others)."""

    name: str | None
    timestamp: str | None
    metadata: dict[str, str | int | float | bool | None]


class Asn(Struct, kw_only=True):
    asn: str | None
    name: str | None
    domain: None = None
    route: None = None
    type: None = None


class ReportIpInformation(Struct, kw_only=True):
    asn: Asn
    city: str | None
    country: str | None
    ipv4: str | None
    org: str | None
    region: str | None
    timezone: str | None


class NativeMetadata(Struct, kw_only=True):
    audio_encoder: str | None
    video_encoder: str | None


class PcMetadata(Struct, kw_only=True):
    """One pre-call network test (``precall_network_information`` of a ``peer.metadata``)."""

    effective_network_type: str | None
    reflexive_connectivity: bool | None
    relay_connectivity: bool | None
    turn_connectivity: bool | None
    sdp: None = None
    timestamp: str | None


class PeerReportMetadata(Struct, kw_only=True):
    audio_devices_updates: list[DevicesUpdate]
    video_devices_updates: list[DevicesUpdate]
    speaker_devices_updates: list[DevicesUpdate]
    selected_device_updates: list[SelectedDeviceUpdate]
    browser_metadata: BrowserMetadata
    candidate_pairs: CandidatePairs
    device_info: ReportDeviceInfo
    events: list[ReportEvent]
    ip_information: ReportIpInformation | None
    native_metadata: NativeMetadata | None
    pc_metadata: list[PcMetadata]
    room_view_type: str | None
    sdk_name: str | None
    sdk_type: str | None
    sdk_version: str | None


def report_metadata(
    metadata: Mapping[str, Any],
    metadata_events: list[dict[str, Any]],
    peer_events: list[dict[str, Any]],
    pairs: CandidatePairs,
    browser: BrowserInfo | None,
    location: IpLocation | None,
) -> PeerReportMetadata:
    """``peer_report.metadata``; ``metadata`` is ``fold_metadata(metadata_events)``,
    ``pairs`` :func:`candidate_pairs` of the peer's samples."""
    stats = participant_peer_stats(
        metadata, [], browser, location, {"device_info", "ip_information"}
    )
    device = stats["device_info"] or {}
    ordered_events = sorted(peer_events, key=order_key)
    native = mapping(metadata.get("native_metadata"))
    return PeerReportMetadata(
        **_device_updates(ordered_events),
        browser_metadata=BrowserMetadata(
            browser=device.get("browser"),
            browser_version=device.get("browser_version"),
            engine=device.get("engine"),
            user_agent=device.get("user_agent"),
        ),
        candidate_pairs=pairs,
        device_info=ReportDeviceInfo(
            cpus=device.get("cpus"),
            is_mobile=device.get("is_mobile"),
            os=device.get("os"),
            os_version=device.get("os_version"),
        ),
        events=[_event(e) for e in ordered_events],
        ip_information=_ip_information(stats["ip_information"], location),
        native_metadata=NativeMetadata(
            audio_encoder=text(native.get("audio_encoder")),
            video_encoder=text(native.get("video_encoder")),
        )
        if native
        else None,
        pc_metadata=_pc_metadata(metadata_events),
        room_view_type=text(metadata.get("room_view_type")),
        sdk_name=text(metadata.get("sdk_name")),
        sdk_type=text(metadata.get("sdk_type")),
        sdk_version=text(metadata.get("sdk_version")),
    )


def report_peer_stats(
    metadata: Mapping[str, Any],
    peer_events: list[dict[str, Any]],
    browser: BrowserInfo | None,
    location: IpLocation | None,
    sections: frozenset[str],
) -> dict[str, Any]:
    """The report's ``peer_stats``: participant details' sections in the seed's report shape
    (``ip_information.asn``, ``precall_network_information.throughput`` in whole bit/s,
    ``connection_info.throughput`` of event metadata in whole bit/s)."""
    stats = participant_peer_stats(metadata, peer_events, browser, location, sections)
    if stats.get("ip_information") is not None:
        stats["ip_information"]["asn"] = {"asn": _asn(location)}
    precall = stats.get("precall_network_information")
    if precall is not None:
        throughput = precall.pop("throughtput")
        precall["throughput"] = None if throughput is None else round(throughput)
    for event in stats.get("events", []):
        details = event.get("metadata")
        if isinstance(details, dict):
            details["connection_info"] = _conform(details.get("connection_info"), _CONNECTION_INFO)
    return stats


def _whole(value: Any) -> int | None:
    found = number(value)
    return None if found is None else round(found)


#: ``peer_stats.events[].metadata.connection_info`` as the seed's SDK declares it; a value is
#: a reader of one field, a dict a nested object (see :func:`_conform`).
_CONNECTION_INFO: dict[str, Any] = {
    "backend_r_t_t": number,
    "connectivity": {"host": flag, "reflexive": flag, "relay": flag},
    "effective_network_type": text,
    "fractional_loss": number,
    "ip_details": {
        "asn": {"asn": text},
        **dict.fromkeys(("city", "country", "ip", "loc", "postal", "region", "timezone"), text),
    },
    "jitter": number,
    "location": {"coords": {"latitude": number, "longitude": number}},
    "r_t_t": number,
    "throughput": _whole,
    "turn_connectivity": flag,
}


def _conform(value: Any, shape: dict[str, Any]) -> dict[str, Any] | None:
    """``value`` with every key of ``shape`` present: typed as declared or ``None``;
    keys beyond the shape are kept as sent. Not an object → ``None``."""
    if not isinstance(value, Mapping):
        return None
    conformed = dict(value)
    for key, reader in shape.items():
        field = value.get(key)
        conformed[key] = _conform(field, reader) if isinstance(reader, dict) else reader(field)
    return conformed


# --------------------------------------------------------------------------
# sections
# --------------------------------------------------------------------------


def _timestamp(event: Mapping[str, Any]) -> str | None:
    ts = parse_ts(event.get("ts"))
    return format_ts(ts) if ts else None


def _device(value: Any, kind: str | None = None) -> Device:
    fields = mapping(value)
    return Device(
        device_id=text(fields.get("device_id")),
        kind=text(fields.get("kind")) or kind,
        label=text(fields.get("label")),
    )


def _devices(value: Any) -> list[Device]:
    return [_device(item) for item in value] if isinstance(value, list) else []


def _device_updates(events: list[dict[str, Any]]) -> dict[str, list[Any]]:
    updates: dict[str, list[Any]] = {name: [] for name in _DEVICE_SETS.values()}
    updates["selected_device_updates"] = []
    for event in events:
        name, details = event.get("name"), mapping(event.get("metadata"))
        if name in _DEVICE_SETS:
            updates[_DEVICE_SETS[name]].append(
                DevicesUpdate(
                    added=_devices(details.get("added")),
                    removed=_devices(details.get("removed")),
                    timestamp=_timestamp(event),
                )
            )
        elif name in _DEVICE_IN_USE:
            updates["selected_device_updates"].append(
                SelectedDeviceUpdate(
                    device=_device(details, _DEVICE_IN_USE[name]), timestamp=_timestamp(event)
                )
            )
    return updates


def _event(event: Mapping[str, Any]) -> ReportEvent:
    details = mapping(event.get("metadata"))
    return ReportEvent(
        name=text(event.get("name")),
        timestamp=_timestamp(event),
        metadata={
            key: value
            for key, value in details.items()
            if value is None or isinstance(value, str | int | float | bool)
        },
    )


def _pair_identity(pair: CandidatePair) -> tuple[Any, ...]:
    if pair.id is not None:
        return (pair.id,)
    if pair.local_candidate_id is not None or pair.remote_candidate_id is not None:
        return (pair.local_candidate_id, pair.remote_candidate_id)
    return tuple(
        getattr(pair, f"{side}_candidate_{part}")
        for side in ("local", "remote")
        for part in ("address", "port", "protocol", "type")
    )


def _pair_fields(pair: CandidatePair) -> dict[str, Any]:
    fields = structs.asdict(pair)
    del fields["id"]
    for name in _WHOLE_PAIR_FIELDS:
        if fields[name] is not None:
            fields[name] = round(fields[name])
    return fields


def candidate_pairs(samples: Iterable[StatsSample]) -> CandidatePairs:
    """Per direction, the latest snapshot of each pair, in the order pairs were first seen.

    Snapshots at the same instant are ordered by content, so the answer does
    not depend on the order the samples arrived in.
    """
    snapshots: dict[str, dict[tuple[Any, ...], list[tuple[datetime, str, CandidatePair]]]] = {
        "producer": {},
        "consumer": {},
    }
    for sample in samples:
        if sample.candidate_pair is not None:
            pair = sample.candidate_pair
            by_pair = snapshots[sample.direction]
            by_pair.setdefault(_pair_identity(pair), []).append((sample.ts, repr(pair), pair))

    def ordered(direction: str) -> list[dict[str, Any]]:
        histories = sorted(snapshots[direction].values(), key=lambda h: min(s[:2] for s in h))
        return [_pair_fields(max(history, key=lambda s: s[:2])[2]) for history in histories]

    return CandidatePairs(
        producing_transport=ordered("producer"), consuming_transport=ordered("consumer")
    )


def _asn(location: IpLocation | None) -> str | None:
    return f"AS{location.asn}" if location is not None and location.asn is not None else None


def _ip_information(
    section: dict[str, Any] | None, location: IpLocation | None
) -> ReportIpInformation | None:
    if section is None:
        return None
    return ReportIpInformation(
        asn=Asn(asn=_asn(location), name=section["org"]),
        city=section["city"],
        country=section["country"],
        ipv4=section["ipv4"],
        org=section["org"],
        region=section["region"],
        timezone=section["timezone"],
    )


def _pc_metadata(metadata_events: list[dict[str, Any]]) -> list[PcMetadata]:
    entries = []
    for event in sorted(metadata_events, key=order_key):
        test = mapping(event.get("precall_network_information"))
        if test:
            entries.append(
                PcMetadata(
                    effective_network_type=text(test.get("effective_networktype")),
                    reflexive_connectivity=flag(test.get("reflexive_connectivity")),
                    relay_connectivity=flag(test.get("relay_connectivity")),
                    turn_connectivity=flag(test.get("turn_connectivity")),
                    timestamp=_timestamp(event),
                )
            )
    return entries
