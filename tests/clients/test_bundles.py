"""The committed browser bundles are exactly what clients/web builds to, so none is stale."""

from __future__ import annotations

import subprocess
from pathlib import Path

from js_clients import CLIENTS
from server.assets import STATIC


def test_the_committed_bundles_match_a_fresh_build(tmp_path: Path) -> None:
    subprocess.run(["node", "build.mjs", str(tmp_path)], cwd=CLIENTS, check=True, timeout=120)
    built = {p.name: p.read_bytes() for p in tmp_path.iterdir()}

    assert built, "the build wrote nothing"
    stale = [name for name, content in built.items() if (STATIC / name).read_bytes() != content]
    assert stale == [], f"rebuild with `npm run build` in clients/ and commit: {stale}"
