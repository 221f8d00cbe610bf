"""One graphql-transport-ws connection, the whole protocol (its 8 message types): state, deadlines
(connection_init, ping/pong, token expiry), the message rate, persisted queries, the limit of
operations, logs tagged with subscription ids, and the outbox every frame leaves by.

Shareable subscriptions are served by the fan-out (a member, no task of its own); every other
operation runs here on Strawberry's public `schema.stream`, which runs queries and mutations as
well as subscriptions. Close codes and reasons are those of docs/limits.md."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

import orjson
from graphql import GraphQLError, GraphQLSyntaxError
from starlette.websockets import WebSocket
from strawberry import Schema
from strawberry.schema.exceptions import CannotGetOperationTypeError
from strawberry.types.execution import ExecutionResult, PreExecutionError

from schema.context import Context
from schema.stream_tap import StreamTap
from server.live import messages
from server.live.deadlines import Deadlines
from server.live.fanout import FanOut, Member, encode, next_frame
from server.live.heartbeat import REFUSAL, ack_payload, chosen_interval
from server.live.outbox import Outbox
from server.logs import request_id, subscription_id
from server.persisted import PersistedQueries
from server.rate_limits import TokenBucket

log = logging.getLogger(__name__)

Waiting = Literal["init", "ping", "pong"]
INCREMENTAL = "Incremental delivery is not supported over graphql-transport-ws"


@dataclass(frozen=True)
class LiveSettings:
    """What every connection of a server has alike."""

    schema: Schema
    fanout: FanOut | None
    persisted: PersistedQueries
    deadlines: Deadlines
    # Takes connection_init's payload (already in the context): whether the connection may go on.
    connect: Callable[[Context], Awaitable[bool]]
    init_timeout: float
    ping_interval: float
    pong_timeout: float
    send_buffer: int
    max_operations: int | None
    messages_per_second: float
    message_burst: int
    jwt_leeway: float


class LiveConnection:
    # Slots: thousands of idle connections each hold only these.
    __slots__ = (
        "_acknowledged",
        "_bucket",
        "_closed",
        "_closing",
        "_expiry",
        "_heard",
        "_init_received",
        "_interval",
        "_pinged_at",
        "_request_id",
        "_slot",
        "_timed_out",
        "_waiting",
        "_websocket",
        "context",
        "live",
        "operations",
        "outbox",
    )

    def __init__(self, live: LiveSettings, websocket: WebSocket, context: Context) -> None:
        self.live = live
        self.context = context
        self._websocket = websocket
        self.outbox = Outbox(websocket, limit=live.send_buffer)
        self.operations: dict[str, asyncio.Future[Any]] = {}
        self._bucket = TokenBucket(live.messages_per_second, live.message_burst)
        self._init_received = self._acknowledged = self._timed_out = False
        self._interval = live.ping_interval
        self._waiting: Waiting | None = None  # what the deadline in `_slot` is for
        self._slot: int | None = None
        self._pinged_at = 0.0
        self._heard = False
        self._closed = False
        self._closing: asyncio.Task[None] | None = None
        self._expiry: asyncio.TimerHandle | None = None
        self._request_id = request_id.get()  # to tag the logs of a close a deadline makes

    async def run(self) -> None:
        """Reads the client's messages until it goes, then ends every operation."""
        self._wait("init", self.live.init_timeout)
        try:
            while not self._closed:
                event = await self._websocket.receive()
                if event["type"] == "websocket.disconnect":
                    break
                text = event.get("text")
                del event  # not kept while the connection idles until the next one
                if text is None:
                    await self.close(messages.INVALID_MESSAGE_CLOSE, "WebSocket message type must be text")
                    break
                try:
                    message = orjson.loads(text)
                except orjson.JSONDecodeError:
                    await self.close(messages.INVALID_MESSAGE_CLOSE, "WebSocket message must be valid JSON")
                    break
                del text
                if self._bucket.take() > 0:
                    await self.close(messages.TOO_MANY_CLOSE, "Too many messages")
                    break
                if (problem := messages.problem_with(message)) is not None:
                    await self.close(messages.INVALID_MESSAGE_CLOSE, problem)
                    break
                self._heard = True
                try:
                    await self._handle(message)
                except Exception:
                    log.exception("a graphql-transport-ws message failed")
                    await self.close(messages.INTERNAL_ERROR_CLOSE, "Internal server error")
                    break
                del message
        except Exception:  # the peer went away mid-receive
            log.debug("connection ended while reading", exc_info=True)
        finally:
            await self._shutdown()

    async def _handle(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        if kind == "connection_init":
            await self._connection_init(message)
        elif kind == "ping":
            self.outbox.push(messages.PONG, always=True)
        elif kind == "pong":
            pass  # heard: that is all a pong says
        elif kind == "subscribe":
            await self._subscribe(message)
        elif kind == "complete":
            operation = self.operations.pop(message["id"], None)
            if operation is not None:
                operation.cancel()
        else:
            await self.close(messages.INVALID_MESSAGE_CLOSE, f"Unknown message type: {kind}")

    async def _connection_init(self, message: dict[str, Any]) -> None:
        if self._timed_out:
            return
        if not self._init_received:
            self._stop_waiting()
        payload = message.get("payload", {})
        if not isinstance(payload, dict):
            await self.close(messages.INVALID_MESSAGE_CLOSE, "Invalid connection init payload")
            return
        if self._init_received:
            await self.close(messages.TOO_MANY_CLOSE, "Too many initialisation requests")
            return
        self._init_received = True
        interval = chosen_interval(payload, self.live.ping_interval)
        if interval is None:
            await self.close(messages.INVALID_MESSAGE_CLOSE, REFUSAL)
            return
        self._interval = interval
        self.context.connection_params = payload
        if not await self.live.connect(self.context):
            await self.close(messages.FORBIDDEN_CLOSE, "Forbidden")
            return
        self._send({"type": "connection_ack", "payload": ack_payload(interval)})
        self._acknowledged = True
        expires_at = getattr(self.context, "expires_at", None)
        if expires_at is not None:
            delay = max(0.0, expires_at + self.live.jwt_leeway - time.time())
            self._expiry = asyncio.get_running_loop().call_later(
                delay, self._close_soon, messages.FORBIDDEN_CLOSE, "Token expired"
            )
        if interval > 0 and self._waiting is None:
            self._wait("ping", interval)

    async def _subscribe(self, message: dict[str, Any]) -> None:
        if not self._acknowledged:
            await self.close(messages.UNAUTHORIZED_CLOSE, "Unauthorized")
            return
        operation_id: str = message["id"]
        payload: dict[str, Any] = message["payload"]
        try:
            query = self.live.persisted.resolve(payload.get("query"), payload.get("extensions"))
        except GraphQLError as error:
            self._send({"id": operation_id, "type": "error", "payload": [error.formatted]})
            return
        if operation_id in self.operations:
            await self.close(messages.DUPLICATE_ID_CLOSE, f"Subscriber for {operation_id} already exists")
            return
        limit = self.live.max_operations
        if limit is not None and len(self.operations) >= limit:
            refused = GraphQLError("Subscription limit reached")
            self._send({"id": operation_id, "type": "error", "payload": [refused.formatted]})
            return
        variables, operation_name = payload.get("variables"), payload.get("operationName")
        subscription_id.set(f"{self._request_id}/{operation_id}")  # copied by the operation's task
        try:
            fanout = self.live.fanout
            plan = (
                fanout.planner.plan(query, variables, operation_name, self.context.viewer)
                if fanout is not None and query is not None
                else None
            )
            if fanout is not None and plan is not None:
                # No task per subscription: the member's `done` stands for it (cancelled to unsubscribe).
                operation: asyncio.Future[Any] = fanout.join(
                    Member(operation_id, self.outbox, plan, self.context.viewer)
                )
            else:
                operation = asyncio.create_task(self._run(operation_id, query, variables, operation_name))
            self.operations[operation_id] = operation
            operation.add_done_callback(self._operation_done)
        finally:
            subscription_id.set("-")

    def _operation_done(self, operation: asyncio.Future[Any]) -> None:
        if not operation.cancelled():
            operation.exception()  # retrieved: a failure was logged where it happened
        for operation_id, running in self.operations.items():
            if running is operation:  # unless a new operation took its id since
                del self.operations[operation_id]
                return

    async def _run(self, operation_id: str, query: str | None, variables: Any, operation_name: Any) -> None:
        """An operation the fan-out does not serve: its own execution, frames sent as its reader
        takes them."""
        id_json = orjson.dumps(operation_id).decode()
        try:
            stream = await self.live.schema.stream(
                query,
                variable_values=variables,
                context_value=self.context,
                root_value=StreamTap(),
                operation_name=operation_name,
            )
            async with contextlib.aclosing(stream):
                first = True
                async for result in stream:
                    if first and isinstance(result, PreExecutionError):
                        assert result.errors
                        reason = _close_reason(result.errors[0])
                        if reason is not None:
                            self.operations.pop(operation_id, None)
                            await self.close(messages.INVALID_MESSAGE_CLOSE, reason)
                        else:
                            self._end(operation_id, [e.formatted for e in result.errors])
                        return
                    if not isinstance(result, ExecutionResult):
                        self._end(operation_id, [GraphQLError(INCREMENTAL).formatted])
                        return
                    first = False
                    await self.outbox.room()
                    self.outbox.push(next_frame(id_json, encode(result)))
            self._end(operation_id)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("Exception in worker task")
            self._end(operation_id)

    def _end(self, operation_id: str, errors: list[Any] | None = None) -> None:
        """The operation's last message, its id free for reuse before the client reads it."""
        if self.operations.get(operation_id) is not asyncio.current_task():
            return  # completed by the client, or its id taken by a new operation
        del self.operations[operation_id]
        if errors:
            self._send({"id": operation_id, "type": "error", "payload": errors})
        else:
            self._send({"id": operation_id, "type": "complete"})

    def _send(self, message: dict[str, Any]) -> None:
        self.outbox.push(orjson.dumps(message).decode(), always=True)

    # Deadlines: one at a time, in the server's Deadlines.

    def deadline_passed(self) -> None:
        waiting, self._waiting, self._slot = self._waiting, None, None
        if waiting == "init":
            if not self._init_received:
                self._timed_out = True
                self._close_soon(messages.INIT_TIMEOUT_CLOSE, "Connection initialisation timeout")
        elif waiting == "ping":
            self._heard = False
            self.outbox.push(messages.PING, always=True)
            self._pinged_at = asyncio.get_running_loop().time()
            self._wait("pong", self.live.pong_timeout)
        elif waiting == "pong":
            if not self._heard:
                self._close_soon(messages.PONG_TIMEOUT_CLOSE, "Pong timeout")
                return
            since = asyncio.get_running_loop().time() - self._pinged_at
            self._wait("ping", max(0.0, self._interval - since))

    def _wait(self, waiting: Waiting, delay: float) -> None:
        self._waiting = waiting
        self._slot = self.live.deadlines.add(self, delay)

    def _stop_waiting(self) -> None:
        if self._slot is not None:
            self.live.deadlines.discard(self, self._slot)
        self._waiting = self._slot = None

    # Closing.

    def _close_soon(self, code: int, reason: str) -> None:
        if self._closing is None and not self._closed:
            context = contextvars.copy_context()
            context.run(request_id.set, self._request_id)
            self._closing = asyncio.create_task(self.close(code, reason), context=context)

    async def close(self, code: int, reason: str) -> None:
        """Closes once, after the frames already queued."""
        if self._closed:
            return
        self._closed = True
        await self.outbox.drain()
        with contextlib.suppress(Exception):  # already closed by the peer
            await self._websocket.close(code=code, reason=reason)

    async def _shutdown(self) -> None:
        self._stop_waiting()
        if self._expiry is not None:
            self._expiry.cancel()
        operations = list(self.operations.values())
        self.operations.clear()
        for operation in operations:
            operation.cancel()
        for operation in operations:  # let each run its finally blocks before the connection goes
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await operation
        await self.outbox.close()
        if self._closing is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._closing


def _close_reason(error: GraphQLError) -> str | None:
    """Errors before execution that close the connection (as graphql-ws servers do), not just the operation."""
    if isinstance(error, GraphQLSyntaxError):
        return error.message
    if isinstance(error.original_error, CannotGetOperationTypeError):
        return error.original_error.as_http_error_reason()
    return None
