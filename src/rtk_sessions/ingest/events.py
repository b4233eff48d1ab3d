"""The native event schema (``ingest.md`` §1), as msgspec Structs.

Every event is ``{"id", "type", "ts", ...}``; ``type`` selects the Struct.
Unknown keys are accepted and kept in the stored payload (forward
compatibility); known keys are type-checked. Timestamps must carry a UTC
offset (``Z`` or ``+hh:mm``): a naive time would be silently misread.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from msgspec import Meta, Struct

Id = Annotated[str, Meta(min_length=1, max_length=256)]
ShortText = Annotated[str, Meta(max_length=1_000)]
LongText = Annotated[str, Meta(max_length=100_000)]
NonNegativeMs = Annotated[int, Meta(ge=0)]

SessionType = Literal["meeting", "livestream", "participant"]
EndReason = Literal["HOST_ENDED_MEETING", "ALL_PARTICIPANTS_LEFT"]
PresetViewType = Literal["GROUP_CALL", "WEBINAR", "AUDIO_ROOM", "LIVESTREAM", "CHAT"]
PayloadType = Literal["TEXT_MESSAGE", "IMAGE_MESSAGE", "FILE_MESSAGE"]
TrackKind = Literal["audio", "video", "screenshare_audio", "screenshare_video"]
TrackDirection = Literal["producer", "consumer"]


class _Event(Struct, kw_only=True, tag_field="type", forbid_unknown_fields=False):
    id: Id
    ts: datetime


class MeetingUpserted(_Event, tag="meeting.upserted"):
    meeting_id: Id
    title: ShortText | None = None
    session_type: SessionType = "meeting"


class SessionStarted(_Event, tag="session.started"):
    session_id: Id
    meeting_id: Id
    parent_session_id: Id | None = None
    meta: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if self.parent_session_id == self.session_id:
            raise ValueError(
                "parent_session_id must name another session (a breakout room's parent)"
            )


class SessionEnded(_Event, tag="session.ended"):
    session_id: Id
    reason: EndReason


class PeerJoined(_Event, tag="peer.joined"):
    session_id: Id
    peer_id: Id
    meeting_id: Id | None = None
    user_id: Id | None = None
    display_name: ShortText | None = None
    custom_participant_id: ShortText | None = None
    preset_name: ShortText | None = None
    preset_view_type: PresetViewType | None = None
    role: ShortText | None = None
    socket_session_id: ShortText | None = None


class PeerLeft(_Event, tag="peer.left"):
    session_id: Id
    peer_id: Id


class DeviceInfo(Struct, forbid_unknown_fields=False):
    cpus: Annotated[int, Meta(ge=0)] | None = None
    memory: Annotated[float, Meta(ge=0)] | None = None
    is_mobile: bool | None = None
    os: ShortText | None = None
    os_version: ShortText | None = None


class PrecallNetworkInformation(Struct, forbid_unknown_fields=False):
    backend_rtt: Annotated[float, Meta(ge=0)] | None = None
    effective_networktype: ShortText | None = None
    fractional_loss: Annotated[float, Meta(ge=0)] | None = None
    jitter: Annotated[float, Meta(ge=0)] | None = None
    rtt: Annotated[float, Meta(ge=0)] | None = None
    throughput: Annotated[float, Meta(ge=0)] | None = None
    reflexive_connectivity: bool | None = None
    relay_connectivity: bool | None = None
    turn_connectivity: bool | None = None


class PeerMetadata(_Event, tag="peer.metadata"):
    peer_id: Id
    session_id: Id | None = None
    user_agent: ShortText | None = None
    device_info: DeviceInfo | None = None
    sdk_name: ShortText | None = None
    sdk_version: ShortText | None = None
    ip: Annotated[str, Meta(max_length=64)] | None = None
    precall_network_information: PrecallNetworkInformation | None = None
    room_view_type: ShortText | None = None
    webgl_support: ShortText | None = None


class PeerEvent(_Event, tag="peer.event"):
    peer_id: Id
    name: Annotated[str, Meta(min_length=1, max_length=200)]
    session_id: Id | None = None
    metadata: dict[str, Any] | None = None


Count = Annotated[int, Meta(ge=0)]
Gauge = Annotated[float, Meta(ge=0)]


QualityLimitationReason = Literal["cpu", "bandwidth", "none", "other"]
Port = Annotated[int, Meta(ge=0, le=65535)]


class CandidatePair(Struct, forbid_unknown_fields=False, gc=False):
    """The transport's selected ICE candidate pair (``candidate-pair`` with its local and
    remote candidates), as a sample may carry it. Counters are cumulative; times are
    epoch ms; round-trip times seconds; bitrates bit/s."""

    id: ShortText | None = None
    nominated: bool | None = None
    local_candidate_id: ShortText | None = None
    local_candidate_address: ShortText | None = None
    local_candidate_port: Port | None = None
    local_candidate_protocol: ShortText | None = None
    local_candidate_type: ShortText | None = None
    local_candidate_network_type: ShortText | None = None
    local_candidate_related_address: ShortText | None = None
    local_candidate_related_port: Port | None = None
    local_candidate_url: ShortText | None = None
    remote_candidate_id: ShortText | None = None
    remote_candidate_address: ShortText | None = None
    remote_candidate_port: Port | None = None
    remote_candidate_protocol: ShortText | None = None
    remote_candidate_type: ShortText | None = None
    remote_candidate_url: ShortText | None = None
    available_outgoing_bitrate: Gauge | None = None
    available_incoming_bitrate: Gauge | None = None
    current_round_trip_time: Gauge | None = None
    total_round_trip_time: Gauge | None = None
    bytes_sent: Count | None = None
    bytes_received: Count | None = None
    bytes_discarded_on_send: Count | None = None
    packets_sent: Count | None = None
    packets_received: Count | None = None
    packets_discarded_on_send: Count | None = None
    last_packet_sent_timestamp: Gauge | None = None
    last_packet_received_timestamp: Gauge | None = None


class QualityLimitationDurations(Struct, forbid_unknown_fields=False, gc=False):
    """Seconds the encoder has spent limited by each reason (cumulative, ``outbound-rtp``)."""

    cpu: Gauge | None = None
    bandwidth: Gauge | None = None
    none: Gauge | None = None
    other: Gauge | None = None


class StatsSample(Struct, forbid_unknown_fields=False, gc=False):
    """One track's cumulative WebRTC counters at one instant (``getStats()``).

    Counters are cumulative as the browser keeps them; gauges (jitter and
    round-trip time in seconds, resolution, frames per second, the current
    quality-limitation reason) are the value at ``ts``. ``track_id`` is the
    producer id of a producer's track and the consumer id of a consumer's;
    a consumer may also name the remote ``producer_id`` and ``producer_peer_id``
    it receives.
    """

    ts: datetime
    kind: TrackKind
    direction: TrackDirection
    ssrc: Annotated[int, Meta(ge=0)] | None = None
    mid: ShortText | None = None
    track_id: ShortText | None = None
    producer_id: ShortText | None = None
    producer_peer_id: ShortText | None = None
    packets_sent: Count | None = None
    packets_received: Count | None = None
    bytes_sent: Count | None = None
    bytes_received: Count | None = None
    packets_lost: int | None = None  # may go negative on duplicates (RFC 3550)
    jitter: Gauge | None = None
    round_trip_time: Gauge | None = None
    concealment_events: Count | None = None
    total_samples_received: Count | None = None
    frames_encoded: Count | None = None
    frames_decoded: Count | None = None
    frames_dropped: Count | None = None
    frame_width: Count | None = None
    frame_height: Count | None = None
    frames_per_second: Gauge | None = None
    jitter_buffer_delay: Gauge | None = None
    jitter_buffer_emitted_count: Count | None = None
    key_frames_encoded: Count | None = None
    key_frames_decoded: Count | None = None
    pli_count: Count | None = None
    fir_count: Count | None = None
    quality_limitation_reason: QualityLimitationReason | None = None
    quality_limitation_durations: QualityLimitationDurations | None = None
    quality_limitation_resolution_changes: Count | None = None
    candidate_pair: CandidatePair | None = None


class PeerStats(_Event, tag="peer.stats"):
    peer_id: Id
    samples: Annotated[list[StatsSample], Meta(min_length=1, max_length=10_000)]
    session_id: Id | None = None


class ChatMessage(_Event, tag="chat.message"):
    session_id: Id
    message_id: Id
    peer_id: Id
    payload_type: PayloadType = "TEXT_MESSAGE"
    payload: LongText = ""
    display_name: ShortText | None = None
    pinned: bool = False
    is_edited: bool = False


class TranscriptSegment(_Event, tag="transcript.segment"):
    session_id: Id
    peer_id: Id
    start_ms: NonNegativeMs
    end_ms: NonNegativeMs
    text: LongText
    language: Annotated[str, Meta(max_length=35)] | None = None

    def __post_init__(self) -> None:
        if self.end_ms < self.start_ms:
            raise ValueError("end_ms must not be before start_ms")


Event = (
    MeetingUpserted
    | SessionStarted
    | SessionEnded
    | PeerJoined
    | PeerLeft
    | PeerMetadata
    | PeerEvent
    | PeerStats
    | ChatMessage
    | TranscriptSegment
)

EVENT_TYPES: tuple[str, ...] = tuple(
    cls.__struct_config__.tag  # type: ignore[union-attr]
    for cls in Event.__args__  # type: ignore[attr-defined]
)

#: Events that change the derived session/participant state.
LIFECYCLE_TYPES = frozenset({"session.started", "session.ended", "peer.joined", "peer.left"})


# ``peer.stats`` with nothing but the declared keys (anywhere in it): what is stored
# compactly (``store.stats_codec``); an event with keys of its own is kept as received.
class _StrictCandidatePair(CandidatePair, forbid_unknown_fields=True):
    pass


class _StrictDurations(QualityLimitationDurations, forbid_unknown_fields=True):
    pass


class _StrictSample(StatsSample, forbid_unknown_fields=True):
    candidate_pair: _StrictCandidatePair | None = None
    quality_limitation_durations: _StrictDurations | None = None


class DeclaredPeerStats(PeerStats, tag="peer.stats", forbid_unknown_fields=True):
    samples: Annotated[list[_StrictSample], Meta(min_length=1, max_length=10_000)]
