"""The client's choice of heartbeat: `connection_init` may carry `{"heartbeatMs": N}`, the
interval at which it wants the server's pings (as Betfair's stream lets a subscriber choose).
Bounded: a phone on a train may ask for a slow beat, a trading screen for a fast one; nothing
outside the bounds is guessed at, the connection is refused (close 4400) with the bounds in the
reason. Without it, the server's `WS_PING_INTERVAL_SECONDS` holds. The ack says which holds."""

from __future__ import annotations

from typing import Any

HEARTBEAT_KEY = "heartbeatMs"
MIN_HEARTBEAT_MS = 1_000
MAX_HEARTBEAT_MS = 120_000
REFUSAL = f"`{HEARTBEAT_KEY}` must be an integer from {MIN_HEARTBEAT_MS} to {MAX_HEARTBEAT_MS}"


def chosen_interval(payload: dict[str, Any], default_seconds: float) -> float | None:
    """The ping interval in seconds the connection gets (0: no pings), or None when the asked one
    is refused."""
    if HEARTBEAT_KEY not in payload:
        return default_seconds
    asked = payload[HEARTBEAT_KEY]
    if isinstance(asked, bool) or not isinstance(asked, int) or not MIN_HEARTBEAT_MS <= asked <= MAX_HEARTBEAT_MS:
        return None
    return asked / 1000


def ack_payload(interval_seconds: float) -> dict[str, int]:
    return {HEARTBEAT_KEY: round(interval_seconds * 1000)}
