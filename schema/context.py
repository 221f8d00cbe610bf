"""The typed request context every resolver receives."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from strawberry.types import Info as StrawberryInfo

from pubsub.hub import Hub
from resolvers.loaders import Loaders
from resolvers.store_odds import OddsWriter
from resolvers.viewer import ANONYMOUS, Viewer
from schema.clients import ClientQuota
from storage.database import Database


@dataclass(frozen=True)
class Limits:
    max_page_size: int = 100
    max_race_ids: int = 50
    # Partners-only: every operation needs a valid token.
    require_auth: bool = False
    # storeOdds only from tokens that name the sources they may write.
    require_token_sources: bool = False


@dataclass
class Context:
    db: Database
    hub: Hub
    odds: OddsWriter  # the process's one writer of prices (create_app builds it)
    limits: Limits = field(default_factory=Limits)
    viewer: Viewer = ANONYMOUS
    # Why the presented token was refused; the viewer is then anonymous.
    auth_error: str | None = None
    # Filled in by the graphql-transport-ws handler from `connection_init`.
    connection_params: dict[str, Any] | None = None
    # Takes one mutation from the subject's allowance: 0, or the seconds to wait for one.
    rate_limit: Callable[[str], float] | None = None
    # The token's client: its own limits and its meter (schema/clients.py); None where none applies.
    client: ClientQuota | None = None

    _loaders: Loaders | None = field(default=None, init=False, repr=False)

    @property
    def loaders(self) -> Loaders:
        """Made on first use: most WebSocket connections never read through a loader."""
        if self._loaders is None:
            self._loaders = Loaders(self.db)
        return self._loaders

    def fresh_loaders(self) -> None:
        """A WebSocket connection keeps one context: each operation gets its own cache."""
        self._loaders = None


Info: TypeAlias = StrawberryInfo[Context, None]
