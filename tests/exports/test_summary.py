"""The offline summary: header, cue sections, ranking, word limit, formats, types."""

from __future__ import annotations

import random
import re

import pytest

from rtk_sessions.exports.records import Speaker, TranscriptLine
from rtk_sessions.exports.summary import MeetingFacts, SummaryRequest, summarize

NINE_AM = 1_767_258_000_000  # 2026-01-01T09:00:00Z
MIN = 60_000
TITLES = ("Key Discussion Points", "Action Items", "Decisions", "Customer Concerns")

SPEAKERS = {
    "p-alice": Speaker(peer_id="p-alice", user_id="u-alice", display_name="Alice"),
    "p-bob": Speaker(peer_id="p-bob", user_id="u-bob", display_name="Bob"),
}
FACTS = MeetingFacts(title="Weekly sync", started_ms=NINE_AM, duration_ms=47 * MIN)


def transcript(*texts: str, peers: tuple[str, ...] = ("p-alice", "p-bob")) -> list[TranscriptLine]:
    """One 10 s line per text, the peers taking turns."""
    return [
        TranscriptLine(
            peer_id=peers[i % len(peers)], start_ms=i * 10_000, end_ms=i * 10_000 + 9_000, text=text
        )
        for i, text in enumerate(texts)
    ]


def sections(summary: str) -> dict[str, list[str]]:
    """Bullets under each heading (markdown or plain), in printed order."""
    found: dict[str, list[str]] = {}
    current = None
    for line in summary.splitlines():
        title = line.removeprefix("## ")
        if title in TITLES:
            current = found.setdefault(title, [])
        elif current is not None and line.startswith("- "):
            current.append(line[2:])
    return found


def said(bullets: list[str]) -> list[str]:
    """The sentences of ``Name: sentence`` bullets."""
    return [bullet.split(": ", 1)[1] for bullet in bullets]


def run(lines, request=None, speakers=SPEAKERS, facts=FACTS) -> str:
    return summarize(lines, speakers, facts, request or SummaryRequest(word_limit=1000))


# --- header ---------------------------------------------------------------------------


def test_header_names_title_date_duration_and_speakers_by_talk_time():
    speakers = {
        # Alice rejoined: two peers of one user are one speaker (7 + 7 min beats Bob's 12).
        "p-alice-1": Speaker(peer_id="p-alice-1", user_id="u-alice", display_name="Alice"),
        "p-alice-2": Speaker(peer_id="p-alice-2", user_id="u-alice", display_name="Alice"),
        "p-bob": Speaker(peer_id="p-bob", user_id="u-bob", display_name="Bob"),
        "p-carol": Speaker(peer_id="p-carol"),  # never named: the peer id stands in
    }
    lines = [
        TranscriptLine(peer_id="p-bob", start_ms=0, end_ms=12 * MIN, text="Bob talks a while."),
        TranscriptLine(peer_id="p-alice-1", start_ms=12 * MIN, end_ms=19 * MIN, text="Alice one."),
        TranscriptLine(peer_id="p-carol", start_ms=19 * MIN, end_ms=20 * MIN, text="Carol here."),
        TranscriptLine(peer_id="p-alice-2", start_ms=20 * MIN, end_ms=27 * MIN, text="Alice two."),
    ]
    summary = run(lines, speakers=speakers)
    assert summary.splitlines()[:4] == [
        "Weekly sync",
        "Date: 2026-01-01 09:00 UTC",
        "Duration: 47 min",
        "Speakers: Alice (14 min), Bob (12 min), p-carol (1 min)",
    ]


def test_header_in_markdown_and_without_a_title():
    facts = MeetingFacts(title=None, started_ms=NINE_AM + 30 * MIN, duration_ms=20_000)
    lines = [TranscriptLine(peer_id="p-zed", start_ms=0, end_ms=20_000, text="Hello there.")]
    summary = run(lines, SummaryRequest(text_format="markdown"), facts=facts)
    assert summary.splitlines()[:5] == [
        "# Untitled meeting",
        "",
        "- **Date:** 2026-01-01 09:30 UTC",
        "- **Duration:** <1 min",
        "- **Speakers:** p-zed (<1 min)",
    ]


