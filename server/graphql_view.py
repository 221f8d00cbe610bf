"""The Strawberry ASGI view, wired to Racewire's context and auth: HTTP (queries, mutations, SSE and
multipart streams) on Strawberry's view; WebSockets on the live wing (server/live)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import AsyncGenerator, Callable, Mapping
from datetime import timedelta
from typing import Any, cast

import orjson
from cross_web import HTTPException
from graphql import GraphQLError
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData, process_result
from strawberry.http.parse_content_type import parse_content_type
from strawberry.http.streaming import HTTPStreamTransport
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.subscriptions import (
    GRAPHQL_SSE_PROTOCOL,
    GRAPHQL_TRANSPORT_WS_PROTOCOL,
    GRAPHQL_WS_PROTOCOL,
    MULTIPART_SUBSCRIPTION_PROTOCOL,
)
from strawberry.types import ExecutionResult, SubscriptionExecutionResult

from pubsub.hub import Hub
from resolvers.store_odds import OddsWriter
from resolvers.viewer import Viewer
from schema.context import Context, Limits
from schema.errors import RETRY_AFTER_SECONDS, unavailable
from server.assets import graphiql_page
from server.auth import InvalidToken, TokenReader, jwt_config
from server.http_errors import RequestError, error_response, is_request_error, request_error_status
from server.live.connection import LiveSettings
from server.live.deadlines import Deadlines, tick_for
from server.live.endpoint import LiveEndpoint, refuse
from server.live.fanout import FanOut
from server.live.heartbeat import MIN_HEARTBEAT_MS
from server.live.messages import FORBIDDEN_CLOSE
from server.negotiation import GRAPHQL_RESPONSE_JSON, prefers_stream, response_type
from server.partners import ClientMeter, UnsharedForPartners, load_partners
from server.persisted import PersistedQueries, load_trusted
from server.rate_limits import ConnectionCounter, KeyedBuckets
from server.settings import Settings
from server.streams_guard import StreamGuard, refused_operation
from storage.database import Database

CONTEXT_KEY = "racewire.context"
LEGACY_KEY = "racewire.legacy"


async def _close_expired(websocket: WebSocket) -> None:
    with contextlib.suppress(Exception):  # already closed by the peer
        await websocket.close(code=FORBIDDEN_CLOSE, reason="Token expired")


@dataclasses.dataclass
class ConnectionContext(Context):
    # When the token presented expires: an HTTP stream or a WebSocket is closed then.
    expires_at: float | None = None
    # The legacy protocol's socket, and its timer closing it at the token's expiry (graphql-transport-ws
    # connections keep their own deadlines, see server/live/connection.py).
    legacy_websocket: WebSocket | None = None
    expiry: asyncio.TimerHandle | None = None


class RacewireGraphQL(GraphQL[Context, None]):
    def __init__(
        self,
        *,
        schema: Any,
        settings: Settings,
        db: Database,
        hub: Hub,
        odds: OddsWriter,
        meter: ClientMeter | None = None,
    ) -> None:
        protocols: tuple[str, ...] = (
            GRAPHQL_TRANSPORT_WS_PROTOCOL,
            GRAPHQL_SSE_PROTOCOL,
            MULTIPART_SUBSCRIPTION_PROTOCOL,
        )
        if settings.ws_legacy_protocol:
            protocols += (GRAPHQL_WS_PROTOCOL,)
        super().__init__(
            schema,
            graphql_ide="graphiql" if settings.graphiql_enabled else None,
            subscription_protocols=protocols,
            max_subscriptions_per_connection=settings.max_subscriptions_per_connection,
            connection_init_wait_timeout=timedelta(seconds=settings.ws_init_timeout_seconds),
            allowed_origins=settings.ws_origins or settings.cors_origins,
        )
        self.settings = settings
        trusted = load_trusted() if settings.trusted_documents else None
        self.partners = load_partners(
            partners_file=settings.partners_file,
            documents_dir=settings.partner_documents_dir,
            default_documents=trusted.keys() if trusted is not None else None,
            meter=meter,
        )
        planner = UnsharedForPartners(
            self.partners, max_tokens=settings.max_tokens, max_length=settings.max_query_length
        )
        self.fanout = FanOut(schema, context_for=self._context_for, planner=planner) if settings.fanout else None
        self.tokens = TokenReader(jwt_config(settings))
        self.persisted = PersistedQueries(
            enabled=settings.persisted_queries,
            max_bytes=settings.persisted_query_cache_bytes,
            trusted=trusted,
            registered=self.partners.documents,
        )
        self._db = db
        self._hub = hub
        self._odds = odds
        self._limits = Limits(
            max_page_size=settings.max_page_size,
            max_race_ids=settings.max_race_ids,
            require_auth=settings.require_auth,
            require_token_sources=settings.token_sources_required,
        )
        self._mutations = KeyedBuckets(settings.mutations_per_second, settings.mutation_burst)
        self._connections = ConnectionCounter(settings.max_connections_per_client)
        self.streams = StreamGuard(
            self._connections,
            allowed_origins=self.allowed_origins,
            leeway=settings.jwt_leeway_seconds,
            encode=self.encode_json_string,
        )
        self.open_connections = 0
        self.live = LiveEndpoint(
            LiveSettings(
                schema=schema,
                fanout=self.fanout,
                persisted=self.persisted,
                deadlines=Deadlines(
                    tick_for(
                        settings.ws_init_timeout_seconds,
                        settings.ws_ping_interval_seconds,
                        settings.ws_pong_timeout_seconds,
                        MIN_HEARTBEAT_MS / 1000,
                    )
                ),
                connect=self.accept_connection,
                init_timeout=settings.ws_init_timeout_seconds,
                ping_interval=settings.ws_ping_interval_seconds,
                pong_timeout=settings.ws_pong_timeout_seconds,
                send_buffer=settings.ws_send_buffer_bytes,
                max_operations=settings.max_subscriptions_per_connection,
                messages_per_second=settings.ws_messages_per_second,
                message_burst=settings.ws_message_burst,
                jwt_leeway=settings.jwt_leeway_seconds,
            ),
            subprotocols=self.websocket_subprotocols,
            origin_allowed=self.streams.origin_allowed,
            context_for=lambda websocket: self.get_context(websocket, websocket),
            legacy=self._legacy_protocol if settings.ws_legacy_protocol else None,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            request = Request(scope, receive=receive)
            try:
                response = await self.run(request)
            except HTTPException as error:
                response = error_response(error, response_type(request.headers.get("accept", "")))
            await response(scope, receive, send)
            return
        if scope["type"] != "websocket":
            await super().__call__(scope, receive, send)
            return
        address = (scope.get("client") or ("unknown", 0))[0]
        if not self._connections.acquire(address):
            await refuse(scope, receive, send, code=4429, reason="Too many connections from this address")
            return
        self.open_connections += 1
        try:
            await self.live(scope, receive, send)
        finally:
            self.open_connections -= 1
            self._connections.release(address)

    async def _legacy_protocol(self, scope: Scope, receive: Receive, send: Send) -> None:
        websocket = WebSocket(scope, receive=receive, send=send)
        scope[LEGACY_KEY] = True  # so get_context keeps the socket, to close it at the token's expiry
        try:
            await self.run(websocket)  # Strawberry's own graphql-ws handler
        finally:
            context = scope.get(CONTEXT_KEY)
            if isinstance(context, ConnectionContext) and context.expiry is not None:
                context.expiry.cancel()

    def _context_for(self, viewer: Viewer) -> Context:
        return Context(db=self._db, hub=self._hub, odds=self._odds, limits=self._limits, viewer=viewer)

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
        context = ConnectionContext(
            db=self._db, hub=self._hub, odds=self._odds, limits=self._limits, rate_limit=self._mutations.take
        )
        if isinstance(request, WebSocket) and request.scope.get(LEGACY_KEY):
            context.legacy_websocket = request
            request.scope[CONTEXT_KEY] = context
        await self._authenticate(context, request.headers.get("authorization"))
        return context

    async def accept_connection(self, context: Context) -> bool:
        """Whether a WebSocket may go on, from its `connection_init` payload (a token there
        replaces the handshake's); the live connection closes at the token's expiry."""
        params = context.connection_params or {}
        header = params.get("Authorization", params.get("authorization"))
        if header is None:
            header = _token_header(params.get("token"))
        if header is not None and not isinstance(header, str):
            return False
        if header:
            await self._authenticate(context, header)
        return context.auth_error is None and not (self.settings.require_auth and not context.viewer.authenticated)

    async def on_ws_connect(self, context: Context) -> dict[str, object] | None:
        """The legacy protocol's hook (Strawberry's handler calls it)."""
        if not await self.accept_connection(context):
            raise ConnectionRejectionError()
        if (
            isinstance(context, ConnectionContext)
            and context.expires_at is not None
            and context.legacy_websocket is not None
        ):
            websocket = context.legacy_websocket
            delay = max(0.0, context.expires_at + self.settings.jwt_leeway_seconds - time.time())
            context.expiry = asyncio.get_running_loop().call_later(
                delay, lambda: asyncio.ensure_future(_close_expired(websocket))
            )
        return None

    async def execute_operation(
        self,
        request: Request,
        request_adapter: Any,
        request_data: Any,
        context: Context,
        root_value: None,
        sub_response: Response,
    ) -> ExecutionResult | list[ExecutionResult] | SubscriptionExecutionResult:
        if isinstance(request_data, GraphQLRequestData) and request_data.protocol != "http":
            # A stream's operation does not pass through execute_single, which resolves the others.
            request.scope[CONTEXT_KEY] = context  # for its guard: when the token expires
            try:
                query = self.persisted.resolve(request_data.query, request_data.extensions)
            except GraphQLError as error:
                # strawberry's protocol has a coroutine __anext__; an async generator's returns an awaitable.
                return cast(SubscriptionExecutionResult, refused_operation(error))
            request_data = dataclasses.replace(request_data, query=query)
        return await super().execute_operation(
            request, request_adapter, request_data, context, root_value, sub_response
        )

    # strawberry's signature is shared with WebSockets' handlers; a stream's request is always an HTTP
    # Request, and its stream strawberry's own async generator (closed with aclose when cut short).
    async def create_streaming_response(  # type: ignore[override]
        self,
        request: Request,
        stream: Callable[[], AsyncGenerator[str, None]],
        sub_response: Response,
        headers: Mapping[str, str],
    ) -> Response:
        if not self.streams.origin_allowed(request.headers):
            refusal = RequestError(403, "streams from this origin are not allowed (see WS_ORIGINS)", code="FORBIDDEN")
            return error_response(refusal, "application/json")
        context = request.scope.get(CONTEXT_KEY)
        return self.streams.response(
            stream,
            headers={**sub_response.headers, **headers},
            status_code=sub_response.status_code or 200,
            expires_at=context.expires_at if isinstance(context, ConnectionContext) else None,
        )

    async def execute_single(
        self,
        request: Request,
        request_adapter: Any,
        sub_response: Response,
        context: Context,
        root_value: None,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        try:
            query = self.persisted.resolve(request_data.query, request_data.extensions)
        except GraphQLError as error:
            result = ExecutionResult(data=None, errors=[error])
        else:
            try:
                result = await super().execute_single(
                    request,
                    request_adapter,
                    sub_response,
                    context,
                    root_value,
                    dataclasses.replace(request_data, query=query),
                )
            except HTTPException as error:
                if isinstance(error.__cause__, InvalidOperationTypeError) and request.method == "GET":
                    raise RequestError(405, error.reason, headers={"allow": "POST"}) from error
                raise
        if unavailable(result.errors):  # retryable: say so to clients, proxies and load balancers
            sub_response.status_code = 503
            sub_response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        elif (
            sub_response.media_type == GRAPHQL_RESPONSE_JSON
            and sub_response.status_code is None
            and is_request_error(result)
        ):
            sub_response.status_code = request_error_status(result.errors or [])
        return result

    async def get_sub_response(self, request: Request | WebSocket) -> Response:
        sub_response = await super().get_sub_response(request)
        sub_response.media_type = response_type(request.headers.get("accept", ""))
        return sub_response

    def create_response(
        self, response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse], sub_response: Response
    ) -> Response:
        response = Response(
            self.encode_json(response_data),
            status_code=sub_response.status_code or 200,
            media_type=sub_response.media_type or "application/json",
        )
        response.headers.raw.extend(sub_response.headers.raw)
        response.background = sub_response.background
        return response

    async def process_result(self, request: Request, result: ExecutionResult) -> GraphQLHTTPResponse:
        processed = process_result(result)
        if is_request_error(result) and response_type(request.headers.get("accept", "")) == GRAPHQL_RESPONSE_JSON:
            processed.pop("data", None)  # the spec: no `data` entry when execution never began
        return processed

    async def parse_http_body(self, request: Any) -> GraphQLRequestData | list[GraphQLRequestData]:
        if request.method == "POST":
            content_type, _ = parse_content_type(request.content_type or "")
            if "application/json" not in content_type:  # as Strawberry reads it, which answered a bare 400
                raise RequestError(415, "a POST body must be application/json")
        return await super().parse_http_body(request)

    def encode_json(self, data: object) -> str:
        return orjson.dumps(data).decode()  # str: graphql-transport-ws frames must be text

    def decode_json(self, data: str | bytes) -> object:
        return orjson.loads(data)

    def parse_json(self, data: str | bytes) -> Any:
        # A request body, and `variables` and `extensions` in a GET, must be JSON objects; Strawberry
        # would take `42` or `null` for a body and fail on it with a 500.
        parsed = super().parse_json(data)
        if not isinstance(parsed, dict | list):
            raise RequestError(400, "the request must be a JSON object")
        return parsed

    def should_render_graphql_ide(self, request: Any) -> bool:
        # A GET carrying only a persisted query's hash is an operation, not a visit to GraphiQL.
        return "extensions" not in request.query_params and super().should_render_graphql_ide(request)

    async def _authenticate(self, context: Context, header: str | None) -> None:
        try:
            if header and self.tokens.fetches_keys:  # fetching a JWKS must not stall the event loop
                token = await asyncio.to_thread(self.tokens.from_header, header)
            else:
                token = self.tokens.from_header(header)
        except InvalidToken as error:
            context.auth_error = str(error)
            context.client = self.partners.quota_for(context.viewer)
            return
        context.auth_error = None
        if token is not None:
            context.viewer = token.viewer
            if isinstance(context, ConnectionContext):
                context.expires_at = token.expires_at
        context.client = self.partners.quota_for(context.viewer)  # its limits and its meter


def _token_header(token: object) -> object:
    """A `token` connection parameter as an Authorization header. Apollo Router's subscription
    passthrough sends the client's whole Authorization header there (`{"token": "Bearer …"}`);
    graphql-ws clients usually send the bare token."""
    if not token:
        return None
    if isinstance(token, str) and token[:7].lower() == "bearer ":
        return token
    return f"Bearer {token}" if isinstance(token, str) else token
