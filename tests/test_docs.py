"""The manual stays whole: every setting, error code and close code the server has is on a docs page,
every `RACEWIRE_*` name the pages mention exists, and every relative link resolves. Reads files only."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from server.settings import PREFIX, Settings

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGES = [ROOT / "README.md", ROOT / "bench" / "README.md", *sorted(DOCS.glob("*.md"))]
SERVER_SOURCES = sorted(
    path
    for package in ("server", "resolvers", "schema", "pubsub", "storage", "demo", "events")
    for path in (ROOT / package).rglob("*.py")
)
# Variables that the scripts and tests read, not the server: configuration.md lists them as such.
TOOL_VARIABLES = {
    "TEST_POSTGRES",
    "VENV",
    "CHROMIUM",
    "TEST_CLUSTER_PORT",
    "TEST_CLUSTER_NODES",
    "TEST_CLUSTER_REPLICAS",
}
NOT_CODES = {"COMMAND", "RACEWIRE_"}  # argparse's metavar, the settings prefix
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.M | re.S)


def text_of(page: Path) -> str:
    """The page without its fenced code blocks: links and headings there are not the page's."""
    return FENCE.sub("", page.read_text())


def all_docs() -> str:
    return "\n".join(page.read_text() for page in PAGES)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    seen: dict[str, int] = {}
    found = set()
    for heading in re.findall(r"^#{1,6} (.+)$", text_of(page), re.M):
        base = slug(heading)
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def string_constants(path: Path) -> set[str]:
    return {
        node.value
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    }


def test_the_manual_has_its_pages() -> None:
    assert (DOCS / "README.md").exists() and (DOCS / "configuration.md").exists()
    index = (DOCS / "README.md").read_text()
    assert all(f"({page.name})" in index for page in DOCS.glob("*.md") if page.name != "README.md")


@pytest.mark.parametrize("name", [name.upper() for name in Settings.model_fields])
def test_every_setting_is_on_the_configuration_page(name: str) -> None:
    assert f"`{name}`" in (DOCS / "configuration.md").read_text(), f"{PREFIX}{name} is not in docs/configuration.md"


def test_every_racewire_variable_the_pages_name_exists() -> None:
    settings = {name.upper() for name in Settings.model_fields}
    named = set(re.findall(rf"\b{PREFIX}([A-Z][A-Z0-9_]*[A-Z0-9])\b", all_docs()))
    assert named & settings  # the pattern finds the settings the pages do name
    assert named - settings - TOOL_VARIABLES == set()
    scripts = "\n".join(
        path.read_text()
        for folder in ("scripts", "tests")
        for path in (ROOT / folder).rglob("*")
        if path.is_file() and path.suffix in {"", ".py", ".sh"} and path.name != "test_docs.py"
    )
    assert all(PREFIX + name in scripts for name in TOOL_VARIABLES)


def test_every_error_code_and_enum_value_of_the_server_is_documented() -> None:
    docs = all_docs()
    names = {
        value for path in SERVER_SOURCES for value in string_constants(path) if re.fullmatch(r"[A-Z][A-Z_]{4,}", value)
    } - NOT_CODES
    assert {"BAD_USER_INPUT", "SERVICE_UNAVAILABLE", "URI_TOO_LONG"} <= names  # the scan sees them
    assert sorted(name for name in names if f"`{name}`" not in docs and name not in docs) == []


def test_every_close_code_of_the_server_is_in_the_limits_page() -> None:
    codes = set()
    for path in SERVER_SOURCES:
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Assign)
                and isinstance(node.value, ast.Constant)
                and any(isinstance(target, ast.Name) and target.id.endswith("_CLOSE") for target in node.targets)
            ):
                codes.add(node.value.value)
            if (
                isinstance(node, ast.keyword)
                and node.arg == "code"
                and isinstance(node.value, ast.Constant)
                and isinstance(node.value.value, int)
            ):
                codes.add(node.value.value)
    assert {4400, 4403, 4429, 4504} <= codes  # the scan sees them
    limits = (DOCS / "limits.md").read_text()
    assert sorted(code for code in codes if f"| {code} |" not in limits) == []


def relative_links() -> list[tuple[str, str]]:
    return [
        (str(page.relative_to(ROOT)), target)
        for page in PAGES
        for target in LINK.findall(text_of(page))
        if not re.match(r"[a-z]+:", target)
    ]


def test_the_pages_have_relative_links() -> None:
    assert len(relative_links()) > 20


@pytest.mark.parametrize(("page", "target"), relative_links())
def test_every_relative_link_resolves(page: str, target: str) -> None:
    path, _, anchor = target.partition("#")
    resolved = ((ROOT / page).parent / path).resolve() if path else ROOT / page
    assert resolved.exists(), f"{page}: {target} names no file"
    if anchor:
        assert resolved.suffix == ".md", f"{page}: {target} has an anchor into a file that is not a page"
        assert anchor in anchors(resolved), f"{page}: {target}: no such heading in {resolved.relative_to(ROOT)}"