def test_many_speakers_are_counted_not_listed_past_the_limit():
    peers = tuple(f"p{i:02}" for i in range(60))
    speakers = {p: Speaker(peer_id=p, display_name=f"Guest {p}") for p in peers}
    lines = transcript(*["We reviewed the quarterly numbers together."] * 60, peers=peers)
    summary = run(lines, SummaryRequest(word_limit=150), speakers=speakers)
    assert len(summary.split()) <= 150
    assert re.search(r"^Speakers: Guest p00 \(<1 min\), .* and \d+ more$", summary, re.M)


# --- cue sections ---------------------------------------------------------------------

ACTIONS = [
    "I will send the revised budget to finance by Friday.",
    "Action item for Dana: follow up with the vendor about the API keys.",
    "Bob will take care of the release notes before the demo.",
    "Let's review the incident report again on Tuesday.",
]
DECISIONS = [
    "We decided to move the launch to the second week of March.",
    "We agreed that the on-call rotation starts on Mondays.",
    "Let's go with the blue design for the landing page.",
    "The budget increase was approved by the finance team.",
]
NEITHER = [
    "Good morning everyone, let's get started.",
    "The dashboard numbers look a lot better since the last release.",
    "We have not decided on the venue for the offsite yet.",
    "Did we agree on the colour scheme for the icons?",
    "The latency spike happened around two in the afternoon.",
]


def test_action_items_and_decisions_come_from_cue_phrases_and_only_those():
    mixed = [NEITHER[0], ACTIONS[0], DECISIONS[0], NEITHER[1], ACTIONS[1], DECISIONS[1]]
    mixed += [NEITHER[2], ACTIONS[2], NEITHER[3], DECISIONS[2], ACTIONS[3], NEITHER[4]]
    mixed += [DECISIONS[3]]
    found = sections(run(transcript(*mixed)))
    assert said(found["Action Items"]) == ACTIONS
    assert said(found["Decisions"]) == DECISIONS
    assert said(found["Key Discussion Points"]) == NEITHER
    # transcript order within a section, each bullet attributed to its speaker
    assert found["Action Items"][0] == "Bob: I will send the revised budget to finance by Friday."
    assert (
        found["Decisions"][0] == "Alice: We decided to move the launch to the second week of March."
    )


def test_a_sentence_split_across_lines_of_one_speaker_is_joined():
    lines = [
        TranscriptLine(peer_id="p-alice", start_ms=0, end_ms=3_000, text="We decided to move the"),
        TranscriptLine(peer_id="p-alice", start_ms=3_000, end_ms=6_000, text="launch to March."),
        TranscriptLine(
            peer_id="p-bob", start_ms=6_000, end_ms=9_000, text="Okay. I will send the invite now."
        ),
    ]
    found = sections(run(lines))
    assert found["Decisions"] == ["Alice: We decided to move the launch to March."]
    assert found["Action Items"] == ["Bob: I will send the invite now."]


def test_empty_sections_say_none_noted_and_short_sentences_are_skipped():
    found = sections(run(transcript("Yes.", "Okay, sure.", "Me too, thanks.")))
    assert found == {title: ["None noted."] for title in TITLES[:3]}


# --- ranking --------------------------------------------------------------------------

MIGRATION = [
    "The database migration is running behind schedule again.",
    "The database migration needs another week of testing on the billing tables.",
    "Most of the database migration risk sits in the billing tables.",
    "If the database migration slips, the billing tables stay on the old cluster.",
    "The billing tables block the database migration cutover.",
    "Splitting the database migration into two steps would lower the risk.",
]
CAT = "My cat knocked a plant off the windowsill this morning."
RELEASE = [
    "The old cluster is running out of disk space.",
    "Testing on the old cluster takes most of the night.",
    "The release checklist has grown to forty steps.",
    "Half of the release checklist is about the old cluster.",
    "The release dashboard shows the testing backlog growing.",
    "Nobody has looked at the release backlog since January.",
    "The testing backlog mostly comes from flaky cluster jobs.",
    "Flaky jobs on the cluster slow down every release.",
    "The dashboard for the cluster jobs is hard to read.",
    "Disk alerts on the cluster wake people up at night.",
]


