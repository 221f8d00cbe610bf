"""The live connection on its own, under a real uvicorn in the test's loop: a failure of the
server's own while handling a message is logged and closes that connection with 1011, and the
server goes on serving the next one."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from in_process import serving
from schema.context import Context
from schema.schema import schema
from server.live.connection import LiveSettings
from server.live.deadlines import Deadlines
from server.live.endpoint import LiveEndpoint
from server.persisted import PersistedQueries


async def test_a_failure_handling_a_message_closes_only_that_connection_with_1011(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls: list[int] = []

    async def connect_once_failing(context: Context) -> bool:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("the auth backend broke")
        return True

    async def context_for(websocket: Any) -> Context:
        return Context(db=None, hub=None, odds=None)  # type: ignore[arg-type]  # nothing here reads them

    live = LiveSettings(
        schema=schema,
        fanout=None,
        persisted=PersistedQueries(enabled=False),
        deadlines=Deadlines(0.25),
        connect=connect_once_failing,
        init_timeout=10,
        ping_interval=0,
        pong_timeout=10,
        send_buffer=1 << 16,
        max_operations=10,
        messages_per_second=100,
        message_burst=100,
        jwt_leeway=0,
    )
    app = LiveEndpoint(
        live,
        subprotocols=["graphql-transport-ws"],
        origin_allowed=lambda headers: True,
        context_for=context_for,
        legacy=None,
    )
    init = json.dumps({"type": "connection_init", "payload": {}})
    with caplog.at_level(logging.ERROR, logger="server.live.connection"):
        async with serving(app, deflate=False) as port:
            url = f"ws://127.0.0.1:{port}/graphql"
            async with connect(url, subprotocols=["graphql-transport-ws"]) as failing:
                await failing.send(init)
                with pytest.raises(ConnectionClosed) as closed:
                    await asyncio.wait_for(failing.recv(), 10)
            async with connect(url, subprotocols=["graphql-transport-ws"]) as next_one:
                await next_one.send(init)
                ack = json.loads(await asyncio.wait_for(next_one.recv(), 10))

    assert closed.value.rcvd is not None
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (1011, "Internal server error")
    assert ack == {"type": "connection_ack", "payload": {"heartbeatMs": 0}}
    failures = [r for r in caplog.records if r.name == "server.live.connection"]
    assert len(failures) == 1 and failures[0].exc_info is not None
    assert "the auth backend broke" in str(failures[0].exc_info[1])
