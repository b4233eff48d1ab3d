"""Static tables the demo app is drawn from: meetings, people, devices, networks.

Data only. Everything here is public-looking but made up, except the IP
addresses, which are real public addresses of different countries (DNS
resolvers and the addresses GeoIP test databases use), so that the server's
IP lookup has something to find. None is from a documentation or private range.
"""

from __future__ import annotations

from typing import NamedTuple


class MeetingTemplate(NamedTuple):
    title: str
    session_type: str  # meeting | livestream | participant
    per_week: float  # expected sessions per week
    weekdays_only: bool
    hour_utc: float  # preferred start, hours after midnight UTC
    minutes: int  # typical duration
    size: tuple[int, int]  # attendees per session, min..max
    roster: int  # people who ever come
    preset: str  # preset family, see PRESETS
    language: str  # transcript language
    breakouts: bool = False  # sessions may split into breakout rooms


_M = MeetingTemplate
MEETING_TEMPLATES: tuple[MeetingTemplate, ...] = (
    # title, type, per week, weekdays only, hour UTC, minutes, size, roster, preset, language
    _M("Daily Stand-up 🚀", "meeting", 5, True, 8.5, 15, (4, 8), 9, "group_call", "en-US"),
    _M("Support drop-in room 🛟", "meeting", 16, True, 10, 18, (2, 3), 14, "group_call", "en-US"),
    _M(
        "Customer call – ACME Corp's rollout",
        "meeting",
        7,
        True,
        15,
        35,
        (3, 5),
        7,
        "group_call",
        "en-US",
    ),
    _M(
        "Product Sync — Q3 Roadmap",
        "meeting",
        2,
        True,
        13,
        45,
        (6, 9),
        11,
        "group_call",
        "en-US",
        breakouts=True,
    ),
    _M(
        'Design Review: "Onboarding v2"',
        "meeting",
        2,
        True,
        14.5,
        50,
        (4, 7),
        8,
        "group_call",
        "en-US",
    ),
    _M("Company Town Hall 📣", "livestream", 1, True, 16, 50, (14, 24), 30, "livestream", "en-US"),
    _M("1:1 Priya / Marco", "participant", 3, True, 11, 28, (2, 2), 2, "one_on_one", "en-US"),
    _M(
        'Sprint Retro 🔁 (team "Falcon")',
        "meeting",
        1.5,
        True,
        14,
        55,
        (6, 9),
        9,
        "group_call",
        "en-US",
        breakouts=True,
    ),
    _M("営業チーム定例ミーティング", "meeting", 2, True, 1.5, 30, (3, 6), 6, "group_call", "ja-JP"),
    _M(
        "Städteplanung · Wöchentliche Runde",
        "meeting",
        1.5,
        True,
        9,
        40,
        (3, 6),
        6,
        "group_call",
        "de-DE",
    ),
    _M(
        "Workshop: Incident Response & Post-mortems <hands-on>",
        "meeting",
        1,
        True,
        12,
        80,
        (8, 12),
        14,
        "webinar",
        "en-US",
        breakouts=True,
    ),
    _M(
        "Café virtuel ☕ — équipe Lyon",
        "meeting",
        4,
        False,
        7.5,
        20,
        (2, 5),
        6,
        "audio_room",
        "fr-FR",
    ),
)

# preset family -> (host preset, other preset, preset_view_type, host role, other role)
_GROUP_CALL = ("group_call_host", "group_call_participant", "GROUP_CALL", "host", "participant")
PRESETS: dict[str, tuple[str, str, str, str, str]] = {
    "group_call": _GROUP_CALL,
    "livestream": ("livestream_host", "livestream_viewer", "LIVESTREAM", "host", "viewer"),
    "one_on_one": _GROUP_CALL,
    "webinar": ("webinar_presenter", "webinar_participant", "WEBINAR", "host", "participant"),
    "audio_room": ("audio_room_host", "audio_room_listener", "AUDIO_ROOM", "host", "participant"),
}

