"""Who is asking: the token's subject, scopes, writable sources and client, or nobody."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Viewer:
    subject: str | None
    scopes: frozenset[str]
    # The odds sources the token may write (its `sources` claim); None: the token names none.
    sources: frozenset[str] | None = None
    # The application the token was issued to (its `client` claim, else `azp`): selects a partner's settings.
    client: str | None = None

    @property
    def authenticated(self) -> bool:
        return self.subject is not None


ANONYMOUS = Viewer(subject=None, scopes=frozenset())
