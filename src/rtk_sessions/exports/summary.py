"""Offline extractive summary of a session's transcript (no model, no download).

Sentences (4 words or more) are sorted into sections by English cue phrases,
each into the cue section it scores highest in (ties: Decisions, Action Items,
Customer Concerns); the rest are Key Discussion Points candidates, ranked by a
small LexRank (TF-IDF cosine graph, PageRank with damping 0.85).

``summary_type`` picks the sections, their order and their share of the words
left after the header and headings:

- ``general`` (and any unknown type): Key Discussion Points 50 %, Action Items
  30 %, Decisions 20 %.
- ``team_meeting``: Action Items 40 %, Decisions 35 %, Key Discussion Points
  25 %: the outcomes come first and get most of the room.
- ``sales_call``: Customer Concerns 35 % (price, budget, contract, competitor,
  timeline, ...), Key Discussion Points 30 %, Action Items 20 %, Decisions 15 %.
  In the other types such sentences compete as ordinary key points.

Key points rank by centrality, cue sections by cue strength then closeness to
the whole meeting; near-duplicates (cosine > 0.8) of a kept bullet are skipped
and the lowest-ranked bullets are dropped to fit ``word_limit``, words a section
leaves unused going to the others in the order above. Bullets print in
transcript order.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from rtk_sessions.exports.records import Speaker, TranscriptLine

KEY_POINTS = "Key Discussion Points"
ACTION_ITEMS = "Action Items"
DECISIONS = "Decisions"
CONCERNS = "Customer Concerns"

# (section, share of the bullet words), in the order they are printed.
_LAYOUTS: dict[str, tuple[tuple[str, float], ...]] = {
    "general": ((KEY_POINTS, 0.5), (ACTION_ITEMS, 0.3), (DECISIONS, 0.2)),
    "team_meeting": ((ACTION_ITEMS, 0.4), (DECISIONS, 0.35), (KEY_POINTS, 0.25)),
    "sales_call": ((CONCERNS, 0.35), (KEY_POINTS, 0.3), (ACTION_ITEMS, 0.2), (DECISIONS, 0.15)),
}
TEXT_FORMATS = ("plain_text", "markdown")
MIN_WORD_LIMIT, MAX_WORD_LIMIT = 150, 1000

_DAMPING = 0.85
_MIN_WORDS = 4
_NEAR_DUPLICATE = 0.8
_MIN_EDGE = 0.05  # weaker similarities are noise and only slow PageRank down
_MAX_RANKED = 200  # PageRank runs on the sentences closest to the whole meeting: 3 h stays fast
_MAX_TITLE_WORDS = 15
_NONE_NOTED = "- None noted."

_STOPWORDS = frozenset(
    """a about after all also am an and any are as at be because been before being but by can
    could did do does doing for from get got had has have he her here him his how if in into is it
    its just know let like ll me more my no not now of off oh ok okay on only or our out over re
    really right so some than that the their them then there these they this those to too um uh
    up us ve very was we well were what when where which who why will with would yeah yes you
    your going think thing things maybe actually sure""".split()
)
_TOKEN = re.compile(r"[^\W_]+")
_SENTENCE_BREAK = re.compile(r"(?<=[.!?…])\s+|(?<=[。！？])")
_ENDS_SENTENCE = re.compile(r"[.!?…。！？][\"')\]]*$")
_DEADLINE = (
    r"(?:by|before|until|due) (?:monday|tuesday|wednesday|thursday|friday|saturday|sunday"
    r"|tomorrow|tonight|eod|eow|next week|end of (?:the )?(?:day|week|month))"
)


def _cues(alternatives: str) -> re.Pattern[str]:
    return re.compile(rf"\b(?:{alternatives})\b", re.IGNORECASE)


# Per cue section, in tie-break order, (strong, weak) phrases: a strong match scores 2, a
# weak one 1, so "we'll go with" (a decision) outweighs the "we'll" of action items.
_CUES: dict[str, tuple[re.Pattern[str], re.Pattern[str]]] = {
    DECISIONS: (
        _cues(
            r"decided|agreed|final decision|settled on|approved|signed off|consensus"
            r"|(?:we'll|we will|let's|we are|we're)(?: going to)? go(?:ing)? with"
        ),
        _cues(r"decision|we (?:all )?agree|go(?:ing)? with"),
    ),
    ACTION_ITEMS: (
        _cues(
            r"i'll|i will|we'll|we will|action items?|to-?dos?|to do list|follow(?:ing)?[- ]?ups?|send"
            r"|take care of|owner|own (?:the|this|that|it)|assign(?:ed)?|deadline|" + _DEADLINE
        ),
        _cues(r"will|let's|let us|going to|need to"),
    ),
    CONCERNS: (
        _cues(r"prices?|pricing|budgets?|concerns?|concerned|competitors?|contracts?|worried"),
        _cues(r"costs?|expensive|discounts?|timeline|renewal|risks?|security|procurement"),
    ),
}
# Meeting logistics that match action cues but are nobody's task.
_SMALL_TALK = _cues(
    r"let's (?:get started|start|begin|kick off|move on|wrap up|take (?:a break|\w+ minutes?))"
)
_NOT_DECIDED = re.compile(
    r"(?:\bnot|n't|\bnever)\s+(?:yet\s+)?(?:decided|agreed|approved|settled)|\bundecided\b",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class SummaryRequest:
    """What to summarize for: ``word_limit`` bounds the whole text (header included)."""

    summary_type: str = "general"  # general | team_meeting | sales_call | other (= general)
    word_limit: int = 500  # whitespace-separated words, MIN_WORD_LIMIT..MAX_WORD_LIMIT
    text_format: str = "plain_text"  # plain_text | markdown

    def __post_init__(self) -> None:
        if not MIN_WORD_LIMIT <= self.word_limit <= MAX_WORD_LIMIT:
            raise ValueError(f"word_limit must be {MIN_WORD_LIMIT}..{MAX_WORD_LIMIT}")
        if self.text_format not in TEXT_FORMATS:
            raise ValueError(f"text_format must be one of {', '.join(TEXT_FORMATS)}")


@dataclass(frozen=True, slots=True)
class MeetingFacts:
    """The session around the transcript."""

    title: str | None
    started_ms: int  # epoch ms of the session start
    duration_ms: int


@dataclass(slots=True)
class _Sentence:
    index: int  # transcript order
    speaker: str
    text: str
    vector: dict[str, float] = field(default_factory=dict)  # unit-length TF-IDF
    section: str | None = None
    cue_score: int = 0
    salience: float = 0.0  # cosine to the whole meeting, 0..1

    @property
    def bullet(self) -> str:
        return f"- {self.speaker}: {self.text}"


@dataclass(slots=True)
class _Section:
    title: str
    share: float
    ranked: list[_Sentence]  # best first
    chosen: list[_Sentence] = field(default_factory=list)
    position: int = 0  # next index of ``ranked`` to consider


def summarize(
    lines: Sequence[TranscriptLine],
    speakers: Mapping[str, Speaker],
    facts: MeetingFacts,
    request: SummaryRequest,
) -> str:
    """The summary text: a header (title, UTC date, duration, speakers by talk time),
    then one heading per section with ``- Name: sentence`` bullets, never more than
    ``request.word_limit`` words. Raises ``ValueError("no transcript")`` on no lines."""
    if not lines:
        raise ValueError("no transcript")
    ordered = sorted(lines, key=lambda line: (line.start_ms, line.end_ms))
    peer_names, talk = _speakers(ordered, speakers)
    markdown = request.text_format == "markdown"
    header = _header(facts, talk, markdown, request.word_limit)
    layout = _LAYOUTS.get(request.summary_type, _LAYOUTS["general"])
    sentences = _sentences(ordered, peer_names)
    _score(sentences, {title for title, _ in layout})
    sections = [_Section(title, share, _ranked(title, sentences)) for title, share in layout]
    headings = sum(_words(_heading(section.title, markdown)) for section in sections)
    _allot(sections, request.word_limit - _words("\n".join(header)) - headings)
    return _render(header, sections, markdown)


def _speakers(
    lines: Sequence[TranscriptLine], speakers: Mapping[str, Speaker]
) -> tuple[dict[str, str], list[tuple[str, int]]]:
    """The name per peer id, and (name, talk ms) per speaker, most talk first.
    Peers of one user are one speaker, named by the first of them with a display name."""
    group_of: dict[str, str] = {}
    display: dict[str, str] = {}
    fallback: dict[str, str] = {}
    talk_ms: dict[str, int] = defaultdict(int)
    for line in lines:
        speaker = speakers.get(line.peer_id)
        user_id = speaker.user_id if speaker else None
        group = f"user:{user_id}" if user_id else f"peer:{line.peer_id}"
        group_of[line.peer_id] = group
        fallback.setdefault(group, line.peer_id)
        if speaker and speaker.display_name and speaker.display_name.strip():
            display.setdefault(group, " ".join(speaker.display_name.split()))
        talk_ms[group] += max(line.end_ms - line.start_ms, 0)
    names = {group: display.get(group, fallback[group]) for group in fallback}
    talk = sorted(((names[g], ms) for g, ms in talk_ms.items()), key=lambda t: (-t[1], t[0]))
    return {peer: names[group] for peer, group in group_of.items()}, talk


def _header(
    facts: MeetingFacts, talk: list[tuple[str, int]], markdown: bool, word_limit: int
) -> list[str]:
    words = (facts.title or "").split()
    title = " ".join(words[:_MAX_TITLE_WORDS]) + ("…" if len(words) > _MAX_TITLE_WORDS else "")
    title = title or "Untitled meeting"
    started = datetime.fromtimestamp(facts.started_ms // 1000, UTC)
    fields = [
        ("Date", started.strftime("%Y-%m-%d %H:%M UTC")),
        ("Duration", _minutes(facts.duration_ms)),
    ]
    # The speaker list gets what is left of a quarter of the limit; the rest are counted.
    room = word_limit // 4 - _words(title) - sum(_words(value) + 2 for _, value in fields) - 3
    listed: list[str] = []
    for name, ms in talk:
        entry = f"{name} ({_minutes(ms)})"
        room -= _words(entry)
        if room < 3:  # keep room for "and N more"
            break
        listed.append(entry)
    rest = len(talk) - len(listed)
    speakers = ", ".join(listed) + (f" and {rest} more" if listed and rest else "")
    fields.append(("Speakers", speakers or f"{rest} speakers"))
    if markdown:
        return [f"# {title}", ""] + [f"- **{label}:** {value}" for label, value in fields]
    return [title] + [f"{label}: {value}" for label, value in fields]


def _minutes(ms: int) -> str:
    minutes = (max(ms, 0) + 30_000) // 60_000
    return f"{minutes} min" if minutes else "<1 min"


def _turns(
    lines: Sequence[TranscriptLine], peer_names: Mapping[str, str]
) -> Iterator[tuple[str, str]]:
    """(speaker name, text) per stretch of speech: a line that stops mid-sentence is
    joined with the same peer's next line when that one carries on in lower case."""
    peer, parts = "", []
    for line in lines:
        text = " ".join(line.text.split())
        if not text:
            continue
        continues = line.peer_id == peer and text[0].islower()
        if parts and continues and not _ENDS_SENTENCE.search(parts[-1]):
            parts.append(text)
            continue
        if parts:
            yield peer_names[peer], " ".join(parts)
        peer, parts = line.peer_id, [text]
    if parts:
        yield peer_names[peer], " ".join(parts)


