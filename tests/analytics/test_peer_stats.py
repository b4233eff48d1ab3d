"""Folding peer metadata and building ``peer_stats`` (``rtk_sessions.analytics.peer_stats``)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rtk_sessions.analytics.peer_stats import SECTIONS, fold_metadata, participant_peer_stats
from rtk_sessions.ingest.enrich import BrowserInfo, IpLocation

CHROME = BrowserInfo(
    browser="Chrome",
    browser_version="120.0.0.0",
    engine="Blink",
    os="Windows",
    os_version="10",
    is_mobile=False,
)
GOOGLE_DNS = IpLocation(ip="8.8.8.8", country="US", country_name="United States", org="GOOGLE")


def meta(ts: str, id_: str, **fields: Any) -> dict[str, Any]:
    return {"id": id_, "type": "peer.metadata", "ts": ts, "peer_id": "p1", **fields}


# --------------------------------------------------------------------------
# fold_metadata
# --------------------------------------------------------------------------


def test_fold_empty() -> None:
    assert fold_metadata([]) == {}


def test_fold_later_non_null_overrides_and_nested_merge() -> None:
    events = [
        meta(
            "2024-01-01T10:00:05Z",
            "b",
            sdk_version="2.0.0",
            ip=None,
            device_info={"os": "Windows", "memory": None},
            precall_network_information={"rtt": 80, "throughput": 900.5},
        ),
        meta(
            "2024-01-01T10:00:00Z",
            "a",
            sdk_name="web-core",
            sdk_version="1.0.0",
            ip="8.8.8.8",
            device_info={"cpus": 8, "memory": 16, "os": "Linux"},
            precall_network_information={"rtt": 120, "jitter": 3.5},
            extra_field={"x": 1},
        ),
    ]
    assert fold_metadata(events) == {
        "peer_id": "p1",
        "sdk_name": "web-core",
        "sdk_version": "2.0.0",
        "ip": "8.8.8.8",
        "device_info": {"cpus": 8, "memory": 16, "os": "Windows"},
        "precall_network_information": {"rtt": 80, "jitter": 3.5, "throughput": 900.5},
        "extra_field": {"x": 1},
    }


def test_fold_orders_by_instant_not_string() -> None:
    # 10:00:00+02:00 is 08:00Z, so it is *earlier* than 09:00Z despite sorting later as text.
    events = [
        meta("2024-01-01T10:00:00+02:00", "a", sdk_version="early"),
        meta("2024-01-01T09:00:00Z", "b", sdk_version="late"),
    ]
    assert fold_metadata(events)["sdk_version"] == "late"


def test_fold_same_ts_breaks_ties_by_id() -> None:
    events = [
        meta("2024-01-01T09:00:00Z", "b", sdk_version="from-b"),
        meta("2024-01-01T09:00:00Z", "a", sdk_version="from-a"),
    ]
    assert fold_metadata(events)["sdk_version"] == "from-b"
    assert fold_metadata(events[::-1])["sdk_version"] == "from-b"


def test_fold_does_not_mutate_or_alias_inputs() -> None:
    events = [
        meta("2024-01-01T09:00:00Z", "a", device_info={"cpus": 4}),
        meta("2024-01-01T09:00:01Z", "b", device_info={"memory": 8}),
    ]
    snapshot = copy.deepcopy(events)
    folded = fold_metadata(events)
    folded["device_info"]["cpus"] = 99
    assert events == snapshot


_value = st.one_of(st.none(), st.integers(0, 5), st.sampled_from(["x", "y", "z"]))
_nested = st.one_of(
    st.none(),
    st.fixed_dictionaries({}, optional={"cpus": _value, "os": _value, "memory": _value}),
)
_fields = st.fixed_dictionaries(
    {},
    optional={"sdk_name": _value, "ip": _value, "device_info": _nested, "user_agent": _value},
)


@st.composite
def _metadata_events(draw: st.DrawFn) -> list[dict[str, Any]]:
    n = draw(st.integers(0, 7))
    ids = draw(
        st.lists(st.text("abcdef", min_size=1, max_size=3), min_size=n, max_size=n, unique=True)
    )
    seconds = draw(st.lists(st.integers(0, 3), min_size=n, max_size=n))  # ties are likely
    return [
        meta(f"2024-01-01T09:00:0{s}.000Z", i, **draw(_fields))
        for i, s in zip(ids, seconds, strict=True)
    ]


@given(data=st.data(), events=_metadata_events())
def test_fold_is_order_independent(data: st.DataObject, events: list[dict[str, Any]]) -> None:
    shuffled = data.draw(st.permutations(events))
    assert fold_metadata(list(shuffled)) == fold_metadata(events)


def _has_null(value: Any) -> bool:
    if isinstance(value, dict):
        return any(v is None or _has_null(v) for v in value.values())
    if isinstance(value, list):
        return any(v is None or _has_null(v) for v in value)
    return False


@given(events=_metadata_events())
def test_fold_never_yields_null(events: list[dict[str, Any]]) -> None:
    assert not _has_null(fold_metadata(events))


# --------------------------------------------------------------------------
# participant_peer_stats
# --------------------------------------------------------------------------

FULL_METADATA: dict[str, Any] = {
    "user_agent": "Mozilla/5.0 ... Chrome/120.0.0.0 Safari/537.36",
    "device_info": {
        "cpus": 8,
        "memory": 15.5,
        "is_mobile": False,
        "os": "Windows",
        "os_version": "11",
    },
    "sdk_name": "web-core",
    "sdk_version": "1.2.3",
    "ip": "8.8.8.8",
    "webgl_support": "webgl2",
    "precall_network_information": {
        "backend_rtt": 41.5,
        "effective_networktype": "4g",
        "fractional_loss": 0.01,
        "jitter": 2,
        "rtt": 30,
        "throughput": 12000,
        "reflexive_connectivity": True,
        "relay_connectivity": False,
        "turn_connectivity": True,
    },
}

PEER_EVENTS: list[dict[str, Any]] = [
    {
        "id": "e2",
        "type": "peer.event",
        "ts": "2024-01-01T09:00:05.123456+00:00",
        "peer_id": "p1",
        "name": "tab_hidden",
        "metadata": None,
    },
    {
        "id": "e1",
        "type": "peer.event",
        "ts": "2024-01-01T10:00:01+02:00",
        "peer_id": "p1",
        "name": "audio_device_changed",
        "metadata": {"device": "USB mic"},
    },
    {
        "id": "e0",
        "type": "peer.event",
        "ts": "2024-01-01T09:00:05.123Z",
        "peer_id": "p1",
        "name": "network_changed",
    },
]


def test_full_peer_stats_shape() -> None:
    stats = participant_peer_stats(FULL_METADATA, PEER_EVENTS, CHROME, GOOGLE_DNS, set(SECTIONS))
    # config and status are never known: left out, as is every other unknown value
    assert list(stats) == [
        "device_info",
        "events",
        "ip_information",
        "precall_network_information",
    ]
    assert stats["device_info"] == {
        "browser": "Chrome",
        "browser_version": "120.0.0.0",
        "cpus": 8,
        "engine": "Blink",
        "is_mobile": False,
        "memory": 15.5,
        "os": "Windows",  # reported os/os_version win over the UA's
        "os_version": "11",
        "sdk_name": "web-core",
        "sdk_version": "1.2.3",
        "user_agent": FULL_METADATA["user_agent"],
        "webgl_support": "webgl2",
    }
    assert stats["events"] == [
        {
            "timestamp": "2024-01-01T08:00:01.000Z",
            "type": "audio_device_changed",
            "metadata": {"device": "USB mic"},
        },
        {"timestamp": "2024-01-01T09:00:05.123Z", "type": "network_changed"},
        {"timestamp": "2024-01-01T09:00:05.123Z", "type": "tab_hidden"},
    ]
    # city, ip_location, portal, region and timezone are unknown: left out
    assert stats["ip_information"] == {
        "country": "US",
        "ipv4": "8.8.8.8",
        "org": "GOOGLE",
        "ip": "8.8.8.8",
    }
    assert stats["precall_network_information"] == {
        "backend_rtt": 41.5,
        "effective_networktype": "4g",
        "fractional_loss": 0.01,
        "jitter": 2,
        "reflexive_connectivity": True,
        "relay_connectivity": False,
        "rtt": 30,
        "throughtput": 12000,
        "turn_connectivity": True,
    }
    json.dumps(stats)  # plain JSON all the way down
    assert not _has_null(stats)


def test_throughput_is_served_as_throughtput() -> None:
    stats = participant_peer_stats(
        {"precall_network_information": {"throughput": 512.25}},
        [],
        None,
        None,
        {"precall_network_information"},
    )
    pre = stats["precall_network_information"]
    assert pre["throughtput"] == 512.25
    assert "throughput" not in pre


@pytest.mark.parametrize(
    "sections",
    [
        set(),
        {"device_info"},
        {"events"},
        {"ip_information", "precall_network_information"},
        {"device_info", "quality_stats"},
        set(SECTIONS),
    ],
)
def test_sections_filter(sections: set[str]) -> None:
    stats = participant_peer_stats(FULL_METADATA, PEER_EVENTS, CHROME, GOOGLE_DNS, sections)
    assert set(stats) == sections & SECTIONS  # every one of them is known here


def test_empty_data_leaves_sections_out_but_gives_empty_events() -> None:
    stats = participant_peer_stats({}, [], None, None, set(SECTIONS))
    assert stats == {"events": []}


def test_empty_nested_objects_leave_their_sections_out() -> None:
    stats = participant_peer_stats(
        {"device_info": {}, "precall_network_information": {"rtt": None}, "ip": "not-an-ip"},
        [],
        None,
        None,
        set(SECTIONS),
    )
    assert stats == {"events": []}


def test_device_info_falls_back_to_ua_as_a_pair() -> None:
    ua_only = participant_peer_stats(
        {"device_info": {"os_version": "99"}}, [], CHROME, None, {"device_info"}
    )["device_info"]
    # No reported os → os and os_version both from the UA (the stray "99" is not mixed in).
    assert (ua_only["os"], ua_only["os_version"], ua_only["is_mobile"]) == ("Windows", "10", False)
    reported = participant_peer_stats(
        {"device_info": {"os": "Android", "is_mobile": True}}, [], CHROME, None, {"device_info"}
    )["device_info"]
    assert (reported["os"], reported["is_mobile"]) == ("Android", True)
    assert "os_version" not in reported  # not reported, and not taken from the UA


def test_wrongly_typed_values_are_left_out() -> None:
    stats = participant_peer_stats(
        {
            "sdk_name": 5,
            "device_info": {"cpus": "eight", "memory": True, "is_mobile": "yes", "os": "Linux"},
            "precall_network_information": {"rtt": "fast", "turn_connectivity": 1, "jitter": 1.5},
        },
        [{"id": "e", "ts": "2024-01-01T00:00:00Z", "name": 7, "metadata": "nope"}],
        None,
        None,
        set(SECTIONS),
    )
    assert stats["device_info"] == {"os": "Linux"}
    assert stats["precall_network_information"] == {"jitter": 1.5}
    assert stats["events"] == [{"timestamp": "2024-01-01T00:00:00.000Z"}]


@pytest.mark.parametrize(
    ("ip", "location", "ipv4", "ip_out"),
    [
        ("8.8.8.8", GOOGLE_DNS, "8.8.8.8", "8.8.8.8"),
        ("::ffff:8.8.8.8", GOOGLE_DNS, "8.8.8.8", "8.8.8.8"),
        ("2001:4860:4860::8888", None, None, "2001:4860:4860::8888"),
        ("10.1.2.3", None, "10.1.2.3", "10.1.2.3"),  # reported, just not locatable
        (None, GOOGLE_DNS, "8.8.8.8", "8.8.8.8"),
    ],
)
def test_ip_information_addresses(
    ip: str | None, location: IpLocation | None, ipv4: str | None, ip_out: str
) -> None:
    info = participant_peer_stats({"ip": ip}, [], None, location, {"ip_information"})[
        "ip_information"
    ]
    assert info["ip"] == ip_out
    if ipv4 is None:
        assert "ipv4" not in info
    else:
        assert info["ipv4"] == ipv4
    assert not _has_null(info)


def test_ip_location_is_lat_lon_when_known() -> None:
    loc = IpLocation(
        ip="8.8.8.8", country="US", city="Mountain View", latitude=37.386, longitude=-122.0838
    )
    info = participant_peer_stats({"ip": "8.8.8.8"}, [], None, loc, {"ip_information"})[
        "ip_information"
    ]
    assert info["ip_location"] == "37.386,-122.0838"
    assert info["city"] == "Mountain View"


def test_events_are_order_independent() -> None:
    forward = participant_peer_stats({}, PEER_EVENTS, None, None, {"events"})
    backward = participant_peer_stats({}, PEER_EVENTS[::-1], None, None, {"events"})
    assert forward == backward
