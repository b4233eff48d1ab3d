"""Transcript downloads (``exports.transcript``), each read back by an independent parser:
``csv``, ``json``, the ``srt`` package and ``webvtt-py``.

Expected times, names and texts are written out by hand beside the inputs
(3,725,004 ms = 1 h 2 min 5.004 s).
"""

from __future__ import annotations

import csv
import html
import io
import json
from collections.abc import Iterator
from datetime import timedelta

import pytest
import srt
import webvtt
from hypothesis import given
from hypothesis import strategies as st

from rtk_sessions.exports.records import Speaker, TranscriptLine
from rtk_sessions.exports.transcript import (
    FORMATS,
    transcript_csv,
    transcript_json,
    transcript_srt,
    transcript_vtt,
)

NEW_YEAR_2026_MS = 1_767_225_600_000

SPEAKERS = {
    "peer-a": Speaker(
        peer_id="peer-a",
        user_id="user-a",
        display_name="Alice",
        custom_participant_id="cust-a",
        joined_ms=NEW_YEAR_2026_MS,
        left_ms=NEW_YEAR_2026_MS + 3_661_123,
    ),
    "peer-b": Speaker(peer_id="peer-b", user_id="user-b", display_name="Bob"),
}

# Bob starts talking while Alice still speaks; peer-x is not among the speakers.
LINES = [
    TranscriptLine(peer_id="peer-a", start_ms=0, end_ms=2_500, text="Hello everyone."),
    TranscriptLine(peer_id="peer-b", start_ms=1_500, end_ms=4_000, text="Hi Alice, can you hear?"),
    TranscriptLine(peer_id="peer-a", start_ms=3_725_004, end_ms=3_727_500, text="An hour in."),
    TranscriptLine(peer_id="peer-x", start_ms=3_800_000, end_ms=3_801_000, text="Who am I?"),
]


def text_of(chunks: Iterator[bytes]) -> str:
    return b"".join(chunks).decode("utf-8")


def one_line(text: str, peer_id: str = "peer-a", start_ms: int = 0) -> list[TranscriptLine]:
    return [TranscriptLine(peer_id=peer_id, start_ms=start_ms, end_ms=start_ms + 1000, text=text)]


def parse_srt(lines: list[TranscriptLine], speakers=SPEAKERS) -> list[srt.Subtitle]:
    return list(srt.parse(text_of(transcript_srt(lines, speakers))))


def parse_vtt(lines: list[TranscriptLine], speakers=SPEAKERS) -> list[webvtt.Caption]:
    # strict: a cue block broken by the text would raise instead of being skipped
    return webvtt.from_string(text_of(transcript_vtt(lines, speakers)), strict=True).captions


def ms(value: int) -> timedelta:
    return timedelta(milliseconds=value)


# --------------------------------------------------------------------------
# CSV
# --------------------------------------------------------------------------


def test_csv_rows_in_the_order_given_with_speaker_columns():
    rows = list(csv.reader(io.StringIO(text_of(transcript_csv(LINES, SPEAKERS)), newline="")))
    assert rows == [
        ["Timestamp", "Participant ID", "User ID", "Custom Participant ID"]
        + ["Participant Name", "Transcript"],
        ["0", "peer-a", "user-a", "cust-a", "Alice", "Hello everyone."],
        ["1500", "peer-b", "user-b", "", "Bob", "Hi Alice, can you hear?"],
        ["3725004", "peer-a", "user-a", "cust-a", "Alice", "An hour in."],
        ["3800000", "peer-x", "", "", "", "Who am I?"],
    ]


def test_csv_neutralizes_formulas_and_quotes_multi_line_text():
    speakers = {"p": Speaker(peer_id="p", display_name="@admin", user_id="+1 555")}
    lines = one_line("=cmd|' /C calc'!A0", peer_id="p") + one_line('a, "b"\nc', peer_id="p")
    data = text_of(transcript_csv(lines, speakers))
    rows = list(csv.reader(io.StringIO(data, newline="")))
    assert rows[1] == ["0", "p", "'+1 555", "", "'@admin", "'=cmd|' /C calc'!A0"]
    assert rows[2][5] == 'a, "b"\nc'
    assert '"a, ""b""\nc"\r\n' in data


# --------------------------------------------------------------------------
# JSON
# --------------------------------------------------------------------------


