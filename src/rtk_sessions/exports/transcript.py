"""Transcript downloads as CSV, JSON, SRT and WebVTT, streamed in chunks (pure, no I/O).

Every writer takes the segments in the order they should appear (by start, then peer) and
the speakers by peer id; a peer missing from ``speakers`` is written with its id only.
"""

from __future__ import annotations

import html
import itertools
import re
from collections.abc import Callable, Iterable, Iterator, Mapping

import msgspec

from rtk_sessions.clock import iso_ms
from rtk_sessions.exports.chat import CHUNK_CHARS, stream_csv
from rtk_sessions.exports.records import Speaker, TranscriptLine

TranscriptWriter = Callable[[Iterable[TranscriptLine], Mapping[str, Speaker]], Iterator[bytes]]

TRANSCRIPT_COLUMNS = (
    "Timestamp",
    "Participant ID",
    "User ID",
    "Custom Participant ID",
    "Participant Name",
    "Transcript",
)

# The line terminators of SRT and WebVTT readers (not str.splitlines, which knows more).
_LINE_BREAK = re.compile(r"\r\n|\r|\n")

# Lenient SRT readers (the srt package among them) take a line holding only a number as the
# index of a next cue when a timestamp-like line follows it.
_SRT_INDEX_LIKE = re.compile(r"\s*-?[0-9]+\.?[0-9]*\s*")


class _PeerData(msgspec.Struct, rename="camel"):
    id: str
    user_id: str | None
    display_name: str | None
    custom_participant_id: str | None
    joined_at: str | None
    left_at: str | None


class _Sentence(msgspec.Struct, rename="camel"):
    start_time: int
    end_time: int
    sentence: str
    peer_data: _PeerData


def transcript_csv(
    lines: Iterable[TranscriptLine], speakers: Mapping[str, Speaker]
) -> Iterator[bytes]:
    """CSV with ``TRANSCRIPT_COLUMNS``; ``Timestamp`` is the start in ms from session start."""
    rows = (_csv_row(line, _speaker(speakers, line.peer_id)) for line in lines)
    return stream_csv(TRANSCRIPT_COLUMNS, rows)


def _csv_row(line: TranscriptLine, speaker: Speaker) -> tuple[object, ...]:
    return (
        line.start_ms,
        line.peer_id,
        speaker.user_id or "",
        speaker.custom_participant_id or "",
        speaker.display_name or "",
        line.text,
    )


def transcript_json(
    lines: Iterable[TranscriptLine], speakers: Mapping[str, Speaker]
) -> Iterator[bytes]:
    """A JSON array of ``{startTime, endTime, sentence, peerData}``; times in ms from
    session start, ``peerData.joinedAt``/``leftAt`` ISO 8601 UTC or null."""
    encoder = msgspec.json.Encoder()
    chunk = bytearray(b"[")
    for index, line in enumerate(lines):
        if index:
            chunk += b","
        encoder.encode_into(_sentence(line, _speaker(speakers, line.peer_id)), chunk, -1)
        if len(chunk) >= CHUNK_CHARS:
            yield bytes(chunk)
            chunk.clear()
    chunk += b"]"
    yield bytes(chunk)


def _sentence(line: TranscriptLine, speaker: Speaker) -> _Sentence:
    peer = _PeerData(
        id=line.peer_id,
        user_id=speaker.user_id,
        display_name=speaker.display_name,
        custom_participant_id=speaker.custom_participant_id,
        joined_at=iso_ms(speaker.joined_ms),
        left_at=iso_ms(speaker.left_ms),
    )
    return _Sentence(
        start_time=line.start_ms, end_time=line.end_ms, sentence=line.text, peer_data=peer
    )


