"""The ASGI app for servers that import it (granian, uvicorn): settings from RTK_* / TOML."""

from rtk_sessions.api.health import liveness_first
from rtk_sessions.api.request_log import RequestLog
from rtk_sessions.app import create_app
from rtk_sessions.config import load_settings
from rtk_sessions.runtime import exempt_from_cyclic_gc

# liveness probes first (not logged: every few seconds per replica), then every other
# request logged with its id around the whole app
app = liveness_first(RequestLog(create_app(load_settings())))
exempt_from_cyclic_gc()  # the app lives as long as the process
