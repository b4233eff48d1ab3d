"""Enrichment of ``peer.metadata``: browser facts from the user agent, place from the IP.

Both lookups are offline and cached per process:

* :func:`parse_user_agent` uses ``ua-parser`` (uap-core regexes shipped in
  ``ua-parser-builtins``). The regexes are compiled on first use (~0.2 s);
  a new UA string then costs ~1-2 ms, a repeated one a dict hit.
* :func:`locate_ip` uses ``geoip2fast``'s *Country + ASN, IPv4 + IPv6* data
  file, which ships inside the package (MaxMind GeoLite2 derived, built
  2024-06-18). Nothing is downloaded: the file is unpickled from the
  installed package directory on the first lookup (~0.3 s, ~110 MiB
  resident), then a lookup is a bisect (~10-20 µs). The data has no city,
  region, timezone, coordinates nor AS number, so those stay ``None``:
  we never guess them (e.g. a timezone from a multi-zone country).

Nothing heavy happens at import time: importing this module (or the app)
neither compiles the UA regexes nor loads the IP database.
"""

from __future__ import annotations

import ipaddress
import os
import re
import threading
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import msgspec

if TYPE_CHECKING:
    from geoip2fast import GeoIP2Fast

__all__ = ["BrowserInfo", "IpLocation", "geo_data_source", "locate_ip", "parse_user_agent"]


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
    ``"GOOGLE"``). ``city``, ``region``, ``timezone``, ``asn``,
    ``latitude`` and ``longitude`` are kept for a richer database and are
    ``None`` with the current one: absent, never guessed.
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
    "asn": "geoip2fast-asn-ipv6.dat.gz",  # country + network owner, IPv4 + IPv6: ~105 MiB
    "country": "geoip2fast-ipv6.dat.gz",  # country only, IPv4 + IPv6: ~45 MiB
}
_geo_mode = "asn"


def configure_geoip(mode: str) -> None:
    """Choose the IP data (``asn``, ``country`` or ``off``) before the first lookup."""
    global _geo_mode, _geo_db
    if mode not in (*GEO_DATA_FILES, "off"):
        raise ValueError(f"geoip mode must be asn, country or off; got {mode!r}")
    if mode != _geo_mode:
        with _geo_lock:
            _geo_mode, _geo_db = mode, None
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
        return _geo_db


def geo_data_source() -> str:
    """The loaded IP database's provenance, e.g.
    ``"MAXMIND:GeoLite2-CountryASN-IPv4IPv6-en-20240618"`` (loads it if needed).

    GeoLite2 data requires attribution: "This product includes GeoLite2
    data created by MaxMind, available from https://www.maxmind.com".
    """
    return str(_load_geo_db().source_info)


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
    """Country and network owner of a public IP, from the offline database.

    Returns ``None`` for a missing or unparsable address, for any address
    that is not globally routable unicast (private, loopback, link-local,
    CGNAT 100.64/10, documentation 192.0.2/24 and 2001:db8::/32, multicast,
    reserved, unspecified), and for one the database knows nothing about.
    Otherwise an :class:`IpLocation` with ``country`` and/or ``org`` set.
    Cached per input string (LRU, 8192 entries).
    """
    if not isinstance(ip, str) or _geo_mode == "off":
        return None
    addr = _public_address(ip)
    if addr is None:
        return None
    found: Any = _load_geo_db().lookup(str(addr))
    country = found.country_code if found.country_code not in _NO_COUNTRY else None
    org = found.asn_name or None
    if found.is_private or (country is None and org is None):
        return None
    return IpLocation(
        ip=str(addr),
        country=country,
        country_name=found.country_name if country else None,
        org=org,
    )
