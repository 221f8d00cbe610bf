"""What the live path reports as it works, for whoever measures it. The default reports nowhere;
the process edge (server/metrics.py) puts a real one on the hub, which every layer can reach."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime


class Telemetry:
    """A no-op base: each method is one thing that happened."""

    def published(self, stream: str) -> None:
        """An event was handed to the broadcaster."""

    def listening(self, field: str, delta: int) -> None:
        """A subscription of this field started (+1) or ended (-1) listening."""

    def sent(self, field: str, stored_at: datetime | None, copies: int = 1) -> None:
        """An update went to `copies` subscribers; `stored_at` is when its event was committed."""

    def conflated(self, stream: str) -> None:
        """A lagging subscriber was caught up with one merged update."""

    def dropped(self, count: int) -> None:
        """Buffered events were dropped for a lagging subscriber (it catches up from the log)."""

    def refused(self, reason: str) -> None:
        """A message on the broadcaster was not passed on: unsealed, a bad MAC, invalid, for
        another stream, or a seq the log does not hold."""

    def broadcaster_reconnected(self) -> None:
        """The broadcaster's connection came back."""

    @contextmanager
    def mutation(self, name: str) -> Iterator[None]:
        """Times one mutation; an exception leaving it counts as an error."""
        yield


NO_TELEMETRY = Telemetry()
