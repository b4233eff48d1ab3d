"""What people say in the demo app: chat messages and transcript sentences.

Data only. English sentences carry the action items, decisions and agreements
a summary should pick up; the other languages give the transcript exports
non-ASCII text to carry.
"""

from __future__ import annotations

CHAT_LINES: tuple[str, ...] = (
    "Can everyone see my screen?",
    "You're on mute 🙂",
    "Sorry, my connection dropped for a second",
    "+1",
    "Agreed 👍",
    "Link to the doc is in the calendar invite",
    "Can we take this offline?",
    "I have a hard stop at the top of the hour",
    "brb, getting coffee ☕",
    "Thanks all!",
    "Could you share the slides afterwards?",
    "Audio is a bit choppy on my side",
    "Who is taking notes today?",
    "Let's park that for next week",
    "Great demo 🎉",
    "Ticket is OPS-1423 if anyone wants to follow along",
    "I'll be 5 minutes late, start without me",
    "Looks good to me, ship it 🚢",
    "Can you repeat the last number?",
    "Merci à tous !",
    "Danke, bis morgen 👋",
    "ありがとうございます！",
    "¿Alguien tiene el enlace del tablero?",
    "Спасибо, всё понятно",
    "The staging URL is https://staging.example.com/release/2.14",
    "What's the ETA on the fix?",
    "Notes: https://docs.example.com/d/1x9FaKe/edit",
)

# Messages every demo app contains at least once (exports must cope with them).
CHAT_SPECIALS: tuple[tuple[str, str], ...] = (
    ("TEXT_MESSAGE", '=HYPERLINK("https://example.com","totals") — is the formula right?'),
    ("TEXT_MESSAGE", 'Agenda:\n1. Status\n2. Risks\n3. "Open" questions, commas, etc.'),
    ("IMAGE_MESSAGE", "https://files.example.com/chat/whiteboard-2024-07-02.png"),
    ("FILE_MESSAGE", "https://files.example.com/chat/Q3%20roadmap%20(v4).pdf"),
    ("TEXT_MESSAGE", "Ünïcödé check: 日本語, العربية, עברית, emoji 👩🏽‍💻🏳️‍🌈"),
    ("TEXT_MESSAGE", "-1 from me; +2 for option B; @here please vote"),
    ("IMAGE_MESSAGE", "https://files.example.com/chat/screenshot%20error.jpg"),
    ("FILE_MESSAGE", "https://files.example.com/chat/notes_final_FINAL.docx"),
)

SENTENCES_EN: tuple[str, ...] = (
    "Good morning everyone, let's get started.",
    "Can you all hear me okay?",
    "Yesterday I finished the migration script and opened the pull request.",
    "Today I'm going to look at the flaky integration tests.",
    "I'm blocked on the API keys from the vendor.",
    "The dashboard numbers look a lot better since the last release.",
    "We saw a spike in latency around two in the afternoon.",
    "I think the root cause is the connection pool running out.",
    "Let's walk through the mock-ups one screen at a time.",
    "The onboarding flow has too many steps on mobile.",
    "Customers keep asking about single sign-on.",
    "Their security team wants a copy of the pen test report.",
    "Could you say a bit more about the timeline?",
    "That makes sense to me.",
    "I'm not sure that's the right priority for this quarter.",
    "What happens if the export is larger than a gigabyte?",
    "Let's give it another week and look at the data again.",
    "The retro board is in the chat, please add your notes.",
    "What went well this sprint was the pairing on the billing work.",
    "What didn't go well was the amount of unplanned work.",
    "Sorry, I was on mute.",
    "Can you share your screen?",
    "I'll drop the link in the chat.",
    "Next slide please.",
    "Any questions before we move on?",
    "Let's take five minutes and come back.",
    "Okay, welcome back everyone.",
    "Thanks everyone, that's all for today.",
)

ACTION_ITEMS_EN: tuple[str, ...] = (
    "I will send the notes by Friday.",
    "Action item for me: follow up with the vendor about the API keys.",
    "Let's decide on the pricing page by Wednesday.",
    "We agreed to ship the beta to ten customers first.",
    "I'll open a ticket for the latency spike and link it here.",
    "Marco will update the roadmap slide before the town hall.",
    "We agreed that on-call hand-offs happen on Mondays from now on.",
    "Let's decide next week whether we drop support for the old SDK.",
    "I will write the post-mortem draft by Thursday.",
    "Can you own the customer follow-up? Great, that's yours.",
)

SENTENCES_BY_LANGUAGE: dict[str, tuple[str, ...]] = {
    "ja-JP": (
        "おはようございます。始めましょう。",
        "先週の売上は目標を少し上回りました。",
        "新しい顧客からの問い合わせが増えています。",
        "見積もりは金曜日までに送ります。",
        "次回までに資料を更新しておきます。",
        "何か質問はありますか？",
        "では、今日はここまでにしましょう。",
    ),
    "de-DE": (
        "Guten Morgen zusammen, fangen wir an.",
        "Der Bebauungsplan für das Nordviertel liegt jetzt vor.",
        "Die Bürgerbeteiligung war größer als erwartet.",
        "Ich schicke die Unterlagen bis Freitag herum.",
        "Wir haben beschlossen, die Frist um zwei Wochen zu verlängern.",
        "Gibt es noch Fragen zum Verkehrskonzept?",
        "Danke, dann bis nächste Woche.",
    ),
    "fr-FR": (
        "Salut tout le monde, ça va ?",
        "Quelqu'un a testé la nouvelle boulangerie rue Mercière ?",
        "On se fait un déjeuner d'équipe jeudi ?",
        "Je m'occupe de réserver la salle.",
        "Il fait beau à Lyon aujourd'hui.",
        "Bon, je dois filer, à demain !",
    ),
}
