"""A streaming HTTP client for the hostile suite: one operation per request, read as events, in
graphql-sse's distinct-connections mode (`text/event-stream`) or Apollo's multipart subscriptions."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx

ACCEPT = {
    "sse": "text/event-stream",
    "multipart": 'multipart/mixed;boundary="graphql";subscriptionSpec=1.0,application/json',  # as Apollo sends it
}
BOUNDARY = "\r\n--graphql"
Event = tuple[str, Any]  # ("next", payload), ("complete", None), ("end", None): the body ended without complete


class Stream:
    def __init__(self, client: httpx.AsyncClient, response: httpx.Response, kind: str) -> None:
        self.client = client
        self.response = response
        self.kind = kind
        self._text: AsyncIterator[str] = response.aiter_text()
        self._buffer = ""
        self._events: list[Event] = []
        self._ended = False

    @classmethod
    async def open(
        cls,
        base_url: str,
        kind: str,
        query: str | None,  # None: a persisted query sent by its hash alone
        variables: dict[str, Any] | None = None,
        *,
        headers: dict[str, str] | None = None,
        extensions: dict[str, Any] | None = None,
    ) -> Stream:
        client = httpx.AsyncClient(base_url=base_url, timeout=30)
        body: dict[str, Any] = {"query": query, "variables": variables or {}}
        if extensions is not None:
            body["extensions"] = extensions
        request = client.build_request(
            "POST", "/graphql", json=body, headers={"accept": ACCEPT[kind], **(headers or {})}
        )
        return cls(client, await client.send(request, stream=True), kind)

    async def event(self, timeout: float = 10) -> Event:
        """The next event, heartbeats skipped."""
        while not self._events:
            if self._ended:
                return ("end", None)
            try:
                chunk = await asyncio.wait_for(anext(self._text), timeout)
            except StopAsyncIteration:
                self._ended = True
                continue
            self._buffer += chunk
            self._events.extend(self._parse_sse() if self.kind == "sse" else self._parse_multipart())
        return self._events.pop(0)

    async def close(self) -> None:
        await self.response.aclose()
        await self.client.aclose()

    def _parse_sse(self) -> list[Event]:
        events = []
        while "\r\n\r\n" in self._buffer:
            block, self._buffer = self._buffer.split("\r\n\r\n", 1)
            fields = dict(line.split(": ", 1) for line in block.split("\r\n") if not line.startswith(":"))
            if "event" in fields:
                data = fields.get("data")
                events.append((fields["event"], json.loads(data) if data else None))
        return events

    def _parse_multipart(self) -> list[Event]:
        events: list[Event] = []
        while BOUNDARY in self._buffer:
            part, self._buffer = self._buffer.split(BOUNDARY, 1)
            _, _, body = part.partition("\r\n\r\n")
            message = json.loads(body) if body.strip() else {}
            if message:  # {} is a heartbeat
                events.append(("next", message.get("payload")) if "payload" in message else ("error", message))
        if self._buffer.startswith("--"):
            events.append(("complete", None))
            self._buffer = ""
        return events


def error_codes(payload: dict[str, Any]) -> list[str]:
    return [error["extensions"]["code"] for error in payload.get("errors") or []]
