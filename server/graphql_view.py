"""The Strawberry ASGI view, wired to Racewire's context and auth."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http.streaming import HTTPStreamTransport
from strawberry.subscriptions import GRAPHQL_SSE_PROTOCOL, GRAPHQL_TRANSPORT_WS_PROTOCOL, MULTIPART_SUBSCRIPTION_PROTOCOL

from pubsub.hub import Hub
from resolvers.viewer import Viewer
from schema.context import Context, Limits
from server.assets import graphiql_page
from server.auth import InvalidToken, viewer_from_header
from server.fanout import FanOut
from server.negotiation import prefers_stream
from server.transport import RacewireHandler
from server.settings import Settings
from storage.database import Database


class RacewireGraphQL(GraphQL[Context, None]):
    graphql_transport_ws_handler_class = RacewireHandler

    def __init__(self, *, schema: Any, settings: Settings, db: Database, hub: Hub) -> None:
        super().__init__(
            schema,
            graphql_ide="graphiql" if settings.graphiql else None,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_SSE_PROTOCOL, MULTIPART_SUBSCRIPTION_PROTOCOL),
            max_subscriptions_per_connection=settings.max_subscriptions_per_connection,
        )
        self.fanout = FanOut(schema, context_for=self._context_for) if settings.fanout else None
        self.send_buffer = settings.ws_send_buffer_bytes
        self.ping_interval = settings.ws_ping_interval_seconds
        self.pong_timeout = settings.ws_pong_timeout_seconds
        self._secret = settings.jwt_secret
        self._db = db
        self._hub = hub
        self._limits = Limits(max_page_size=settings.max_page_size, max_race_ids=settings.max_race_ids)
        self.open_connections = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket":
            await super().__call__(scope, receive, send)
            return
        self.open_connections += 1
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.open_connections -= 1

    def _context_for(self, viewer: Viewer) -> Context:
        return Context(db=self._db, hub=self._hub, limits=self._limits, viewer=viewer)

    @property
    def active_subscriptions(self) -> int:
        shared = self.fanout.shared_subscribers if self.fanout is not None else 0
        return self._hub.listener_count + shared

    def _get_stream_transport_from_headers(self, headers: Mapping[str, str]) -> HTTPStreamTransport | None:
        accept = next((value for key, value in headers.items() if key.lower() == "accept"), "")
        return super()._get_stream_transport_from_headers(headers) if prefers_stream(accept) else None

    async def render_graphql_ide(self, request: Request) -> HTMLResponse:
        return graphiql_page()  # served from the API itself, so it works without internet access

    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket | None) -> Context:
        context = Context(db=self._db, hub=self._hub, limits=self._limits)
        self._authenticate(context, request.headers.get("authorization"))
        return context

    async def on_ws_connect(self, context: Context) -> dict[str, object] | None:
        params = context.connection_params or {}
        header = params.get("Authorization", params.get("authorization"))
        if header is None:
            header = params.get("token") and f"Bearer {params['token']}"
        if header is not None and not isinstance(header, str):
            raise ConnectionRejectionError()
        if header:
            self._authenticate(context, header)
        if context.auth_error is not None:
            raise ConnectionRejectionError()
        return None

    def _authenticate(self, context: Context, header: str | None) -> None:
        try:
            context.viewer = viewer_from_header(header, secret=self._secret)
            context.auth_error = None
        except InvalidToken as error:
            context.auth_error = f"invalid token: {error}"
