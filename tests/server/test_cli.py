"""The racewire command line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import jwt

ROOT = Path(__file__).resolve().parents[2]


def racewire(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "server.cli", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


def test_token_mints_a_token_with_the_configured_secret() -> None:
    import os

    env = {**os.environ, "RACEWIRE_JWT_SECRET": "cli-test-secret-0123456789abcdefghij"}
    done = racewire("token", "--sub", "feed-7", "--scope", "odds:write", "--scope", "races:write news:write", env=env)
    claims = jwt.decode(done.stdout.strip(), "cli-test-secret-0123456789abcdefghij", algorithms=["HS256"])

    assert claims["sub"] == "feed-7"
    assert claims["scope"].split() == ["news:write", "odds:write", "races:write"]
    assert claims["exp"] > claims["iat"]


def test_token_names_the_sources_it_may_write_and_production_refuses_the_development_secret() -> None:
    import os

    env = {**os.environ, "RACEWIRE_JWT_SECRET": "cli-test-secret-0123456789abcdefghij"}
    done = racewire("token", "--scope", "odds:write", "--source", "bet365", "--source", "betfair", env=env)
    claims = jwt.decode(done.stdout.strip(), "cli-test-secret-0123456789abcdefghij", algorithms=["HS256"])
    assert claims["sources"] == ["bet365", "betfair"]
    unbounded = racewire("token", "--scope", "odds:write", env=env)
    assert "sources" not in jwt.decode(unbounded.stdout.strip(), options={"verify_signature": False})

    production = {k: v for k, v in os.environ.items() if k != "RACEWIRE_JWT_SECRET"}
    refused = racewire("token", "--scope", "odds:write", env={**production, "RACEWIRE_PRODUCTION": "true"})
    assert refused.returncode != 0 and refused.stdout == ""
    assert "no secret to sign with: set RACEWIRE_JWT_SECRET" in refused.stderr


def test_export_schema_prints_the_sdl() -> None:
    done = racewire("export-schema")
    assert done.returncode == 0
    assert done.stdout == (ROOT / "graphql" / "schema.graphql").read_text()


def test_export_schema_federation_prints_the_subgraph_sdl() -> None:
    done = racewire("export-schema", "--federation")
    assert done.returncode == 0
    assert done.stdout == (ROOT / "graphql" / "subgraph.graphql").read_text()
    assert '@key(fields: "id")' in done.stdout


def test_documents_add_registers_checked_operations_in_the_clients_manifest(tmp_path: Path) -> None:
    import hashlib
    import json

    card = ROOT / "graphql" / "operations" / "RaceCard.graphql"
    added = racewire("documents", "add", "--client", "tipster", "--dir", str(tmp_path), str(card))
    again = racewire("documents", "add", "--client", "tipster", "--dir", str(tmp_path), str(card))
    manifest = json.loads((tmp_path / "tipster.json").read_text())
    digest = hashlib.sha256(card.read_text().encode()).hexdigest()

    assert added.returncode == 0 and f"added: query RaceCard {digest}" in added.stdout
    assert again.returncode == 0 and "already registered: query RaceCard" in again.stdout
    assert manifest == {
        "format": "apollo-persisted-query-manifest",
        "version": 1,
        "operations": [{"id": digest, "name": "RaceCard", "type": "query", "body": card.read_text()}],
    }
    assert (
        racewire("documents", "list", "--client", "tipster", "--dir", str(tmp_path)).stdout
        == f"{digest} query RaceCard\n"
    )

    (tmp_path / "Bad.graphql").write_text("query Bad { race(id: 1) { nope } }")
    invalid = racewire("documents", "add", "--client", "tipster", "--dir", str(tmp_path), str(tmp_path / "Bad.graphql"))
    escaping = racewire("documents", "add", "--client", "../etc", "--dir", str(tmp_path), str(card))
    assert invalid.returncode != 0 and "Cannot query field 'nope'" in invalid.stderr
    assert escaping.returncode != 0 and "client '../etc'" in escaping.stderr
    assert json.loads((tmp_path / "tipster.json").read_text()) == manifest


def test_token_names_the_client_it_is_issued_to() -> None:
    import os

    env = {**os.environ, "RACEWIRE_JWT_SECRET": "cli-test-secret-0123456789abcdefghij"}
    done = racewire("token", "--sub", "tipster-app", "--client", "tipster", env=env)
    claims = jwt.decode(done.stdout.strip(), "cli-test-secret-0123456789abcdefghij", algorithms=["HS256"])
    assert claims["client"] == "tipster" and claims["sub"] == "tipster-app"


def test_migrate_creates_the_sqlite_file(tmp_path: Path) -> None:
    import os

    env = {**os.environ, "RACEWIRE_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/fresh.db"}
    done = racewire("migrate", env=env)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "fresh.db").stat().st_size > 0


def test_workers_refuse_an_unshared_setup() -> None:
    done = racewire("serve", "--workers", "2")
    assert done.returncode != 0 and "redis://" in done.stderr


def test_processes_starting_together_migrate_one_after_another() -> None:
    import asyncio
    import os
    import uuid

    import asyncpg

    from conftest import POSTGRES_ADMIN_URL

    name = f"racewire_migrate_{uuid.uuid4().hex[:8]}"

    async def admin(sql: str) -> None:
        connection = await asyncpg.connect(POSTGRES_ADMIN_URL)
        try:
            await connection.execute(sql)
        finally:
            await connection.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    try:
        base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
        env = {**os.environ, "RACEWIRE_DATABASE_URL": f"{base}/{name}"}
        runs = [
            subprocess.Popen(
                [sys.executable, "-m", "server.cli", "migrate"],
                cwd=ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(3)
        ]
        outcomes: list[tuple[int, str]] = []
        for run in runs:
            _, stderr = run.communicate(timeout=60)  # reads both pipes: a full one cannot block the child
            outcomes.append((run.returncode, stderr))
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    assert [code for code, _ in outcomes] == [0, 0, 0], outcomes


def test_serve_help_shows_the_port_it_would_use() -> None:
    import os

    assert "now 8123: RACEWIRE_PORT" in racewire("serve", "--help", env={**os.environ, "RACEWIRE_PORT": "8123"}).stdout
    assert (
        "now 8000"
        in racewire("serve", "--help", env={k: v for k, v in os.environ.items() if k != "RACEWIRE_PORT"}).stdout
    )


def test_every_subcommand_describes_itself() -> None:
    for name in ("serve", "migrate", "demo", "feed", "token", "export-schema", "documents"):
        done = racewire(name, "--help")
        description = done.stdout.split("\n\n")[1]
        assert done.returncode == 0 and not description.startswith("options:") and len(description) > 30, done.stdout


def test_token_shows_its_defaults_and_refuses_unknown_scopes() -> None:
    from schema.permissions import HasScope
    from server.cli import _SCOPES

    assert set(_SCOPES) == {kind.scope for kind in HasScope.__subclasses__()}
    shown = racewire("token", "--help").stdout
    assert "(default dev)" in shown and "(default 12" in shown and "odds:write, races:write, news:write" in shown
    refused = racewire("token", "--scope", "odds:write odds:wirte")
    assert refused.returncode == 2 and refused.stdout == "" and "unknown scope odds:wirte" in refused.stderr
    assert racewire("token", "--scope", "odds:write").stdout.count(".") == 2  # the well-formed request still mints
