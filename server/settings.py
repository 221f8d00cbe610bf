"""One settings object, read from `RACEWIRE_*` environment variables.

The fields are validated by pydantic: a value that does not read as its field's type stops the
server at start with the variable's name and the type it wants, and a field of a type pydantic
cannot check fails at import, so no value silently stays a string."""

from __future__ import annotations

import os
import sys
import types
import typing
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, ValidationInfo, field_validator

PREFIX = "RACEWIRE_"
# Signs and checks tokens out of the box, for development only: refused in production.
DEV_JWT_SECRET = "racewire-dev-secret-change-me-0123456789"
MIN_JWT_SECRET_BYTES = 32
MIN_JWT_SECRET_DISTINCT = 8
MIN_FEED_STALE_SECONDS = 1.0  # resolvers/feed_health.py writes heartbeats at most every 0.5 s
STARTUP_FAILURE = 3  # uvicorn's: a worker that exits with it is not restarted
TRUE = frozenset({"1", "true", "yes", "on"})
FALSE = frozenset({"0", "false", "no", "off", ""})


class InvalidSettings(ValueError):
    """Settings this server refuses to start with."""


class Settings(BaseModel):
    """`Settings()` is the defaults (and keyword arguments); `Settings.from_env()` reads the environment."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    database_url: str = "sqlite+aiosqlite:///racewire.db"
    broadcast_url: str = "memory://"
    broadcast_key: str = ""  # empty: derived from jwt_secret (server/broadcasting.py)
    channel_prefix: str = "racewire:"
    jwt_secret: str = DEV_JWT_SECRET
    jwt_algorithms: tuple[str, ...] = ("HS256",)
    jwt_public_key: str = ""
    jwt_jwks_url: str = ""
    jwt_audience: str = ""
    jwt_issuer: str = ""
    jwt_leeway_seconds: float = 10.0
    require_auth: bool = False
    require_token_sources: bool | None = None
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
    partners_file: str = ""  # TOML: each partner client's own limits (server/partners.py)
    partner_documents_dir: str = ""  # a manifest of registered operations per partner client
    event_log_keep: int = 10_000
    prune_interval_seconds: float = 60.0
    migrate_on_start: bool = True
    demo: bool = False
    feed_interval_seconds: float = 1.0
    feed_stale_seconds: float = 30.0
    log_format: str = "text"
    access_log: bool = False
    event_loop: str = "asyncio"  # uvicorn's `loop`: asyncio, uvloop (when installed) or auto

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except ValidationError as error:
            raise InvalidSettings(_explain(type(self), error)) from None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """The settings `environ` (the process's environment by default) gives; raises InvalidSettings
        naming every variable whose value does not read as its field's type."""
        environ = os.environ if environ is None else environ
        values: dict[str, object] = {
            name: environ[PREFIX + name.upper()] for name in cls.model_fields if PREFIX + name.upper() in environ
        }
        values.update(overrides)
        return cls(**values)

    @field_validator("*", mode="before")
    @classmethod
    def _from_text(cls, value: object, info: ValidationInfo) -> object:
        """The environment's two conventions pydantic does not share: an empty boolean is false, and
        lists are comma-separated."""
        if not isinstance(value, str) or info.field_name is None:
            return value
        kind = _without_none(cls.model_fields[info.field_name].annotation)
        if kind is bool:
            word = value.strip().lower()
            return word in TRUE if word in TRUE | FALSE else value
        if typing.get_origin(kind) is tuple:
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def graphiql_enabled(self) -> bool:
        return (not self.production) if self.graphiql is None else self.graphiql

    @property
    def introspection_enabled(self) -> bool:
        return (not self.production) if self.introspection is None else self.introspection

    @property
    def token_sources_required(self) -> bool:
        return self.production if self.require_token_sources is None else self.require_token_sources

    @property
    def own_jwt_secret(self) -> str:
        """The secret HS* tokens are checked against: never the development secret in production."""
        return "" if self.production and self.jwt_secret == DEV_JWT_SECRET else self.jwt_secret

    def check(self) -> None:
        """Raises InvalidSettings naming every setting that production refuses, or any refuses."""
        problems = self._production_problems() if self.production else []
        if problems:
            raise InvalidSettings("RACEWIRE_PRODUCTION=true, but " + "; and ".join(problems))
        if not self.feed_stale_seconds >= MIN_FEED_STALE_SECONDS:
            raise InvalidSettings(f"RACEWIRE_FEED_STALE_SECONDS must be at least {MIN_FEED_STALE_SECONDS:g}")

    def _production_problems(self) -> list[str]:
        problems = []
        secret = self.own_jwt_secret
        if secret and (len(secret.encode()) < MIN_JWT_SECRET_BYTES or len(set(secret)) < MIN_JWT_SECRET_DISTINCT):
            problems.append(
                f"RACEWIRE_JWT_SECRET is too weak (under {MIN_JWT_SECRET_BYTES} bytes, or under "
                f"{MIN_JWT_SECRET_DISTINCT} different characters): use {MIN_JWT_SECRET_BYTES} random bytes or more "
                "(e.g. `openssl rand -hex 32`)"
            )
        asymmetric = [a for a in self.jwt_algorithms if not a.startswith("HS")]
        hmac = bool(secret) and len(asymmetric) < len(self.jwt_algorithms)
        keys = bool(self.jwt_public_key or self.jwt_jwks_url) and bool(asymmetric)
        if not (hmac or keys):
            problems.append(
                "no way to check tokens is configured: set RACEWIRE_JWT_SECRET (at least "
                f"{MIN_JWT_SECRET_BYTES} random bytes, e.g. `openssl rand -hex 32`), or RACEWIRE_JWT_PUBLIC_KEY / "
                "RACEWIRE_JWT_JWKS_URL with an RS*/ES* algorithm in RACEWIRE_JWT_ALGORITHMS; "
                "the built-in development secret is never accepted in production"
            )
        return problems


def refuse_unsafe(settings: Settings) -> None:
    """Ends the process, saying why, on settings production refuses: with uvicorn's exit status
    for a failed start, so its supervisor stops rather than restarting every worker forever."""
    try:
        settings.check()
    except InvalidSettings as error:
        print(f"racewire: {error}", file=sys.stderr, flush=True)
        raise SystemExit(STARTUP_FAILURE) from None


def load_or_exit(environ: Mapping[str, str] | None = None) -> Settings:
    """`Settings.from_env()` then `refuse_unsafe`: a bad value ends the process as a refused one does."""
    try:
        settings = Settings.from_env(environ)
    except InvalidSettings as error:
        print(f"racewire: {error}", file=sys.stderr, flush=True)
        raise SystemExit(STARTUP_FAILURE) from None
    refuse_unsafe(settings)
    return settings


def _without_none(kind: Any) -> Any:
    """`bool` for `bool | None`: the type a value must read as when it is given."""
    if typing.get_origin(kind) in (typing.Union, types.UnionType):
        kinds = [k for k in typing.get_args(kind) if k is not type(None)]
        return kinds[0] if len(kinds) == 1 else kind
    return kind


_TYPE_NAMES = {
    bool: "a boolean (true/false, 1/0, yes/no, on/off)",
    int: "an integer",
    float: "a number",
    str: "a string",
}


def expected(kind: Any) -> str:
    """What a variable of a field's type must hold, in words."""
    inner = _without_none(kind)
    if typing.get_origin(inner) is tuple:
        return "a comma-separated list"
    return _TYPE_NAMES.get(inner, getattr(inner, "__name__", str(inner)))


def _explain(cls: type[Settings], error: ValidationError) -> str:
    problems = []
    for problem in error.errors(include_url=False):
        name = str(problem["loc"][0]) if problem["loc"] else ""
        field = cls.model_fields.get(name)
        if field is None:
            problems.append(f"{name!r} is not a setting" if name else problem["msg"])
            continue
        shown = repr(problem["input"])
        shown = shown if len(shown) <= 80 else shown[:77] + "..."
        # A failed parse says no more than the type does; a failed constraint says which.
        detail = "" if problem["type"].endswith(("_parsing", "_type")) else f" ({problem['msg']})"
        problems.append(f"{PREFIX}{name.upper()}={shown} is not {expected(field.annotation)}{detail}")
    return "; ".join(problems)