def test_json_array_with_peer_data():
    alice = {
        "id": "peer-a",
        "userId": "user-a",
        "displayName": "Alice",
        "customParticipantId": "cust-a",
        "joinedAt": "2026-01-01T00:00:00.000Z",
        "leftAt": "2026-01-01T01:01:01.123Z",
    }
    bob = {
        "id": "peer-b",
        "userId": "user-b",
        "displayName": "Bob",
        "customParticipantId": None,
        "joinedAt": None,
        "leftAt": None,
    }
    unknown = {key: None for key in alice} | {"id": "peer-x"}
    assert json.loads(text_of(transcript_json(LINES, SPEAKERS))) == [
        {"startTime": 0, "endTime": 2500, "sentence": "Hello everyone.", "peerData": alice},
        {
            "startTime": 1500,
            "endTime": 4000,
            "sentence": "Hi Alice, can you hear?",
            "peerData": bob,
        },
        {"startTime": 3725004, "endTime": 3727500, "sentence": "An hour in.", "peerData": alice},
        {"startTime": 3800000, "endTime": 3801000, "sentence": "Who am I?", "peerData": unknown},
    ]


def test_json_of_no_segments_is_an_empty_array():
    assert json.loads(text_of(transcript_json([], SPEAKERS))) == []


def test_json_keeps_text_exactly():
    text = 'Quote " backslash \\ newline\n emoji 🎉 <b>&amp;</b>'
    [entry] = json.loads(text_of(transcript_json(one_line(text), SPEAKERS)))
    assert entry["sentence"] == text


# --------------------------------------------------------------------------
# SRT
# --------------------------------------------------------------------------


def test_srt_cues_numbered_timed_and_named():
    subtitles = parse_srt(LINES)
    assert [(s.index, s.start, s.end, s.content) for s in subtitles] == [
        (1, ms(0), ms(2500), "Alice: Hello everyone."),
        (2, ms(1500), ms(4000), "Bob: Hi Alice, can you hear?"),  # overlaps cue 1, kept apart
        (3, ms(3_725_004), ms(3_727_500), "Alice: An hour in."),
        (4, ms(3_800_000), ms(3_801_000), "peer-x: Who am I?"),  # unknown speaker: peer id
    ]


def test_srt_time_format():
    text = text_of(transcript_srt(LINES, SPEAKERS))
    assert text.startswith("1\n00:00:00,000 --> 00:00:02,500\nAlice: Hello everyone.\n\n2\n")
    assert "\n3\n01:02:05,004 --> 01:02:07,500\n" in text
    long_ago = one_line("Still here.", start_ms=100 * 3_600_000 + 61_001)
    assert "100:01:01,001 --> 100:01:02,001" in text_of(transcript_srt(long_ago, SPEAKERS))


def test_srt_blank_lines_in_text_stay_in_one_cue():
    lines = one_line("first line\n\n\nsecond line\r\n  \r\nthird") + one_line("next", "peer-b", 500)
    subtitles = parse_srt(lines)
    assert [s.content for s in subtitles] == ["Alice: first line\nsecond line\nthird", "Bob: next"]


def test_srt_a_bare_number_line_before_a_time_line_does_not_start_a_cue():
    text = "The slot is\n2\n00:00:01,000 --> 00:00:02,000 as agreed"
    [subtitle] = parse_srt(one_line(text))
    assert subtitle.content.split() == ["Alice:"] + text.split()


def test_srt_blank_display_name_falls_back_to_peer_id():
    speakers = {"peer-a": Speaker(peer_id="peer-a", display_name="  \n ")}
    [subtitle] = parse_srt(one_line("Hi."), speakers)
    assert subtitle.content == "peer-a: Hi."


# --------------------------------------------------------------------------
# WebVTT
# --------------------------------------------------------------------------


def test_vtt_header_and_voice_spans():
    text = text_of(transcript_vtt(LINES, SPEAKERS))
    assert text.startswith("WEBVTT\n\n00:00:00.000 --> 00:00:02.500\n<v Alice>Hello everyone.\n\n")
    captions = parse_vtt(LINES)
    assert [(c.start, c.end, c.voice, c.text) for c in captions] == [
        ("00:00:00.000", "00:00:02.500", "Alice", "Hello everyone."),
        ("00:00:01.500", "00:00:04.000", "Bob", "Hi Alice, can you hear?"),
        ("01:02:05.004", "01:02:07.500", "Alice", "An hour in."),
        ("01:03:20.000", "01:03:21.000", "peer-x", "Who am I?"),
    ]


