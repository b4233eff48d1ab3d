"""Enrichment of ``peer.metadata``: browser facts from the user agent, place from the IP.

Both lookups are offline and cached per process:

* :func:`parse_user_agent` uses ``ua-parser`` (uap-core regexes shipped in
  ``ua-parser-builtins``). The regexes are compiled on first use (~0.2 s);
  a new UA string then costs ~1-2 ms, a repeated one a dict hit.
* :func:`locate_ip` uses ``geoip2fast``'s *Country + ASN, IPv4 + IPv6* data
  file, which ships inside the package (MaxMind GeoLite2 derived, built
  2024-06-18). Nothing is downloaded: the file is unpickled from the
  installed package directory on the first lookup (~0.3 s; ~60 MiB
  resident once packed, see compact_geo_data), then a lookup is a bisect (~5 µs). That data has only the
  country and the AS organisation.
* Optionally (``RTK_GEOIP_MMDB``, see :func:`configure_geoip`), MaxMind DB
  files the operator downloaded themselves (GeoLite2/GeoIP2 *City* and/or
  *ASN*) are read with ``maxminddb`` (memory-mapped, opened on the first
  lookup). A City file gives city, region, timezone and coordinates, an ASN
  file the AS number. Without such a file those fields stay ``None``: we
  never guess them (e.g. a timezone from a multi-zone country).

No lookup ever touches the network. Nothing heavy happens at import time:
importing this module (or the app) neither compiles the UA regexes nor loads
an IP database.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import re
import threading
from array import array
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any, NamedTuple

import msgspec

from rtk_sessions.runtime import exempt_from_cyclic_gc

if TYPE_CHECKING:
    from geoip2fast import GeoIP2Fast

__all__ = [
    "BrowserInfo",
    "IpLocation",
    "check_mmdb_file",
    "configure_geoip",
    "geo_data_source",
    "locate_ip",
    "parse_user_agent",
]

log = logging.getLogger(__name__)


class BrowserInfo(msgspec.Struct, frozen=True, kw_only=True):
    """What a user-agent string says about the client.

    Every field is ``None`` when the UA does not tell it. ``browser`` and
    ``os`` are uap-core family names as given (``"Chrome"``, ``"Mobile
    Safari"``, ``"Chrome Mobile iOS"``, ``"Mac OS X"``, ``"iOS"``...);
    versions are the dotted parts uap-core found (``"120.0.6099.144"``).
    ``engine`` is derived from the UA tokens, see :func:`_engine`.
    ``is_mobile`` is ``True`` for a mobile OS or a UA with the ``Mobi``
    token, ``False`` otherwise (an iPad in "desktop site" mode sends a
    Macintosh UA and reads as ``False``; the SDK's own ``device_info``
    takes precedence over this anyway).
    """

    browser: str | None = None
    browser_version: str | None = None
    engine: str | None = None
    os: str | None = None
    os_version: str | None = None
    is_mobile: bool | None = None


class IpLocation(msgspec.Struct, frozen=True, kw_only=True):
    """Where a public IP address is, per the offline database.

    ``ip`` is the normalized address that was looked up (an IPv4-mapped
    IPv6 address is unwrapped to its IPv4 form). ``country`` is the ISO
    3166-1 alpha-2 code, ``org`` the AS organisation name (e.g.
    ``"GOOGLE"``). ``city`` (English name), ``region`` (English name of the
    first subdivision, else its ISO code), ``timezone`` (IANA name),
    ``latitude`` / ``longitude`` (degrees, MaxMind's approximate location)
    come only from a configured City ``.mmdb`` file and ``asn`` only from an
    ASN one; without such a file they are ``None``: absent, never guessed.
    """

    ip: str
    country: str | None = None
    country_name: str | None = None
    city: str | None = None
    region: str | None = None
    timezone: str | None = None
    asn: int | None = None
    org: str | None = None
    latitude: float | None = None
    longitude: float | None = None


# --------------------------------------------------------------------------
# User agent
# --------------------------------------------------------------------------

#: OS families (uap-core names) that are mobile whatever the UA says.
_MOBILE_OS = frozenset(
    {
        "iOS",
        "iPadOS",
        "Android",
        "Windows Phone",
        "BlackBerry OS",
        "KaiOS",
        "Firefox OS",
        "HarmonyOS",
    }
)
_APPLE_MOBILE = re.compile(r"\b(?:iPhone|iPad|iPod)\b")
_CHROMIUM = re.compile(r"\b(?:Chrome|Chromium|HeadlessChrome)/(\d+)")


def _engine(ua: str, os_family: str | None) -> str | None:
    """Rendering engine, from the UA tokens (first rule that matches wins).

    1. iOS / iPadOS (or an iPhone/iPad/iPod UA): ``WebKit`` - every iOS
       browser (Safari, CriOS, FxiOS, EdgiOS...) must use Apple's WebKit.
    2. ``Trident/`` → ``Trident`` (IE); ``Edge/`` (legacy Edge ≤ 18, not
       Chromium's ``Edg/``) → ``EdgeHTML``; ``Presto/`` → ``Presto`` (Opera ≤ 12).
    3. ``Chrome/N`` or ``Chromium/N`` (so Chrome, Chromium Edge, Opera ≥ 15,
       Samsung Internet, Electron, WebViews): ``Blink`` if N ≥ 28, else
       ``WebKit`` (Chrome forked WebKit into Blink at version 28).
    4. a ``Gecko/`` token (``like Gecko`` has no slash): ``Gecko`` (Firefox).
    5. ``AppleWebKit/``: ``WebKit`` (desktop Safari, other WebKit browsers).
    6. otherwise ``None`` (non-browser clients: okhttp, CFNetwork, ...).
    """
    if os_family in ("iOS", "iPadOS") or _APPLE_MOBILE.search(ua):
        return "WebKit"
    if "Trident/" in ua:
        return "Trident"
    if "Edge/" in ua:
        return "EdgeHTML"
    if "Presto/" in ua:
        return "Presto"
    if m := _CHROMIUM.search(ua):
        return "Blink" if int(m.group(1)) >= 28 else "WebKit"
    if "Gecko/" in ua:
        return "Gecko"
    if "AppleWebKit/" in ua:
        return "WebKit"
    return None


def _dotted(*parts: str | None) -> str | None:
    """``"17.1.2"`` from ``("17", "1", "2", None)``: leading non-empty parts only."""
    out: list[str] = []
    for part in parts:
        if not part:
            break
        out.append(part)
    return ".".join(out) or None


@lru_cache(maxsize=4096)
def parse_user_agent(ua: str | None) -> BrowserInfo | None:
    """Browser, engine, OS and mobility read from ``ua``.

    Returns ``None`` for a missing/blank UA, or one in which neither a
    browser nor an OS nor an engine is recognised (garbage). Results are
    cached per UA string (LRU, 4096 entries).
    """
    if not isinstance(ua, str) or not ua.strip():
        return None
    import ua_parser  # the builtin regexes are compiled on first parse

    result = ua_parser.parse(ua)
    agent, os_ = result.user_agent, result.os
    os_family = os_.family if os_ else None
    engine = _engine(ua, os_family)
    if agent is None and os_ is None and engine is None:
        return None
    return BrowserInfo(
        browser=agent.family if agent else None,
        browser_version=_dotted(agent.major, agent.minor, agent.patch, agent.patch_minor)
        if agent
        else None,
        engine=engine,
        os=os_family,
        os_version=_dotted(os_.major, os_.minor, os_.patch, os_.patch_minor) if os_ else None,
        is_mobile=os_family in _MOBILE_OS or "Mobi" in ua,
    )


# --------------------------------------------------------------------------
# IP address
# --------------------------------------------------------------------------

#: Country + ASN, IPv4 + IPv6; shipped in the geoip2fast package.
#: Data files of geoip2fast by ``RTK_GEOIP`` mode, with their resident size once loaded.
GEO_DATA_FILES = {
    "asn": "geoip2fast-asn-ipv6.dat.gz",  # country + network owner, IPv4 + IPv6: ~60 MiB packed
    "country": "geoip2fast-ipv6.dat.gz",  # country only, IPv4 + IPv6: ~36 MiB packed
}
_geo_mode = "asn"


def configure_geoip(mode: str, mmdb_paths: Iterable[str | os.PathLike[str]] = ()) -> None:
    """Choose the IP data before the first lookup.

    ``mode`` picks geoip2fast's data (``asn``, ``country``) or turns every IP
    lookup off (``off``, the ``.mmdb`` files included). ``mmdb_paths`` are
    MaxMind DB files consulted after it, in order (``RTK_GEOIP_MMDB``; empty =
    none); they are only recorded here and opened on the first lookup. Cached
    lookups are forgotten when either choice changes.
    """
    global _geo_mode, _geo_db, _mmdb_paths, _mmdb_sources
    if mode not in (*GEO_DATA_FILES, "off"):
        raise ValueError(f"geoip mode must be asn, country or off; got {mode!r}")
    if isinstance(mmdb_paths, str | os.PathLike):  # would iterate characters
        raise TypeError("mmdb_paths is a sequence of paths, not one path")
    paths = tuple(os.fspath(path) for path in mmdb_paths)
    if mode != _geo_mode:
        with _geo_lock:
            _geo_mode, _geo_db = mode, None
        locate_ip.cache_clear()
    if paths != _mmdb_paths:
        # Old readers are dropped, not closed: a lookup running in another
        # thread may still hold one; it is closed when the last user lets go.
        with _mmdb_lock:
            _mmdb_paths, _mmdb_sources = paths, None
        locate_ip.cache_clear()


#: geoip2fast's country code for private/reserved or unknown networks.
_NO_COUNTRY = ("", "--")

_geo_lock = threading.Lock()
_geo_db: GeoIP2Fast | None = None


def _load_geo_db() -> GeoIP2Fast:
    """The process-wide geoip2fast reader, loaded on first call (thread-safe).

    Works around three habits of geoip2fast 1.2.2 so that loading is
    side-effect free: its import sets ``PYTHONWARNINGS``/``PYTHONIOENCODING``
    in ``os.environ`` (restored here); its loader spawns ``ps`` twice to
    report memory use (replaced by a no-op); and a bare file name is first
    looked for in the *current directory* (we pass the absolute path inside
    the installed package, so no stray file is ever unpickled).
    """
    global _geo_db
    if _geo_db is not None:
        return _geo_db
    with _geo_lock:
        if _geo_db is not None:
            return _geo_db
        saved = {k: os.environ.get(k) for k in ("PYTHONWARNINGS", "PYTHONIOENCODING")}
        try:
            import geoip2fast
            import geoip2fast.geoip2fast as g2f
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
        g2f.get_mem_usage = lambda: 0.0
        path = os.path.join(os.path.dirname(geoip2fast.__file__), GEO_DATA_FILES[_geo_mode])
        _geo_db = g2f.GeoIP2Fast(verbose=False, geoip2fast_data_file=path)
        compact_geo_data(g2f)
        exempt_from_cyclic_gc()  # what is left: the names, the chunk lists
        return _geo_db


#: geoip2fast's per-chunk lists (module globals): 1.4 million Python ints of network
#: starts, ids and prefix lengths: 105 MiB resident with the ASN data as lists, 60 packed.
_GEO_CHUNK_LISTS = (
    "mainListFirstIP",
    "mainListIDCountryCodes",
    "mainListNetlength",
    "mainListIDCity",
    "mainListFirstIPASN",
    "mainListIDASN",
    "mainListNetlengthASN",
)


def compact_geo_data(g2f: Any) -> None:
    """Store geoip2fast's chunks as packed arrays in place of lists of Python ints.

    Its lookups only index the chunks and ``bisect`` them, which any sequence
    supports, so they run unchanged over arrays of machine integers (IPv4 starts,
    ids and prefix lengths) and over :class:`_Packed128` (IPv6 starts): the same
    answers (a test compares both on random addresses) in a third of the memory.
    """
    for name in _GEO_CHUNK_LISTS:
        chunks = getattr(g2f, name, None)
        if isinstance(chunks, list):
            setattr(g2f, name, [_packed(chunk) for chunk in chunks])


def _packed(chunk: Any) -> Any:
    if not isinstance(chunk, list) or not all(type(v) is int and v >= 0 for v in chunk):
        return chunk
    top = max(chunk, default=0)
    for code, bits in (("B", 8), ("H", 16), ("I", 32), ("Q", 64)):
        if top < 1 << bits and array(code).itemsize * 8 >= bits:
            return array(code, chunk)
    return _Packed128(chunk) if top < 1 << 128 else chunk


class _Packed128(Sequence[int]):
    """Unsigned 128-bit integers (IPv6 addresses) packed 16 bytes each."""

    __slots__ = ("_data",)

    def __init__(self, values: list[int]) -> None:
        self._data = b"".join(v.to_bytes(16, "big") for v in values)

    def __len__(self) -> int:
        return len(self._data) // 16

    def __getitem__(self, index: int) -> int:  # type: ignore[override]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(index)
        return int.from_bytes(self._data[index * 16 : index * 16 + 16], "big")


def geo_data_source() -> str:
    """The loaded IP database's provenance, e.g.
    ``"MAXMIND:GeoLite2-CountryASN-IPv4IPv6-en-20240618"`` (loads it if needed).

    GeoLite2 data requires attribution: "This product includes GeoLite2
    data created by MaxMind, available from https://www.maxmind.com".
    """
    return str(_load_geo_db().source_info)


# --------------------------------------------------------------------------
# Optional MaxMind DB files (RTK_GEOIP_MMDB)
# --------------------------------------------------------------------------


class _MmdbSource(NamedTuple):
    """One opened ``.mmdb`` file and which kinds of record it holds."""

    path: str
    reader: Any  # maxminddb.Reader (the C extension's or the pure-Python one)
    city: bool
    asn: bool


_mmdb_lock = threading.Lock()
_mmdb_paths: tuple[str, ...] = ()
#: The opened files, in ``_mmdb_paths`` order; ``None`` until the first lookup.
_mmdb_sources: tuple[_MmdbSource, ...] | None = None


def _mmdb_kinds(database_type: str) -> tuple[bool, bool]:
    """``(city, asn)``: whether a file of this metadata ``database_type``
    holds City records (``GeoLite2-City``, ``GeoIP2-City``, ``DBIP-City-Lite``)
    and/or ASN ones (``GeoLite2-ASN``)."""
    return "City" in database_type, "ASN" in database_type


def _open_mmdb(path: str) -> Any:
    """A ``maxminddb`` reader of ``path`` (memory-mapped; C extension if installed).

    Raises ``OSError`` if the file cannot be read and
    ``maxminddb.InvalidDatabaseError`` if it is not a MaxMind DB.
    """
    import maxminddb

    return maxminddb.open_database(path, maxminddb.MODE_AUTO)


def check_mmdb_file(path: str) -> str:
    """The metadata ``database_type`` of the MaxMind DB file at ``path``
    (e.g. ``"GeoLite2-City"``), when :func:`locate_ip` can use it.

    Raises ``ValueError`` naming ``path`` and what is wrong: missing, not a
    regular file, unreadable, not a MaxMind DB, or neither a City nor an ASN
    database. The file is opened and closed again; nothing is kept.
    """
    import maxminddb

    if not os.path.exists(path):
        raise ValueError(f"{path}: no such file")
    if not os.path.isfile(path):
        raise ValueError(f"{path}: not a regular file")
    try:
        reader = _open_mmdb(path)
    except OSError as exc:
        raise ValueError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    except maxminddb.InvalidDatabaseError:
        raise ValueError(f"{path}: not a MaxMind DB (.mmdb) file") from None
    try:
        database_type = str(reader.metadata().database_type)
    finally:
        reader.close()
    if not any(_mmdb_kinds(database_type)):
        raise ValueError(
            f"{path}: a {database_type!r} database; expected a City or an ASN one "
            "(e.g. GeoLite2-City, GeoLite2-ASN)"
        )
    return database_type


def _load_mmdb_sources() -> tuple[_MmdbSource, ...]:
    """The configured ``.mmdb`` files, opened on first call (thread-safe).

    A file that cannot be opened (start-up validated it, so it was removed
    or replaced since) or that holds neither City nor ASN records is logged
    and skipped, so lookups still answer with the other data.
    """
    global _mmdb_sources
    sources = _mmdb_sources
    if sources is not None:
        return sources
    if not _mmdb_paths:  # the usual case: no file, and no need to import maxminddb
        return ()
    import maxminddb

    with _mmdb_lock:
        if _mmdb_sources is not None:
            return _mmdb_sources
        opened: list[_MmdbSource] = []
        for path in _mmdb_paths:
            try:
                reader = _open_mmdb(path)
            except (OSError, maxminddb.InvalidDatabaseError) as exc:
                log.error("RTK_GEOIP_MMDB: skipping %s: %s", path, exc)
                continue
            city, asn = _mmdb_kinds(str(reader.metadata().database_type))
            if not (city or asn):
                log.error("RTK_GEOIP_MMDB: skipping %s: neither a City nor an ASN database", path)
                reader.close()
                continue
            opened.append(_MmdbSource(path, reader, city, asn))
        _mmdb_sources = tuple(opened)
        return _mmdb_sources


def _text(value: Any) -> str | None:
    """A non-empty string as given, else ``None``."""
    return value if isinstance(value, str) and value else None


def _degrees(value: Any) -> float | None:
    """A coordinate as a float; anything that is not a number → ``None``."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def _obj(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _city_fields(record: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of a GeoLite2/GeoIP2 City record that :class:`IpLocation` has.

    ``region`` is the first (largest) subdivision's English name, else its
    ISO code. Missing or mistyped values are ``None``.
    """
    country = _obj(record.get("country"))
    subdivisions = record.get("subdivisions")
    first = _obj(subdivisions[0]) if isinstance(subdivisions, list) and subdivisions else {}
    location = _obj(record.get("location"))
    return {
        "country": _text(country.get("iso_code")),
        "country_name": _text(_obj(country.get("names")).get("en")),
        "city": _text(_obj(_obj(record.get("city")).get("names")).get("en")),
        "region": _text(_obj(first.get("names")).get("en")) or _text(first.get("iso_code")),
        "timezone": _text(location.get("time_zone")),
        "latitude": _degrees(location.get("latitude")),
        "longitude": _degrees(location.get("longitude")),
    }


def _asn_fields(record: Mapping[str, Any]) -> dict[str, Any]:
    """``asn`` and ``org`` of a GeoLite2 ASN record (``None`` when missing)."""
    number = record.get("autonomous_system_number")
    return {
        "asn": number if isinstance(number, int) and not isinstance(number, bool) else None,
        "org": _text(record.get("autonomous_system_organization")),
    }


def _mmdb_lookup(address: str) -> dict[str, Any]:
    """What the configured ``.mmdb`` files say about ``address``.

    Files are consulted in configured order and the first non-``None``
    value of each field wins. ``{}`` when no file is configured or none
    knows the address. An IPv6 address asked of an IPv4-only file counts as
    unknown there; a corrupt record is logged and counts as unknown.
    """
    sources = _load_mmdb_sources()
    if not sources:
        return {}
    import maxminddb

    found: dict[str, Any] = {}
    for source in sources:
        try:
            record = source.reader.get(address)
        except ValueError:  # IPv6 address, IPv4-only file
            continue
        except maxminddb.InvalidDatabaseError as exc:
            log.warning("RTK_GEOIP_MMDB: %s: bad record for %s: %s", source.path, address, exc)
            continue
        if not isinstance(record, Mapping):
            continue
        fields: dict[str, Any] = {}
        if source.city:
            fields.update(_city_fields(record))
        if source.asn:
            fields.update(_asn_fields(record))
        for key, value in fields.items():
            if value is not None and found.get(key) is None:
                found[key] = value
    return found


def _public_address(ip: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The parsed address if it is a globally routable unicast one, else ``None``."""
    try:
        addr = ipaddress.ip_address(ip.strip())
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    if (
        not addr.is_global
        or addr.is_multicast
        or addr.is_reserved
        or addr.is_unspecified
        or addr.is_loopback
        or addr.is_link_local
    ):
        return None
    return addr


@lru_cache(maxsize=8192)
def locate_ip(ip: str | None) -> IpLocation | None:
    """Where a public IP is and who runs its network, from the offline data.

    Returns ``None`` when geoip is ``off``, for a missing or unparsable
    address, for any address that is not globally routable unicast
    (private, loopback, link-local, CGNAT 100.64/10, documentation
    192.0.2/24 and 2001:db8::/32, multicast, reserved, unspecified), and
    for one that neither geoip2fast nor a configured ``.mmdb`` file knows.
    Otherwise an :class:`IpLocation`: ``country`` and ``org`` are
    geoip2fast's when it has them, the ``.mmdb`` files' otherwise; city,
    region, timezone, coordinates and ``asn`` come from the ``.mmdb``
    files only. Cached per input string (LRU, 8192 entries).
    """
    if not isinstance(ip, str) or _geo_mode == "off":
        return None
    addr = _public_address(ip)
    if addr is None:
        return None
    found: Any = _load_geo_db().lookup(str(addr))
    country = found.country_code if found.country_code not in _NO_COUNTRY else None
    org = found.asn_name or None
    if found.is_private:  # geoip2fast's own reserved ranges: it knows nothing there
        country = org = None
    extra = _mmdb_lookup(str(addr))
    if country is None and org is None and not extra:
        return None
    country_name = found.country_name if country else None
    if country is None and extra.get("country") is not None:
        # the name goes with the code: both from the .mmdb, or neither
        country, country_name = extra["country"], extra.get("country_name")
    return IpLocation(
        ip=str(addr),
        country=country,
        country_name=country_name,
        city=extra.get("city"),
        region=extra.get("region"),
        timezone=extra.get("timezone"),
        asn=extra.get("asn"),
        org=org or extra.get("org"),
        latitude=extra.get("latitude"),
        longitude=extra.get("longitude"),
    )
