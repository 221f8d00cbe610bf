"""The app factory: wires storage, the broadcaster, the schema and the routes together."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import sys
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass
from typing import Any

import strawberry
from broadcaster import Broadcast
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from pubsub.broadcast import is_connected
from pubsub.hub import Hub
from resolvers.feed_health import sweep_interval, watch_feeds
from resolvers.store_odds import OddsWriter
from schema.query_limits import QueryLimits
from schema.schema import build_schema
from server import assets
from server.body_limit import BodyLimit
from server.broadcasting import deployment_broadcast, deployment_hub
from server.graphql_view import RacewireGraphQL
from server.logs import RequestIds, tag_request
from server.metrics import Metrics
from server.partners import PartnersError
from server.settings import STARTUP_FAILURE, Settings, refuse_unsafe
from storage import events
from storage.database import Database
from storage.events import LogReader
from storage.migrate import upgrade

log = logging.getLogger(__name__)

GC_THRESHOLDS = (50_000, 20, 10)


class RacewireApp(Starlette):
    """Starlette, with the GraphQL WebSocket endpoint taken before the middleware stack and the
    router: none of them acts on a WebSocket connection (CORS and error pages are HTTP's) beyond
    the request id, and each layer is a coroutine frame held for the life of every connection."""

    def __init__(self, *, websocket_path: str, websocket_app: ASGIApp, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._websocket_path = websocket_path
        self._websocket_app = websocket_app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "websocket"
            and scope["path"].removeprefix(scope.get("root_path", "")) == self._websocket_path
        ):
            scope["app"] = self
            tag_request(scope)
            await self._websocket_app(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


@dataclass
class Runtime:
    settings: Settings
    db: Database
    broadcast: Broadcast
    hub: Hub
    odds: OddsWriter
    graphql: RacewireGraphQL


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings.from_env()
    refuse_unsafe(settings)
    db = Database(settings.database_url)
    metrics = Metrics(open_connections=lambda: graphql.open_connections, open_streams=lambda: graphql.streams.open)

    def on_reconnect() -> None:
        hub.poke()
        metrics.broadcaster_reconnected()

    broadcast = deployment_broadcast(settings, on_reconnect=on_reconnect)
    hub = deployment_hub(
        settings,
        broadcast,
        log=LogReader(db),
        buffer=settings.subscriber_buffer,
        watch_interval=settings.watch_interval_seconds,
        telemetry=metrics,
    )
    odds = OddsWriter(db, hub)
    try:
        graphql = RacewireGraphQL(
            schema=_schema_for(settings), settings=settings, db=db, hub=hub, odds=odds, meter=metrics
        )
    except PartnersError as error:
        print(f"racewire: {error}", file=sys.stderr, flush=True)
        raise SystemExit(STARTUP_FAILURE) from None
    runtime = Runtime(settings=settings, db=db, broadcast=broadcast, hub=hub, odds=odds, graphql=graphql)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if settings.migrate_on_start:
            await upgrade(db)
        await broadcast.connect()
        hub.start()
        _settle_heap()
        background = [
            asyncio.create_task(_prune_forever(runtime)),
            asyncio.create_task(
                watch_feeds(
                    db=db,
                    hub=hub,
                    stale_after=settings.feed_stale_seconds,
                    interval=sweep_interval(settings.feed_stale_seconds),
                    heartbeats=odds.heartbeats,
                )
            ),
        ]
        if settings.demo:
            from demo.data import load_demo
            from demo.feed import run_feed

            await load_demo(db=db)
            # Ready only once the feed's first tick has opened the books: the README's tour
            # (race "1", betting open with prices) holds from the first request on.
            first_tick = asyncio.Event()
            background.append(
                asyncio.create_task(
                    run_feed(
                        db=db,
                        hub=hub,
                        odds=odds,
                        interval=settings.feed_interval_seconds,
                        stale_after=settings.feed_stale_seconds,
                        first_tick=first_tick,
                    )
                )
            )
            await first_tick.wait()
        try:
            yield
        finally:
            for task in background:
                task.cancel()
            await asyncio.gather(*background, return_exceptions=True)
            await hub.close()
            await broadcast.disconnect()
            await db.dispose()

    middleware = [Middleware(RequestIds)]
    if settings.cors_origins:
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=list(settings.cors_origins),
                allow_methods=["GET", "POST"],
                allow_headers=["authorization", "content-type"],
            )
        )
    middleware.append(
        Middleware(
            BodyLimit, max_body_bytes=settings.max_body_bytes, max_query_string_bytes=settings.max_query_string_bytes
        )
    )
    app = RacewireApp(
        websocket_path="/graphql",
        websocket_app=graphql,
        routes=[
            Route("/graphql", graphql),  # every method: the view answers the others with a GraphQL 405
            Route("/health", _health),
            Route("/ready", _ready),
            Route("/metrics", metrics.endpoint),
            *assets.routes(),
        ],
        middleware=middleware,
        lifespan=lifespan,
    )
    app.state.racewire = runtime
    return app


def _settle_heap() -> None:
    """Startup's objects (schema, ORM, modules: some 130,000) live as long as the process:
    frozen, a full collection no longer walks them. With the default young generation (700),
    thousands of connections opening at once set off full collections of everything every 25 %
    of growth, a third of the time spent connecting; a larger one promotes far less."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def _schema_for(settings: Settings) -> strawberry.Schema:
    limits = QueryLimits(
        max_depth=settings.max_query_depth,
        max_aliases=settings.max_aliases,
        max_fragment_spreads=settings.max_fragment_spreads,
        max_tokens=settings.max_tokens,
        max_query_length=settings.max_query_length,
        max_cost=settings.max_query_cost,
        default_list_size=settings.default_list_size,
        validation_budget=settings.validation_budget,
    )
    return build_schema(limits, introspection=settings.introspection_enabled, suggestions=not settings.production)


async def _health(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


async def _ready(request: Request) -> JSONResponse:
    runtime: Runtime = request.app.state.racewire
    checks = {"database": await _check(runtime.db.ping()), "broadcaster": await _check(_ping_broadcast(runtime))}
    if not is_connected(runtime.broadcast):
        checks["broadcaster"] = "error: disconnected"
    ready = all(value == "ok" for value in checks.values())
    body = {
        "status": "ready" if ready else "unavailable",
        "checks": checks,
        "connections": runtime.graphql.open_connections,
        "streams": runtime.graphql.streams.open,  # SSE and multipart subscriptions
        "subscriptions": runtime.graphql.active_subscriptions,
        "executions": runtime.hub.listener_count,  # subscriptions running their own execution
    }
    return JSONResponse(body, status_code=200 if ready else 503)


async def _ping_broadcast(runtime: Runtime) -> None:
    await runtime.broadcast.publish(runtime.hub.namespace.ping, "ping")


async def _check(probe: Awaitable[object]) -> str:
    try:
        await asyncio.wait_for(probe, timeout=2)
    except Exception as error:  # noqa: BLE001 - any failure means not ready
        return f"error: {type(error).__name__}"
    return "ok"


async def _prune_forever(runtime: Runtime) -> None:
    while True:
        await asyncio.sleep(runtime.settings.prune_interval_seconds)
        try:
            async with runtime.db.write() as session:
                removed = await events.prune(session, keep=runtime.settings.event_log_keep)
            if removed:
                log.info("pruned %d old events from the log", removed)
        except Exception:
            log.exception("pruning the event log failed")
