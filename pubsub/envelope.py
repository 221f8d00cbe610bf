"""The event envelope: what is stored in the log and what travels on a channel."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson


@dataclass(frozen=True, slots=True)
class Envelope:
    stream: str
    seq: int
    kind: str
    payload: dict[str, Any]
    created_at: str

    def encode(self) -> str:
        return orjson.dumps(
            {
                "stream": self.stream,
                "seq": self.seq,
                "kind": self.kind,
                "payload": self.payload,
                "created_at": self.created_at,
            }
        ).decode()

    @classmethod
    def decode(cls, raw: str | bytes) -> Envelope:
        data = orjson.loads(raw)
        return cls(
            stream=data["stream"],
            seq=int(data["seq"]),
            kind=data["kind"],
            payload=data["payload"],
            created_at=data["created_at"],
        )
