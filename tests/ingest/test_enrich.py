"""UA parsing and offline IP location (``rtk_sessions.ingest.enrich``)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
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


# --------------------------------------------------------------------------
# Optional MaxMind DB files (RTK_GEOIP_MMDB), written here with mmdb_writer
# --------------------------------------------------------------------------

MOUNTAIN_VIEW = {
    "city": {"geoname_id": 5375480, "names": {"en": "Mountain View", "de": "Mountain View"}},
    "continent": {"code": "NA", "names": {"en": "North America"}},
    "country": {"iso_code": "US", "names": {"en": "United States"}},
    "location": {
        "accuracy_radius": 1000,
        "latitude": 37.386,
        "longitude": -122.0838,
        "time_zone": "America/Los_Angeles",
    },
    "subdivisions": [{"iso_code": "CA", "names": {"en": "California"}}],
}
# For a global address geoip2fast's bundled data knows nothing about, so that
# the .mmdb file alone answers.
FRANKFURT_V6 = {
    "city": {"names": {"en": "Frankfurt am Main"}},
    "country": {"iso_code": "DE", "names": {"en": "Germany"}},
    "location": {"latitude": 50.1188, "longitude": 8.6843, "time_zone": "Europe/Berlin"},
    "subdivisions": [{"iso_code": "HE"}],  # no English name: the ISO code is served
}


def write_mmdb(path: Path, database_type: str, networks: dict[str, dict]) -> Path:
    """A real MaxMind DB file (IPv6 tree, IPv4 under ::/96 as MaxMind's own files)."""
    from mmdb_writer import MMDBWriter
    from netaddr import IPSet

    writer = MMDBWriter(
        ip_version=6,
        ipv4_compatible=True,
        database_type=database_type,
        languages=["en"],
        description={"en": f"rtk-sessions test {database_type}"},
    )
    for network, record in networks.items():
        writer.insert_network(IPSet([network]), record)
    writer.to_db_file(str(path))
    return path


def write_city_and_asn(directory: Path) -> tuple[Path, Path]:
    """A GeoLite2-City and a GeoLite2-ASN file covering 8.8.8.0/24 and 2001:4860::/32."""
    city = write_mmdb(
        directory / "test-City.mmdb",
        "GeoLite2-City",
        {"8.8.8.0/24": MOUNTAIN_VIEW, "2001:4860::/32": MOUNTAIN_VIEW},
    )
    asn = write_mmdb(
        directory / "test-ASN.mmdb",
        "GeoLite2-ASN",
        {
            "8.8.8.0/24": {
                "autonomous_system_number": 15169,
                "autonomous_system_organization": "GOOGLE",
            },
            "2001:4860::/32": {
                "autonomous_system_number": 15169,
                "autonomous_system_organization": "GOOGLE",
            },
        },
    )
    return city, asn


@pytest.fixture
def geoip_reset() -> Iterator[None]:
    """Put the module back to the defaults (asn data, no .mmdb files) afterwards."""
    from rtk_sessions.ingest.enrich import configure_geoip

    yield
    configure_geoip("asn", ())


@pytest.fixture
def mmdb_files(tmp_path: Path, geoip_reset: None) -> tuple[Path, Path]:
    return write_city_and_asn(tmp_path)


MOUNTAIN_VIEW_FIELDS = {
    "country": "US",
    "country_name": "United States",
    "city": "Mountain View",
    "region": "California",
    "timezone": "America/Los_Angeles",
    "asn": 15169,
    "org": "GOOGLE",
    "latitude": 37.386,
    "longitude": -122.0838,
}


@pytest.mark.parametrize("ip", ["8.8.8.8", "::ffff:8.8.8.8", "2001:4860:4860::8888"])
def test_mmdb_files_fill_city_region_timezone_coordinates_asn(mmdb_files, ip) -> None:
    from rtk_sessions.ingest.enrich import configure_geoip

    configure_geoip("asn", mmdb_files)
    loc = locate_ip(ip)
    expected_ip = "8.8.8.8" if "8.8.8.8" in ip else ip
    assert loc == IpLocation(ip=expected_ip, **MOUNTAIN_VIEW_FIELDS)


def test_mmdb_files_leave_unknown_networks_alone(mmdb_files) -> None:
    from rtk_sessions.ingest.enrich import configure_geoip

    configure_geoip("asn", mmdb_files)
    # outside the written networks: geoip2fast's answer, nothing more
    assert locate_ip("1.1.1.1") == IpLocation(
        ip="1.1.1.1", country="AU", country_name="Australia", org="CLOUDFLARENET"
    )
    assert locate_ip("10.0.0.1") is None  # private: never looked up
    assert locate_ip("192.168.1.1") is None


def test_mmdb_fills_what_geoip2fast_leaves_out(tmp_path, geoip_reset) -> None:
    from rtk_sessions.ingest.enrich import configure_geoip

    # geoip2fast's country-only data has no org: the ASN file's is used;
    # its country stays authoritative over the City file's (here a wrong one).
    city = write_mmdb(
        tmp_path / "c.mmdb",
        "GeoIP2-City",
        {"8.8.8.0/24": {**MOUNTAIN_VIEW, "country": {"iso_code": "CA"}}},
    )
    asn = write_mmdb(
        tmp_path / "a.mmdb",
        "GeoLite2-ASN",
        {
            "8.8.8.0/24": {
                "autonomous_system_number": 15169,
                "autonomous_system_organization": "Google LLC",
            }
        },
    )
    configure_geoip("country", [city, asn])
    loc = locate_ip("8.8.8.8")
    assert loc is not None
    assert (loc.country, loc.org, loc.asn, loc.city) == ("US", "Google LLC", 15169, "Mountain View")


def test_mmdb_alone_answers_where_geoip2fast_knows_nothing(tmp_path, geoip_reset) -> None:
    from rtk_sessions.ingest.enrich import _load_geo_db, configure_geoip

    # a global IPv6 address the bundled data has no country nor org for
    unknown = "2c0f:ffff::1"
    found = _load_geo_db().lookup(unknown)
    assert found.country_code in ("", "--") and not found.asn_name
    assert locate_ip(unknown) is None
    city = write_mmdb(tmp_path / "c.mmdb", "GeoLite2-City", {"2c0f:ffff::/32": FRANKFURT_V6})
    configure_geoip("asn", [city])
    assert locate_ip(unknown) == IpLocation(
        ip=unknown,
        country="DE",
        country_name="Germany",
        city="Frankfurt am Main",
        region="HE",
        timezone="Europe/Berlin",
        latitude=50.1188,
        longitude=8.6843,
    )


def test_mmdb_files_are_consulted_in_order(tmp_path, geoip_reset) -> None:
    from rtk_sessions.ingest.enrich import configure_geoip

    first = write_mmdb(
        tmp_path / "1.mmdb", "GeoLite2-City", {"8.8.8.0/24": {"city": {"names": {"en": "First"}}}}
    )
    second = write_mmdb(
        tmp_path / "2.mmdb",
        "GeoLite2-City",
        {"8.8.8.0/24": {**MOUNTAIN_VIEW, "city": {"names": {"en": "Second"}}}},
    )
    configure_geoip("asn", [first, second])
    loc = locate_ip("8.8.8.8")
    assert loc is not None
    # the first non-null value of each field wins
    assert (loc.city, loc.timezone) == ("First", "America/Los_Angeles")
    configure_geoip("asn", [second, first])  # a change of paths forgets cached answers
    assert locate_ip("8.8.8.8").city == "Second"


def test_mmdb_kind_comes_from_metadata_not_file_name(tmp_path, geoip_reset) -> None:
    from rtk_sessions.ingest.enrich import configure_geoip

    # named like a City file, holds ASN records: read as ASN
    misnamed = write_mmdb(
        tmp_path / "GeoLite2-City.mmdb",
        "GeoLite2-ASN",
        {
            "8.8.8.0/24": {
                "autonomous_system_number": 15169,
                "autonomous_system_organization": "GOOGLE",
            }
        },
    )
    configure_geoip("asn", [misnamed])
    loc = locate_ip("8.8.8.8")
    assert (loc.asn, loc.city) == (15169, None)


def test_mmdb_ipv4_only_file_and_ipv6_address(tmp_path, geoip_reset) -> None:
    from mmdb_writer import MMDBWriter
    from netaddr import IPSet

    from rtk_sessions.ingest.enrich import configure_geoip

    writer = MMDBWriter(ip_version=4, database_type="GeoLite2-City")
    writer.insert_network(IPSet(["8.8.8.0/24"]), MOUNTAIN_VIEW)
    writer.to_db_file(str(tmp_path / "v4.mmdb"))
    configure_geoip("asn", [tmp_path / "v4.mmdb"])
    assert locate_ip("8.8.8.8").city == "Mountain View"
    # an IPv6 address cannot be asked of an IPv4-only file: unknown there
    assert locate_ip("2001:4860:4860::8888").city is None


def test_mmdb_off_means_no_lookup_at_all(mmdb_files) -> None:
    from rtk_sessions.ingest import enrich

    enrich.configure_geoip("off", mmdb_files)
    assert locate_ip("8.8.8.8") is None
    assert enrich._mmdb_sources is None, "a .mmdb file was opened with geoip off"


def test_configure_geoip_records_paths_and_opens_lazily(mmdb_files) -> None:
    from rtk_sessions.ingest import enrich

    enrich.configure_geoip("asn", mmdb_files)
    assert enrich._mmdb_sources is None
    assert locate_ip("8.8.8.8").city == "Mountain View"
    sources = enrich._mmdb_sources
    assert [(s.city, s.asn) for s in sources] == [(True, False), (False, True)]
    locate_ip("2001:4860:4860::8888")
    assert enrich._mmdb_sources is sources, "opened twice"
    with pytest.raises(TypeError):
        enrich.configure_geoip("asn", str(mmdb_files[0]))


def test_check_mmdb_file_names_the_file_and_the_problem(tmp_path, mmdb_files) -> None:
    from rtk_sessions.ingest.enrich import check_mmdb_file

    city, asn = mmdb_files
    assert check_mmdb_file(str(city)) == "GeoLite2-City"
    assert check_mmdb_file(str(asn)) == "GeoLite2-ASN"
    (tmp_path / "notes.txt").write_text("not a database\n")
    country = write_mmdb(
        tmp_path / "country.mmdb",
        "GeoLite2-Country",
        {"8.8.8.0/24": {"country": {"iso_code": "US"}}},
    )
    for path, problem in [
        (tmp_path / "missing.mmdb", "no such file"),
        (tmp_path, "not a regular file"),
        (tmp_path / "notes.txt", "not a MaxMind DB"),
        (country, "expected a City or an ASN"),
    ]:
        with pytest.raises(ValueError, match=problem) as caught:
            check_mmdb_file(str(path))
        assert str(path) in str(caught.value)


def test_mmdb_end_to_end_through_participant_details_and_the_peer_report(
    backend, tmp_path, geoip_reset
) -> None:
    from rtk_sessions.ingest import enrich
    from tests.api.support import AppUnderTest, running_server
    from tests.factories import MIN, T0, peer_metadata, started, visit

    city, asn = write_city_and_asn(tmp_path)
    with running_server(backend, tmp_path, geoip_mmdb=f"{city}, {asn}") as server:
        assert enrich._mmdb_paths == (str(city), str(asn))  # create_app passed them on
        with server.client() as http:
            app = AppUnderTest(server, "app-geo", http)
            app.ingest(
                [
                    started("s1", "m1", T0),
                    *visit("s1", "ann", T0 + MIN, T0 + 5 * MIN),
                    peer_metadata("ann", T0 + 2 * MIN, ip="8.8.8.8"),
                ]
            )
            server.clock.now_ms = T0 + 60 * MIN
            body = app.ok("/sessions/s1/participants/ann")
            report = app.ok("/sessions/peer-report/ann")["data"]["participant"]
    # the peer report: the AS number from the ASN database, in both of its shapes (the
    # SDK's asn domain/route/type are in no offline database: left out, never null)
    assert report["peer_report"]["metadata"]["ip_information"] == {
        "asn": {"asn": "AS15169", "name": "GOOGLE"},
        "city": "Mountain View",
        "country": "US",
        "ipv4": "8.8.8.8",
        "org": "GOOGLE",
        "region": "California",
        "timezone": "America/Los_Angeles",
    }
    assert report["peer_stats"]["ip_information"]["asn"] == {"asn": "AS15169"}
    ip = body["data"]["participant"]["peer_stats"]["ip_information"]
    assert ip == {
        "city": "Mountain View",
        "country": "US",
        "ip_location": "37.386,-122.0838",
        "ipv4": "8.8.8.8",
        "org": "GOOGLE",
        "region": "California",
        "timezone": "America/Los_Angeles",
        "ip": "8.8.8.8",
    }  # no portal: never known, so left out


def test_geoip_configuration_is_back_to_defaults() -> None:
    # runs after the tests above (file order): none of them leaked its files
    from rtk_sessions.ingest import enrich

    assert (enrich._geo_mode, enrich._mmdb_paths) == ("asn", ())
    assert locate_ip("8.8.8.8").city is None


def test_mmdb_reader_is_not_imported_eagerly() -> None:
    _run_isolated(
        """
        import sys

        import rtk_sessions.app  # noqa: F401  (config, enrich, peer_stats)
        from rtk_sessions.config import Settings

        from rtk_sessions.ingest.enrich import locate_ip

        Settings(geoip_mmdb="")
        assert locate_ip("8.8.8.8").country == "US"
        assert "maxminddb" not in sys.modules, "maxminddb imported without a .mmdb file"
        """
    )


def test_compacted_ip_data_answers_exactly_as_geoip2fast_s_own_lists() -> None:
    """The packed chunks (api: enrich.compact_geo_data) give the same lookup as the lists
    geoip2fast loaded: random IPv4 and IPv6 addresses and every network's first address
    and the one before it; and they take far less memory."""
    out = _run_isolated(
        """
        import os, random
        import rtk_sessions.ingest.enrich as enrich
        enrich._load_geo_db()  # imports geoip2fast without its side effects
        import geoip2fast, geoip2fast.geoip2fast as g2f

        def rss_kb():
            return int(open("/proc/self/status").read().split("VmRSS:")[1].split()[0])

        path = os.path.join(os.path.dirname(geoip2fast.__file__), enrich.GEO_DATA_FILES["asn"])
        db = g2f.GeoIP2Fast(verbose=False, geoip2fast_data_file=path)  # lists again
        rng = random.Random(7)
        ips = [db._int2ip(rng.randrange(1 << 32)) for _ in range(4000)]
        ips += [db._int2ip((0x2 << 125) + rng.randrange(1 << 125)) for _ in range(4000)]
        for chunks in (g2f.mainListFirstIP, g2f.mainListFirstIPASN):
            for chunk in chunks[:: max(1, len(chunks) // 40)]:
                for start in chunk[:: max(1, len(chunk) // 25)]:
                    ips += [db._int2ip(start), db._int2ip(max(0, start - 1))]

        def answers():
            return [
                {k: v for k, v in db.lookup(ip).to_dict().items() if k != "elapsed_time"}
                for ip in ips
            ]

        import gc
        gc.collect()
        before_kb = rss_kb()
        want = answers()
        enrich.compact_geo_data(g2f)
        gc.collect()
        assert answers() == want
        assert any(a["asn_name"] for a in want) and any(":" in a["ip"] for a in want)
        print(len(ips), before_kb - rss_kb())
        """
    )
    checked, freed_kb = map(int, out.split())
    assert checked > 9_000
    assert freed_kb > 40 * 1024  # at least 40 MiB of the ~105 given back
