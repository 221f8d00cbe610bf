"""Who is asking: the token's subject, scopes and writable sources, or nobody."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Viewer:
    subject: str | None
    scopes: frozenset[str]
    # The odds sources the token may write (its `sources` claim); None: the token names none.
    sources: frozenset[str] | None = None

    @property
    def authenticated(self) -> bool:
        return self.subject is not None


ANONYMOUS = Viewer(subject=None, scopes=frozenset())
