"""Request bodies and query strings bounded before the application holds them: a declared
Content-Length over the limit is refused unread, and a body sent without one (chunked) is cut
off once it passes the limit, not read whole. Refused with 413 (414 for a query string) and a
GraphQL error body; the connection is closed, so the rest of such a body is never read either."""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.http_errors import RequestError, error_response
from server.negotiation import response_type


class BodyTooLarge(Exception):
    pass


class BodyLimit:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int, max_query_string_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_query_string_bytes = max_query_string_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        if len(scope.get("query_string", b"")) > self.max_query_string_bytes:
            message = f"the query string is over {self.max_query_string_bytes} bytes"
            await self._refuse(414, message, headers, scope, receive, send)
            return
        declared = headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            await self._refuse(413, self._too_large, headers, scope, receive, send)
            return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise BodyTooLarge
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, watched_send)
        except BodyTooLarge:
            if started:
                raise
            await self._refuse(413, self._too_large, headers, scope, receive, send)

    @property
    def _too_large(self) -> str:
        return f"the request body is over {self.max_body_bytes} bytes"

    async def _refuse(
        self, status: int, message: str, headers: Headers, scope: Scope, receive: Receive, send: Send
    ) -> None:
        error = RequestError(status, message, headers={"connection": "close"})
        await error_response(error, response_type(headers.get("accept", "")))(scope, receive, send)
