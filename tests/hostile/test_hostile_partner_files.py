"""Partner files that are large, deep or malformed (bench/inputs.py finds them): the partners TOML
and the manifests stop `racewire serve` at start with the reason named, never a traceback, and
`racewire documents add` refuses an operation the server could not afford to judge, writing
nothing. Each refusal beside a well-behaved twin."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from live_server import ROOT, ServerProcess

pytestmark = pytest.mark.process  # every test runs the CLI, through helpers the tier check cannot see
STARTUP_FAILURE = 3  # server/settings.py: uvicorn does not restart a worker that exits with it
FORMAT = "apollo-persisted-query-manifest"
CARD = (ROOT / "graphql" / "operations" / "RaceCard.graphql").read_text()


def operation(body: str, **fields: object) -> dict[str, object]:
    return {"id": hashlib.sha256(body.encode()).hexdigest(), "name": "Card", "type": "query", "body": body, **fields}


def manifest(operations: object, **fields: object) -> str:
    return json.dumps({"format": FORMAT, "version": 1, "operations": operations, **fields})


def serve(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "server.cli", "serve", "--port", "0"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "RACEWIRE_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/r.db", **env},
    )


def racewire(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "server.cli", *args], cwd=ROOT, capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (b"[tipster]\nrequests_per_second = inf\n", "requests_per_second must be a positive finite number"),
        (b"[tipster]\nrequests_per_second = nan\n", "requests_per_second must be a positive finite number"),
        (b"[tipster]\nmax_query_cost = " + b"[" * 10_000 + b"]" * 10_000 + b"\n", "nested too deep"),
        (b"[tipster]\nmax_query_cost = 10 # \xff\n", "utf-8"),
    ],
    ids=["inf", "nan", "nested-10000", "not-utf8"],
)
def test_a_partners_file_out_of_bounds_stops_the_server_naming_why(tmp_path: Path, text: bytes, reason: str) -> None:
    (tmp_path / "partners.toml").write_bytes(text)
    done = serve(tmp_path, RACEWIRE_PARTNERS_FILE=str(tmp_path / "partners.toml"))
    assert done.returncode == STARTUP_FAILURE, done.stderr
    assert reason in done.stderr and "Traceback" not in done.stderr, done.stderr


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (manifest(5), f'expected {{"format": "{FORMAT}", "version": 1, "operations": [...]}}'),
        (manifest({"Card": operation(CARD)}), '"operations": [...]'),
        (manifest("x" * 1024 * 1024), '"operations": [...]'),
        (json.dumps({"format": FORMAT, "version": True, "operations": []}), '"version": 1'),
        ("[" * 100_000 + "]" * 100_000, "not a readable JSON manifest (nested too deep)"),
        (manifest([operation(CARD, type="fragment")]), "type must be one of ['mutation', 'query', 'subscription']"),
    ],
    ids=["operations-int", "operations-object", "operations-1MiB-string", "version-true", "nested-100000", "type"],
)
def test_a_malformed_manifest_stops_the_server_naming_why(tmp_path: Path, text: str, reason: str) -> None:
    documents = tmp_path / "documents"
    documents.mkdir()
    (documents / "tipster.json").write_text(text)
    done = serve(tmp_path, RACEWIRE_PARTNER_DOCUMENTS_DIR=str(documents))
    assert done.returncode == STARTUP_FAILURE, done.stderr
    assert reason in done.stderr and "Traceback" not in done.stderr, done.stderr


def test_the_well_behaved_twins_start(tmp_path: Path) -> None:
    documents = tmp_path / "documents"
    documents.mkdir()
    (documents / "tipster.json").write_text(manifest([operation(CARD)]))
    (tmp_path / "partners.toml").write_text("[tipster]\nrequests_per_second = 1e308\nmax_query_cost = 100\n")
    server = ServerProcess(
        {
            "RACEWIRE_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/r.db",
            "RACEWIRE_PARTNERS_FILE": str(tmp_path / "partners.toml"),
            "RACEWIRE_PARTNER_DOCUMENTS_DIR": str(documents),
        }
    ).start()
    server.stop()


def side_by_side(count: int) -> str:
    """Fragments spread next to one another, each selecting the same fields: pairs to compare."""
    fragments = " ".join(f"fragment F{n} on Race {{ id name status }}" for n in range(count))
    return fragments + ' query Card { race(id: "1") { ' + " ".join(f"...F{n}" for n in range(count)) + " } }"


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        (side_by_side(50), "too many overlapping fields to check"),  # within the tokens: the budget refuses
        (side_by_side(400), "QUERY_TOO_LARGE"),
        ("query Card { " + "__typename " * 1000 + "}", "QUERY_TOO_LARGE"),
        ("query Card { __typename }\n#" + "c" * 1024 * 1024, "longer than the query length limit"),
    ],
    ids=["merging-budget", "tokens", "tokens-same-field", "length-1MiB"],
)
def test_documents_add_refuses_what_the_server_could_not_afford_to_judge(
    tmp_path: Path, document: str, reason: str
) -> None:
    (tmp_path / "Card.graphql").write_text(document)
    (tmp_path / "Twin.graphql").write_text(CARD)
    refused = racewire(
        "documents", "add", "--client", "tipster", "--dir", str(tmp_path), str(tmp_path / "Card.graphql")
    )
    assert refused.returncode != 0 and reason in refused.stderr and "Traceback" not in refused.stderr, refused.stderr
    assert not (tmp_path / "tipster.json").exists()
    twin = racewire("documents", "add", "--client", "tipster", "--dir", str(tmp_path), str(tmp_path / "Twin.graphql"))
    assert twin.returncode == 0, twin.stderr
    assert [o["name"] for o in json.loads((tmp_path / "tipster.json").read_text())["operations"]] == ["RaceCard"]
