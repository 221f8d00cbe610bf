"""One settings object, read from `RACEWIRE_*` environment variables."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields

PREFIX = "RACEWIRE_"


@dataclass(frozen=True)
class Settings:
    database_url: str = "sqlite+aiosqlite:///racewire.db"
    broadcast_url: str = "memory://"
    broadcast_key: str = ""  # empty: derived from jwt_secret (server/broadcasting.py)
    channel_prefix: str = "racewire:"
    jwt_secret: str = "racewire-dev-secret-change-me-0123456789"
    jwt_algorithms: tuple[str, ...] = ("HS256",)
    jwt_public_key: str = ""
    jwt_jwks_url: str = ""
    jwt_audience: str = ""
    jwt_issuer: str = ""
    jwt_leeway_seconds: float = 10.0
    require_auth: bool = False
    host: str = "127.0.0.1"
    port: int = 8000
    cors_origins: tuple[str, ...] = ()
    ws_origins: tuple[str, ...] = ()
    production: bool = False
    graphiql: bool | None = None
    introspection: bool | None = None
    max_page_size: int = 100
    max_race_ids: int = 50
    max_subscriptions_per_connection: int = 100
    subscriber_buffer: int = 256
    watch_interval_seconds: float = 1.0
    ws_ping_interval_seconds: float = 15.0
    ws_pong_timeout_seconds: float = 10.0
    shutdown_grace_seconds: float = 10.0
    ws_compression: bool = True
    ws_send_buffer_bytes: int = 256 * 1024
    fanout: bool = True
    ws_legacy_protocol: bool = False
    ws_init_timeout_seconds: float = 3.0
    ws_max_message_bytes: int = 256 * 1024
    max_body_bytes: int = 256 * 1024
    max_query_string_bytes: int = 16 * 1024
    ws_messages_per_second: float = 50.0
    ws_message_burst: int = 100
    max_connections_per_client: int = 256
    mutations_per_second: float = 200.0
    mutation_burst: int = 400
    max_query_depth: int = 12
    max_aliases: int = 30
    max_fragment_spreads: int = 100
    validation_budget: int = 2_000
    max_tokens: int = 1_000
    max_query_length: int = 32 * 1024
    max_query_cost: int = 5_000
    default_list_size: int = 10
    persisted_queries: bool = True
    persisted_query_cache_bytes: int = 8 * 1024 * 1024
    trusted_documents: bool = False
    event_log_keep: int = 10_000
    prune_interval_seconds: float = 60.0
    migrate_on_start: bool = True
    demo: bool = False
    feed_interval_seconds: float = 1.0
    log_format: str = "text"
    access_log: bool = False

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        environ = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for f in fields(cls):
            raw = environ.get(PREFIX + f.name.upper())
            if raw is None:
                continue
            values[f.name] = _parse(raw, f.type)
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def graphiql_enabled(self) -> bool:
        return (not self.production) if self.graphiql is None else self.graphiql

    @property
    def introspection_enabled(self) -> bool:
        return (not self.production) if self.introspection is None else self.introspection


def _parse(raw: str, kind: object) -> object:
    kind = str(kind).removesuffix(" | None")
    if kind == "bool":
        if raw.lower() in {"1", "true", "yes", "on"}:
            return True
        if raw.lower() in {"0", "false", "no", "off", ""}:
            return False
        raise ValueError(f"not a boolean: {raw!r}")
    if kind == "int":
        return int(raw)
    if kind == "float":
        return float(raw)
    if kind.startswith("tuple"):
        return tuple(part.strip() for part in raw.split(",") if part.strip())
    return raw