def _sentences(lines: Sequence[TranscriptLine], peer_names: Mapping[str, str]) -> list[_Sentence]:
    texts = [
        (speaker, text)
        for speaker, turn in _turns(lines, peer_names)
        for text in map(str.strip, _SENTENCE_BREAK.split(turn))
        if _words(text) >= _MIN_WORDS
    ]
    sentences = [_Sentence(index, speaker, text) for index, (speaker, text) in enumerate(texts)]
    token_lists = [_tokens(sentence.text) for sentence in sentences]
    document_frequency = Counter(token for tokens in token_lists for token in set(tokens))
    count = len(sentences)
    idf = {t: math.log((1 + count) / (1 + df)) + 1 for t, df in document_frequency.items()}
    centroid: dict[str, float] = defaultdict(float)
    for sentence, tokens in zip(sentences, token_lists, strict=True):
        sentence.vector = _unit({t: n * idf[t] for t, n in Counter(tokens).items()})
        for token, weight in sentence.vector.items():
            centroid[token] += weight
    meeting = _unit(centroid)
    for sentence in sentences:
        sentence.salience = _cosine(sentence.vector, meeting)
    return sentences


def _tokens(text: str) -> list[str]:
    words = _TOKEN.findall(text.lower())
    return [word for word in words if len(word) > 1 and word not in _STOPWORDS]


