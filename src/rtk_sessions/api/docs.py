"""The API reference at /docs, served whole from this server: the Scalar UI is
vendored (``static/scalar``, version and licence beside it), its fonts are the
system's, and nothing is fetched from a CDN, so it works on a machine without
internet. ``/static`` serves those files without a token."""

from __future__ import annotations

from pathlib import Path

from litestar.openapi.plugins import ScalarRenderPlugin
from litestar.static_files import create_static_files_router

STATIC_DIR = Path(__file__).resolve().parent / "static"
SCALAR_VERSION = "1.76.4"


def docs_plugin() -> ScalarRenderPlugin:
    return ScalarRenderPlugin(
        js_url=f"/static/scalar/standalone.js?v={SCALAR_VERSION}",
        css_url="/static/docs.css",
        favicon="",  # Litestar's default is an image on a CDN
        # no outside fonts, and no developer toolbar pointing at scalar.com
        options={
            "withDefaultFonts": False,
            "showDeveloperTools": "never",
            "agent": {"disabled": True},  # "Ask AI" would send questions to scalar.com
        },
    )


def static_files():
    return create_static_files_router(
        path="/static", directories=[STATIC_DIR], include_in_schema=False
    )
