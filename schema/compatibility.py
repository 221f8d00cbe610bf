"""The published schema's promise: a change that would break a partner's operations is made only
when it is listed (graphql/breaking-changes.txt), after its deprecation (docs/partners.md)."""

from __future__ import annotations

from dataclasses import dataclass

from graphql import GraphQLSchema, build_schema, find_breaking_changes


@dataclass(frozen=True)
class Review:
    unlisted: list[str]  # breaking changes nobody listed: the check fails on them
    stale: list[str]  # listed changes that no longer happen: the list is out of date


def listed_changes(text: str) -> set[str]:
    """The list file's entries: each line's change, without its `# reason`."""
    entries = (line.split(" # ", 1)[0].strip() for line in text.splitlines() if not line.lstrip().startswith("#"))
    return {entry for entry in entries if entry}


def review(published_sdl: str, current: GraphQLSchema, listed: set[str]) -> Review:
    found = [change.description for change in find_breaking_changes(build_schema(published_sdl), current)]
    return Review(unlisted=[c for c in found if c not in listed], stale=sorted(listed - set(found)))