PEOPLE: tuple[str, ...] = (
    "Priya Natarajan",
    "Marco Rossi",
    "Ana García",
    "Liam O'Connor",
    "Zoë Müller",
    "李伟",
    "Sven Åström",
    "Aisha Bello",
    "Kenji Watanabe",
    "Fatima Zahra El Idrissi",
    "Олег Петров",
    "Nguyễn Thị Mai",
    "Chloé Dubois",
    "Jonas Becker",
    "Mateus Oliveira",
    "Sofia Kowalczyk",
    'Daniel "Dan" Kim',
    "Emma Johansson",
    "Ravi Shankar",
    "Léa Martin",
    "Tomás Fernández",
    "Hannah Schmidt",
    "Yuki Tanaka",
    "Omar Haddad",
    "Grace Mwangi",
    "Lucas Lefèvre",
    "Isabella Conti",
    "Arjun Mehta",
    "Mia Novak",
    "Noah Williams",
    "Ingrid Solberg",
    "Mohammed Al-Farsi",
    "Camille Rousseau",
    "佐藤 花子",
    "Björn Lindqvist",
    "Valentina Ruiz",
    "Kwame Mensah",
    "Elif Yılmaz",
    "Paul Wagner",
    "Sara Ahmadi",
    "Diego Torres",
    "Anja Horvat",
    "Ethan Brown",
    "Chen Jing",
    "Julia Nowak",
    "Alexandre Costa",
    "Nora Fischer",
    "Tariq Aziz",
    "Olivia Smith",
    "Hugo Bernard",
    "Amélie Laurent",
    "김민준",
    "Freya Jensen",
    "Rafael Souza",
    "Ines Duarte",
    "Max Weber",
    "Lena Vogel",
    "Pedro Alves",
    "Maya Cohen",
    "Samuel Okafor",
)

# (user agent, os, os_version, is_mobile, cpus choices, memory choices (GB) or () where the
# browser hides navigator.deviceMemory, webgl)
_WIN = "Mozilla/5.0 (Windows NT 10.0; Win64; x64)"
_MAC = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7)"
_BLINK = "AppleWebKit/537.36 (KHTML, like Gecko)"
_WEBKIT = "AppleWebKit/605.1.15 (KHTML, like Gecko)"
DEVICES: tuple[tuple[str, str, str, bool, tuple[int, ...], tuple[float, ...], str], ...] = (
    (
        f"{_WIN} {_BLINK} Chrome/126.0.0.0 Safari/537.36",
        "Windows",
        "10",
        False,
        (4, 8, 12, 16),
        (8.0,),
        "webgl2",
    ),
    (
        f"{_WIN} {_BLINK} Chrome/125.0.0.0 Safari/537.36 Edg/125.0.2535.67",
        "Windows",
        "11",
        False,
        (8, 12, 16),
        (8.0, 4.0),
        "webgl2",
    ),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:127.0) Gecko/20100101 Firefox/127.0",
        "Windows",
        "10",
        False,
        (4, 8, 16),
        (),
        "webgl2",
    ),
    (
        f"{_MAC} {_BLINK} Chrome/126.0.0.0 Safari/537.36",
        "macOS",
        "14.5",
        False,
        (8, 10, 12),
        (8.0,),
        "webgl2",
    ),
    (
        f"{_MAC} {_WEBKIT} Version/17.5 Safari/605.1.15",
        "macOS",
        "14.5",
        False,
        (8, 10),
        (),
        "webgl2",
    ),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.4; rv:126.0) Gecko/20100101 Firefox/126.0",
        "macOS",
        "14.4",
        False,
        (8, 12),
        (),
        "webgl2",
    ),
    (
        f"{_MAC} {_BLINK} Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.80",
        "macOS",
        "13.6",
        False,
        (8,),
        (8.0,),
        "webgl2",
    ),
    (
        f"Mozilla/5.0 (X11; Linux x86_64) {_BLINK} Chrome/125.0.0.0 Safari/537.36",
        "Linux",
        "x86_64",
        False,
        (8, 16, 32),
        (8.0,),
        "webgl2",
    ),
    (
        "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0",
        "Linux",
        "Ubuntu 24.04",
        False,
        (4, 8, 16),
        (),
        "webgl2",
    ),
    (
        f"Mozilla/5.0 (Linux; Android 14; Pixel 8) {_BLINK} Chrome/126.0.6478.71 "
        "Mobile Safari/537.36",
        "Android",
        "14",
        True,
        (8,),
        (8.0,),
        "webgl2",
    ),
    (
        f"Mozilla/5.0 (Linux; Android 13; SM-S911B) {_BLINK} SamsungBrowser/24.0 "
        "Chrome/117.0.0.0 Mobile Safari/537.36",
        "Android",
        "13",
        True,
        (8,),
        (4.0, 8.0),
        "webgl2",
    ),
    (
        "Mozilla/5.0 (Android 14; Mobile; rv:127.0) Gecko/127.0 Firefox/127.0",
        "Android",
        "14",
        True,
        (8,),
        (),
        "webgl",
    ),
    (
        f"Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) {_WEBKIT} Version/17.5 "
        "Mobile/15E148 Safari/604.1",
        "iOS",
        "17.5",
        True,
        (6,),
        (),
        "webgl2",
    ),
    (
        f"Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) {_WEBKIT} CriOS/125.0.6422.80 "
        "Mobile/15E148 Safari/604.1",
        "iOS",
        "17.4",
        True,
        (6,),
        (),
        "webgl2",
    ),
    (
        f"Mozilla/5.0 (iPad; CPU OS 16_7 like Mac OS X) {_WEBKIT} Version/16.6 "
        "Mobile/15E148 Safari/604.1",
        "iOS",
        "16.7",
        True,
        (2, 6),
        (),
        "webgl",
    ),
)

