"""Opaque cursors: stream positions for subscriptions, keysets for pagination."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from datetime import UTC, datetime

from resolvers.errors import MAX_BIG_ID, MAX_ID, BadUserInput


def encode_positions(positions: Mapping[str, int]) -> str:
    """A subscription cursor: the last seq delivered on each stream it follows."""
    text = ";".join(f"{stream}={seq}" for stream, seq in sorted(positions.items()))
    return _encode("p1|" + text)


def decode_positions(cursor: str) -> dict[str, int]:
    text = _decode(cursor, prefix="p1|")
    positions: dict[str, int] = {}
    try:
        for part in filter(None, text.split(";")):
            stream, seq = part.rsplit("=", 1)
            if not (seq.isascii() and seq.isdigit()) or len(seq) > 19:
                raise ValueError
            positions[stream] = int(seq)
    except ValueError:
        raise _invalid() from None
    if any(not 0 <= seq <= MAX_BIG_ID for seq in positions.values()):
        raise _invalid()
    return positions


def encode_keyset(at: datetime, row_id: int) -> str:
    return _encode(f"k1|{at.isoformat()}|{row_id}")


def decode_keyset(cursor: str, *, max_id: int = MAX_ID) -> tuple[datetime, int]:
    """`max_id`: the range of the id column the keyset continues from (a larger id never reaches it)."""
    text = _decode(cursor, prefix="k1|")
    try:
        at, row_id = text.rsplit("|", 1)
        parsed = datetime.fromisoformat(at)
        if parsed.tzinfo is None or not (row_id.isascii() and row_id.isdigit()) or int(row_id) > max_id:
            raise ValueError
        return parsed.astimezone(UTC), int(row_id)  # in range for the database, or OverflowError
    except (ValueError, OverflowError):
        raise _invalid() from None


def _encode(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _decode(cursor: str, *, prefix: str) -> str:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise _invalid() from None
    if not text.startswith(prefix):
        raise _invalid()
    return text[len(prefix) :]


def _invalid() -> BadUserInput:
    return BadUserInput("invalid cursor: pass a cursor exactly as the API returned it", field="after")
