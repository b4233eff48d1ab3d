"""Parameter parsing as the SDKs send values (floats, ranges), table-driven."""

from __future__ import annotations

import pytest

from rtk_sessions.api.envelope import BadParameter
from rtk_sessions.api.params import page_of, participants_range, sections_of


@pytest.mark.parametrize(
    ("page_no", "per_page", "offset", "limit"),
    [
        (None, None, 0, 20),
        (0, 0, 0, 20),
        (2.0, 25.0, 25, 25),
        (3, 100, 200, 100),
        (1_000_000_000, 1, 999_999_999, 1),
    ],
)
def test_page_of(page_no, per_page, offset, limit):
    page = page_of(page_no, per_page, default=20, maximum=100)
    assert (page.offset, page.limit) == (offset, limit)


@pytest.mark.parametrize(
    ("page_no", "per_page", "message"),
    [
        (-1, None, "page_no must be 1 or more"),
        (1.5, None, "page_no must be a whole number"),
        (float("inf"), None, "page_no must be a whole number"),
        (None, 101, "between 1 and 100"),
        (1e18, None, "page_no must be at most"),
        (None, -3, "between 1 and 100"),
    ],
)
def test_page_of_refuses(page_no, per_page, message):
    with pytest.raises(BadParameter, match=message):
        page_of(page_no, per_page, default=20, maximum=100)


@pytest.mark.parametrize(
    ("text", "bounds"),
    [
        (None, (None, None)),
        ("", (None, None)),
        ("3", (3, 3)),
        ("2:5", (2, 5)),
        ("2:", (2, None)),
        (":5", (None, 5)),
        (" 1 : 4 ", (1, 4)),
        ("0", (0, 0)),
    ],
)
def test_participants_range(text, bounds):
    assert participants_range(text) == bounds


@pytest.mark.parametrize(
    "text", ["x", "1:x", "-1", "5:2", "1_0", "\u0661", "1e3", ":", "1:2:3", "99999999999"]
)
def test_participants_range_refuses(text):
    with pytest.raises(BadParameter, match="participants"):
        participants_range(text)


def test_sections_of():
    allowed = ("a", "b", "c")
    assert sections_of(None, allowed) == {"a", "b", "c"}
    assert sections_of("b,a", allowed) == {"a", "b"}
    with pytest.raises(BadParameter, match="unknown d; allowed: a, b, c"):
        sections_of("a,d", allowed)
