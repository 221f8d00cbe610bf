"""WebSocket text frames built by Racewire itself, once per message, for every connection that
takes them (RFC 6455 framing, RFC 7692 permessage-deflate without context takeover). Pure
functions of bytes: nothing here reaches into a dependency; which connections may take these
frames, and how they reach the socket, is uvicorn_fast_path's part."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable

_FIN_TEXT = 0x81
_FIN_RSV1_TEXT = 0xC1  # RSV1: a compressed message (RFC 7692 section 6)
_EMPTY_BLOCK = b"\x00\x00\xff\xff"
PLAIN = 0  # a TextMessage's frame without compression; else the deflate window bits


def text_frame(data: bytes, first_byte: int = _FIN_TEXT) -> bytes:
    """One unmasked, final text frame, as a server sends it (RFC 6455 section 5.2)."""
    size = len(data)
    if size < 126:
        return struct.pack("!BB", first_byte, size) + data
    if size < 1 << 16:
        return struct.pack("!BBH", first_byte, 126, size) + data
    return struct.pack("!BBQ", first_byte, 127, size) + data


def deflated_text_frame(data: bytes, window_bits: int) -> bytes:
    """The text message compressed on its own, as permessage-deflate without context takeover
    sends it (RFC 7692 section 7.2.1): raw deflate, sync-flushed, its empty block removed."""
    compressor = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -window_bits, 5)
    body = compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)
    assert body.endswith(_EMPTY_BLOCK)
    return text_frame(body[:-4], _FIN_RSV1_TEXT)


class TextMessage:
    """One text message's frames, each made once however many connections it goes to: plain,
    and compressed at each deflate window size a connection negotiated."""

    __slots__ = ("_frames", "data")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self._frames: dict[int, bytes] = {}

    def frame(self, kind: int) -> bytes:
        made = self._frames.get(kind)
        if made is None:
            made = text_frame(self.data) if kind == PLAIN else deflated_text_frame(self.data, kind)
            self._frames[kind] = made
        return made


# Offered by a server that can write ready-made frames: True once written, False to send through ASGI.
WriteFrame = Callable[[TextMessage], bool]
