"""Messages the hub refused, reported without letting whoever sends them flood the log."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from pubsub.telemetry import Telemetry

log = logging.getLogger("pubsub.hub")


class Rejections:
    """Counts every refusal in the telemetry; logs the first, then at most one line per
    `interval` seconds saying how many more there were."""

    def __init__(
        self, telemetry: Telemetry, *, interval: float = 10.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._telemetry = telemetry
        self._interval = interval
        self._clock = clock
        self._next_log = float("-inf")
        self._unlogged = 0

    def refused(self, channel: str, reason: str) -> None:
        self._telemetry.refused(reason)
        now = self._clock()
        if now < self._next_log:
            self._unlogged += 1
            return
        more = f" ({self._unlogged} more refused since the last report)" if self._unlogged else ""
        log.warning("refused a message on broadcaster channel %.100r: %s%s", channel, reason, more)
        self._unlogged = 0
        self._next_log = now + self._interval