def test_vtt_escapes_names_and_text():
    speakers = {"p": Speaker(peer_id="p", display_name="Tom & Jerry <3")}
    text = "if a < b && b > c --> done <i>not italic</i>"
    output = text_of(transcript_vtt(one_line(text, peer_id="p"), speakers))
    assert (
        "<v Tom &amp; Jerry &lt;3>if a &lt; b &amp;&amp; b &gt; c --&gt; done &lt;i&gt;" in output
    )
    assert output.count("-->") == 1  # only the timing line's
    [caption] = parse_vtt(one_line(text, peer_id="p"), speakers)
    assert html.unescape(caption.voice) == "Tom & Jerry <3"
    assert html.unescape(caption.text) == text


def test_vtt_blank_lines_in_text_stay_in_one_cue():
    lines = one_line("first line\n\n\nsecond line\r\n\t\r\nthird") + one_line("next", "peer-b", 500)
    captions = parse_vtt(lines)
    assert [c.text for c in captions] == ["first line\nsecond line\nthird", "next"]
    assert [c.voice for c in captions] == ["Alice", "Bob"]


def test_vtt_multi_line_display_name_stays_one_voice():
    speakers = {"p": Speaker(peer_id="p", display_name=" Ana\nMaria ")}
    [caption] = parse_vtt(one_line("Olá", peer_id="p"), speakers)
    assert caption.voice == "Ana Maria"


# --------------------------------------------------------------------------
# Any text: one cue per segment, no word lost
# --------------------------------------------------------------------------

TRICKY_TEXT = st.text(
    st.one_of(
        st.sampled_from(list("\n\r \t<>&-:,.0123456789")),
        st.characters(blacklist_categories=("Cs",)),
    )
)


@given(text=TRICKY_TEXT)
def test_srt_any_text_is_one_cue_with_all_its_words(text: str):
    subtitles = parse_srt(one_line(text) + one_line("after", "peer-b", 2000))
    assert len(subtitles) == 2
    assert subtitles[0].content.split() == ["Alice:"] + text.split()
    assert subtitles[1].content == "Bob: after"


@given(text=TRICKY_TEXT)
def test_vtt_any_text_is_one_cue_with_all_its_words(text: str):
    captions = parse_vtt(one_line(text) + one_line("after", "peer-b", 2000))
    assert len(captions) == 2
    assert html.unescape(captions[0].text).split() == text.split()
    assert captions[1].text == "after"


# --------------------------------------------------------------------------
# Streaming and the format table
# --------------------------------------------------------------------------


def many_lines(count: int) -> Iterator[TranscriptLine]:
    for i in range(count):
        peer_id = "peer-a" if i % 2 else "peer-b"
        yield TranscriptLine(
            peer_id=peer_id, start_ms=i * 1000, end_ms=i * 1000 + 900, text=f"sentence {i} " * 5
        )


def count_entries(format_name: str, text: str) -> int:
    if format_name == "CSV":
        return len(list(csv.reader(io.StringIO(text, newline="")))) - 1
    if format_name == "JSON":
        return len(json.loads(text))
    if format_name == "SRT":
        return len(list(srt.parse(text)))
    return len(webvtt.from_string(text, strict=True).captions)


@pytest.mark.parametrize("format_name", ["CSV", "JSON", "SRT", "VTT"])
def test_long_transcripts_come_in_several_bounded_chunks(format_name: str):
    writer, _, _ = FORMATS[format_name]
    chunks = list(writer(many_lines(5000), SPEAKERS))
    assert len(chunks) > 3
    assert max(len(chunk) for chunk in chunks) < 256 * 1024
    assert count_entries(format_name, b"".join(chunks).decode("utf-8")) == 5000


def test_formats_table():
    assert FORMATS == {
        "CSV": (transcript_csv, "text/csv; charset=utf-8", "csv"),
        "JSON": (transcript_json, "application/json", "json"),
        "SRT": (transcript_srt, "application/x-subrip; charset=utf-8", "srt"),
        "VTT": (transcript_vtt, "text/vtt; charset=utf-8", "vtt"),
    }
