"""The ASGI app for servers that import it (granian, uvicorn): settings from RTK_* / TOML."""

from rtk_sessions.api.health import liveness_first
from rtk_sessions.app import create_app
from rtk_sessions.config import load_settings

app = liveness_first(create_app(load_settings()))
