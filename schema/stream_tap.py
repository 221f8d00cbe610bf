"""What a subscription's caller and its resolver tell each other about one execution's stream,
handed to the resolver as the execution's root value (Strawberry's public `root_value`): not
the request's Context, which describes who asks, and is shared by a connection's operations."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pubsub.hub import Hub


@dataclass(slots=True)
class StreamTap:
    # Told to the resolver: where to resume when the operation gives no `after` (the fan-out's
    # member that fell behind its group), and whether its caller counts deliveries itself
    # (a shared execution: it alone knows how many copies it made).
    resume_cursor: str | None = None
    counted_by_caller: bool = False
    # Told by the resolver: the cursor of the event it yielded last, when that event was stored
    # (None for one replayed from the log), and, set once, that it listens.
    cursor: str | None = None
    stored_at: datetime | None = None
    _listening: asyncio.Event | None = field(default=None, repr=False)

    @property
    def listening(self) -> asyncio.Event:
        """Made on first use: few executions are waited on."""
        if self._listening is None:
            self._listening = asyncio.Event()
        return self._listening

    def passed(self, hub: Hub, field_name: str, cursor: str, stored_at: datetime | None) -> None:
        """Records the event the resolver yields next, and counts it unless the caller does."""
        self.cursor = cursor
        self.stored_at = stored_at
        if not self.counted_by_caller:
            hub.telemetry.sent(field_name, stored_at)


def tap_of(root: Any) -> StreamTap:
    """The execution's tap, or a fresh one nobody reads (over HTTP streams the root is None)."""
    return root if isinstance(root, StreamTap) else StreamTap()