def test_a_point_made_many_ways_ranks_into_key_points_an_aside_does_not():
    lines = transcript(CAT, *MIGRATION, *RELEASE, *MIGRATION[:1] * 4)
    summary = run(lines, SummaryRequest(word_limit=150))
    key_points = said(sections(summary)["Key Discussion Points"])
    assert len(key_points) < len(MIGRATION) + len(RELEASE)  # the limit forced a choice
    assert CAT not in key_points
    assert set(MIGRATION) <= set(key_points)
    assert key_points.count(MIGRATION[0]) == 1  # said five times, listed once


# --- word limit and formats on a long meeting -----------------------------------------

SUBJECTS = ["the billing service", "the mobile app", "the onboarding flow", "the export job"]
SUBJECTS += ["the search index", "the data warehouse", "the support queue", "the status page"]
PROBLEMS = ["needs more tests around", "is slower than expected for", "keeps failing on"]
PROBLEMS += ["got a lot of feedback about", "depends heavily on", "was redesigned for"]
OBJECTS = ["large customers", "the new SSO setup", "weekend traffic", "the EU region"]
OBJECTS += ["retries and timeouts", "the legacy SDK", "mobile users", "the quarterly report"]
POOL = [f"It seems {s} {p} {o}." for s in SUBJECTS for p in PROBLEMS for o in OBJECTS]
POOL += ACTIONS + DECISIONS + NEITHER
POOL += [
    "The customer said the price is too high for their budget.",
    "Their main concern is the contract length.",
    "A competitor offered them a bigger discount.",
    "They worry the rollout timeline is too tight.",
]
LONG_SPEAKERS = {
    f"p{i}": Speaker(peer_id=f"p{i}", user_id=f"u{i % 5}", display_name=f"Person {i % 5}")
    for i in range(7)
}


def long_meeting(count: int = 3000) -> list[TranscriptLine]:
    """About three hours of talk drawn from POOL."""
    rng = random.Random(7)
    lines, clock = [], 0
    for _ in range(count):
        length = rng.randint(1_500, 6_000)
        peer = rng.choice(sorted(LONG_SPEAKERS))
        text = rng.choice(POOL)
        lines.append(TranscriptLine(peer_id=peer, start_ms=clock, end_ms=clock + length, text=text))
        clock += length + 100
    return lines


def long_run(lines: list[TranscriptLine], request: SummaryRequest) -> str:
    return summarize(lines, LONG_SPEAKERS, FACTS, request)


@pytest.fixture(scope="module")
def meeting() -> list[TranscriptLine]:
    return long_meeting()


@pytest.mark.parametrize("text_format", ["plain_text", "markdown"])
@pytest.mark.parametrize("summary_type", ["general", "team_meeting", "sales_call"])
@pytest.mark.parametrize("word_limit", [150, 500, 1000])
def test_word_limit_holds_with_whole_sentences(meeting, word_limit, summary_type, text_format):
    request = SummaryRequest(summary_type, word_limit, text_format)
    summary = long_run(meeting, request)
    assert word_limit * 0.8 < len(summary.split()) <= word_limit  # full, never over
    bullets = [bullet for found in sections(summary).values() for bullet in found]
    for bullet in bullets:
        name, sentence = bullet.split(": ", 1)
        assert name in {f"Person {i}" for i in range(5)}
        assert sentence in POOL


def test_more_words_give_more_bullets(meeting):
    counts = [
        sum(map(len, sections(long_run(meeting, SummaryRequest(word_limit=limit))).values()))
        for limit in (150, 500, 1000)
    ]
    assert counts == sorted(counts) and counts[0] < counts[-1]


