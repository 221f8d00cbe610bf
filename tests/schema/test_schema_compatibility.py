"""The published schema stays compatible: a breaking change fails unless it is listed, and every
deprecation says why."""

from __future__ import annotations

from pathlib import Path

from graphql import GraphQLEnumType, GraphQLInputObjectType, GraphQLInterfaceType, GraphQLObjectType, build_schema

from schema.compatibility import listed_changes, review
from schema.schema import schema

ROOT = Path(__file__).resolve().parents[2]
PUBLISHED = (ROOT / "graphql" / "published.graphql").read_text()
LISTED = (ROOT / "graphql" / "breaking-changes.txt").read_text()


def test_no_unlisted_breaking_change_to_the_published_schema() -> None:
    found = review(PUBLISHED, schema._schema, listed_changes(LISTED))  # noqa: SLF001 - Strawberry's graphql-core schema
    assert found.unlisted == [], (
        "breaking changes to graphql/published.graphql: deprecate first, then list each in "
        f"graphql/breaking-changes.txt with its reason (docs/partners.md): {found.unlisted}"
    )
    assert found.stale == [], f"listed in graphql/breaking-changes.txt, but no longer made: {found.stale}"


def test_the_check_fails_on_a_removed_field_a_changed_type_or_a_new_required_argument() -> None:
    edits = [
        ('  """Saddle-cloth number."""\n  number: Int!\n', ""),
        (
            '"""Race distance in metres."""\n  distanceMeters: Int!\n',
            '"""Race distance in metres."""\n  distanceMeters: Float!\n',
        ),
        ("  meetings(\n", '  meetings(\n    """Only these venues."""\n    venues: [String!]!\n'),
    ]
    edited = PUBLISHED
    for before, after in edits:
        assert edited.count(before) == 1, before  # each edit changes one place of the published schema
        edited = edited.replace(before, after)
    current = build_schema(edited)

    found = review(PUBLISHED, current, set())
    assert sorted(found.unlisted) == sorted(
        [
            "Field Runner.number was removed.",
            "Field Race.distanceMeters changed type from Int! to Float!.",
            "A required argument Query.meetings(venues:) was added.",
        ]
    )
    listed = listed_changes(
        "\n".join(f"{change} # announced 2026-09-01, gone after 90 days" for change in found.unlisted)
    )
    assert review(PUBLISHED, current, listed).unlisted == []
    assert review(PUBLISHED, schema._schema, listed).stale == sorted(listed)  # noqa: SLF001


def test_every_deprecation_gives_its_reason() -> None:
    missing = []
    for name, kind in schema._schema.type_map.items():  # noqa: SLF001
        if name.startswith("__"):
            continue
        if isinstance(kind, GraphQLEnumType):
            members = kind.values
        elif isinstance(kind, GraphQLObjectType | GraphQLInterfaceType | GraphQLInputObjectType):
            members = kind.fields
        else:
            continue
        for member_name, member in members.items():
            reason = getattr(member, "deprecation_reason", None)
            if reason is not None and len(reason.strip()) < 10:
                missing.append(f"{name}.{member_name}")
            for arg_name, arg in getattr(member, "args", {}).items():
                if arg.deprecation_reason is not None and len(arg.deprecation_reason.strip()) < 10:
                    missing.append(f"{name}.{member_name}({arg_name})")
    assert missing == []
