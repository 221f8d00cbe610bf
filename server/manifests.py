"""A partner's registered operations: one manifest per client, `<client>.json` in
RACEWIRE_PARTNER_DOCUMENTS_DIR, in Apollo's persisted query manifest format (what
`@apollo/generate-persisted-query-manifest` writes, so a partner's build can hand it over as is).

Each operation's id is the sha256 of its body's exact text; a client sends the body, or the id
alone as an APQ `persistedQuery` hash."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from graphql import GraphQLError, GraphQLSchema, OperationDefinitionNode, parse, specified_rules, validate

from schema.documents import document_id
from schema.limit_errors import limit_code
from schema.merge_budget import budgeted_field_merging, with_budget
from schema.operation_gate import MAX_VALIDATION_ERRORS
from schema.query_limits import QueryLimits

FORMAT = "apollo-persisted-query-manifest"
TYPES = frozenset({"query", "mutation", "subscription"})
CLIENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class ManifestError(ValueError):
    """A manifest or an operation that cannot be registered, with the reason."""


@dataclass(frozen=True)
class Operation:
    id: str
    name: str
    type: str
    body: str

    def entry(self) -> dict[str, str]:
        return {"id": self.id, "name": self.name, "type": self.type, "body": self.body}


def manifest_path(directory: Path, client: str) -> Path:
    if not CLIENT_ID.match(client):
        raise ManifestError(
            f"client {client!r}: use 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit"
        )
    return directory / f"{client}.json"


def read_manifest(path: Path) -> list[Operation]:
    """The manifest's operations; every id must be its body's sha256."""
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise ManifestError(f"{path}: not a readable JSON manifest ({error})") from None
    except RecursionError:  # the json module recurses per level of nesting
        raise ManifestError(f"{path}: not a readable JSON manifest (nested too deep)") from None
    if (
        not isinstance(manifest, dict)
        or manifest.get("format") != FORMAT
        or type(manifest.get("version")) is not int  # not 1.0 or true, which equal 1
        or manifest["version"] != 1
        or not isinstance(manifest.get("operations"), list)
    ):
        raise ManifestError(f'{path}: expected {{"format": "{FORMAT}", "version": 1, "operations": [...]}}')
    operations = []
    for index, entry in enumerate(manifest["operations"]):
        if not isinstance(entry, dict) or not all(
            isinstance(entry.get(k), str) for k in ("id", "name", "type", "body")
        ):
            raise ManifestError(f"{path}: operations[{index}] needs string id, name, type and body")
        if entry["type"] not in TYPES:
            raise ManifestError(
                f"{path}: operations[{index}] ({entry['name'][:64]!r}): type must be one of {sorted(TYPES)}"
            )
        if document_id(entry["body"]) != entry["id"]:
            raise ManifestError(f"{path}: operations[{index}] ({entry['name'][:64]}): id is not the sha256 of its body")
        operations.append(Operation(entry["id"], entry["name"], entry["type"], entry["body"]))
    return operations


def load_manifests(directory: Path) -> dict[str, list[Operation]]:
    """Every client's manifest in the directory, by client id."""
    if not directory.is_dir():
        raise ManifestError(f"RACEWIRE_PARTNER_DOCUMENTS_DIR={directory} is not a directory")
    manifests = {}
    for path in sorted(directory.glob("*.json")):
        if not CLIENT_ID.match(path.stem):
            raise ManifestError(f"{path}: a manifest is named <client id>.json, and {path.stem!r} is not a client id")
        manifests[path.stem] = read_manifest(path)
    return manifests


def operation_of(text: str, schema: GraphQLSchema, *, source: str, limits: QueryLimits | None = None) -> Operation:
    """A file's one operation (with any fragments it spreads), valid against the schema and within
    the limits' length, tokens and field-merging budget: what the server would refuse to run is
    not registered, and a hostile file costs what a request does (bench/inputs.py)."""
    limits = limits or QueryLimits()
    if len(text) > limits.max_query_length:
        raise ManifestError(f"{source}: longer than the query length limit ({limits.max_query_length} characters)")
    try:
        document = parse(text, max_tokens=limits.max_tokens)
    except GraphQLError as error:
        code = limit_code(error)
        raise ManifestError(f"{source}: {f'{code}: ' if code else ''}{error.message}") from None
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if len(operations) != 1 or operations[0].name is None:
        raise ManifestError(f"{source}: a registered document holds exactly one named operation")
    rules = with_budget(tuple(specified_rules), budgeted_field_merging(limits.validation_budget))
    if errors := validate(schema, document, rules, max_errors=MAX_VALIDATION_ERRORS):
        raise ManifestError(f"{source}: {errors[0].message}")
    operation = operations[0]
    assert operation.name is not None
    return Operation(document_id(text), operation.name.value, operation.operation.value, text)


def add_operations(path: Path, operations: list[Operation]) -> list[Operation]:
    """Adds the operations not yet in the manifest (a new version of one keeps the old for its
    clients still in the field); returns those added."""
    existing = read_manifest(path) if path.exists() else []
    known = {operation.id for operation in existing}
    added = [operation for operation in operations if operation.id not in known]
    manifest = {"format": FORMAT, "version": 1, "operations": [o.entry() for o in [*existing, *added]]}
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".json.tmp")
    temporary.write_text(json.dumps(manifest, indent=2) + "\n")
    temporary.replace(path)
    return added