def transcript_srt(
    lines: Iterable[TranscriptLine], speakers: Mapping[str, Speaker]
) -> Iterator[bytes]:
    """SubRip: cues numbered from 1, ``HH:MM:SS,mmm`` times, text ``Name: sentence``."""
    cues = (
        _srt_cue(number, line, _speaker_name(_speaker(speakers, line.peer_id)))
        for number, line in enumerate(lines, start=1)
    )
    return _encode_in_chunks(cues)


def _srt_cue(number: int, line: TranscriptLine, name: str) -> str:
    start, end = _cue_span(line)
    text = "\n".join(_without_index_like_lines(_text_lines(f"{name}: {line.text}")))
    return f"{number}\n{_clock(start, ',')} --> {_clock(end, ',')}\n{text}\n\n"


def _without_index_like_lines(lines: list[str]) -> list[str]:
    """The lines with each bare number joined to the line before it (the first line never is
    one: it starts with the speaker's name)."""
    kept: list[str] = []
    for line in lines:
        if kept and _SRT_INDEX_LIKE.fullmatch(line):
            kept[-1] += " " + line.strip()
        else:
            kept.append(line)
    return kept


def transcript_vtt(
    lines: Iterable[TranscriptLine], speakers: Mapping[str, Speaker]
) -> Iterator[bytes]:
    """WebVTT: ``HH:MM:SS.mmm`` times, cue text ``<v Name>sentence`` with ``& < >`` escaped."""
    cues = (_vtt_cue(line, _speaker_name(_speaker(speakers, line.peer_id))) for line in lines)
    return _encode_in_chunks(itertools.chain(["WEBVTT\n\n"], cues))


def _vtt_cue(line: TranscriptLine, name: str) -> str:
    start, end = _cue_span(line)
    # Escaping ">" also keeps "-->" (which would start a new cue) out of the text.
    text = "\n".join(_text_lines(html.escape(line.text, quote=False)))
    voice = html.escape(name, quote=False)
    return f"{_clock(start, '.')} --> {_clock(end, '.')}\n<v {voice}>{text}\n\n"


def _speaker(speakers: Mapping[str, Speaker], peer_id: str) -> Speaker:
    return speakers.get(peer_id) or Speaker(peer_id=peer_id)


def _speaker_name(speaker: Speaker) -> str:
    # On one line: a WebVTT voice annotation and an SRT "Name:" prefix cannot hold a break.
    return " ".join((speaker.display_name or "").split()) or speaker.peer_id


def _text_lines(text: str) -> list[str]:
    """The text's lines without blank ones: a blank line would end the cue early."""
    return [line for line in _LINE_BREAK.split(text) if line.strip()]


def _cue_span(line: TranscriptLine) -> tuple[int, int]:
    # Subtitle times cannot be negative, and players drop a cue that ends before it starts.
    start = max(line.start_ms, 0)
    return start, max(line.end_ms, start)


def _clock(ms: int, decimal_mark: str) -> str:
    """``HH:MM:SS<mark>mmm``; hours take more than two digits past 99."""
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}{decimal_mark}{millis:03d}"


def _encode_in_chunks(pieces: Iterable[str]) -> Iterator[bytes]:
    """The pieces as UTF-8, joined into chunks of about ``CHUNK_CHARS`` characters."""
    chunk: list[str] = []
    size = 0
    for piece in pieces:
        chunk.append(piece)
        size += len(piece)
        if size >= CHUNK_CHARS:
            yield "".join(chunk).encode()
            chunk.clear()
            size = 0
    if chunk:
        yield "".join(chunk).encode()


#: Format name (the ``format=`` parameter) -> (writer, media type, file extension).
FORMATS: dict[str, tuple[TranscriptWriter, str, str]] = {
    "CSV": (transcript_csv, "text/csv; charset=utf-8", "csv"),
    "JSON": (transcript_json, "application/json", "json"),
    "SRT": (transcript_srt, "application/x-subrip; charset=utf-8", "srt"),
    "VTT": (transcript_vtt, "text/vtt; charset=utf-8", "vtt"),
}
