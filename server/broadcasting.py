"""The deployment's broadcaster: its channel prefix, the key its envelopes are sealed with, and
what production requires of them. Every process of a deployment must agree on both."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable

from broadcaster import Broadcast

from pubsub.broadcast import create_broadcast
from pubsub.channels import Namespace
from pubsub.hub import EventLog, Hub
from pubsub.seal import Seal
from pubsub.telemetry import NO_TELEMETRY, Telemetry
from server.settings import DEV_JWT_SECRET, Settings

MIN_KEY_LENGTH = 32
_DERIVATION = b"racewire/broadcast-envelope-key/v1"


class BroadcastSettingsError(ValueError):
    """The broadcaster's key or prefix settings are unfit to start with."""


def broadcast_key(settings: Settings) -> bytes:
    """RACEWIRE_BROADCAST_KEY, or a key derived from the JWT secret (a domain-separated HMAC, so a
    single-secret deployment needs nothing more and a broadcast key never verifies a token)."""
    if settings.broadcast_key:
        if len(settings.broadcast_key) < MIN_KEY_LENGTH:
            raise BroadcastSettingsError(f"RACEWIRE_BROADCAST_KEY must be at least {MIN_KEY_LENGTH} characters")
        return settings.broadcast_key.encode()
    if settings.production and not settings.broadcast_url.startswith("memory") and _development_secret(settings):
        raise BroadcastSettingsError(
            "production with a shared broadcaster needs RACEWIRE_BROADCAST_KEY (or RACEWIRE_JWT_SECRET) set: "
            "the key derived from the development secret is public"
        )
    return hmac.digest(settings.jwt_secret.encode(), _DERIVATION, hashlib.sha256)


def namespace(settings: Settings) -> Namespace:
    try:
        return Namespace(settings.channel_prefix)
    except ValueError as error:
        raise BroadcastSettingsError(f"RACEWIRE_CHANNEL_PREFIX: {error}") from None


def deployment_broadcast(settings: Settings, *, on_reconnect: Callable[[], None] | None = None) -> Broadcast:
    return create_broadcast(settings.broadcast_url, namespace=namespace(settings), on_reconnect=on_reconnect)


def deployment_hub(
    settings: Settings,
    broadcast: Broadcast,
    *,
    log: EventLog | None = None,
    buffer: int = 256,
    watch_interval: float = 1.0,
    telemetry: Telemetry = NO_TELEMETRY,
) -> Hub:
    """A hub that seals and opens with the deployment's key, on the deployment's channels."""
    return Hub(
        broadcast,
        log=log,
        buffer=buffer,
        watch_interval=watch_interval,
        seal=Seal(broadcast_key(settings)),
        namespace=namespace(settings),
        telemetry=telemetry,
    )


def _development_secret(settings: Settings) -> bool:
    return settings.jwt_secret == DEV_JWT_SECRET
