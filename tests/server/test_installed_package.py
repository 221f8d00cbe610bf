"""Trusted documents in a real non-editable install, run from another directory: the operations
ship in the package, and a package without them refuses to start instead of trusting nothing."""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from live_server import ROOT, ServerProcess

SHIPPED = sorted((ROOT / "graphql" / "operations").glob("*.graphql"))


def site_packages(venv: Path) -> Path:
    return Path(sysconfig.get_path("purelib", vars={"base": str(venv), "platbase": str(venv)}))


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv with racewire pip-installed (not editable) from the checkout; its dependencies are
    the checkout's .venv packages, added to its path after the install."""
    venv = tmp_path_factory.mktemp("installed") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-deps",
            str(ROOT),
        ],
        check=True,
        timeout=300,
        cwd=venv,
    )
    (site_packages(venv) / "racewire-deps.pth").write_text(f"{sysconfig.get_path('purelib')}\n")
    return venv


def serve(venv: Path, where: Path, **env: str) -> ServerProcess:
    return ServerProcess(
        {"RACEWIRE_DATABASE_URL": f"sqlite+aiosqlite:///{where}/racewire.db", **env},
        command=(str(venv / "bin" / "racewire"), "serve"),
        cwd=where,
    )


@pytest.fixture
def trusted_server(installed: Path, tmp_path: Path) -> Iterator[ServerProcess]:
    server = serve(installed, tmp_path, RACEWIRE_TRUSTED_DOCUMENTS="true").start()
    try:
        yield server
    finally:
        server.stop()


def test_the_install_is_the_package_not_the_checkout(installed: Path, tmp_path: Path) -> None:
    where = subprocess.run(
        [str(installed / "bin" / "python"), "-c", "import server.persisted as p; print(p.__file__)"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert Path(where).is_relative_to(site_packages(installed)), where
    shipped = sorted(path.name for path in (site_packages(installed) / "server" / "operations").glob("*.graphql"))
    assert shipped == [path.name for path in SHIPPED] and shipped


def test_trusted_documents_run_in_the_installed_package(trusted_server: ServerProcess) -> None:
    document = (ROOT / "graphql" / "operations" / "TodaysRaces.graphql").read_text()
    trusted = httpx.post(
        f"{trusted_server.http}/graphql", json={"query": document, "variables": {"date": "2026-06-01"}}
    ).json()
    ad_hoc = httpx.post(
        f"{trusted_server.http}/graphql", json={"query": "{ races(first: 1) { edges { cursor } } }"}
    ).json()
    assert "errors" not in trusted and trusted["data"]["races"]["edges"] == [], trusted
    assert ad_hoc["errors"][0]["extensions"]["code"] == "OPERATION_NOT_TRUSTED", ad_hoc


def test_a_package_without_its_operations_refuses_to_start(installed: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(installed, broken, symlinks=True)
    for script in (broken / "bin").iterdir():  # a copied venv's scripts still name the original
        if script.is_file() and not script.is_symlink() and script.read_bytes().startswith(b"#!"):
            script.write_text(script.read_text().replace(str(installed), str(broken)))
    shutil.rmtree(site_packages(broken) / "server" / "operations")
    server = serve(broken, tmp_path, RACEWIRE_TRUSTED_DOCUMENTS="true")
    with pytest.raises(RuntimeError, match=r"no \*\.graphql operations in"):
        server.start(timeout=30)
    # The same broken package starts without trusted documents: only that setting needs them.
    assert serve(broken, tmp_path).start().stop() is None
