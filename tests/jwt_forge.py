"""Tokens for tests: an RSA key pair, well-made tokens, and forged ones no library would sign."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa


def rsa_key_pair() -> tuple[str, str]:
    """(private PEM, public PEM)"""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


def claims(
    subject: str = "partner", scope: str | None = "odds:write", ttl: float = 600, **extra: Any
) -> dict[str, Any]:
    now = int(time.time())
    values = {"sub": subject, "scope": scope, "iat": now, "exp": now + ttl, **extra}
    return {name: value for name, value in values.items() if value is not None}


def signed(key: str, algorithm: str = "HS256", headers: dict[str, Any] | None = None, **claim_values: Any) -> str:
    return jwt.encode(claims(**claim_values), key, algorithm=algorithm, headers=headers)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forged(header: dict[str, Any], body: dict[str, Any], hmac_key: bytes | None = None) -> str:
    """A token with any header: `alg: none` with no signature, or HS256 keyed with whatever bytes
    (a public key PEM, for the key-confusion attack)."""
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(body).encode())}"
    signature = b"" if hmac_key is None else hmac.new(hmac_key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"
