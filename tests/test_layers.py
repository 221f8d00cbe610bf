"""The layers: every import of the packages that ship points down, never up or sideways. The order
is written once, here; scripts/import_graph.py (whose parser this uses) prints the graph."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent

# Top first. A package may import any package of a layer below its own, none of its own layer
# (other than itself) and none above. `demo/` is a client of the use cases, beside `schema/`.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("server",),
    ("schema", "demo"),
    ("resolvers",),
    ("storage", "pubsub"),
    ("events",),
)
RANK = {package: n for n, layer in enumerate(LAYERS) for package in layer}


def import_graph() -> ModuleType:
    spec = importlib.util.spec_from_file_location("import_graph", ROOT / "scripts" / "import_graph.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


GRAPH = import_graph()


def against_the_layers(root: Path) -> list[str]:
    wrong = []
    for found in GRAPH.imports(root):
        source, target = found.arrow
        if source != target and RANK[source] >= RANK[target]:
            wrong.append(f"{found.module} (line {found.line}) imports {found.target}: {source} -> {target}")
    return wrong


def test_every_package_that_ships_has_its_layer() -> None:
    assert set(RANK) == set(GRAPH.PACKAGES)


def test_no_import_points_up_or_sideways() -> None:
    assert against_the_layers(ROOT) == []


def test_the_graph_holds_the_arrows_the_layers_are_built_on() -> None:
    # The parser's positive control on the real tree: it sees the imports a reader sees.
    edges = GRAPH.graph(ROOT)
    for arrow in [("server", "schema"), ("schema", "resolvers"), ("resolvers", "storage"), ("demo", "resolvers")]:
        assert edges[arrow] > 0, arrow
    assert edges[("storage", "events")] > 0 and edges[("pubsub", "events")] > 0


def test_an_upward_and_a_sideways_import_are_found_wherever_they_are_and_relative_ones_stay_home(
    tmp_path: Path,
) -> None:
    for package in GRAPH.PACKAGES:
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
    (tmp_path / "storage" / "up.py").write_text("def late():\n    from resolvers import live\n")
    (tmp_path / "pubsub" / "beside.py").write_text("import storage.events\n")
    (tmp_path / "events" / "inner").mkdir()
    (tmp_path / "events" / "inner" / "__init__.py").write_text(
        "from typing import TYPE_CHECKING\n\nfrom .. import payloads\n\nif TYPE_CHECKING:\n    from schema.context import Context\n"
    )
    (tmp_path / "server" / "down.py").write_text("from schema import query\nfrom . import app\n")

    assert sorted(against_the_layers(tmp_path)) == [
        "events.inner (line 6) imports schema.context: events -> schema",
        "pubsub.beside (line 1) imports storage.events: pubsub -> storage",
        "storage.up (line 2) imports resolvers: storage -> resolvers",
    ]
