"""Who is asking: the token's subject and scopes, or nobody."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Viewer:
    subject: str | None
    scopes: frozenset[str]

    @property
    def authenticated(self) -> bool:
        return self.subject is not None


ANONYMOUS = Viewer(subject=None, scopes=frozenset())
