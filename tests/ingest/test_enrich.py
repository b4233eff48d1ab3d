"""UA parsing and offline IP location (``rtk_sessions.ingest.enrich``)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from rtk_sessions.ingest.enrich import BrowserInfo, IpLocation, locate_ip, parse_user_agent

SRC = str(Path(__file__).resolve().parents[2] / "src")

CHROME_WIN = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36"
)
SAFARI_IOS = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1_2 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.1.2 Mobile/15E148 Safari/604.1"
)
FIREFOX_LINUX = "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0"
EDGE_WIN = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36 Edg/120.0.2210.91"
)
CHROME_ANDROID = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.6099.144 Mobile Safari/537.36"
)
SAFARI_MAC = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.2 Safari/605.1.15"
)
CHROME_IOS = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) CriOS/120.0.6099.119 Mobile/15E148 Safari/604.1"
)
OPERA_WIN = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/119.0.0.0 Safari/537.36 OPR/105.0.0.0"
)
FIREFOX_ANDROID = "Mozilla/5.0 (Android 14; Mobile; rv:121.0) Gecko/121.0 Firefox/121.0"
CHROME_27 = (
    "Mozilla/5.0 (Windows NT 6.1) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/27.0.1453.116 Safari/537.36"
)
IE11 = "Mozilla/5.0 (Windows NT 10.0; WOW64; Trident/7.0; rv:11.0) like Gecko"
EDGE_LEGACY = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/70.0.3538.102 Safari/537.36 Edge/18.19582"
)


@pytest.mark.parametrize(
    ("ua", "browser", "browser_version", "os", "os_version", "engine", "is_mobile"),
    [
        (CHROME_WIN, "Chrome", "120.0.0.0", "Windows", "10", "Blink", False),
        (SAFARI_IOS, "Mobile Safari", "17.1.2", "iOS", "17.1.2", "WebKit", True),
        (FIREFOX_LINUX, "Firefox", "121.0", "Linux", None, "Gecko", False),
        (EDGE_WIN, "Edge", "120.0.2210.91", "Windows", "10", "Blink", False),
        (CHROME_ANDROID, "Chrome Mobile", "120.0.6099.144", "Android", "14", "Blink", True),
        (SAFARI_MAC, "Safari", "17.2", "Mac OS X", "10.15.7", "WebKit", False),
        (CHROME_IOS, "Chrome Mobile iOS", "120.0.6099.119", "iOS", "17.2", "WebKit", True),
        (OPERA_WIN, "Opera", "105.0.0", "Windows", "10", "Blink", False),
        (FIREFOX_ANDROID, "Firefox Mobile", "121.0", "Android", "14", "Gecko", True),
        (CHROME_27, "Chrome", "27.0.1453.116", "Windows", "7", "WebKit", False),
        (IE11, "IE", "11.0", "Windows", "10", "Trident", False),
        (EDGE_LEGACY, "Edge", "18.19582", "Windows", "10", "EdgeHTML", False),
    ],
)
def test_parse_user_agent(
    ua: str,
    browser: str,
    browser_version: str,
    os: str,
    os_version: str | None,
    engine: str,
    is_mobile: bool,
) -> None:
    assert parse_user_agent(ua) == BrowserInfo(
        browser=browser,
        browser_version=browser_version,
        engine=engine,
        os=os,
        os_version=os_version,
        is_mobile=is_mobile,
    )


@pytest.mark.parametrize("ua", [None, "", "   ", "asdf", "----"])
def test_parse_user_agent_unknown_is_none(ua: str | None) -> None:
    assert parse_user_agent(ua) is None


def test_parse_user_agent_non_browser_keeps_what_it_knows() -> None:
    info = parse_user_agent("okhttp/4.9.2")
    assert info is not None
    assert (info.browser, info.engine, info.os, info.is_mobile) == ("okhttp", None, None, False)


def test_parse_user_agent_is_cached() -> None:
    assert parse_user_agent(CHROME_WIN) is parse_user_agent(CHROME_WIN)


@pytest.mark.parametrize(
    ("ip", "country", "org"),
    [
        ("8.8.8.8", "US", "GOOGLE"),
        ("1.1.1.1", "AU", "CLOUDFLARENET"),
        ("81.2.69.160", "GB", "Andrews & Arnold Ltd"),
        ("200.147.3.157", "BR", "Universo Online S.A."),
        ("185.60.216.35", "IE", "FACEBOOK"),
        ("2001:4860:4860::8888", "US", "GOOGLE"),
        ("2a00:1450:4001:80b::200e", "DE", "GOOGLE"),
        (" 8.8.8.8 ", "US", "GOOGLE"),
    ],
)
def test_locate_ip_public(ip: str, country: str, org: str) -> None:
    loc = locate_ip(ip)
    assert loc is not None
    assert loc.ip == ip.strip()
    assert (loc.country, loc.org) == (country, org)
    assert loc.country_name
    # The bundled data has no city-level facts: absent, never guessed.
    assert (loc.city, loc.region, loc.timezone, loc.asn, loc.latitude, loc.longitude) == (None,) * 6


def test_locate_ip_unwraps_ipv4_mapped() -> None:
    assert locate_ip("::ffff:8.8.8.8") == IpLocation(
        ip="8.8.8.8", country="US", country_name="United States", org="GOOGLE"
    )


@pytest.mark.parametrize(
    "ip",
    [
        None,
        "",
        "garbage",
        "999.1.1.1",
        "8.8.8.8/32",
        "10.0.0.1",
        "172.16.5.4",
        "192.168.1.1",
        "127.0.0.1",
        "169.254.1.1",
        "100.64.0.1",
        "192.0.2.1",
        "198.51.100.7",
        "203.0.113.9",
        "224.0.0.1",
        "240.0.0.1",
        "0.0.0.0",
        "255.255.255.255",
        "::",
        "::1",
        "fe80::1",
        "fc00::1",
        "2001:db8::1",
        "ff02::1",
    ],
)
def test_locate_ip_non_public_is_none(ip: str | None) -> None:
    assert locate_ip(ip) is None


def _run_isolated(code: str) -> str:
    """Run ``code`` in a fresh interpreter (so module state is pristine)."""
    env = {**os.environ, "PYTHONPATH": SRC}
    env.pop("PYTHONWARNINGS", None)
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_geo_db_is_lazy_offline_and_side_effect_free() -> None:
    out = _run_isolated(
        """
        import os, socket, subprocess, sys

        import rtk_sessions.ingest.enrich as enrich
        import rtk_sessions.analytics.peer_stats  # noqa: F401
        assert "geoip2fast" not in sys.modules, "geo DB library imported eagerly"
        assert enrich._geo_db is None

        def no_network(*args, **kwargs):
            raise AssertionError("network access attempted")

        def no_subprocess(*args, **kwargs):
            raise AssertionError("subprocess spawned")

        socket.socket.connect = no_network
        socket.create_connection = no_network
        socket.getaddrinfo = no_network
        socket.gethostbyaddr = no_network
        subprocess.Popen.__init__ = no_subprocess
        env_before = dict(os.environ)

        loc = enrich.locate_ip("8.8.8.8")
        assert loc is not None and loc.country == "US", loc
        db = enrich._geo_db
        assert enrich.locate_ip("1.1.1.1").country == "AU"
        assert enrich._geo_db is db, "DB loaded twice"
        assert dict(os.environ) == env_before, "environment changed"
        print(enrich.geo_data_source())
        """
    )
    assert "GeoLite2" in out


@pytest.mark.parametrize(
    ("mode", "country", "org"),
    [("asn", "US", "GOOGLE"), ("country", "US", None), ("off", None, None)],
)
def test_geoip_modes_choose_the_data(mode, country, org):
    from rtk_sessions.ingest.enrich import configure_geoip

    try:
        configure_geoip(mode)
        found = locate_ip("8.8.8.8")
        assert (found.country if found else None, found.org if found else None) == (country, org)
    finally:
        configure_geoip("asn")


def test_geoip_mode_is_validated():
    from rtk_sessions.ingest.enrich import configure_geoip

    with pytest.raises(ValueError, match="asn, country or off"):
        configure_geoip("city")
