"""The event record: one entry of a race's log, as stored and as it travels on a channel. Both the
log (storage/) and the broadcaster side (pubsub/) depend on it; it depends on neither."""

from __future__ import annotations

from dataclasses import dataclass

import orjson

from events import codec
from events.payloads import Payload


@dataclass(frozen=True, slots=True)
class Envelope:
    stream: str
    seq: int
    kind: str
    payload: Payload
    created_at: str

    def encode(self) -> bytes:
        return orjson.dumps(
            {
                "stream": self.stream,
                "seq": self.seq,
                "kind": self.kind,
                "payload": codec.encode(self.payload),
                "created_at": self.created_at,
            }
        )

    @classmethod
    def decode(cls, raw: str | bytes, *, stream: str | None = None) -> Envelope:
        """Parses and validates, payload too (once per message, however many listen to it); raises
        Refused("invalid") for anything but a well-formed envelope (of `stream`, when given)."""
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise Refused("invalid") from None
        if not isinstance(data, dict):
            raise Refused("invalid")
        seq, kind, payload, created_at = data.get("seq"), data.get("kind"), data.get("payload"), data.get("created_at")
        if not (
            type(seq) is int
            and seq > 0
            and isinstance(data.get("stream"), str)
            and isinstance(kind, str)
            and kind
            and isinstance(payload, dict)
            and isinstance(created_at, str)
        ):
            raise Refused("invalid")
        if stream is not None and data["stream"] != stream:
            raise Refused("wrong_stream")
        try:
            record = codec.decode(kind, payload)
        except codec.BadPayload:
            raise Refused("invalid") from None
        return cls(stream=data["stream"], seq=seq, kind=kind, payload=record, created_at=created_at)


class Refused(Exception):
    """A message that is not opened; `reason` is one of a few fixed words (a metric label)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
