"""JWT: minting development tokens and reading the viewer from a bearer token."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta, timezone

import jwt

from resolvers.viewer import ANONYMOUS, Viewer

ALGORITHM = "HS256"


class InvalidToken(Exception):
    pass


def create_access_token(
    *, secret: str, subject: str, scopes: Iterable[str], ttl: timedelta = timedelta(hours=12)
) -> str:
    now = datetime.now(timezone.utc)
    claims = {"sub": subject, "scope": " ".join(sorted(set(scopes))), "iat": now, "exp": now + ttl}
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def decode_token(token: str, *, secret: str) -> Viewer:
    try:
        claims = jwt.decode(
            token, secret, algorithms=[ALGORITHM], options={"require": ["exp", "sub"]}, leeway=10
        )
    except jwt.InvalidTokenError as error:
        raise InvalidToken(str(error)) from None
    scope = claims.get("scope", "")
    if not isinstance(scope, str):
        raise InvalidToken("scope must be a space-separated string")
    return Viewer(subject=str(claims["sub"]), scopes=frozenset(scope.split()))


def viewer_from_header(value: str | None, *, secret: str) -> Viewer:
    """The viewer for an `Authorization` header: anonymous without one."""
    if not value:
        return ANONYMOUS
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise InvalidToken("Authorization must be 'Bearer <token>'")
    return decode_token(token.strip(), secret=secret)
