"""Logging: text or one JSON object per line, each record tagged with its request and subscription ids."""

from __future__ import annotations

import json
import logging
import os
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

request_id: ContextVar[str] = ContextVar("request_id", default="-")
subscription_id: ContextVar[str] = ContextVar("subscription_id", default="-")

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [req=%(request_id)s sub=%(subscription_id)s] %(message)s"


class ContextIds(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        record.subscription_id = subscription_id.get()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
            "subscription_id": getattr(record, "subscription_id", "-"),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def logging_config(log_format: str, *, access_log: bool = False) -> dict[str, Any]:
    """A `logging.config.dictConfig` for uvicorn's `log_config`: every logger, one handler.
    Without the access log, neither HTTP requests nor WebSocket handshakes get a line each: at
    thousands a second they cost more than they tell (a proxy in front logs them anyway)."""
    if log_format not in {"text", "json"}:
        raise ValueError(f"RACEWIRE_LOG_FORMAT must be 'text' or 'json', not {log_format!r}")
    formatter = {"()": JsonFormatter} if log_format == "json" else {"format": TEXT_FORMAT}
    loggers: dict[str, Any] = {
        name: {"handlers": [], "propagate": True} for name in ("uvicorn", "uvicorn.error", "uvicorn.access")
    }
    # The WebSocket protocol's logger (server.live.uvicorn_fast_path): its one INFO line is the handshake's.
    loggers["racewire.websocket"] = {"level": "INFO" if access_log else "WARNING"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"ids": {"()": ContextIds}},
        "formatters": {"default": formatter},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "default",
                "filters": ["ids"],
            }
        },
        "root": {"handlers": ["stderr"], "level": "INFO"},
        "loggers": loggers,
    }


def tag_request(scope: Scope) -> str:
    """Sets the request id for this request's logs: the client's `X-Request-ID`, or a new one."""
    given = next((value for name, value in scope["headers"] if name == b"x-request-id"), b"").decode("latin-1")[:64]
    rid = given or os.urandom(8).hex()  # uuid4().hex[:16] costs ~3x: Python's UUID class
    request_id.set(rid)
    return rid


class RequestIds:
    """ASGI middleware: each HTTP request and WebSocket connection gets an id (the client's
    `X-Request-ID` when it sends one), set for its logs and echoed on HTTP responses."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in {"http", "websocket"}:
            await self.app(scope, receive, send)
            return
        rid = tag_request(scope)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"x-request-id", rid.encode("latin-1"))]
            await send(message)

        await self.app(scope, receive, send_with_id if scope["type"] == "http" else send)
