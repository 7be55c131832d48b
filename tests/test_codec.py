"""The codecs: faithful JSON for plain data, signed pickle for the rest, and never a planted pickle."""

from __future__ import annotations

import enum
import math
import pickle
from dataclasses import dataclass

import pytest

from agent_cache.backends.codec import (
    SIGNING_KEY_ENV,
    Codec,
    CodecError,
    JsonCodec,
    SignedPickleCodec,
    default_codec,
)
from planted import hostile_payloads, raw_pickle

KEY = b"k" * 32


@dataclass
class Point:
    x: int
    y: int


class Colour(enum.IntEnum):
    RED = 1


JSON_VALUES = [
    None,
    True,
    False,
    0,
    -7,
    10**40,
    1.5,
    float("inf"),
    "",
    "héllo ✓",
    "lone \ud800 surrogate",
    [],
    (),
    {},
    [1, "a", None, [2.5]],
    (1, (2, (3,)), [4, (5,)]),
    {"a": {"b": [1, {"c": (None, True)}]}},
    {"__agent_cache__": "tuple", "items": [1]},  # a user dict that looks like our tag
    {"__agent_cache__": {"__agent_cache__": "dict"}, "x": (1,)},
    [{"k": ()}, ({"k": []},)],
]


@pytest.mark.parametrize("value", JSON_VALUES, ids=repr)
@pytest.mark.parametrize("codec", [JsonCodec(), SignedPickleCodec(KEY)], ids=["json", "signed"])
def test_json_values_round_trip_with_their_types(codec: Codec, value: object) -> None:
    data = codec.encode(value)
    assert data[:1] == b"J"  # plain data is stored as JSON even when a key is configured
    back = codec.decode(data)
    assert back == value
    assert _shape(back) == _shape(value)


def _shape(value: object) -> object:
    """The value with every container replaced by its type, to catch list/tuple swaps."""
    if isinstance(value, (list, tuple)):
        return (type(value), [_shape(v) for v in value])
    if isinstance(value, dict):
        return (dict, {k: _shape(v) for k, v in value.items()})
    return type(value)


def test_nan_round_trips() -> None:
    assert math.isnan(JsonCodec().decode(JsonCodec().encode(float("nan"))))


def _cycle() -> list:
    x: list = []
    x.append(x)
    return x


def _deep(n: int) -> list:
    x: list = []
    for _ in range(n):
        x = [x]
    return x


@pytest.mark.parametrize(
    "value",
    [
        {1, 2},
        b"bytes",
        object(),
        Point(1, 2),
        Colour.RED,  # an int subclass: JSON would silently return a plain int
        {1: "int key"},
        {("t",): "tuple key"},
        _cycle(),
        _deep(100_000),
        10**5000,  # past Python's int/str conversion limit
    ],
    ids=["set", "bytes", "object", "dataclass", "intenum", "int-key", "tuple-key", "cycle", "deep", "huge-int"],
)
def test_json_refuses_what_it_cannot_carry_exactly(value: object) -> None:
    with pytest.raises(CodecError):
        JsonCodec().encode(value)


def test_shared_reference_is_not_a_cycle() -> None:
    shared = [1]
    assert JsonCodec().decode(JsonCodec().encode([shared, shared])) == [[1], [1]]


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"X{}",
        b"J",
        b"J{not json",
        b"J\xff\xfe",
        b'J{"__agent_cache__":"tuple"}',
        b'J{"__agent_cache__":"nope","items":[]}',
        b'J{"__agent_cache__":"dict","items":[[1,2]]}',
        b'J{"__agent_cache__":"tuple","items":{}}',
    ],
)
def test_json_decode_rejects_garbage(data: bytes) -> None:
    with pytest.raises(CodecError):
        JsonCodec().decode(data)


def test_signed_round_trips_arbitrary_objects() -> None:
    codec = SignedPickleCodec(KEY)
    data = codec.encode({"p": Point(1, 2), "s": {1, 2}})
    assert data[:1] == b"P"
    assert codec.decode(data) == {"p": Point(1, 2), "s": {1, 2}}


