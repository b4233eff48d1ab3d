"""``peer_report.metadata`` and the report's ``peer_stats``, from a peer's stored events.

Pure functions over the stored ``peer.metadata`` / ``peer.event`` payloads,
the peer's ``peer.stats`` samples (their ``candidate_pair``) and the
enrichment of its user agent and IP. The shapes are the union of what the
SDK generations declare (``session_get_participant_data_from_peer_id_response``
of ``cloudflare`` 5.0.0 and 5.9.0, ``sessions.d.ts`` of the TypeScript SDK 6.x
and 7.x): every field our events carry is present; one they do not carry is
left out (``omit_defaults``; api.md: absent, never null), and so is an object
of which nothing is known.

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
    known,
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


class Device(Struct, kw_only=True, omit_defaults=True):
    device_id: str | None = None
    kind: str | None = None
    label: str | None = None


class DevicesUpdate(Struct, kw_only=True, omit_defaults=True):
    """The set of available devices changed at ``timestamp``."""

    added: list[Device]
    removed: list[Device]
    timestamp: str | None = None


class SelectedDeviceUpdate(Struct, kw_only=True, omit_defaults=True):
    """The device in use changed at ``timestamp``."""

    device: Device
    timestamp: str | None = None


class BrowserMetadata(Struct, kw_only=True, omit_defaults=True):
    """No ``webgl_support``: the seed's SDKs type it a string, the current ones a boolean;
    no value satisfies both, so it is left out (api.md; the reported string is in
    ``peer_stats.device_info.webgl_support``)."""

    browser: str | None = None
    browser_version: str | None = None
    engine: str | None = None
    user_agent: str | None = None


class CandidatePairs(Struct, kw_only=True, omit_defaults=True):
    """The latest state of each ICE candidate pair the peer's transports used."""

    producing_transport: list[dict[str, Any]]
    consuming_transport: list[dict[str, Any]]


class ReportDeviceInfo(Struct, kw_only=True, omit_defaults=True):
    cpus: int | float | None = None
    is_mobile: bool | None = None
    os: str | None = None
    os_version: str | None = None


class ReportEvent(Struct, kw_only=True, omit_defaults=True):
    """A ``peer.event``; ``metadata`` keeps its scalar values (the SDK types no others)."""

    name: str | None = None
    timestamp: str | None = None
    metadata: dict[str, str | int | float | bool | None]


class Asn(Struct, kw_only=True, omit_defaults=True):
    """The AS number and its owner; the SDKs' ``domain``, ``route`` and ``type`` are
    never known here (no offline database has them), so never served."""

    asn: str | None = None
    name: str | None = None


class ReportIpInformation(Struct, kw_only=True, omit_defaults=True):
    asn: Asn | None = None
    city: str | None = None
    country: str | None = None
    ipv4: str | None = None
    org: str | None = None
    region: str | None = None
    timezone: str | None = None


class NativeMetadata(Struct, kw_only=True, omit_defaults=True):
    audio_encoder: str | None = None
    video_encoder: str | None = None


class PcMetadata(Struct, kw_only=True, omit_defaults=True):
    """One pre-call network test (``precall_network_information`` of a ``peer.metadata``);
    no ``sdp``: events do not carry one."""

    effective_network_type: str | None = None
    reflexive_connectivity: bool | None = None
    relay_connectivity: bool | None = None
    turn_connectivity: bool | None = None
    timestamp: str | None = None


class PeerReportMetadata(Struct, kw_only=True, omit_defaults=True):
    audio_devices_updates: list[DevicesUpdate]
    video_devices_updates: list[DevicesUpdate]
    speaker_devices_updates: list[DevicesUpdate]
    selected_device_updates: list[SelectedDeviceUpdate]
    browser_metadata: BrowserMetadata | None = None
    candidate_pairs: CandidatePairs
    device_info: ReportDeviceInfo | None = None
    events: list[ReportEvent]
    ip_information: ReportIpInformation | None = None
    native_metadata: NativeMetadata | None = None
    pc_metadata: list[PcMetadata]
    room_view_type: str | None = None
    sdk_name: str | None = None
    sdk_type: str | None = None
    sdk_version: str | None = None


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
    device = stats.get("device_info", {})
    ordered_events = sorted(peer_events, key=order_key)
    native = mapping(metadata.get("native_metadata"))
    return PeerReportMetadata(
        **_device_updates(ordered_events),
        browser_metadata=_anything_known(
            BrowserMetadata(
                browser=device.get("browser"),
                browser_version=device.get("browser_version"),
                engine=device.get("engine"),
                user_agent=device.get("user_agent"),
            )
        ),
        candidate_pairs=pairs,
        device_info=_anything_known(
            ReportDeviceInfo(
                cpus=device.get("cpus"),
                is_mobile=device.get("is_mobile"),
                os=device.get("os"),
                os_version=device.get("os_version"),
            )
        ),
        events=[_event(e) for e in ordered_events],
        ip_information=_ip_information(stats.get("ip_information"), location),
        native_metadata=_anything_known(
            NativeMetadata(
                audio_encoder=text(native.get("audio_encoder")),
                video_encoder=text(native.get("video_encoder")),
            )
        ),
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
    asn = _asn(location)
    if "ip_information" in stats and asn is not None:
        stats["ip_information"]["asn"] = {"asn": asn}
    precall = stats.get("precall_network_information", {})
    if "throughtput" in precall:
        precall["throughput"] = round(precall.pop("throughtput"))
    for event in stats.get("events", []):
        details = event.get("metadata")
        if isinstance(details, dict) and "connection_info" in details:
            connection = _conform(details["connection_info"], _CONNECTION_INFO)
            if connection:
                details["connection_info"] = connection
            else:
                del details["connection_info"]
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
    """``value`` with each key of ``shape`` typed as declared, or left out where it is
    not (an object of which nothing is left is left out too); keys beyond the shape are
    kept as sent. Not an object → ``None``."""
    if not isinstance(value, Mapping):
        return None
    conformed = dict(value)
    for key, reader in shape.items():
        field = value.get(key)
        typed = _conform(field, reader) if isinstance(reader, dict) else reader(field)
        if typed is None or typed == {}:
            conformed.pop(key, None)
        else:
            conformed[key] = typed
    return conformed


def _anything_known(found: Struct) -> Struct | None:
    """``found``, or ``None`` (left out of the answer) when none of its fields is known."""
    known_fields = (getattr(found, name) for name in found.__struct_fields__)
    return found if any(value is not None for value in known_fields) else None


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
    fields = known(structs.asdict(pair))
    fields.pop("id", None)
    for name in _WHOLE_PAIR_FIELDS & fields.keys():
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
    section: dict[str, Any] | None, location: IpLocation | None = None
) -> ReportIpInformation | None:
    if section is None:
        return None
    return ReportIpInformation(
        asn=_anything_known(Asn(asn=_asn(location), name=section.get("org"))),
        city=section.get("city"),
        country=section.get("country"),
        ipv4=section.get("ipv4"),
        org=section.get("org"),
        region=section.get("region"),
        timezone=section.get("timezone"),
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