def _unit(weights: Mapping[str, float]) -> dict[str, float]:
    norm = math.sqrt(sum(weight * weight for weight in weights.values()))
    return {token: weight / norm for token, weight in weights.items()} if norm else {}


def _cosine(a: Mapping[str, float], b: Mapping[str, float]) -> float:
    if len(a) > len(b):
        a, b = b, a
    return sum(weight * b.get(token, 0.0) for token, weight in a.items())


def _score(sentences: list[_Sentence], titles: set[str]) -> None:
    """Put each sentence in the cue section it scores highest in, if any."""
    for sentence in sentences:
        text = sentence.text.replace("\u2019", "'")
        scores = {title: _cue_score(title, text) for title in _CUES if title in titles}
        best = max(scores, key=scores.__getitem__)  # on a tie the first in _CUES wins
        if scores[best]:
            sentence.section, sentence.cue_score = best, scores[best]


def _cue_score(title: str, text: str) -> int:
    if title == DECISIONS and (text.rstrip().endswith("?") or _NOT_DECIDED.search(text)):
        return 0  # "did we agree?" and "we have not decided" decide nothing
    if title == ACTION_ITEMS and _SMALL_TALK.search(text):
        return 0
    strong, weak = _CUES[title]
    return 2 * len(strong.findall(text)) + len(weak.findall(text))


