"""Sealed envelopes: how an event travels on a channel.

On a channel an envelope travels sealed: `v1.<hex HMAC-SHA256>.<JSON>`, the MAC keyed with the
deployment's key over the channel name and the JSON bytes exactly as sent. Anyone able to publish
on the broadcaster can put anything on a channel; only a message whose MAC checks out and whose
fields are well-formed, for the stream of the channel it came on, is opened."""

from __future__ import annotations

import hashlib
import hmac
import os

from events.envelope import Envelope, Refused

_VERSION = b"v1."
_MAC_LENGTH = hashlib.sha256().digest_size * 2  # hex
_BODY_AT = len(_VERSION) + _MAC_LENGTH + 1


class Seal:
    """Seals envelopes for a channel and opens them again, with one deployment key. Every process
    of a deployment must hold the same key, or they do not hear each other."""

    __slots__ = ("_keyed",)

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("a broadcast key needs at least 16 bytes")
        # Keyed once; copying it is half the cost of keying an HMAC per message.
        self._keyed = hmac.new(key, digestmod=hashlib.sha256)

    @classmethod
    def ephemeral(cls) -> Seal:
        """A key of this process's own: it hears only what it published itself."""
        return cls(os.urandom(32))

    def seal(self, channel: str, event: Envelope) -> bytes:
        body = event.encode()
        return _VERSION + self._mac(channel, body) + b"." + body

    def open(self, channel: str, message: str | bytes, *, stream: str) -> Envelope:
        """The envelope in `message`, which came on `channel` for `stream`; raises Refused."""
        raw = message.encode() if isinstance(message, str) else message
        if not raw.startswith(_VERSION) or raw[_BODY_AT - 1 : _BODY_AT] != b".":
            raise Refused("unsealed")
        body = raw[_BODY_AT:]
        if not hmac.compare_digest(raw[len(_VERSION) : _BODY_AT - 1], self._mac(channel, body)):
            raise Refused("bad_mac")
        return Envelope.decode(body, stream=stream)

    def _mac(self, channel: str, body: bytes) -> bytes:
        # Channel names never hold a newline (channels.Namespace refuses such a prefix).
        mac = self._keyed.copy()
        mac.update(channel.encode())
        mac.update(b"\n")
        mac.update(body)
        return mac.hexdigest().encode()
