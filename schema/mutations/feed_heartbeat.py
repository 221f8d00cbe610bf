"""The `feedHeartbeat` mutation."""

from __future__ import annotations

from typing import Annotated

import strawberry

from resolvers import feed_health
from schema.context import Info
from schema.types.feeds import Feed


async def feed_heartbeat(
    info: Info,
    # Named apart in Python: a resolver argument `source` collides with the permission extension's own.
    source_code: Annotated[
        str,
        strawberry.argument(name="source", description="The source that is alive, e.g. 'bet365' (a-z, 0-9, . _ -)."),
    ],
) -> Feed:
    state = await feed_health.feed_heartbeat(
        db=info.context.db,
        hub=info.context.hub,
        source=source_code,
        writer=info.context.viewer,
        require_sources=info.context.limits.require_token_sources,
    )
    return Feed.from_state(state)
