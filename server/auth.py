"""JWT: minting development tokens and reading the viewer from a bearer token."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from jwt import exceptions as jwt_errors

from resolvers.viewer import ANONYMOUS, Viewer
from server.settings import Settings

ALGORITHM = "HS256"
HMAC_ALGORITHMS = frozenset({"HS256", "HS384", "HS512"})
KNOWN_ALGORITHMS = HMAC_ALGORITHMS | {"RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA"}


class InvalidToken(Exception):
    """A refused token. Its message is one fixed sentence per kind of refusal, never the decoder's
    own text, which would echo the token's bytes and the library's internals to whoever sent it."""


MAX_SUBJECT_LENGTH = 200  # the width of every column keyed by a subject
MALFORMED = "the token is malformed"
HEADER_REFUSED = "the Authorization header must be 'Bearer <token>'"
ALGORITHM_REFUSED = "the token's algorithm is not accepted by this server"
SUBJECT_REFUSED = f"the token's sub must be 1 to {MAX_SUBJECT_LENGTH} characters"
SCOPE_REFUSED = "the token's scope must be a space-separated string, or scp a list of strings"
SOURCES_REFUSED = "the token's sources must be a list of source codes"
CLIENT_REFUSED = f"the token's client (or azp) must be 1 to {MAX_SUBJECT_LENGTH} characters"
# Most specific first: several are subclasses of DecodeError or of one another.
_REFUSALS: tuple[tuple[type[Exception] | tuple[type[Exception], ...], str], ...] = (
    (jwt.ExpiredSignatureError, "the token has expired: get a fresh one"),
    (jwt.ImmatureSignatureError, "the token is not valid yet (nbf or iat is in the future)"),
    (jwt.InvalidAudienceError, "the token is for another audience"),
    (jwt.InvalidIssuerError, "the token is from another issuer"),
    (jwt.InvalidSignatureError, "the token's signature does not verify"),
    (
        (
            jwt.MissingRequiredClaimError,
            jwt.InvalidIssuedAtError,
            jwt_errors.InvalidSubjectError,
            jwt_errors.InvalidJTIError,
        ),
        "the token's claims are malformed",
    ),
    ((jwt.InvalidAlgorithmError, jwt.InvalidKeyError), ALGORITHM_REFUSED),
    (jwt.PyJWKClientConnectionError, "the signing keys cannot be fetched just now: try again shortly"),
    (
        (jwt.PyJWKClientError, jwt_errors.PyJWKError, jwt_errors.PyJWKSetError),
        "no signing key of this server matches the token",
    ),
)


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
        secret=settings.own_jwt_secret,
        algorithms=settings.jwt_algorithms,
        public_key=settings.jwt_public_key,
        jwks_url=settings.jwt_jwks_url,
        audience=settings.jwt_audience,
        issuer=settings.jwt_issuer,
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
                raise InvalidToken(ALGORITHM_REFUSED)
            claims = jwt.decode(
                token,
                self._key_for(token, str(algorithm)),
                algorithms=[str(algorithm)],
                audience=self.config.audience or None,
                issuer=self.config.issuer or None,
                leeway=self.config.leeway_seconds,
                options={"require": list(self._required)},
            )
        except jwt.PyJWTError as error:
            raise _refusal(error, self._required) from None
        subject = claims["sub"]
        if not isinstance(subject, str) or not 1 <= len(subject) <= MAX_SUBJECT_LENGTH:
            raise InvalidToken(SUBJECT_REFUSED)
        viewer = Viewer(subject=subject, scopes=_scopes(claims), sources=_sources(claims), client=_client(claims))
        return Token(viewer=viewer, expires_at=float(claims["exp"]))

    @property
    def _required(self) -> tuple[str, ...]:
        return ("exp", "sub", *(["aud"] if self.config.audience else []), *(["iss"] if self.config.issuer else []))

    def from_header(self, value: str | None) -> Token | None:
        """The token of an `Authorization` header: None without one."""
        if not value:
            return None
        scheme, _, token = value.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise InvalidToken(HEADER_REFUSED)
        return self.decode(token.strip())

    def _key_for(self, token: str, algorithm: str) -> Any:
        if algorithm in HMAC_ALGORITHMS:
            if not self.config.secret:
                raise InvalidToken(ALGORITHM_REFUSED)
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
    raise InvalidToken(SCOPE_REFUSED)


def _sources(claims: dict[str, Any]) -> frozenset[str] | None:
    """The odds sources the token may write: None without a `sources` claim."""
    sources = claims.get("sources")
    if sources is None:
        return None
    if isinstance(sources, list) and all(isinstance(item, str) for item in sources):
        return frozenset(sources)
    raise InvalidToken(SOURCES_REFUSED)


def _client(claims: dict[str, Any]) -> str | None:
    """The application the token was issued to: a `client` claim, else OpenID Connect's `azp`."""
    client = claims.get("client", claims.get("azp"))
    if client is None:
        return None
    if isinstance(client, str) and 1 <= len(client) <= MAX_SUBJECT_LENGTH:
        return client
    raise InvalidToken(CLIENT_REFUSED)


def _refusal(error: jwt.PyJWTError, required: tuple[str, ...]) -> InvalidToken:
    if isinstance(error, jwt.MissingRequiredClaimError) and error.claim in required:
        return InvalidToken(f"the token lacks the required claim '{error.claim}'")
    for kind, message in _REFUSALS:
        if isinstance(error, kind):
            return InvalidToken(message)
    return InvalidToken(MALFORMED)


def create_access_token(
    *,
    secret: str,
    subject: str,
    scopes: Iterable[str],
    sources: Iterable[str] | None = None,
    ttl: timedelta = timedelta(hours=12),
    client: str | None = None,
) -> str:
    now = datetime.now(UTC)
    claims: dict[str, Any] = {"sub": subject, "scope": " ".join(sorted(set(scopes))), "iat": now, "exp": now + ttl}
    if sources is not None:
        claims["sources"] = sorted(set(sources))
    if client is not None:
        claims["client"] = client
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def decode_token(token: str, *, secret: str) -> Viewer:
    return TokenReader(JwtConfig(secret=secret)).decode(token).viewer


def viewer_from_header(value: str | None, *, secret: str) -> Viewer:
    """The viewer for an `Authorization` header: anonymous without one."""
    token = TokenReader(JwtConfig(secret=secret)).from_header(value)
    return ANONYMOUS if token is None else token.viewer
