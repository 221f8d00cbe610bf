"""Publishing committed events. The log is the truth: a failed publish delays, never loses."""

from __future__ import annotations

import logging

from events.envelope import Envelope
from pubsub.hub import Hub

log = logging.getLogger(__name__)


async def publish_committed(hub: Hub, event: Envelope | None) -> None:
    if event is None:
        return
    try:
        await hub.publish(event)
    except Exception:
        # Subscribers fill seq gaps from the log, so the next event on the stream repairs it.
        log.exception("publish of %s #%d failed", event.stream, event.seq)
