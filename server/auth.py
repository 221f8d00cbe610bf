"""JWT: minting development tokens and reading the viewer from a bearer token."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import jwt

from resolvers.viewer import ANONYMOUS, Viewer
from server.settings import Settings

ALGORITHM = "HS256"
HMAC_ALGORITHMS = frozenset({"HS256", "HS384", "HS512"})
KNOWN_ALGORITHMS = HMAC_ALGORITHMS | {"RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA"}


class InvalidToken(Exception):
    pass


@dataclass(frozen=True)
class JwtConfig:
    """How tokens are checked. A shared secret only ever verifies HS* tokens and a public key (or
    JWKS) only asymmetric ones, so an RS256 public key can never be used as an HMAC secret."""

    secret: str = ""
    algorithms: tuple[str, ...] = (ALGORITHM,)
    public_key: str = ""
    jwks_url: str = ""
    audience: str = ""
    issuer: str = ""
    leeway_seconds: float = 10.0

    def __post_init__(self) -> None:
        unknown = set(self.algorithms) - KNOWN_ALGORITHMS
        if unknown or not self.algorithms:
            raise ValueError(f"unsupported JWT algorithms: {sorted(unknown) or 'none given'}")
        asymmetric = set(self.algorithms) - HMAC_ALGORITHMS
        if asymmetric and not (self.public_key or self.jwks_url):
            raise ValueError(f"{sorted(asymmetric)} need RACEWIRE_JWT_PUBLIC_KEY or RACEWIRE_JWT_JWKS_URL")


def jwt_config(settings: Settings) -> JwtConfig:
    return JwtConfig(
        secret=settings.jwt_secret, algorithms=settings.jwt_algorithms, public_key=settings.jwt_public_key,
        jwks_url=settings.jwt_jwks_url, audience=settings.jwt_audience, issuer=settings.jwt_issuer,
        leeway_seconds=settings.jwt_leeway_seconds,
    )


@dataclass(frozen=True)
class Token:
    viewer: Viewer
    expires_at: float


class TokenReader:
    """Verifies tokens against one `JwtConfig`; holds the JWKS client so keys are fetched once."""

    def __init__(self, config: JwtConfig, *, remember: int = 1024) -> None:
        self.config = config
        self._jwks = jwt.PyJWKClient(config.jwks_url, cache_keys=True, timeout=5) if config.jwks_url else None
        # A feed sends the same token with every call: a verified token stays valid until it
        # expires, so its signature is checked once, not per request.
        self._verified: OrderedDict[str, Token] = OrderedDict()
        self._remember = remember

    @property
    def fetches_keys(self) -> bool:
        return self._jwks is not None

    def decode(self, token: str) -> Token:
        known = self._verified.get(token)
        if known is not None and time.time() <= known.expires_at + self.config.leeway_seconds:
            return known
        self._verified.pop(token, None)
        verified = self._verify(token)
        self._verified[token] = verified
        if len(self._verified) > self._remember:
            self._verified.popitem(last=False)
        return verified

    def _verify(self, token: str) -> Token:
        try:
            algorithm = jwt.get_unverified_header(token).get("alg")
            if algorithm not in self.config.algorithms:
                raise InvalidToken(f"algorithm {algorithm!r} is not allowed")
            claims = jwt.decode(
                token, self._key_for(token, str(algorithm)), algorithms=[str(algorithm)],
                audience=self.config.audience or None, issuer=self.config.issuer or None,
                leeway=self.config.leeway_seconds,
                options={"require": ["exp", "sub", *(["aud"] if self.config.audience else []),
                                     *(["iss"] if self.config.issuer else [])]},
            )
        except (jwt.InvalidTokenError, jwt.PyJWKClientError) as error:
            raise InvalidToken(str(error)) from None
        return Token(viewer=Viewer(subject=str(claims["sub"]), scopes=_scopes(claims)),
                     expires_at=float(claims["exp"]))

    def from_header(self, value: str | None) -> Token | None:
        """The token of an `Authorization` header: None without one."""
        if not value:
            return None
        scheme, _, token = value.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise InvalidToken("Authorization must be 'Bearer <token>'")
        return self.decode(token.strip())

    def _key_for(self, token: str, algorithm: str) -> Any:
        if algorithm in HMAC_ALGORITHMS:
            if not self.config.secret:
                raise InvalidToken("no shared secret is configured")
            return self.config.secret
        if self._jwks is not None:
            return self._jwks.get_signing_key_from_jwt(token).key
        return self.config.public_key


def _scopes(claims: dict[str, Any]) -> frozenset[str]:
    scope = claims.get("scope")
    if scope is None:
        scope = claims.get("scp", "")
    if isinstance(scope, str):
        return frozenset(scope.split())
    if isinstance(scope, list) and all(isinstance(item, str) for item in scope):
        return frozenset(scope)
    raise InvalidToken("scope must be a space-separated string, or scp a list of strings")


def create_access_token(
    *, secret: str, subject: str, scopes: Iterable[str], ttl: timedelta = timedelta(hours=12)
) -> str:
    now = datetime.now(timezone.utc)
    claims = {"sub": subject, "scope": " ".join(sorted(set(scopes))), "iat": now, "exp": now + ttl}
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def decode_token(token: str, *, secret: str) -> Viewer:
    return TokenReader(JwtConfig(secret=secret)).decode(token).viewer


def viewer_from_header(value: str | None, *, secret: str) -> Viewer:
    """The viewer for an `Authorization` header: anonymous without one."""
    token = TokenReader(JwtConfig(secret=secret)).from_header(value)
    return ANONYMOUS if token is None else token.viewer
