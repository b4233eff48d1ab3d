"""The summary job: the session's transcript as stored now, summarized offline (or by the
configured OpenAI-compatible model), stored with its job."""

from __future__ import annotations

import msgspec

from rtk_sessions.config import Settings
from rtk_sessions.exports.llm import llm_summary
from rtk_sessions.exports.records import transcript_lines
from rtk_sessions.exports.summary import MeetingFacts, SummaryRequest, summarize
from rtk_sessions.store.database import Database
from rtk_sessions.store.exports import export_session, load_transcript
from rtk_sessions.store.jobs import SUMMARY_JOB, JobRow, SummaryRow, complete_summary

KIND = SUMMARY_JOB


class SummaryParams(msgspec.Struct, frozen=True, kw_only=True):
    """What POST .../summary asked for (its JSON body), kept with the job."""

    summary_type: str = "general"
    word_limit: int = 500
    text_format: str = "plain_text"
    transcript_version: str = ""


def run_summary(db: Database, settings: Settings, job: JobRow, now_ms: int) -> None:
    params = msgspec.json.decode(job.params, type=SummaryParams)
    session = export_session(db, job.app_pk, job.session_id)
    if session is None or session.started_ms is None:
        raise LookupError(f"session {job.session_id} no longer exists")
    stored = load_transcript(db, job.app_pk, job.session_id)
    lines, speakers = transcript_lines(stored.payloads), stored.speakers
    if not lines:
        raise LookupError(f"session {job.session_id} has no transcript")
    last_ms = max(line.end_ms for line in lines)
    ended = session.ended_ms or session.started_ms + last_ms
    facts = MeetingFacts(
        title=session.meeting_title,
        started_ms=session.started_ms,
        duration_ms=max(0, ended - session.started_ms),
    )
    request = SummaryRequest(
        summary_type=params.summary_type,
        word_limit=params.word_limit,
        text_format=params.text_format,
    )
    if settings.summary_llm_url:
        text = llm_summary(
            base_url=settings.summary_llm_url,
            model=settings.summary_llm_model,
            api_key=settings.summary_llm_api_key.get_secret_value(),
            timeout_s=settings.summary_llm_timeout_seconds,
            lines=lines,
            speakers=speakers,
            facts=facts,
            request=request,
        )
    else:
        text = summarize(lines, speakers, facts, request)
    summary = SummaryRow(
        session_id=job.session_id,
        text=text,
        text_format=params.text_format,
        params=job.params,
        transcript_version=params.transcript_version,
        job_id=job.job_id,
        created_ms=now_ms,
    )
    complete_summary(db, job, summary, now_ms)
