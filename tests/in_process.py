"""An ASGI app served by a real uvicorn on Racewire's WebSocket protocol, inside the test's loop."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from typing import Any

import uvicorn

from server.live.uvicorn_fast_path import RacewireWebSocketProtocol


@contextlib.asynccontextmanager
async def serving(app: Any, *, deflate: bool) -> AsyncIterator[int]:
    """Yields the port once uvicorn listens; stops it on leaving."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        ws=RacewireWebSocketProtocol,
        ws_per_message_deflate=deflate,
        log_level="warning",
        lifespan="off",
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)  # uvicorn sets `started` and offers nothing to wait on
    try:
        yield port
    finally:
        server.should_exit = True
        await task
