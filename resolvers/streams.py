"""Following stored event streams live: subscribe first, replay from the log after the
client's position, then pass live events on in seq order, with no gap and no duplicate."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence

from events.envelope import Envelope
from events.payloads import SnapshotMark
from pubsub.hub import Hub
from resolvers.cursors import decode_positions, encode_positions
from resolvers.errors import SubscriberTooSlow
from storage import events
from storage.database import Database

SNAPSHOT = "snapshot"
_PAGE = 100  # events read from the log at a time, bounding a catch-up's memory

Conflate = Callable[[Sequence[Envelope]], Envelope]


class StreamFollower:
    """`positions` holds the last seq passed on per stream: what a resume cursor encodes.

    A stream given a start position is replayed from there; one without starts at its head,
    or with a snapshot marker when `snapshot` is set. A start position older than the log
    still holds also gets a snapshot marker (kind "snapshot", seq = the stream's head), so the
    reader rebuilds current state instead of silently skipping what was pruned.

    A reader that falls more than the hub's buffer behind is caught up from the log: with
    `conflate`, in one merged event per stream; without, the stream ends with
    SUBSCRIBER_TOO_SLOW and the cursor to resume from. `conflate_replay` catches a resumed
    reader up the same way, for one that is resumed because it fell behind.

    `field` names the subscription for telemetry. `on_caught_up` is called once the replay is
    over, before the first live event is awaited.

    `live` tells whether the event just passed on came straight from the hub (True) or from the
    log (a replay, catch-up or snapshot marker): only the former says how fast delivery is."""

    def __init__(
        self,
        *,
        db: Database,
        hub: Hub,
        field: str,
        streams: Sequence[str],
        start: Mapping[str, int] | None = None,
        snapshot: bool = False,
        conflate: Conflate | None = None,
        on_listening: Callable[[], None] | None = None,
        conflate_replay: bool = False,
        on_caught_up: Callable[[], None] | None = None,
        replay_in_time_order: bool = False,
    ) -> None:
        self._db = db
        self._hub = hub
        self._field = field
        self._streams = list(dict.fromkeys(streams))
        self._start = dict(start or {})
        self._snapshot = snapshot
        self._conflate = conflate
        self._on_listening = on_listening
        self._conflate_replay = conflate_replay and conflate is not None
        self._on_caught_up = on_caught_up
        self._in_time_order = replay_in_time_order
        self.positions: dict[str, int] = {}
        self.live = False

    async def __aiter__(self) -> AsyncIterator[Envelope]:
        async with self._hub.listen(self._streams, field=self._field) as listener:
            async with self._db.read() as session:
                heads = await events.heads(session, self._streams)
            if self._on_listening is not None:
                self._on_listening()
            for stream in self._streams:
                self.positions[stream] = heads[stream] if (start := self._start.get(stream)) is None else start
            # Every stream placed before the first marker: a snapshot's cursor resumes them all.
            for stream in self._streams if self._snapshot else ():
                if stream not in self._start:
                    yield self._mark_snapshot(stream, heads[stream])
            if self._conflate_replay:
                replay = self._recover()
            else:
                replay = self._replay_in_time_order() if self._in_time_order else self._replay()
            async for replayed in replay:
                yield replayed
            if self._on_caught_up is not None:
                self._on_caught_up()
            while True:
                event = await listener.get()
                if event is None:
                    listener.overflowed = False
                    self.live = False
                    async for caught_up in self._recover():
                        yield caught_up
                    continue
                position = self.positions.get(event.stream)
                if position is None or event.seq <= position:
                    continue
                if event.seq > position + 1:
                    self.live = False
                    async for missed in self._catch_up(event.stream, until=event.seq - 1):
                        yield missed
                    if event.seq <= self.positions[event.stream]:
                        continue
                self.positions[event.stream] = event.seq
                self.live = True
                yield event

    async def _replay(self) -> AsyncIterator[Envelope]:
        for stream in self._streams:
            if stream in self._start:
                async for event in self._catch_up(stream):
                    yield event

    async def _replay_in_time_order(self) -> AsyncIterator[Envelope]:
        """The replay of several streams merged by the time each event was stored, each stream's
        position moving only as its events are passed on."""
        order = {stream: n for n, stream in enumerate(self._streams)}
        ahead: dict[str, tuple[Envelope, AsyncIterator[Envelope]]] = {}

        async def peek(stream: str, reader: AsyncIterator[Envelope]) -> None:
            before = self.positions[stream]
            event = await anext(reader, None)
            self.positions[stream] = before
            if event is not None:
                ahead[stream] = (event, reader)

        readers = {stream: self._catch_up(stream) for stream in self._streams if stream in self._start}
        try:
            for stream, reader in readers.items():
                await peek(stream, reader)
            while ahead:
                # ISO times in UTC compare as text; a snapshot marker's empty time goes first.
                stream = min(ahead, key=lambda s: (ahead[s][0].created_at, order[s]))
                event, reader = ahead.pop(stream)
                self.positions[stream] = event.seq
                yield event
                await peek(stream, reader)
        finally:
            for reader in readers.values():
                await reader.aclose()  # type: ignore[attr-defined]

    async def _recover(self) -> AsyncIterator[Envelope]:
        if self._conflate is None:
            raise SubscriberTooSlow(
                "this subscription fell too far behind and was ended: resubscribe with `after` set to the cursor",
                cursor=encode_positions(self.positions),
            )
        for stream in self._streams:
            merged: Envelope | None = None
            caught = 0
            async for event in self._catch_up(stream):
                # Merged as read, so a long catch-up holds one event, not all of them.
                snapshot = event.kind == SNAPSHOT  # supersedes whatever came before it
                merged = event if merged is None or snapshot else self._conflate([merged, event])
                caught = 1 if snapshot else caught + 1
            if merged is not None:
                if caught > 1:
                    self._hub.telemetry.conflated(stream)
                yield merged

    async def _catch_up(self, stream: str, until: int | None = None) -> AsyncIterator[Envelope]:
        while True:
            after = self.positions[stream]
            async with self._db.read() as session:
                page = await events.read_after(session, stream=stream, after=after, until=until, limit=_PAGE)
                head = (await events.heads(session, [stream]))[stream]
            wanted = head if until is None else min(until, head)
            if (page and page[0].seq != after + 1) or (not page and wanted > after):
                yield self._mark_snapshot(stream, head)
                return
            for event in page:
                self.positions[stream] = event.seq
                yield event
            if len(page) < _PAGE:
                return

    def _mark_snapshot(self, stream: str, head: int) -> Envelope:
        self.positions[stream] = head
        return Envelope(stream=stream, seq=head, kind=SNAPSHOT, payload=SnapshotMark(), created_at="")


def follow_one(
    db: Database, hub: Hub, field: str, stream: str, after: str | None, on_listening: Callable[[], None] | None
) -> StreamFollower:
    """A follower of one stream, resumed from its position in `after` when the cursor holds one."""
    start = decode_positions(after) if after else {}
    return StreamFollower(
        db=db,
        hub=hub,
        field=field,
        streams=[stream],
        start={stream: start[stream]} if stream in start else None,
        on_listening=on_listening,
    )
