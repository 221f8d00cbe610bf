"""The fan-out engine: one subscription execution per group of identical subscribers.

Each event is executed and encoded to JSON once per group; every member gets those bytes spliced
into its own `next` frame. A member that resumes with a cursor, or asks for a snapshot of a group
already running, is served on its own until its stream reaches an event the group has also
delivered, then joins the group from the next one. A member whose connection falls behind leaves
the group and resumes on its own from the last event it was given."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncGenerator, Callable
from typing import Any

import orjson
import strawberry
from strawberry.types.execution import ExecutionResult, PreExecutionError

from resolvers.viewer import Viewer
from schema.context import Context
from schema.stream_tap import StreamTap
from server.live.fanout_plan import GroupKey, Plan, Planner
from server.live.frames import TextMessage
from server.live.outbox import Outbox

log = logging.getLogger(__name__)

RING = 64


def encode(result: ExecutionResult) -> str:
    payload: dict[str, Any] = {"data": result.data}
    if result.errors:
        payload["errors"] = [error.formatted for error in result.errors]
    if result.extensions:
        payload["extensions"] = result.extensions
    return orjson.dumps(payload).decode()


def next_frame(id_json: str, payload: str) -> str:
    return f'{{"id":{id_json},"type":"next","payload":{payload}}}'


class NextFrames:
    """One event's `next` frame per operation id, as text and as a TextMessage: made once for all
    the members whose subscriptions share an id (most clients use the same few), and its
    WebSocket frames once per kind (plain, or compressed at a window size) among them."""

    __slots__ = ("_made", "_payload")

    def __init__(self, payload: str) -> None:
        self._payload = payload
        self._made: dict[str, tuple[str, TextMessage]] = {}

    def for_id(self, id_json: str) -> tuple[str, TextMessage]:
        made = self._made.get(id_json)
        if made is None:
            text = next_frame(id_json, self._payload)
            made = self._made[id_json] = (text, TextMessage(text.encode()))
        return made


class Member:
    """One subscription served by the fan-out. It has no task of its own while its group serves
    it: `done` is the operation (finished when its stream ends, cancelled to unsubscribe), and a
    task exists only while it is served on its own."""

    def __init__(self, operation_id: str, outbox: Outbox, plan: Plan, viewer: Viewer) -> None:
        self.id_json = orjson.dumps(operation_id).decode()
        self.outbox = outbox
        self.plan = plan
        self.viewer = viewer
        self.group: Group | None = None
        self.last_cursor: str | None = None
        self.waiting_on: str | None = None
        self.attached = False
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.alone: asyncio.Task[None] | None = None
        self.switched: asyncio.Event | None = None  # while alone: set once the group takes it back

    def finish(self) -> None:
        if not self.done.done():
            self.done.set_result(None)

    def next_frame(self, payload: str) -> str:
        return next_frame(self.id_json, payload)

    def end_frame(self, errors: list[Any] | None = None) -> str:
        if errors:
            return f'{{"id":{self.id_json},"type":"error","payload":{orjson.dumps(errors).decode()}}}'
        return f'{{"id":{self.id_json},"type":"complete"}}'


class Group:
    def __init__(self, engine: FanOut, key: GroupKey, plan: Plan, context: Context) -> None:
        self._engine = engine
        self.key = key
        self._plan = plan
        self.context = context
        # What its execution says of its stream; the group counts deliveries (it knows how many copies).
        self.tap = StreamTap(counted_by_caller=True)
        self.members: set[Member] = set()
        self.pending: set[Member] = set()
        self._ring: deque[tuple[str | None, str]] = deque(maxlen=RING)
        self._waiting: dict[str, set[Member]] = {}
        self.ended = False
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        first = True
        try:
            stream = await self._engine.schema.subscribe(
                self.key.query,
                variable_values=self._plan.group_variables,
                context_value=self.context,
                root_value=self.tap,
                operation_name=self.key.operation_name,
            )
            async with contextlib.aclosing(stream):
                async for result in stream:
                    if first and isinstance(result, PreExecutionError):
                        self._end([e.formatted for e in result.errors or ()])
                        return
                    first = False
                    sent = self._publish(encode(result), self.tap.cursor)
                    self.context.hub.telemetry.sent(self._plan.field, self.tap.stored_at, copies=sent)
            self._end()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("shared subscription failed")
            self._end([{"message": "Internal server error.", "extensions": {"code": "INTERNAL_SERVER_ERROR"}}])

    def _publish(self, payload: str, cursor: str | None) -> int:
        """Sends to every member; returns how many it reached."""
        self._ring.append((cursor, payload))
        frames = NextFrames(payload)
        sent = 0
        id_json, (text, framed) = "", ("", None)
        for member in tuple(self.members):
            if member.id_json != id_json:  # members' ids are mostly alike: look up on a change only
                id_json = member.id_json
                text, framed = frames.for_id(id_json)
            if member.outbox.push(text, framed):
                member.last_cursor = cursor
                sent += 1
            else:
                self._detach(member)
                self._engine.fell_behind(member)
        for member in self._waiting.pop(cursor, ()) if cursor is not None else ():
            member.waiting_on = None
            self.attach(member)
            if member.switched is not None:
                member.switched.set()
        return sent

    def _end(self, errors: list[Any] | None = None) -> None:
        self.ended = True
        for member in tuple(self.members):
            member.outbox.push(member.end_frame(errors))
            member.finish()
        self.members.clear()

    def attach(self, member: Member) -> None:
        self.pending.discard(member)
        self.members.add(member)
        member.attached = True

    def _detach(self, member: Member) -> None:
        self.members.discard(member)
        self.pending.add(member)
        member.attached = False

    def try_switch(self, member: Member, cursor: str | None) -> bool:
        """Called by a member served on its own after each event it was sent: joins the group
        when the group has delivered the same event, else waits for the group to reach it."""
        if cursor is None or self.ended:
            return False
        later: list[tuple[str | None, str]] = []
        for delivered, payload in reversed(self._ring):
            if delivered == cursor:
                break
            later.append((delivered, payload))
        else:
            self._unwait(member)
            member.waiting_on = cursor
            self._waiting.setdefault(cursor, set()).add(member)
            return False
        frames = [(delivered, member.next_frame(payload)) for delivered, payload in reversed(later)]
        if not member.outbox.fits(sum(len(frame) for _, frame in frames)):
            return False  # not all at once: stay on its own a while longer
        for delivered, frame in frames:
            member.outbox.push(frame)
            member.last_cursor = delivered
        self._unwait(member)
        self.attach(member)
        return True

    def _unwait(self, member: Member) -> None:
        if member.waiting_on is not None:
            waiting = self._waiting.get(member.waiting_on)
            if waiting is not None:
                waiting.discard(member)
                if not waiting:
                    del self._waiting[member.waiting_on]
            member.waiting_on = None

    def forget(self, member: Member) -> None:
        self.members.discard(member)
        self.pending.discard(member)
        self._unwait(member)

    @property
    def empty(self) -> bool:
        return not self.members and not self.pending


class FanOut:
    def __init__(
        self, schema: strawberry.Schema, *, context_for: Callable[[Viewer], Context], planner: Planner | None = None
    ) -> None:
        self.schema = schema
        self.planner = planner or Planner()
        self._context_for = context_for
        self._groups: dict[GroupKey, Group] = {}

    @property
    def shared_subscribers(self) -> int:
        """Members served by a listening group beyond the one execution each group runs."""
        return sum(len(g.members) - 1 for g in self._groups.values() if g.tap.listening.is_set())

    def join(self, member: Member) -> asyncio.Future[None]:
        """Serves the member from now on; returns its `done`."""
        plan = member.plan
        group = self._groups.get(plan.key)
        founder = group is None or group.ended
        if group is None or founder:
            # The group's viewer holds only what the key holds: scopes, and whether signed in.
            viewer = Viewer(subject="shared" if plan.key.authenticated else None, scopes=plan.key.scopes)
            context = self._context_for(viewer)
            group = Group(self, plan.key, plan, context)
            self._groups[plan.key] = group
        member.group = group
        member.done.add_done_callback(lambda _: self._leave(member))
        if plan.resumes or (plan.wants_snapshot and not founder):
            group.pending.add(member)
            self._serve_alone(member, plan.variables, resume_cursor=None)
        else:
            group.attach(member)
        return member.done

    def fell_behind(self, member: Member) -> None:
        """Resumes a member its group has dropped on its own, from the last event it was sent."""
        if member.alone is not None:  # still winding down from its last time alone
            member.alone.cancel()
        variables = member.plan.variables
        if member.plan.resume_variable is not None:
            variables = {**variables, member.plan.resume_variable: None}
        self._serve_alone(member, variables, resume_cursor=member.last_cursor)

    def _serve_alone(self, member: Member, variables: dict[str, Any], resume_cursor: str | None) -> None:
        member.alone = asyncio.create_task(self._alone(member, variables, resume_cursor))

    async def _alone(self, member: Member, variables: dict[str, Any], resume_cursor: str | None) -> None:
        assert member.group is not None
        try:
            if await self._on_its_own(member, member.group, variables, resume_cursor):
                member.finish()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("subscription failed")
            member.finish()
        finally:
            if member.alone is asyncio.current_task():
                member.alone = None

    def _leave(self, member: Member) -> None:
        group = member.group
        assert group is not None
        group.forget(member)
        if member.alone is not None:
            member.alone.cancel()
        if group.empty and self._groups.get(group.key) is group:
            del self._groups[group.key]
            group.task.cancel()

    async def _on_its_own(
        self, member: Member, group: Group, variables: dict[str, Any], resume_cursor: str | None
    ) -> bool:
        """Serves the member from its own execution until it joins the group; True once its
        stream has ended."""
        tap = StreamTap(resume_cursor=resume_cursor)
        stream = await self.schema.subscribe(
            member.plan.key.query,
            variable_values=variables,
            context_value=self._context_for(member.viewer),
            root_value=tap,
            operation_name=member.plan.key.operation_name,
        )
        member.switched = asyncio.Event()
        own = asyncio.create_task(self._pump(member, group, stream, tap))
        switched = asyncio.create_task(member.switched.wait())
        try:
            done, _ = await asyncio.wait({own, switched}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            member.switched = None
            for task in (own, switched):
                task.cancel()
            await asyncio.gather(own, switched, return_exceptions=True)
        return own in done and not own.cancelled() and own.result()

    async def _pump(
        self,
        member: Member,
        group: Group,
        stream: AsyncGenerator[PreExecutionError | ExecutionResult, None],
        tap: StreamTap,
    ) -> bool:
        first = True
        async with contextlib.aclosing(stream):
            async for result in stream:
                if first and isinstance(result, PreExecutionError):
                    await self._send(member, member.end_frame([e.formatted for e in result.errors or ()]))
                    return True
                first = False
                if not await self._send(member, member.next_frame(encode(result))):
                    return False  # the group took over while this waited for room
                member.last_cursor = tap.cursor
                if group.try_switch(member, tap.cursor):
                    return False
        await self._send(member, member.end_frame())
        return True

    @staticmethod
    async def _send(member: Member, frame: str) -> bool:
        await member.outbox.room()
        if member.attached:
            return False
        member.outbox.push(frame)
        return True
