"""The ASGI app for servers that import it (granian, uvicorn): settings from RTK_* / TOML."""

from rtk_sessions.api.health import liveness_first
from rtk_sessions.app import create_app
from rtk_sessions.config import load_settings
from rtk_sessions.runtime import exempt_from_cyclic_gc

app = liveness_first(create_app(load_settings()))
exempt_from_cyclic_gc()  # the app lives as long as the process
