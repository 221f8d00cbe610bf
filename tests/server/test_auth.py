"""JWT checks: the algorithm allow-list, RS256 by PEM and by JWKS, forged tokens, required claims."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import httpx
import jwt
import pytest

from jwt_forge import claims, forged, rsa_key_pair, signed
from live_server import GraphQLWs, ServerProcess
from server.auth import ALGORITHM_REFUSED, MALFORMED, InvalidToken, JwtConfig, TokenReader, create_access_token

SECRET = "unit-test-secret-0123456789abcdefghij"
PRIVATE, PUBLIC = rsa_key_pair()


def reader(**config: Any) -> TokenReader:
    return TokenReader(JwtConfig(**{"secret": SECRET, **config}))


def refused(reader: TokenReader, token: str) -> str:
    with pytest.raises(InvalidToken) as error:
        reader.decode(token)
    return str(error.value)


def test_hs256_by_default_with_scopes_from_scope_or_scp() -> None:
    assert reader().decode(signed(SECRET, scope="odds:write news:write")).viewer.scopes == {"odds:write", "news:write"}
    assert reader().decode(signed(SECRET, scope=None, scp=["races:write"])).viewer.scopes == {"races:write"}
    assert reader().decode(signed(SECRET, scope=None, scp="a b")).viewer.scopes == {"a", "b"}
    assert refused(reader(), signed(SECRET, scope=None, scp=[1, 2])) == (
        "the token's scope must be a space-separated string, or scp a list of strings"
    )


def test_the_client_comes_from_a_client_claim_else_azp() -> None:
    assert reader().decode(signed(SECRET, client="tipster")).viewer.client == "tipster"
    assert reader().decode(signed(SECRET, azp="bookie-web")).viewer.client == "bookie-web"
    assert reader().decode(signed(SECRET, client="tipster", azp="idp-app")).viewer.client == "tipster"
    assert reader().decode(signed(SECRET)).viewer.client is None
    for bad in (42, "", "x" * 201, ["tipster"]):
        assert (
            refused(reader(), signed(SECRET, client=bad)) == "the token's client (or azp) must be 1 to 200 characters"
        )


def test_rs256_with_a_public_key_pem() -> None:
    rs = reader(algorithms=("RS256",), public_key=PUBLIC)
    token = rs.decode(signed(PRIVATE, "RS256", subject="partner-7"))
    assert token.viewer.subject == "partner-7"
    assert refused(rs, signed(SECRET)) == ALGORITHM_REFUSED  # HS256 is off once not listed


def test_alg_none_is_refused() -> None:
    for config in ({}, {"algorithms": ("HS256", "RS256"), "public_key": PUBLIC}):
        assert refused(reader(**config), forged({"alg": "none", "typ": "JWT"}, claims())) == ALGORITHM_REFUSED


def test_hs256_signed_with_the_public_key_is_refused() -> None:
    confused = forged({"alg": "HS256", "typ": "JWT"}, claims(), hmac_key=PUBLIC.encode())
    assert refused(reader(algorithms=("RS256",), public_key=PUBLIC), confused) == ALGORITHM_REFUSED
    # With both allowed, HS256 is checked against the shared secret only, never the public key.
    assert refused(reader(algorithms=("HS256", "RS256"), public_key=PUBLIC), confused) == (
        "the token's signature does not verify"
    )


def test_exp_and_sub_are_required_and_expiry_has_leeway() -> None:
    body = claims()
    del body["exp"]
    assert refused(reader(), jwt.encode(body, SECRET)) == "the token lacks the required claim 'exp'"
    body = claims()
    del body["sub"]
    assert refused(reader(), jwt.encode(body, SECRET)) == "the token lacks the required claim 'sub'"
    five_seconds_ago = signed(SECRET, ttl=-5)
    assert reader().decode(five_seconds_ago).viewer.subject == "partner"
    assert refused(reader(leeway_seconds=0), five_seconds_ago) == "the token has expired: get a fresh one"


def test_audience_and_issuer_are_checked_when_configured() -> None:
    strict = reader(audience="racewire", issuer="https://id.example")
    assert strict.decode(signed(SECRET, aud="racewire", iss="https://id.example")).viewer.subject == "partner"
    assert refused(strict, signed(SECRET, iss="https://id.example")) == "the token lacks the required claim 'aud'"
    assert refused(strict, signed(SECRET, aud="other", iss="https://id.example")) == "the token is for another audience"
    assert refused(strict, signed(SECRET, aud="racewire", iss="https://evil.example")) == (
        "the token is from another issuer"
    )


def test_configuration_mistakes_fail_at_start() -> None:
    with pytest.raises(ValueError, match="need"):
        JwtConfig(algorithms=("RS256",))
    with pytest.raises(ValueError, match="unsupported"):
        JwtConfig(algorithms=("none",))


MALFORMED_TOKENS = {
    "one segment": "not-a-jwt",
    "two segments": "a.b",
    "bad padding": "eyJ.eyJ.x",
    "header not an object": "WzFd.e30.",
    "payload not JSON": "eyJhbGciOiJIUzI1NiJ9.bm90anNvbg.x",
    "exp not a number": jwt.encode({**claims(), "exp": "soon"}, SECRET),
    "kid not a string": forged({"alg": "HS256", "kid": {"a": 1}}, claims(), hmac_key=SECRET.encode()),
}


@pytest.mark.parametrize("case", MALFORMED_TOKENS)
def test_a_malformed_token_gets_one_fixed_message_not_the_decoders_text(case: str) -> None:
    assert refused(reader(), MALFORMED_TOKENS[case]) == MALFORMED == "the token is malformed"


def test_each_kind_of_bad_claim_has_its_own_fixed_message() -> None:
    both = reader(algorithms=("HS256", "ES256"), public_key=PUBLIC)
    assert refused(both, forged({"alg": "ES256"}, claims(), hmac_key=b"x")) == ALGORITHM_REFUSED  # an RSA key
    assert refused(reader(), jwt.encode({**claims(), "nbf": claims()["exp"]}, SECRET)) == (
        "the token is not valid yet (nbf or iat is in the future)"
    )
    assert refused(reader(), jwt.encode({**claims(), "sub": 7}, SECRET)) == "the token's claims are malformed"
    assert refused(reader(), signed(SECRET, subject="x" * 201)) == "the token's sub must be 1 to 200 characters"
    assert refused(reader(), signed(SECRET, subject="")) == "the token's sub must be 1 to 200 characters"
    for sources in ("bet365", ["bet365", 7], {"bet365": True}):
        assert (
            refused(reader(), signed(SECRET, sources=sources)) == "the token's sources must be a list of source codes"
        )


def test_sources_come_from_the_sources_claim_and_are_none_without_it() -> None:
    assert reader().decode(signed(SECRET, sources=["bet365", "betfair"])).viewer.sources == {"bet365", "betfair"}
    assert reader().decode(signed(SECRET, sources=[])).viewer.sources == frozenset()
    assert reader().decode(signed(SECRET)).viewer.sources is None
    minted = create_access_token(secret=SECRET, subject="feed", scopes=["odds:write"], sources=["b", "a", "a"])
    assert reader().decode(minted).viewer.sources == {"a", "b"}
    assert "sources" not in jwt.decode(
        create_access_token(secret=SECRET, subject="f", scopes=[]), SECRET, algorithms=["HS256"]
    )


@pytest.fixture
def jwks_url() -> Iterator[str]:
    """A JWKS document served from 127.0.0.1, as an identity provider would."""
    key = json.loads(
        jwt.algorithms.RSAAlgorithm.to_jwk(
            jwt.algorithms.RSAAlgorithm(jwt.algorithms.RSAAlgorithm.SHA256).prepare_key(PUBLIC)
        )
    )
    body = json.dumps({"keys": [{**key, "kid": "k1", "use": "sig", "alg": "RS256"}]}).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json"
    server.shutdown()


def test_rs256_with_keys_from_a_jwks_url(jwks_url: str) -> None:
    rs = reader(algorithms=("RS256",), jwks_url=jwks_url)
    assert rs.decode(signed(PRIVATE, "RS256", headers={"kid": "k1"})).viewer.subject == "partner"
    assert refused(rs, signed(PRIVATE, "RS256", headers={"kid": "unknown"})) == (
        "no signing key of this server matches the token"
    )
    other_private, _ = rsa_key_pair()
    assert refused(rs, signed(other_private, "RS256", headers={"kid": "k1"})) == "the token's signature does not verify"


async def test_a_server_checks_tokens_against_its_jwks(jwks_url: str, tmp_path: object) -> None:
    server = ServerProcess(
        {
            "RACEWIRE_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/racewire.db",
            "RACEWIRE_JWT_ALGORITHMS": "RS256",
            "RACEWIRE_JWT_JWKS_URL": jwks_url,
            "RACEWIRE_REQUIRE_AUTH": "true",
        }
    ).start()
    other_private, _ = rsa_key_pair()
    good, forged_key = (signed(key, "RS256", headers={"kid": "k1"}) for key in (PRIVATE, other_private))
    try:
        async with httpx.AsyncClient(base_url=server.http) as client:
            answers = [
                (
                    await client.post(
                        "/graphql", json={"query": "{ __typename }"}, headers={"Authorization": f"Bearer {token}"}
                    )
                ).json()
                for token in (good, forged_key)
            ]
        websocket = await GraphQLWs.open(server.ws, {"token": good})
        await websocket.close()
    finally:
        server.stop()
    assert answers[0]["data"] == {"__typename": "Query"}
    assert answers[1]["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
