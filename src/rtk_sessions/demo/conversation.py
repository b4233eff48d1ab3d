"""What is said in each session: chat messages and transcript segments."""

from __future__ import annotations

import random

from .attendance import Peer, Session
from .phrases import ACTION_ITEMS_EN, CHAT_LINES, CHAT_SPECIALS, SENTENCES_BY_LANGUAGE, SENTENCES_EN
from .recorder import Recorder

_MINUTE_MS = 60_000


class Conversation:
    """Chat and transcript of the whole app; the awkward chat messages appear at least once."""

    def __init__(self, rec: Recorder) -> None:
        self.rec = rec
        self._specials = list(CHAT_SPECIALS)

    def record(self, session: Session) -> None:
        rng = self.rec.rng
        speakers = [peer for peer in session.peers if peer.end_ms - peer.joined_ms >= 5_000]
        if not speakers:
            return
        if rng.random() < 0.7:
            self._record_chat(session, speakers)
        if rng.random() < 0.8:
            self._record_transcript(session, speakers)

    def _record_chat(self, session: Session, peers: list[Peer]) -> None:
        rec, rng = self.rec, self.rec.rng
        length = session.end_ms - session.start_ms
        for _ in range(max(1, int(length / _MINUTE_MS / 1.6 * rng.uniform(0.4, 1.6)))):
            peer = rng.choice(peers)
            at = rng.randrange(peer.joined_ms + 1_000, peer.end_ms - 1_000)
            if self._specials and rng.random() < 0.3:
                payload_type, payload = self._specials.pop(0)
            elif rng.random() < 0.02:
                payload_type, payload = rng.choice(CHAT_SPECIALS)
            else:
                payload_type, payload = "TEXT_MESSAGE", rng.choice(CHAT_LINES)
            rec.record(
                "chat.message",
                at,
                session_id=session.session_id,
                message_id=rec.new_id(),
                peer_id=peer.peer_id,
                display_name=peer.person.display_name,
                payload_type=payload_type,
                payload=payload,
                pinned=rng.random() < 0.04,
                is_edited=rng.random() < 0.07,
            )

    def _record_transcript(self, session: Session, peers: list[Peer]) -> None:
        rec, rng = self.rec, self.rec.rng
        language = session.meeting.template.language
        talkers = [
            peer
            for peer in peers
            if peer.session.meeting.template.preset != "livestream" or peer.is_host
        ]
        if not talkers:
            return
        start, end = session.start_ms, session.end_ms
        cursor = start + rng.randrange(3_000, 20_000)
        speaker = talkers[0]
        overlapping = False
        while True:
            words = _sentence(rng, language)
            duration = int(_speaking_ms(words, language) * rng.uniform(0.8, 1.3))
            if cursor + duration > end:
                break
            present = [
                p for p in talkers if p.joined_ms <= cursor and cursor + duration <= p.end_ms
            ]
            if present:
                others = [p for p in present if p is not speaker]
                if overlapping and others:
                    speaker = rng.choice(others)  # someone cuts in
                elif speaker not in present or rng.random() < 0.45:
                    # Hosts talk more than anyone else.
                    speaker = rng.choice(present + [p for p in present if p.is_host] * 2)
                seg_start, seg_end = cursor - start, cursor - start + duration
                rec.record(
                    "transcript.segment",
                    min(cursor + duration + rng.randrange(200, 900), end),
                    session_id=session.session_id,
                    peer_id=speaker.peer_id,
                    start_ms=seg_start,
                    end_ms=seg_end,
                    text=words,
                    language=language,
                )
            roll = rng.random()
            overlapping = roll < 0.08
            if overlapping:
                # talking over each other
                cursor += duration - rng.randrange(300, min(1_500, duration))
            elif roll < 0.85:
                cursor += duration + rng.randrange(200, 2_500)
            else:
                # a pause: a screen shared, a demo, silence
                cursor += duration + rng.randrange(4_000, 40_000)


def _speaking_ms(words: str, language: str) -> int:
    if language == "ja-JP":  # no spaces between words: count characters
        return 250 * len(words)
    return 700 + 380 * len(words.split())


def _sentence(rng: random.Random, language: str) -> str:
    if language != "en-US":
        return rng.choice(SENTENCES_BY_LANGUAGE[language])
    if rng.random() < 0.06:
        return rng.choice(ACTION_ITEMS_EN)
    return rng.choice(SENTENCES_EN)
