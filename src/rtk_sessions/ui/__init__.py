"""The dashboard at ``/ui/``: server-rendered pages over the same store queries and
renderings as the API, signed in with an API token (``auth.py``)."""

from __future__ import annotations

from pathlib import Path

from litestar.static_files import create_static_files_router

from rtk_sessions.ui.routes import no_such_page, ui_router

STATIC_DIR = Path(__file__).resolve().parent / "static"


def ui_static_files():
    """``/ui/static``: the dashboard's stylesheet and script (no token needed)."""
    return create_static_files_router(
        path="/ui/static", directories=[STATIC_DIR], include_in_schema=False
    )


__all__ = ["no_such_page", "ui_router", "ui_static_files"]
