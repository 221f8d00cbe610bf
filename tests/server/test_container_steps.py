"""The image's install and start steps, run the way the Dockerfile runs them (no container engine
runs here): `scripts/bootstrap --prod` into a fresh virtual environment, then `racewire serve` from
another directory, answering its health check and serving its pages from the installed package."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from live_server import ROOT, free_port

DOCKERFILE = (ROOT / "Dockerfile").read_text()


@pytest.fixture(scope="module")
def prod_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    assert "RUN RACEWIRE_VENV=/opt/venv scripts/bootstrap --prod" in DOCKERFILE
    venv = tmp_path_factory.mktemp("image") / "venv"
    subprocess.run(
        [str(ROOT / "scripts" / "bootstrap"), "--prod"],
        cwd=ROOT,
        check=True,
        timeout=600,
        env={**os.environ, "RACEWIRE_VENV": str(venv), "PYTHON": sys.executable},
    )
    return venv


@pytest.fixture
def image_server(prod_venv: Path, tmp_path: Path) -> Iterator[str]:
    port = free_port()
    env = {
        "PATH": f"{prod_venv}/bin:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "RACEWIRE_HOST": "127.0.0.1",
        "RACEWIRE_PORT": str(port),
        "RACEWIRE_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/racewire.db",
    }
    command = re.search(r'^CMD \["racewire", "serve"\]$', DOCKERFILE, re.M)
    assert command, "the Dockerfile's CMD changed: update this test"
    process = subprocess.Popen(["racewire", "serve"], cwd=tmp_path, env=env, stderr=subprocess.PIPE, text=True)
    up = threading.Event()
    log: list[str] = []

    def drain() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            log.append(line)
            if "Uvicorn running on" in line:
                up.set()
        up.set()

    threading.Thread(target=drain, daemon=True).start()
    try:
        assert up.wait(60) and process.poll() is None, "".join(log)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(15)


def test_the_installed_image_starts_and_serves_everything(image_server: str) -> None:
    with httpx.Client(base_url=image_server) as client:
        assert client.get("/health").json() == {"status": "ok"}
        assert client.get("/ready").status_code == 200
        assert "GraphiQL" in client.get("/graphql", headers={"accept": "text/html"}).text
        assert client.get("/static/graphiql.js").status_code == 200
        assert client.get("/static/board.js").status_code == 200
        assert "racewire_open_connections" in client.get("/metrics").text
        answer = client.post("/graphql", json={"query": '{ meetings(date: "2026-01-01") { venue } }'})
        assert answer.json()["data"] == {"meetings": []}