def test_markdown_and_plain_text_shapes():
    lines = transcript(*ACTIONS, *NEITHER)  # no decisions
    markdown = run(lines, SummaryRequest(text_format="markdown")).splitlines()
    plain = run(lines, SummaryRequest(text_format="plain_text")).splitlines()

    assert markdown[0] == "# Weekly sync"
    headings = [line for line in markdown if line.startswith("#")]
    assert headings == [
        "# Weekly sync",
        "## Key Discussion Points",
        "## Action Items",
        "## Decisions",
    ]
    assert markdown[markdown.index("## Decisions") :] == ["## Decisions", "", "- None noted."]
    assert all(line == "" or line.startswith(("#", "- ")) for line in markdown)

    assert plain[0] == "Weekly sync" and not any(line.startswith("#") for line in plain)
    assert [line for line in plain if line in TITLES] == list(TITLES[:3])
    assert plain[plain.index("Decisions") :] == ["Decisions", "- None noted."]
    body = plain[plain.index("Key Discussion Points") :]
    assert all(line in TITLES or line.startswith("- ") or line == "" for line in body)


# --- summary types --------------------------------------------------------------------

CONCERNS = [
    "The customer said the price is too high for their budget.",
    "Their main concern is the contract length.",
]


def test_summary_type_sets_sections_and_their_order():
    lines = transcript(NEITHER[1], CONCERNS[0], ACTIONS[0], DECISIONS[0], CONCERNS[1], NEITHER[4])
    general = sections(run(lines, SummaryRequest("general")))
    team = sections(run(lines, SummaryRequest("team_meeting")))
    sales = sections(run(lines, SummaryRequest("sales_call")))

    assert list(general) == ["Key Discussion Points", "Action Items", "Decisions"]
    assert list(team) == ["Action Items", "Decisions", "Key Discussion Points"]
    assert list(sales) == [
        "Customer Concerns",
        "Key Discussion Points",
        "Action Items",
        "Decisions",
    ]
    assert said(sales["Customer Concerns"]) == CONCERNS
    assert said(sales["Key Discussion Points"]) == [NEITHER[1], NEITHER[4]]
    # elsewhere customer concerns are ordinary key points
    assert said(team["Key Discussion Points"]) == [NEITHER[1], CONCERNS[0], CONCERNS[1], NEITHER[4]]
    assert said(team["Action Items"]) == said(sales["Action Items"]) == [ACTIONS[0]]
    assert run(lines, SummaryRequest("retrospective")) == run(lines, SummaryRequest("general"))


def test_team_meeting_gives_action_items_more_room(meeting):
    general = sections(long_run(meeting, SummaryRequest("general", 150)))
    team = sections(long_run(meeting, SummaryRequest("team_meeting", 150)))
    assert len(team["Action Items"]) > len(general["Action Items"])
    assert len(team["Key Discussion Points"]) < len(general["Key Discussion Points"])


# --- contract -------------------------------------------------------------------------


def test_deterministic_whatever_the_input_order(meeting):
    request = SummaryRequest("sales_call", 500, "markdown")
    first = summarize(meeting, LONG_SPEAKERS, FACTS, request)
    shuffled = meeting[:]
    random.Random(3).shuffle(shuffled)
    speakers_backwards = dict(reversed(LONG_SPEAKERS.items()))
    assert summarize(shuffled, speakers_backwards, FACTS, request) == first
    assert summarize(meeting, LONG_SPEAKERS, FACTS, request) == first


def test_an_empty_transcript_raises():
    with pytest.raises(ValueError, match="no transcript"):
        summarize([], SPEAKERS, FACTS, SummaryRequest())


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"word_limit": 149}, "word_limit must be 150..1000"),
        ({"word_limit": 1001}, "word_limit must be 150..1000"),
        ({"text_format": "html"}, "text_format must be one of plain_text, markdown"),
    ],
)
def test_request_is_validated(fields, message):
    with pytest.raises(ValueError, match=message):
        SummaryRequest(**fields)
