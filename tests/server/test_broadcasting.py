"""The deployment's broadcast key and channel prefix, and what production requires of them."""

from __future__ import annotations

import hashlib
import hmac
import subprocess
import sys

import pytest

from jwt_forge import rsa_key_pair
from live_server import ROOT
from server.broadcasting import BroadcastSettingsError, broadcast_key, namespace
from server.settings import Settings

REDIS = "redis://127.0.0.1:1"
SECRET = "a-configured-jwt-secret-0123456789abcdef"


def test_the_default_key_is_derived_from_the_jwt_secret_and_is_not_the_secret() -> None:
    key = broadcast_key(Settings(jwt_secret=SECRET))
    assert key == broadcast_key(Settings(jwt_secret=SECRET, broadcast_url=REDIS))  # every process agrees
    assert key != SECRET.encode() and key != broadcast_key(Settings(jwt_secret=SECRET + "x"))
    # Domain-separated: the key is no HS256 signature a token could ever carry.
    assert key != hmac.digest(SECRET.encode(), b"", hashlib.sha256)


def test_a_configured_key_is_used_as_given_and_a_short_one_refused() -> None:
    key = "k" * 32
    assert broadcast_key(Settings(broadcast_key=key)) == key.encode()
    with pytest.raises(BroadcastSettingsError, match="at least 32"):
        broadcast_key(Settings(broadcast_key="k" * 31))


def test_production_on_a_shared_broadcaster_refuses_the_key_of_the_development_secret() -> None:
    with pytest.raises(BroadcastSettingsError, match="RACEWIRE_BROADCAST_KEY"):
        broadcast_key(Settings(production=True, broadcast_url=REDIS))
    # Positive controls: a configured secret or key, or a broadcaster no other process shares.
    assert broadcast_key(Settings(production=True, broadcast_url=REDIS, jwt_secret=SECRET))
    assert broadcast_key(Settings(production=True, broadcast_url=REDIS, broadcast_key="k" * 40))
    assert broadcast_key(Settings(production=True))


def test_the_prefix_names_every_channel_of_the_deployment() -> None:
    assert namespace(Settings(channel_prefix="eu-1:")).channel("odds:4") == "eu-1:odds:4"
    with pytest.raises(BroadcastSettingsError, match="RACEWIRE_CHANNEL_PREFIX"):
        namespace(Settings(channel_prefix="two words"))


@pytest.mark.parametrize("command", ["serve", "feed"])
def test_serve_and_feed_exit_with_a_clear_message_when_the_key_is_unfit(command: str) -> None:
    # Tokens are checked with a public key, so the JWT secret may stay unset: the envelope key may not.
    env = {
        "RACEWIRE_PRODUCTION": "true",
        "RACEWIRE_BROADCAST_URL": REDIS,
        "PATH": "/usr/bin:/bin",
        "RACEWIRE_JWT_ALGORITHMS": "RS256",
        "RACEWIRE_JWT_PUBLIC_KEY": rsa_key_pair()[1],
    }
    done = subprocess.run(
        [sys.executable, "-m", "server.cli", command], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode != 0
    assert "RACEWIRE_BROADCAST_KEY" in done.stderr and "Traceback" not in done.stderr
