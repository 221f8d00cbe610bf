"""Price sources: which races take prices, what a source's code looks like, and which sources a
token may write."""

from __future__ import annotations

import re

from resolvers.errors import BadUserInput, Forbidden
from resolvers.viewer import Viewer
from storage.models import RaceStatus

TAKES_PRICES = frozenset({RaceStatus.SCHEDULED, RaceStatus.BETTING_OPEN, RaceStatus.SUSPENDED})
SOURCE_CODE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,39}$")


def check_source(source: str) -> None:
    if not SOURCE_CODE.match(source):
        raise BadUserInput("source must be 1-40 characters of a-z, 0-9, '.', '_' or '-'", field="source")


def authorize_source(writer: Viewer, source: str, *, required: bool) -> None:
    """A token that names sources may write only those; one that names none may write any, unless
    the server requires tokens to name them (`required`)."""
    if writer.sources is None:
        if required:
            raise Forbidden(
                f"this server takes odds only from tokens that name their sources: the token has no "
                f"sources claim, so it may not write source '{source}'",
                field="source",
                source=source,
            )
        return
    if source not in writer.sources:
        raise Forbidden(f"the token may not write source '{source}'", field="source", source=source)
