"""Racewire's graphql-transport-ws handler: heartbeats, and shareable subscriptions served by
the fan-out engine; every other operation takes Strawberry's own path."""

from __future__ import annotations

import asyncio
from typing import Any

from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import Operation
from strawberry.subscriptions.protocols.graphql_transport_ws.types import SubscribeMessage

from server.fanout import Member
from server.fanout_plan import Plan
from server.heartbeat import HeartbeatHandler


class RacewireHandler(HeartbeatHandler):
    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        plan = self._plan(message)
        if plan is None:
            await super().handle_subscribe(message)
            return
        # The plan's query and variables: one copy shared by every identical subscriber.
        operation = Operation(self, message["id"], plan.key.query, plan.variables, plan.key.operation_name)
        # No task per subscription: the member's `done` stands for it, as Strawberry's handler
        # uses an operation's task (cancelled to unsubscribe, awaited at shutdown).
        done = self.view.fanout.join(Member(operation.id, self.outbox, plan, self.context.viewer))
        operation.task = done  # type: ignore[assignment]
        # One callback, not two (each holds a copy of the context; a closure, its cell too).
        done.add_done_callback(self._shared_done)
        self.operations[operation.id] = operation

    def _shared_done(self, done: asyncio.Future[None]) -> None:
        self._task_done(done)  # type: ignore[arg-type]
        for operation_id, operation in self.operations.items():
            if operation.task is done:  # unless a new operation took its id since
                del self.operations[operation_id]
                return

    def _plan(self, message: SubscribeMessage) -> Plan | None:
        fanout = getattr(self.view, "fanout", None)
        limit = self.max_subscriptions_per_connection
        if (
            fanout is None
            or not self.connection_acknowledged
            or message["id"] in self.operations
            or (limit is not None and len(self.operations) >= limit)
        ):
            return None  # Strawberry's path answers these cases as the protocol says
        payload: Any = message.get("payload")
        query = payload.get("query") if isinstance(payload, dict) else None
        variables = payload.get("variables") if isinstance(payload, dict) else None
        if not isinstance(query, str) or not isinstance(variables, dict | None):
            return None
        return fanout.planner.plan(query, variables, payload.get("operationName"), self.context.viewer)
