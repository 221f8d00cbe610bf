"""Error codes: client mistakes are typed, internal failures are masked and logged with an id."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from broadcaster import Broadcast

from conftest import Api
from pubsub.hub import Hub
from resolvers.store_odds import OddsWriter
from schema.context import Context
from schema.schema import schema
from storage.database import Database


async def test_parse_validation_and_variable_errors_carry_codes(api: Api) -> None:
    parse = await api.error("{ race(id: ")
    validation = await api.error('{ race(id: "1") { nme } }')
    variables = await api.error("query($d: Date!) { meetings(date: $d) { venue } }", d="not-a-date")

    assert parse["code"] == "GRAPHQL_PARSE_FAILED"
    assert validation["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert variables["code"] == "BAD_USER_INPUT"


async def test_an_internal_failure_is_masked_and_logged_under_its_id(
    caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    unmigrated = Database(f"sqlite+aiosqlite:///{tmp_path}/empty.db")  # no tables: a fault, not an outage
    async with Broadcast("memory://") as broadcast:
        hub = Hub(broadcast)
        context = Context(db=unmigrated, hub=hub, odds=OddsWriter(unmigrated, hub))
        with caplog.at_level(logging.ERROR, logger="racewire.errors"):
            result = await schema.execute('{ race(id: "1") { name } }', context_value=context)
    await unmigrated.dispose()

    error = result.errors[0]
    assert error.message == "Internal server error."
    assert error.extensions["code"] == "INTERNAL_SERVER_ERROR"
    logged = [r for r in caplog.records if error.extensions["errorId"] in r.getMessage()]
    assert logged and logged[0].exc_info is not None and logged[0].levelno == logging.ERROR
    assert "races" not in str(result.errors)


async def test_an_unreachable_database_is_a_retryable_error(caplog: pytest.LogCaptureFixture) -> None:
    unreachable = Database("postgresql+asyncpg://nobody@127.0.0.1:1/none")
    async with Broadcast("memory://") as broadcast:
        hub = Hub(broadcast)
        context = Context(db=unreachable, hub=hub, odds=OddsWriter(unreachable, hub))
        with caplog.at_level(logging.INFO, logger="racewire"):
            result = await schema.execute('{ race(id: "1") { name } }', context_value=context)
    await unreachable.dispose()

    error = result.errors[0]
    assert error.extensions == {"code": "SERVICE_UNAVAILABLE", "retryAfter": 2}
    assert "127.0.0.1" not in str(result.errors)
    assert [r.levelno for r in caplog.records if r.name == "racewire.errors"] == [logging.WARNING]
    assert not any(r.exc_info for r in caplog.records)