def test_signed_without_json_fallback_pickles_everything() -> None:
    codec = SignedPickleCodec(KEY, fallback_json=False)
    data = codec.encode([1, 2])
    assert data[:1] == b"P"
    assert codec.decode(data) == [1, 2]
    assert codec.decode(JsonCodec().encode((1,))) == (1,)  # JSON written by others still reads


def test_signed_refuses_unpicklable_values() -> None:
    with pytest.raises(CodecError):
        SignedPickleCodec(KEY).encode(lambda: None)


def test_any_flipped_byte_is_detected() -> None:
    codec = SignedPickleCodec(KEY)
    data = codec.encode(Point(3, 4))
    for i in range(1, len(data)):
        tampered = bytearray(data)
        tampered[i] ^= 0x01
        with pytest.raises(CodecError):
            codec.decode(bytes(tampered))
    with pytest.raises(CodecError):
        codec.decode(data[:-1])


def test_another_key_cannot_read() -> None:
    data = SignedPickleCodec(b"one key".ljust(32, b".")).encode(Point(1, 1))
    with pytest.raises(CodecError, match="signature"):
        SignedPickleCodec(b"another key".ljust(32, b".")).decode(data)


def test_the_planted_payload_is_really_dangerous(tmp_path) -> None:
    """Control: the hostile pickle does run code when loaded naively."""
    marker = tmp_path / "control"
    pickle.loads(raw_pickle(marker))
    assert marker.exists()


@pytest.mark.parametrize("codec", [JsonCodec(), SignedPickleCodec(KEY), SignedPickleCodec(KEY, fallback_json=False)])
def test_planted_pickles_are_never_executed(tmp_path, codec: Codec) -> None:
    marker = tmp_path / "pwned"
    for name, payload in hostile_payloads(marker).items():
        with pytest.raises(CodecError):
            codec.decode(payload)
        assert not marker.exists(), name


def test_key_validation() -> None:
    with pytest.raises(ValueError, match="key"):
        SignedPickleCodec(b"")
    with pytest.raises(TypeError, match="key"):
        SignedPickleCodec(123)  # type: ignore[arg-type]
    text = "a text key of thirty-two bytes.."
    data = SignedPickleCodec(text).encode({1})
    assert SignedPickleCodec(text.encode()).decode(data) == {1}


@pytest.mark.parametrize("weak", [b"k", b"secret", b"x" * 31, "31 characters of text key......"])
def test_short_keys_are_refused_with_how_to_make_one(weak) -> None:
    """A short key can be brute-forced offline from one stored row; with it an attacker
    forges a pickle that runs code on read. Refuse it and say how to generate one."""
    with pytest.raises(ValueError) as info:
        SignedPickleCodec(weak)
    message = str(info.value)
    assert "at least 32 bytes" in message and "SignedPickleCodec.generate_key()" in message
    assert SIGNING_KEY_ENV in message


def test_generate_key_gives_a_strong_distinct_key() -> None:
    one, two = SignedPickleCodec.generate_key(), SignedPickleCodec.generate_key()
    assert one != two and len(one) == 64 and int(one, 16) >= 0
    codec = SignedPickleCodec(one)
    assert SignedPickleCodec(one).decode(codec.encode({1})) == {1}


def test_default_codec_follows_the_environment(monkeypatch) -> None:
    monkeypatch.delenv(SIGNING_KEY_ENV, raising=False)
    assert isinstance(default_codec(), JsonCodec)
    monkeypatch.setenv(SIGNING_KEY_ENV, "")
    assert isinstance(default_codec(), JsonCodec)
    secret = SignedPickleCodec.generate_key()
    monkeypatch.setenv(SIGNING_KEY_ENV, secret)
    codec = default_codec()
    assert isinstance(codec, SignedPickleCodec)
    assert SignedPickleCodec(secret.encode()).decode(codec.encode({1})) == {1}
    assert secret not in repr(codec)
