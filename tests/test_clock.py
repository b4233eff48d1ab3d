"""The API's timestamp format against the standard library's own formatting."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from rtk_sessions.clock import datetime_to_ms, iso_ms


def reference(ms: int) -> str:
    moment = datetime.fromtimestamp(ms / 1000, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


@given(st.integers(min_value=0, max_value=253_402_300_799_999))  # up to 9999-12-31
def test_iso_ms_is_utc_with_milliseconds(ms: int) -> None:
    assert iso_ms(ms) == reference(ms)
    assert iso_ms(ms) == iso_ms(ms)  # the second time from the kept minute


def test_known_instants() -> None:
    assert iso_ms(1_675_248_668_039) == "2023-02-01T10:51:08.039Z"
    assert iso_ms(0) == "1970-01-01T00:00:00.000Z"
    assert iso_ms(None) is None
    assert datetime_to_ms(datetime(2023, 2, 1, 10, 51, 8, 39_000, tzinfo=UTC)) == 1_675_248_668_039
