"""Bad input is a client error, never a masked internal one: ids and cursors past their column's
range, lists past their bound (PostgreSQL's 32,767 bind parameters included), times outside the
calendar in UTC, a subscription sent as a plain POST, WebSocket messages that are JSON but not a
message; and production leaks no "Did you mean …?". Each refusal beside its well-behaved twin."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import pytest

from conftest import POSTGRES_ADMIN_URL, _run_apart, card, seeded_sqlite
from hostile_server import ENV, assert_still_serving, bearer, price_count, ws_closed_with
from live_server import GraphQLWs, ServerProcess
from resolvers.cursors import encode_keyset
from resolvers.race_cards import load_race_cards
from storage.database import Database
from storage.migrate import upgrade

HUGE = "9" * 30
PAST_INT4 = str(2**31)
PAST_INT8 = str(2**63)
ALL_SCOPES = "odds:write races:write news:write"


def _start(url: str, **env: str) -> ServerProcess:
    return ServerProcess({**ENV, "RACEWIRE_DATABASE_URL": url, "RACEWIRE_MUTATION_BURST": "1000", **env}).start()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    process = _start(seeded_sqlite(tmp_path_factory.mktemp("inputs"), card(races=3, runners=4)))
    yield process
    process.stop()


@pytest.fixture(scope="module")
def production(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    url = seeded_sqlite(tmp_path_factory.mktemp("production"), card(races=1, runners=2))
    process = _start(url, RACEWIRE_PRODUCTION="true")
    yield process
    process.stop()


@pytest.fixture(scope="module")
def postgres_server() -> Iterator[ServerProcess]:
    """A server on a PostgreSQL database of this module's own, where bind parameters are capped."""
    name = f"racewire_inputs_{uuid.uuid4().hex[:10]}"
    url = POSTGRES_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1) + f"/{name}"

    async def admin(statement: str) -> None:
        connection = await asyncpg.connect(POSTGRES_ADMIN_URL, timeout=5)
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    async def create() -> None:
        await admin(f'CREATE DATABASE "{name}"')
        db = Database(url)
        try:
            await upgrade(db)
            await load_race_cards(db=db, cards=[card(races=3, runners=4)])
        finally:
            await db.dispose()

    _run_apart(create())
    process = _start(url)
    yield process
    process.stop()
    _run_apart(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def call(
    server: ServerProcess, query: str, variables: dict[str, Any] | None = None, subject: str | None = None
) -> dict[str, Any]:
    headers = bearer(subject, ALL_SCOPES) if subject else {}
    async with httpx.AsyncClient(base_url=server.http, timeout=30) as client:
        response = await client.post("/graphql", json={"query": query, "variables": variables or {}}, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def code_of(body: dict[str, Any]) -> tuple[str, str | None]:
    extensions = body["errors"][0]["extensions"]
    return extensions["code"], extensions.get("field")


async def ids(server: ServerProcess) -> dict[str, str]:
    body = await call(server, "{ races(first: 10) { edges { node { id runners { id } } } } }")
    edges = body["data"]["races"]["edges"]
    return {
        "race": edges[0]["node"]["id"],
        "runner": edges[0]["node"]["runners"][0]["id"],
        "spare race": edges[2]["node"]["id"],
        "spare runner": edges[2]["node"]["runners"][1]["id"],
    }


# Every ID argument and ID input field of the schema: (operation with {id} for the id, expected refusal).
ID_CASES: dict[str, tuple[str, tuple[str, str] | None]] = {
    "race(id)": ('{{ race(id: "{id}") {{ id }} }}', None),  # null, as for any race that does not exist
    "runner(id)": ('{{ runner(id: "{id}") {{ id }} }}', None),
    "news(filter.raceId)": ('{{ news(filter: {{raceId: "{id}"}}) {{ edges {{ cursor }} }} }}', ("NOT_FOUND", "raceId")),
    "storeOdds(raceId)": (
        'mutation {{ storeOdds(input: {{raceId: "{id}", source: "s", observedAt: "{now}", '
        'prices: [{{runnerId: "{runner}", decimal: 2.0}}]}}) {{ stored }} }}',
        ("NOT_FOUND", "raceId"),
    ),
    "storeOdds(prices.runnerId)": (
        'mutation {{ storeOdds(input: {{raceId: "{race}", source: "s", observedAt: "{now}", '
        'prices: [{{runnerId: "{id}", decimal: 2.0}}]}}) {{ stored }} }}',
        ("NOT_FOUND", "prices"),
    ),
    "setRaceStatus(raceId)": (
        'mutation {{ setRaceStatus(raceId: "{id}", status: BETTING_OPEN) {{ id }} }}',
        ("NOT_FOUND", "raceId"),
    ),
    "setRaceStatus(result)": (
        'mutation {{ setRaceStatus(raceId: "{race}", status: RESULTED, result: ["{id}"]) {{ id }} }}',
        ("NOT_FOUND", "result"),
    ),
    "scratchRunner(runnerId)": ('mutation {{ scratchRunner(runnerId: "{id}") {{ id }} }}', ("NOT_FOUND", "runnerId")),
    "publishNews(raceIds)": (
        'mutation {{ publishNews(input: {{headline: "h", body: "b", raceIds: ["{id}"]}}) {{ id }} }}',
        ("NOT_FOUND", "raceIds"),
    ),
    "createAlert(raceId)": (
        'mutation {{ createAlert(input: {{kind: RACE_STATUS, raceId: "{id}", status: OFF}}) {{ id }} }}',
        ("NOT_FOUND", "raceId"),
    ),
    "createAlert(runnerId)": (
        'mutation {{ createAlert(input: {{kind: SCRATCHED, runnerId: "{id}"}}) {{ id }} }}',
        ("NOT_FOUND", "runnerId"),
    ),
    "deleteAlert(id)": ('mutation {{ deleteAlert(id: "{id}") }}', ("NOT_FOUND", "id")),
    "markNotificationsRead(ids)": (
        'mutation {{ markNotificationsRead(ids: ["{id}"]) }}',
        None,
    ),  # not the viewer's: ignored
}
# The well-behaved twin of each: the same operation with an id that exists.
CONTROL_ID = {
    "storeOdds(prices.runnerId)": "runner",
    "runner(id)": "runner",
    "scratchRunner(runnerId)": "spare runner",
    "createAlert(runnerId)": "runner",
    "setRaceStatus(raceId)": "spare race",
}


@pytest.mark.parametrize("case", ID_CASES)
@pytest.mark.parametrize("value", [HUGE, PAST_INT4])
async def test_an_id_too_large_to_exist_is_not_found(server: ServerProcess, case: str, value: str) -> None:
    template, refusal = ID_CASES[case]
    known = await ids(server)
    now = datetime.now(UTC).isoformat()
    subject = f"ids-{uuid.uuid4().hex[:8]}"
    if case == "deleteAlert(id)":
        value = PAST_INT8 if value == PAST_INT4 else value  # alert ids are bigint
    refused = await call(server, template.format(id=value, now=now, **known), subject=subject)

    if refusal is None:
        assert "errors" not in refused and list(refused["data"].values()) in ([None], [[]]), refused
    else:
        assert code_of(refused) == refusal, refused
    await assert_still_serving(server)


@pytest.mark.parametrize("case", [c for c in ID_CASES if c not in ("setRaceStatus(result)", "deleteAlert(id)")])
async def test_the_same_operation_with_an_id_that_exists_works(server: ServerProcess, case: str) -> None:
    template, _ = ID_CASES[case]
    known = await ids(server)
    now = datetime.now(UTC).isoformat()
    body = await call(
        server,
        template.format(id=known[CONTROL_ID.get(case, "race")], now=now, **known),
        subject=f"ok-{uuid.uuid4().hex[:8]}",
    )
    assert "errors" not in body, body


async def test_deleting_an_alert_by_its_id_works_and_a_result_id_is_checked_as_an_id(server: ServerProcess) -> None:
    subject = f"alerts-{uuid.uuid4().hex[:8]}"
    known = await ids(server)
    created = await call(
        server,
        "mutation($r: ID!) { createAlert(input: {kind: RACE_STATUS, raceId: $r, status: OFF}) { id } }",
        {"r": known["race"]},
        subject,
    )
    alert = created["data"]["createAlert"]["id"]
    assert (await call(server, "mutation($i: ID!) { deleteAlert(id: $i) }", {"i": alert}, subject))["data"] == {
        "deleteAlert": alert
    }
    # A real runner id in `result` passes as an id; the race is not FINISHED, so the status is what is refused.
    result = await call(
        server,
        "mutation($r: ID!, $x: ID!) { setRaceStatus(raceId: $r, status: RESULTED, result: [$x]) { id } }",
        {"r": known["race"], "x": known["runner"]},
        subject,
    )
    assert code_of(result)[0] == "BAD_USER_INPUT"


@pytest.mark.parametrize("value", ["abc", "-1", "0", "1e3", " 1", "１２", "1_000"])
async def test_an_id_that_is_not_decimal_digits_is_bad_input(server: ServerProcess, value: str) -> None:
    known = await ids(server)
    refused = await call(server, "query($i: ID!) { race(id: $i) { id } }", {"i": value})
    found = await call(server, "query($i: ID!) { race(id: $i) { id } }", {"i": known["race"]})
    assert code_of(refused) == ("BAD_USER_INPUT", "id")
    assert found["data"]["race"]["id"] == known["race"]


def cursor_of(text: str) -> str:
    """A cursor as the server encodes one (resolvers.cursors), around any text."""
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def keyset(at: str, row_id: str) -> str:
    return cursor_of(f"k1|{at}|{row_id}")


PAGES = {
    "races": ("query($a: String) { races(after: $a) { edges { cursor } } }", PAST_INT4),
    "news": ("query($a: String) { news(after: $a) { edges { cursor } } }", PAST_INT4),
    "notifications": ("query($a: String) { notifications(after: $a) { edges { cursor } } }", PAST_INT8),
}


@pytest.mark.parametrize("page", PAGES)
@pytest.mark.parametrize("cursor", ["row id past its column", "huge row id", "time out of range in UTC"])
async def test_a_forged_page_cursor_is_bad_input(server: ServerProcess, page: str, cursor: str) -> None:
    query, past = PAGES[page]
    forged = {
        "row id past its column": keyset("2026-01-01T00:00:00+00:00", past),
        "huge row id": keyset("2026-01-01T00:00:00+00:00", HUGE),
        "time out of range in UTC": keyset("0001-01-01T00:00:00+05:00", "1"),
    }[cursor]
    subject = f"pages-{uuid.uuid4().hex[:8]}"
    refused = await call(server, query, {"a": forged}, subject)
    accepted = await call(server, query, {"a": encode_keyset(datetime.now(UTC), 1)}, subject)
    assert code_of(refused) == ("BAD_USER_INPUT", "after")
    assert "errors" not in accepted, accepted


ODDS = "subscription($ids: [ID!]!, $after: String) { oddsUpdated(raceIds: $ids, after: $after, snapshot: true) { seq cursor } }"
STATUS = "subscription($ids: [ID!]) { raceStatus(raceIds: $ids) { seq } }"


async def first_message(server: ServerProcess, query: str, **variables: Any) -> dict[str, Any]:
    client = await GraphQLWs.open(server.ws)
    try:
        await client.subscribe("s", query, **variables)
        return await client.receive()
    finally:
        await client.close()


def ws_code(message: dict[str, Any]) -> tuple[str, str | None]:
    errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
    return errors[0]["extensions"]["code"], errors[0]["extensions"].get("field")


async def test_subscriptions_refuse_ids_and_cursors_out_of_range(server: ServerProcess) -> None:
    known = await ids(server)
    live = await first_message(server, ODDS, ids=[known["race"]])
    assert live["type"] == "next" and live["payload"]["data"]["oddsUpdated"]["cursor"], live

    assert ws_code(await first_message(server, ODDS, ids=[HUGE])) == ("NOT_FOUND", "raceIds")
    assert ws_code(await first_message(server, STATUS, ids=[PAST_INT4])) == ("NOT_FOUND", "raceIds")
    forged = cursor_of(f"p1|odds:{known['race']}={HUGE}")  # a seq past bigint
    assert ws_code(await first_message(server, ODDS, ids=[known["race"]], after=forged)) == ("BAD_USER_INPUT", "after")
    # The real cursor resumes its race; the other race, not resumed, starts with its snapshot.
    real = live["payload"]["data"]["oddsUpdated"]["cursor"]
    resumed = await first_message(server, ODDS, ids=[known["race"], known["spare race"]], after=real)
    assert resumed["type"] == "next", resumed
    await assert_still_serving(server)


MARK = "mutation($i: [ID!]!) { markNotificationsRead(ids: $i) }"
NEWS = 'mutation($r: [ID!]!) { publishNews(input: {headline: "h", body: "b", raceIds: $r}) { id } }'
FILTER = "query($s: [RaceStatus!]) { races(filter: {status: $s}) { edges { cursor } } }"


def card_input(meetings: int = 1, races: int = 1, runners: int = 1, n: int = 0) -> list[dict[str, Any]]:
    def race(number: int) -> dict[str, Any]:
        return {
            "number": number,
            "name": "R",
            "postTime": "2030-01-01T12:00:00+00:00",
            "distanceMeters": 1600,
            "runners": [{"number": i + 1, "horse": f"H{i}"} for i in range(runners)],
        }

    return [
        {"venue": f"Bound {n} {m}", "country": "GB", "date": "2030-01-01", "races": [race(r + 1) for r in range(races)]}
        for m in range(meetings)
    ]


CARDS = "mutation($m: [MeetingCardInput!]!) { loadRaceCards(meetings: $m) { id } }"
# (operation, variables past the bound, the same within it, field). Lists of 40,000 go over
# PostgreSQL's 32,767 bind parameters, and stay under the 256 KiB request body limit.
LISTS: dict[str, tuple[str, dict[str, Any], dict[str, Any], str]] = {
    "markNotificationsRead 40,000 ids": (MARK, {"i": ["1"] * 40_000}, {"i": ["1"] * 1_000}, "ids"),
    "publishNews 40,000 raceIds": (NEWS, {"r": ["1"] * 40_000}, {"r": ["1"]}, "raceIds"),
    "races filter of 30,000 statuses": (FILTER, {"s": ["OFF"] * 30_000}, {"s": ["OFF", "SCHEDULED"]}, "status"),
    "loadRaceCards 51 meetings": (
        CARDS,
        {"m": card_input(meetings=51)},
        {"m": card_input(meetings=2, n=1)},
        "meetings",
    ),
    "loadRaceCards 31 races": (CARDS, {"m": card_input(races=31)}, {"m": card_input(races=30, n=2)}, "races"),
    "loadRaceCards 61 runners": (CARDS, {"m": card_input(runners=61)}, {"m": card_input(runners=60, n=3)}, "runners"),
}


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
@pytest.mark.parametrize("case", LISTS)
async def test_a_list_past_its_bound_is_bad_input(request: pytest.FixtureRequest, database: str, case: str) -> None:
    target: ServerProcess = request.getfixturevalue("server" if database == "sqlite" else "postgres_server")
    query, over, within, field = LISTS[case]
    if "loadRaceCards" in case:  # a fresh venue for each database's run
        for meeting in within["m"]:
            meeting["venue"] += f" {database}"
    subject = f"lists-{uuid.uuid4().hex[:8]}"
    refused = await call(target, query, over, subject)
    accepted = await call(target, query, within, subject)
    assert code_of(refused) == ("BAD_USER_INPUT", field), refused
    assert refused["errors"][0]["extensions"]["limit"] >= len(within[next(iter(within))])
    assert "errors" not in accepted, accepted
    await assert_still_serving(target)


async def test_a_news_subscription_follows_at_most_ten_tags(server: ServerProcess) -> None:
    query = "subscription($t: [String!]) { news(tags: $t) { seq } }"
    assert ws_code(await first_message(server, query, t=[f"t{n}" for n in range(11)])) == ("BAD_USER_INPUT", "tags")
    client = await GraphQLWs.open(server.ws)
    await client.subscribe("ten", query, t=[f"t{n}" for n in range(10)])
    await call(
        server,
        'mutation { publishNews(input: {headline: "h", body: "b", tags: ["t9"]}) { id } }',
        subject=f"tags-{uuid.uuid4().hex[:8]}",
    )
    assert (await client.next("ten"))["news"]["seq"] > 0
    await client.close()


@pytest.mark.parametrize("value", ["0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00"])
async def test_a_time_outside_the_calendar_in_utc_is_bad_input(server: ServerProcess, value: str) -> None:
    known = await ids(server)
    store = "mutation($i: StoreOddsInput!) { storeOdds(input: $i) { stored } }"
    before = await price_count(server, known["race"])

    def odds(at: str) -> dict[str, Any]:
        return {
            "i": {
                "raceId": known["race"],
                "source": "calendar",
                "observedAt": at,
                "prices": [{"runnerId": known["runner"], "decimal": 3.0}],
            }
        }

    refused = await call(server, store, odds(value), f"cal-{uuid.uuid4().hex[:8]}")
    assert code_of(refused)[0] == "BAD_USER_INPUT" and await price_count(server, known["race"]) == before
    accepted = await call(server, store, odds(datetime.now(UTC).isoformat()), f"cal-{uuid.uuid4().hex[:8]}")
    assert accepted["data"]["storeOdds"]["stored"] == 1


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
@pytest.mark.parametrize("field", ["horse", "name", "going"])
async def test_a_card_string_longer_than_its_column_is_bad_input(
    request: pytest.FixtureRequest, database: str, field: str
) -> None:
    target: ServerProcess = request.getfixturevalue("server" if database == "sqlite" else "postgres_server")
    meetings = card_input(n=uuid.uuid4().int % 10**6)
    where = {"horse": meetings[0]["races"][0]["runners"][0], "name": meetings[0]["races"][0], "going": meetings[0]}
    where[field][field] = "x" * 1000
    refused = await call(target, CARDS, {"m": meetings}, f"cards-{uuid.uuid4().hex[:8]}")
    where[field][field] = "x" * 40
    accepted = await call(target, CARDS, {"m": meetings}, f"cards-{uuid.uuid4().hex[:8]}")
    assert code_of(refused) == ("BAD_USER_INPUT", field) and "errors" not in accepted, (refused, accepted)


async def test_a_subscription_sent_as_a_plain_json_post_is_refused(server: ServerProcess) -> None:
    known = await ids(server)
    body = {"query": ODDS, "variables": {"ids": [known["race"]]}}
    async with httpx.AsyncClient(base_url=server.http, timeout=30) as client:
        refused = (await client.post("/graphql", json=body)).json()
        async with client.stream("POST", "/graphql", json=body, headers={"accept": "text/event-stream"}) as stream:
            first = await anext(line async for line in stream.aiter_lines() if line.startswith("data:"))
    assert refused["errors"][0]["extensions"]["code"] == "BAD_REQUEST" and refused["data"] is None
    assert json.loads(first.removeprefix("data:"))["data"]["oddsUpdated"]["seq"] >= 0  # over SSE it streams


INIT = json.dumps({"type": "connection_init"})
SUBSCRIBE = {"id": "1", "type": "subscribe", "payload": {"query": "{ __typename }"}}
NOT_MESSAGES = {
    "a list": "[1, 2]",
    "a number": "42",
    "a string": '"x"',
    "null": "null",
    "true": "true",
    "type not a string": json.dumps({"type": 5}),
    "payload a number": json.dumps({**SUBSCRIBE, "payload": 42}),
    "payload a list": json.dumps({**SUBSCRIBE, "payload": []}),
    "query a number": json.dumps({**SUBSCRIBE, "payload": {"query": 5}}),
    "variables a list": json.dumps({**SUBSCRIBE, "payload": {"query": "{ __typename }", "variables": [1]}}),
    "variables a string": json.dumps({**SUBSCRIBE, "payload": {"query": "{ __typename }", "variables": "x"}}),
    "extensions a list": json.dumps({**SUBSCRIBE, "payload": {"query": "{ __typename }", "extensions": [1]}}),
    "operationName a number": json.dumps({**SUBSCRIBE, "payload": {"query": "{ __typename }", "operationName": 5}}),
    "id a number": json.dumps({**SUBSCRIBE, "id": 5}),
    "id empty": json.dumps({**SUBSCRIBE, "id": ""}),
    "complete without id": json.dumps({"type": "complete"}),
    "ping payload a number": json.dumps({"type": "ping", "payload": 5}),
}


@pytest.mark.parametrize("case", NOT_MESSAGES)
async def test_json_that_is_not_a_message_closes_4400(server: ServerProcess, case: str) -> None:
    assert await ws_closed_with(server, [INIT, NOT_MESSAGES[case]]) == 4400
    assert await ws_closed_with(server, [NOT_MESSAGES[case]]) == 4400  # before connection_init too
    client = await GraphQLWs.open(server.ws)  # the well-formed message is served
    await client.send(SUBSCRIBE)
    assert await client.next("1") == {"__typename": "Query"}
    await client.close()
    await assert_still_serving(server)


SUGGESTIONS: dict[str, tuple[str, dict[str, Any]]] = {
    "field": ("{ racez(first: 1) { edges { cursor } } }", {}),
    "argument": ('{ race(idd: "1") { id } }', {}),
    "type": ("query($f: RaceFiltr) { races(filter: $f) { edges { cursor } } }", {}),
    "enum value": ("{ races(filter: {status: [BETTING_OPN]}) { edges { cursor } } }", {}),
    "enum value in variables": (FILTER, {"s": ["BETTING_OPN"]}),
    "input field": ("{ races(filter: {statu: [OFF]}) { edges { cursor } } }", {}),
    "input field in variables": (
        "query($f: RaceFilter) { races(filter: $f) { edges { cursor } } }",
        {"f": {"statu": ["OFF"]}},
    ),
    "subscription argument": ('subscription { oddsUpdated(raceIdz: ["1"]) { seq } }', {}),
}


async def answers(target: ServerProcess, query: str, variables: dict[str, Any]) -> dict[str, str]:
    """The raw text a client receives over HTTP, SSE and graphql-transport-ws."""
    body = {"query": query, "variables": variables}
    async with httpx.AsyncClient(base_url=target.http, timeout=30) as client:
        http = (await client.post("/graphql", json=body)).text
        sse = (await client.post("/graphql", json=body, headers={"accept": "text/event-stream"})).text
    ws = await GraphQLWs.open(target.ws)
    await ws.subscribe("s", query, **variables)
    frames = [await ws.receive()]
    await ws.close()
    transports = {"HTTP": http, "SSE": sse, "WebSocket": json.dumps(frames)}
    if query.startswith("subscription"):
        del transports["HTTP"]  # refused before validation: a plain POST carries no subscription
    return transports


@pytest.mark.parametrize("kind", SUGGESTIONS)
async def test_production_suggests_nothing_and_development_does(
    server: ServerProcess, production: ServerProcess, kind: str
) -> None:
    query, variables = SUGGESTIONS[kind]
    hidden = await answers(production, query, variables)
    shown = await answers(server, query, variables)
    for transport, text in hidden.items():
        assert "Did you mean" not in text and "message" in text, (transport, text)
    for transport, text in shown.items():
        assert "Did you mean" in text, (transport, text)