def _ranked(title: str, sentences: list[_Sentence]) -> list[_Sentence]:
    if title == KEY_POINTS:
        # A sentence of stopwords only ("yes I think so too") says nothing to rank.
        return _rank_key_points([s for s in sentences if s.section is None and s.vector])
    members = [s for s in sentences if s.section == title]
    return sorted(members, key=lambda s: (-s.cue_score, -s.salience, s.index))


def _rank_key_points(candidates: list[_Sentence]) -> list[_Sentence]:
    """Candidates by LexRank centrality. Sentences with the same terms are one node,
    weighted by how often they were said, so repeating a point makes it central."""
    groups: dict[tuple[str, ...], list[_Sentence]] = defaultdict(list)
    for sentence in candidates:
        groups[tuple(sorted(sentence.vector))].append(sentence)
    # A node is the first time its terms were said; only the most meeting-like are ranked.
    nodes = sorted(groups.values(), key=lambda same: (-same[0].salience, same[0].index))
    nodes = nodes[:_MAX_RANKED]
    scores = _pagerank([same[0].vector for same in nodes], [len(same) for same in nodes])
    order = sorted(range(len(nodes)), key=lambda i: (-scores[i], nodes[i][0].index))
    return [nodes[i][0] for i in order]


def _pagerank(vectors: list[dict[str, float]], said: list[int]) -> list[float]:
    """Weighted PageRank over the cosine graph; a walk moves to a sentence in
    proportion to similarity times how often it was said."""
    postings: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for node, vector in enumerate(vectors):
        for token, weight in vector.items():
            postings[token].append((node, weight))
    similarity: list[dict[int, float]] = [defaultdict(float) for _ in vectors]
    for posting in postings.values():  # inverted index: only pairs sharing a term
        for offset, (a, weight_a) in enumerate(posting):
            for b, weight_b in posting[offset + 1 :]:
                similarity[a][b] += weight_a * weight_b
                similarity[b][a] += weight_a * weight_b
    edges = [
        [(b, sim * said[b]) for b, sim in row.items() if sim >= _MIN_EDGE] for row in similarity
    ]
    out_weight = [sum(weight for _, weight in row) for row in edges]
    total = sum(said)
    prior = [count / total for count in said]
    scores = prior[:]
    for _ in range(100):
        dangling = sum(score for score, out in zip(scores, out_weight, strict=True) if not out)
        teleport = 1 - _DAMPING + _DAMPING * dangling
        fresh = [teleport * p for p in prior]
        for node, row in enumerate(edges):
            if out_weight[node]:
                flow = _DAMPING * scores[node] / out_weight[node]
                for target, weight in row:
                    fresh[target] += flow * weight
        change = sum(abs(new - old) for new, old in zip(fresh, scores, strict=True))
        scores = fresh
        if change < 1e-7:
            break
    return scores


def _allot(sections: list[_Section], budget: int) -> None:
    """Fill the sections within ``budget`` bullet words: first each its share, then
    the words left over, section by section."""
    reserve = len(_NONE_NOTED.split())  # an empty section still prints "- None noted."
    shared = max(budget - reserve * len(sections), 0)
    used = sum(_fill(section, int(shared * section.share)) for section in sections)
    for section in sections:
        empty = sum(1 for s in sections if not s.chosen)
        used += _fill(section, budget - used - reserve * empty)


def _fill(section: _Section, allowance: int) -> int:
    """Take the section's next bullets in rank order while they fit; the words used."""
    used = 0
    while section.position < len(section.ranked):
        candidate = section.ranked[section.position]
        if any(_similar(candidate, kept) for kept in section.chosen):
            section.position += 1
            continue
        cost = _words(candidate.bullet)
        if used + cost > allowance:
            break
        section.chosen.append(candidate)
        section.position += 1
        used += cost
    return used


def _similar(a: _Sentence, b: _Sentence) -> bool:
    return a.text == b.text or _cosine(a.vector, b.vector) > _NEAR_DUPLICATE


def _heading(title: str, markdown: bool) -> str:
    return f"## {title}" if markdown else title


def _render(header: list[str], sections: list[_Section], markdown: bool) -> str:
    blocks = ["\n".join(header)]
    for section in sections:
        chosen = sorted(section.chosen, key=lambda s: s.index)
        bullets = [s.bullet for s in chosen] or [_NONE_NOTED]
        separator = "\n\n" if markdown else "\n"
        blocks.append(_heading(section.title, markdown) + separator + "\n".join(bullets))
    return "\n\n".join(blocks) + "\n"


def _words(text: str) -> int:
    return len(text.split())