# Desktop browsers are more common in meetings than phones: weights parallel to DEVICES.
DEVICE_WEIGHTS: tuple[int, ...] = (14, 7, 5, 12, 6, 3, 2, 5, 3, 5, 3, 1, 5, 2, 2)

PUBLIC_IPS: tuple[str, ...] = (
    "8.8.8.8",
    "1.1.1.1",
    "9.9.9.9",
    "81.2.69.142",
    "2.125.160.216",
    "89.160.20.112",
    "175.16.199.0",
    "216.160.83.56",
    "67.43.156.0",
    "202.196.224.0",
    "149.101.100.0",
    "77.88.8.8",
    "180.76.76.76",
    "168.126.63.1",
    "101.101.101.101",
    "84.200.69.80",
    "80.67.169.12",
    "94.140.14.14",
    "200.160.2.3",
    "193.0.6.139",
    "156.154.70.1",
    "202.12.27.33",
    "117.239.240.1",
    "196.216.2.1",
    "200.33.146.1",
    "80.58.61.250",
    "185.43.135.1",
    "197.155.92.20",
    "2001:200::1",
    "2001:4860:4860::8888",
    "2606:4700:4700::1111",
    "2620:fe::fe",
    "2a02:6b8::feed:ff",
    "2001:da8::666",
    "2a00:1450:400f:80d::200e",
)

SDK_VERSIONS: tuple[str, ...] = ("1.2.1", "1.3.0", "1.3.2", "1.4.0", "1.4.1")

SESSION_META: tuple[dict, ...] = (
    {"source": "calendar", "recording": True},
    {"source": "slack", "channel": "#eng-platform"},
    {"ticket": "OPS-1423", "priority": "high"},
    {"region": "eu-west", "recording": False, "tags": ["internal", "weekly"]},
    {"customer": {"name": "ACME Corp", "tier": "enterprise"}, "crm_id": "0065g00000XyZ12"},
    {"agenda_url": "https://intranet.example.com/agendas/2024-w27", "locale": "en-GB"},
)

AUDIO_DEVICES: tuple[str, ...] = (
    "AirPods Pro",
    "MacBook Pro Microphone",
    "Jabra Evolve2 65",
    "Logitech H390",
    "Default - Microphone Array (Realtek(R) Audio)",
    "Bose QC45",
    "Galaxy Buds2 Pro",
)

ROOM_NAMES: tuple[str, ...] = (
    "Room 1 — ideas 💡",
    "Room 2 — risks",
    'Room 3: "quick wins"',
    "Raum 4 · Ops",
)
