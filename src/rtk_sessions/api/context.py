"""What every request handler needs: the database, the settings, the clock."""

from __future__ import annotations

from dataclasses import dataclass

from litestar.connection import ASGIConnection

from rtk_sessions.api.quality_cache import QualityCache
from rtk_sessions.clock import Clock
from rtk_sessions.config import Settings
from rtk_sessions.exports.links import Downloads
from rtk_sessions.store.database import Database
from rtk_sessions.store.tokens import GrantCache


@dataclass(frozen=True, slots=True)
class AppContext:
    db: Database
    settings: Settings
    clock: Clock
    quality_cache: QualityCache
    downloads: Downloads
    grants: GrantCache

    @property
    def grace_ms(self) -> int:
        return int(self.settings.session_grace_seconds * 1000)


def context_of(connection: ASGIConnection) -> AppContext:
    return connection.app.state.ctx


async def provide_context(request: ASGIConnection) -> AppContext:
    """Litestar dependency ``ctx``."""
    return context_of(request)
