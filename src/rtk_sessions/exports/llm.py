"""Summaries from an OpenAI-compatible chat-completions API (OpenAI, Ollama, vLLM,
llama.cpp's server, ...). Any failure raises :class:`LlmError` with what went wrong; the
job then fails with it recorded (there is no silent fallback to the offline summary)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import httpx

from rtk_sessions.clock import iso_ms
from rtk_sessions.exports.records import Speaker, TranscriptLine
from rtk_sessions.exports.summary import MeetingFacts, SummaryRequest

PROMPTS = {
    "general": "Summarize this meeting transcript.",
    "team_meeting": "Summarize this team meeting, stressing decisions and action items with "
    "their owners.",
    "sales_call": "Summarize this sales call: the customer's needs and concerns, objections, "
    "pricing and agreed next steps.",
}
SECTIONS = (
    "Start with a header naming the meeting, its date, its duration and the speakers; then "
    "the sections Key Discussion Points, Action Items and Decisions."
)


class LlmError(RuntimeError):
    pass


def llm_summary(
    *,
    base_url: str,
    model: str,
    api_key: str,
    timeout_s: float,
    lines: Sequence[TranscriptLine],
    speakers: Mapping[str, Speaker],
    facts: MeetingFacts,
    request: SummaryRequest,
) -> str:
    """The model's summary of the transcript (raises :class:`LlmError`)."""
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    body = {
        "model": model,
        "messages": [
            {"role": "system", "content": _instructions(request)},
            {"role": "user", "content": _transcript_text(lines, speakers, facts)},
        ],
    }
    try:
        response = httpx.post(
            f"{base_url}/chat/completions", json=body, headers=headers, timeout=timeout_s
        )
    except httpx.HTTPError as exc:
        raise LlmError(f"summary model at {base_url} unreachable: {type(exc).__name__}") from None
    if response.status_code != 200:
        raise LlmError(
            f"summary model at {base_url} answered {response.status_code}: {response.text[:300]}"
        )
    try:
        text = response.json()["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError):
        raise LlmError(f"summary model at {base_url} sent no chat completion") from None
    if not isinstance(text, str) or not text.strip():
        raise LlmError(f"summary model at {base_url} sent an empty summary")
    return text.strip()


def _instructions(request: SummaryRequest) -> str:
    prompt = PROMPTS.get(request.summary_type, PROMPTS["general"])
    shape = "Markdown" if request.text_format == "markdown" else "plain text (no Markdown)"
    return f"{prompt} {SECTIONS} Write {shape}, at most {request.word_limit} words."


def _transcript_text(
    lines: Sequence[TranscriptLine], speakers: Mapping[str, Speaker], facts: MeetingFacts
) -> str:
    header = (
        f"Meeting: {facts.title or 'Untitled meeting'}\nStarted: {iso_ms(facts.started_ms)}\n"
        f"Duration: {round(facts.duration_ms / 60_000)} min\n\n"
    )
    said = []
    for line in lines:
        speaker = speakers.get(line.peer_id)
        name = (speaker.display_name if speaker else None) or line.peer_id
        said.append(f"[{line.start_ms // 1000}s] {name}: {line.text}")
    return header + "\n".join(said)
