"""/docs works without internet: every asset the page loads is served by us, pinned.

The page's HTML names only paths on this server (no CDN, no outside fonts or
favicon) and each of them is served. A real browser check of the rendered page
belongs with the dashboard's browser tests."""

from __future__ import annotations

import re

import httpx

from rtk_sessions.api.docs import SCALAR_VERSION, STATIC_DIR


def test_the_docs_page_loads_only_what_this_server_serves(server):
    page = httpx.get(server.url + "/docs")
    assert page.status_code == 200
    html = page.text
    assert "http://" not in html and "https://" not in html  # nothing from outside
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert "/static/docs.css" in assets
    assert f"/static/scalar/standalone.js?v={SCALAR_VERSION}" in assets
    for asset in assets:
        served = httpx.get(server.url + asset)
        assert served.status_code == 200, asset
    script = httpx.get(server.url + f"/static/scalar/standalone.js?v={SCALAR_VERSION}")
    assert script.headers["content-type"].startswith("text/javascript")
    assert script.content == (STATIC_DIR / "scalar" / "standalone.js").read_bytes()
    assert '"withDefaultFonts":false' in html  # Scalar would fetch its fonts otherwise
    assert httpx.get(server.url + "/docs/openapi.json").json()["info"]["title"] == "rtk-sessions"


def test_the_vendored_ui_says_its_version_and_licence():
    licence = (STATIC_DIR / "scalar" / "LICENSE").read_text()
    assert f"version {SCALAR_VERSION}" in licence and "MIT License" in licence
    assert f"VERSION={SCALAR_VERSION}" in (STATIC_DIR / "scalar" / "vendor.sh").read_text()
