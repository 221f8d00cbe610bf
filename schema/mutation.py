"""The root Mutation: each write names the token scope it needs."""

from __future__ import annotations

import strawberry

from schema.mutations.alerts import create_alert, delete_alert, mark_notifications_read
from schema.mutations.feed_heartbeat import feed_heartbeat
from schema.mutations.publish_news import publish_news
from schema.mutations.race_cards import load_race_cards, scratch_runner
from schema.mutations.set_race_status import set_race_status
from schema.mutations.store_odds import store_odds
from schema.permissions import CanWriteNews, CanWriteOdds, CanWriteRaces, IsAuthenticated


@strawberry.type(description="Writes. Each needs a bearer token whose `scope` claim holds the named scope.")
class Mutation:
    store_odds = strawberry.mutation(
        resolver=store_odds,
        permission_classes=[CanWriteOdds],
        description="Store one source's prices for a race and publish the changes (scope odds:write).",
    )
    feed_heartbeat = strawberry.mutation(
        resolver=feed_heartbeat,
        permission_classes=[CanWriteOdds],
        description="Say a source is alive without a price change: keeps it LIVE, or brings it back (scope "
        "odds:write; a source the token's `sources` claim names, when it has one).",
    )
    set_race_status = strawberry.mutation(
        resolver=set_race_status,
        permission_classes=[CanWriteRaces],
        description="Move a race through its status state machine (scope races:write).",
    )
    publish_news = strawberry.mutation(
        resolver=publish_news,
        permission_classes=[CanWriteNews],
        description="Publish a news article now (scope news:write).",
    )
    load_race_cards = strawberry.mutation(
        resolver=load_race_cards,
        permission_classes=[CanWriteRaces],
        description="Load meetings with their races and runners (scope races:write).",
    )
    scratch_runner = strawberry.mutation(
        resolver=scratch_runner,
        permission_classes=[CanWriteRaces],
        description="Withdraw a runner before the off (scope races:write).",
    )
    create_alert = strawberry.mutation(
        resolver=create_alert,
        permission_classes=[IsAuthenticated],
        description="Create a personal alert (any token; at most 100 per user, BAD_USER_INPUT beyond).",
    )
    delete_alert = strawberry.mutation(
        resolver=delete_alert,
        permission_classes=[IsAuthenticated],
        description="Delete one of the viewer's alerts; NOT_FOUND for any other id. Returns the id.",
    )
    mark_notifications_read = strawberry.mutation(
        resolver=mark_notifications_read,
        permission_classes=[IsAuthenticated],
        description="Mark the viewer's notifications read; returns the ids marked (others' ids are ignored).",
    )
