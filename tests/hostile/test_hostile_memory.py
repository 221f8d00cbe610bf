"""Bounded memory for anonymous input: request bodies and query strings are limited while they
are read, and no stream of distinct large documents grows the server without bound."""

from __future__ import annotations

import asyncio
import hashlib
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from hostile_server import assert_still_serving, start_server
from live_server import ServerProcess

MAX_BODY = 256 * 1024
MAX_QUERY_STRING = 16 * 1024
READ_TIMEOUT = 20


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """The hostile suite's server, with the query length raised to the body limit, as an operator
    may: what bounds memory then is the caches' byte budgets, not the length limit."""
    process = start_server(tmp_path_factory.mktemp("memory"), RACEWIRE_MAX_QUERY_LENGTH=str(MAX_BODY))
    yield process
    process.stop()


def raw_exchange(server: ServerProcess, head: str, body: bytes = b"") -> bytes:
    """Sends a request head and the given body bytes (no more), then reads until the server closes."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=READ_TIMEOUT) as sock:
        sock.sendall(head.encode() + body)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
        return answer


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


def chunked(data: bytes, size: int = 16 * 1024) -> bytes:
    return b"".join(b"%x\r\n%s\r\n" % (len(data[i : i + size]), data[i : i + size]) for i in range(0, len(data), size))


def head(method: str, target: str, port: int, *headers: str) -> str:
    lines = [f"{method} {target} HTTP/1.1", f"Host: 127.0.0.1:{port}", *headers, ""]
    return "\r\n".join(lines) + "\r\n"


async def test_a_body_declared_over_the_limit_is_refused_unread(server: ServerProcess) -> None:
    # Ten megabytes announced and none sent: only a refusal before reading can answer.
    answer = await asyncio.to_thread(
        raw_exchange,
        server,
        head("POST", "/graphql", server.port, "Content-Type: application/json", f"Content-Length: {10 * 1024 * 1024}"),
    )
    assert status_of(answer) == 413 and b"PAYLOAD_TOO_LARGE" in answer
    await assert_still_serving(server)


async def test_a_chunked_body_is_cut_off_at_the_limit_not_read_whole(server: ServerProcess) -> None:
    # One byte past the limit, then silence without the final chunk: a server reading the body whole
    # would wait forever. (Exactly that much, so that the server has read all that was sent when it closes.)
    start = b'{"query": "{ __typename }"'
    over = chunked(start + b" " * (MAX_BODY + 1 - len(start)))
    answer = await asyncio.to_thread(
        raw_exchange,
        server,
        head("POST", "/graphql", server.port, "Content-Type: application/json", "Transfer-Encoding: chunked"),
        over,
    )
    assert status_of(answer) == 413 and b'"code":"PAYLOAD_TOO_LARGE"' in answer
    assert b"connection: close" in answer.lower()

    under = chunked(b'{"query": "{ __typename }"' + b" " * (MAX_BODY - 1024) + b"}") + b"0\r\n\r\n"
    answer = await asyncio.to_thread(
        raw_exchange,
        server,
        head(
            "POST",
            "/graphql",
            server.port,
            "Content-Type: application/json",
            "Transfer-Encoding: chunked",
            "Connection: close",
        ),
        under,
    )
    assert status_of(answer) == 200 and b'"__typename":"Query"' in answer  # the positive control


async def test_a_body_over_the_limit_gets_413_and_one_under_it_is_answered(server: ServerProcess) -> None:
    async with httpx.AsyncClient(base_url=server.http, timeout=30) as client:
        # Padded with JSON white space, not query text: a query that long meets the query length limit.
        body = b'{"query": "{ __typename }"'
        json_type = {"Content-Type": "application/json"}
        refused = await client.post("/graphql", content=body + b" " * MAX_BODY + b"}", headers=json_type)
        served = await client.post("/graphql", content=body + b" " * (MAX_BODY - 1024) + b"}", headers=json_type)
    assert refused.status_code == 413
    assert refused.json() == {
        "errors": [
            {"message": f"the request body is over {MAX_BODY} bytes", "extensions": {"code": "PAYLOAD_TOO_LARGE"}}
        ]
    }
    assert served.status_code == 200 and served.json()["data"] == {"__typename": "Query"}


async def test_a_query_string_over_the_limit_gets_414(server: ServerProcess) -> None:
    padding = "%20" * (MAX_QUERY_STRING // 3)
    answer = await asyncio.to_thread(
        raw_exchange, server, head("GET", f"/graphql?query=%7B__typename%7D{padding}", server.port, "Connection: close")
    )
    assert status_of(answer) == 414 and b'"code":"URI_TOO_LONG"' in answer
    async with httpx.AsyncClient(base_url=server.http, timeout=30) as client:
        served = await client.get("/graphql", params={"query": "{ __typename }" + " " * (MAX_QUERY_STRING // 4)})
    assert served.status_code == 200 and served.json()["data"] == {"__typename": "Query"}


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def document(n: int, size: int) -> str:
    return f"# {n:06d} " + "x" * size + "\n{ __typename }"


def apq(query: str) -> dict[str, object]:
    digest = hashlib.sha256(query.encode()).hexdigest()
    return {"query": query, "extensions": {"persistedQuery": {"version": 1, "sha256Hash": digest}}}


async def test_many_distinct_large_documents_do_not_grow_memory_without_bound(server: ServerProcess) -> None:
    """Each document is valid and under the body limit, sent once, parsed, validated and registered as a
    persisted query: 600 of 200 KiB (none may be cached) and 600 of 48 KiB (cached up to the budgets)."""
    pid = server.process.pid
    async with httpx.AsyncClient(base_url=server.http, timeout=30) as client:

        async def send(n: int, size: int) -> None:
            response = await client.post("/graphql", json=apq(document(n, size)))
            assert response.status_code == 200 and response.json()["data"] == {"__typename": "Query"}

        for n in range(20):  # warm up: the first requests allocate what every request reuses
            await send(n, 1_000)
        before = rss_bytes(pid)
        for n in range(600):
            await send(100_000 + n, 200 * 1024)
        for n in range(600):
            await send(200_000 + n, 48 * 1024)
        grown = rss_bytes(pid) - before
    sent = 600 * 200 * 1024 + 600 * 48 * 1024  # 145 MiB
    # Measured: the entry-count caches grew 277 MiB on this; the byte budgets (parse 16 MiB estimated,
    # validated 4 MiB, persisted 8 MiB, sharing the same strings) about 50 MiB, most of it the allocator's.
    assert grown < 128 * 1024 * 1024, f"RSS grew by {grown / 2**20:.0f} MiB for {sent / 2**20:.0f} MiB sent"
    await assert_still_serving(server)
