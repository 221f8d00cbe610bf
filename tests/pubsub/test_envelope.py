"""Sealed envelopes: only what the deployment's key sealed, for that channel, well-formed, opens."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime

import orjson
import pytest

from events.envelope import Envelope, Refused
from events.payloads import OddsChanged, PriceChange
from pubsub.channels import Namespace
from pubsub.seal import Seal

KEY = b"k" * 32
EVENT = Envelope(
    stream="odds:1",
    seq=7,
    kind="odds",
    payload=OddsChanged(1, "feed", datetime(2026, 1, 1, tzinfo=UTC), (PriceChange(2, 3.5),)),
    created_at="2026-01-01T00:00:00+00:00",
)


def sealed_by_hand(channel: str, body: bytes, key: bytes = KEY) -> bytes:
    """The wire format as docs/security.md states it: v1.<hex HMAC-SHA256(key, channel \\n body)>.<body>."""
    mac = hmac.new(key, channel.encode() + b"\n" + body, hashlib.sha256).hexdigest()
    return b"v1." + mac.encode() + b"." + body


def refusal(seal: Seal, channel: str, message: str | bytes, stream: str = "odds:1") -> str:
    with pytest.raises(Refused) as refused:
        seal.open(channel, message, stream=stream)
    return refused.value.reason


def test_a_sealed_envelope_opens_to_itself_as_bytes_or_text() -> None:
    seal = Seal(KEY)
    message = seal.seal("racewire:odds:1", EVENT)
    assert message == sealed_by_hand("racewire:odds:1", EVENT.encode())
    assert seal.open("racewire:odds:1", message, stream="odds:1") == EVENT
    assert seal.open("racewire:odds:1", message.decode(), stream="odds:1") == EVENT


def test_a_message_without_a_seal_is_refused_however_plausible() -> None:
    seal = Seal(KEY)
    plain = orjson.dumps(
        {"stream": "odds:1", "seq": 999999999, "kind": "odds", "payload": {}, "created_at": "2026-01-01T00:00:00+00:00"}
    )
    for message in (plain, plain.decode(), b"", b"v1.", b"v1." + b"0" * 64, b"\xff\xfe garbage", b"v2." + plain):
        assert refusal(seal, "racewire:odds:1", message) == "unsealed"


def test_a_seal_made_with_another_key_or_for_another_channel_or_tampered_is_refused() -> None:
    seal = Seal(KEY)
    assert refusal(seal, "racewire:odds:1", Seal(b"x" * 32).seal("racewire:odds:1", EVENT)) == "bad_mac"
    # Replayed onto another channel, or another deployment's prefix, with the same key.
    assert refusal(seal, "racewire:odds:2", seal.seal("racewire:odds:1", EVENT), stream="odds:2") == "bad_mac"
    assert refusal(seal, "other:odds:1", seal.seal("racewire:odds:1", EVENT)) == "bad_mac"
    tampered = seal.seal("racewire:odds:1", EVENT).replace(b'"seq":7', b'"seq":8')
    assert refusal(seal, "racewire:odds:1", tampered) == "bad_mac"
    assert refusal(seal, "racewire:odds:1", b"v1." + b"0" * 64 + b"." + EVENT.encode()) == "bad_mac"


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[1, 2]",
        b"null",
        b'"x"',
        b'{"stream": "odds:1", "seq": true, "kind": "scratch", "payload": {"race_id": 1, "runner_id": 2}, "created_at": ""}',
        b'{"stream": "odds:1", "seq": 0, "kind": "scratch", "payload": {"race_id": 1, "runner_id": 2}, "created_at": ""}',
        b'{"stream": "odds:1", "seq": "5", "kind": "scratch", "payload": {"race_id": 1, "runner_id": 2}, "created_at": ""}',
        b'{"stream": "odds:1", "seq": 5, "kind": "", "payload": {"race_id": 1, "runner_id": 2}, "created_at": ""}',
        b'{"stream": "odds:1", "seq": 5, "kind": "scratch", "payload": [], "created_at": ""}',
        b'{"stream": "odds:1", "seq": 5, "kind": "scratch", "payload": {"race_id": 1, "runner_id": 2}}',
        b'{"stream": "odds:1", "seq": 99999999999999999999999, "kind": "scratch", '
        b'"payload": {"race_id": 1, "runner_id": 2}, "created_at": ""}',
        # The payload must be the record its kind says.
        b'{"stream": "odds:1", "seq": 5, "kind": "scratch", "payload": {}, "created_at": ""}',
        b'{"stream": "odds:1", "seq": 5, "kind": "scratch", "payload": {"race_id": 1, "runner_id": "2"}, "created_at": ""}',
        b'{"stream": "odds:1", "seq": 5, "kind": "no-such-kind", "payload": {"race_id": 1, "runner_id": 2}, "created_at": ""}',
    ],
)
def test_a_correctly_sealed_but_malformed_envelope_is_refused(body: bytes) -> None:
    assert refusal(Seal(KEY), "c", sealed_by_hand("c", body)) == "invalid"


def test_the_well_formed_control_of_the_malformed_ones_opens() -> None:
    body = b'{"stream": "odds:1", "seq": 5, "kind": "scratch", "payload": {"race_id": 1, "runner_id": 2}, "created_at": ""}'
    assert Seal(KEY).open("c", sealed_by_hand("c", body), stream="odds:1").seq == 5


def test_an_envelope_of_another_stream_is_refused_even_when_sealed() -> None:
    seal = Seal(KEY)
    assert refusal(seal, "c", seal.seal("c", EVENT), stream="odds:2") == "wrong_stream"


def test_keys_too_short_are_refused_and_each_ephemeral_key_hears_only_itself() -> None:
    with pytest.raises(ValueError):
        Seal(b"short")
    one = Seal.ephemeral()
    assert one.open("c", one.seal("c", EVENT), stream="odds:1") == EVENT
    assert refusal(Seal.ephemeral(), "c", one.seal("c", EVENT)) == "bad_mac"


def test_a_namespace_prefixes_every_channel_and_refuses_unprintable_prefixes() -> None:
    ns = Namespace("prod-eu:")
    assert (ns.channel("odds:1"), ns.control, ns.ping) == ("prod-eu:odds:1", "prod-eu:control", "prod-eu:ping")
    assert Namespace().channel("status") == "racewire:status"
    for bad in ("a b", "a\nb", "x" * 65, "\x00"):
        with pytest.raises(ValueError):
            Namespace(bad)
