"""What the stream guard takes from Strawberry and uvicorn, checked so that an upgrade that moves
it fails here, by name, rather than letting streams quietly outlive tokens or shutdowns."""

from __future__ import annotations

import asyncio
import inspect
import socket

import httpx
import uvicorn
from starlette.types import Receive, Scope, Send
from strawberry.http import GraphQLRequestData
from strawberry.http.async_base_view import AsyncBaseHTTPView
from strawberry.http.streaming import MultipartSubscriptionTransport, SSETransport

from server.http_protocol import RacewireHttpProtocol, shutdown_of
from server.streams_guard import End


def test_strawberry_still_offers_the_hooks_the_view_overrides() -> None:
    # create_streaming_response gets every stream, execute_operation every stream's operation.
    assert list(inspect.signature(AsyncBaseHTTPView.create_streaming_response).parameters) == [
        "self",
        "request",
        "stream",
        "sub_response",
        "headers",
    ]
    assert list(inspect.signature(AsyncBaseHTTPView.execute_operation).parameters) == [
        "self",
        "request",
        "request_adapter",
        "request_data",
        "context",
        "root_value",
        "sub_response",
    ]
    assert {"protocol"} <= set(inspect.signature(GraphQLRequestData).parameters)


def test_the_transports_are_told_apart_by_content_type_and_encode_the_final_result() -> None:
    sse, multipart = SSETransport(), MultipartSubscriptionTransport()
    assert sse.headers["Content-Type"] == "text/event-stream"
    assert multipart.headers["Content-Type"].startswith("multipart/mixed;boundary=graphql;subscriptionSpec=1.0")
    assert sse.encode_next({"errors": []}, lambda data: "{}") == "event: next\r\ndata: {}\r\n\r\n"
    assert sse.encode_complete() == "event: complete\r\ndata: \r\n\r\n"
    assert '{"payload":' in multipart.encode_next({"errors": []}, lambda data: '{"payload":{"errors":[]}}')
    assert multipart.encode_complete() == "\r\n--graphql--\r\n"
    assert End.EXPIRED.result["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_the_http_protocol_tells_a_running_response_that_the_server_shuts_down() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        stopping = shutdown_of(scope)
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"streaming\n", "more_body": True})
        if stopping is None:
            await send({"type": "http.response.body", "body": b"no shutdown event\n"})
            return
        await stopping.wait()
        await send({"type": "http.response.body", "body": b"shutting down\n"})

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            http=RacewireHttpProtocol,
            log_level="warning",
            lifespan="off",
            timeout_graceful_shutdown=60,
        )
    )
    serving = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    async with httpx.AsyncClient() as client, client.stream("GET", f"http://127.0.0.1:{port}/") as response:
        lines = response.aiter_lines()
        assert await anext(lines) == "streaming"
        server.should_exit = True
        assert await asyncio.wait_for(anext(lines), 30) == "shutting down"
    await asyncio.wait_for(serving, 30)
