"""The structure-aware mutator (fuzz/mutator.py): it finds the fields, changes one, re-encodes."""

from __future__ import annotations

import base64
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fuzz import mutator
from implementations.engine import _wire
from vectors.kinds import _capture


def wires(version: int) -> list[str]:
    return [s.wire for s in _capture.encoded(version)]


def binary(wire: str) -> bytes:
    return base64.b64decode(wire[5:-1])


def no_inner(data: bytes, max_size: int) -> bytes:
    """A stand-in for libFuzzer's mutation: reverses the bytes (so a test sees that it was used)."""
    return data[::-1][:max_size]


@pytest.mark.parametrize("version", [3, 2])
def test_layout_reads_every_field_of_every_real_message(version: int) -> None:
    expected = {
        0x02: ["length", "value", "length", "value"],
        0x0A: ["length", "value"],
        0x11: ["length", "value", "length", "value", "mac"],
        0x12: ["length", "value", "mac"],
        0x03: ["flags", "keyid", "keyid", "length", "value", "ctr", "length", "value", "mac", "length"],
    }
    header = ["version", "type"] + (["tag", "tag"] if version == 3 else [])
    for wire in wires(version):
        raw = binary(wire)
        fields = mutator.layout(raw)
        kinds = [f.kind for f in fields]
        body = expected[raw[2]]
        if raw[2] == 0x03 and not raw.endswith(b"\0\0\0\0"):
            body = [*body, "value"]
        assert kinds == header + body, (wire[:12], kinds)
        assert sum(f.size for f in fields) == len(raw)


def test_layout_of_a_cut_message_stops_at_the_cut() -> None:
    raw = binary(wires(3)[0])
    fields = mutator.layout(raw[:20])
    assert fields and sum(f.size for f in fields) <= 20


def test_a_length_set_to_0xffffffff_makes_a_message_the_engine_refuses_for_its_length() -> None:
    raw = binary(wires(3)[1])  # a D-H Key
    length = next(f for f in mutator.layout(raw) if f.kind == "length")
    changed = mutator._set(raw, length, 0xFFFFFFFF)
    message = _wire.parse_binary(changed)
    assert isinstance(message, _wire.Malformed) and "exceeds" in message.reason


def test_a_value_changed_inside_keeps_its_length_right() -> None:
    raw = binary(wires(3)[1])
    fields = mutator.layout(raw)
    index = next(i for i, f in enumerate(fields) if f.kind == "value")
    changed = mutator._replace_value(raw, fields, index, b"\x01\x02\x03")
    message = _wire.parse_binary(changed)
    assert isinstance(message, _wire.DHKey) and message.gy == 0x010203


def test_mutate_text_changes_the_encoded_message_in_place_and_keeps_the_text_around_it() -> None:
    wire = "before " + wires(3)[4] + " after"
    changed = [mutator.mutate_text(wire.encode(), 4096, random.Random(seed), no_inner) for seed in range(200)]
    kept = [c for c in changed if c.startswith(b"before ?OTR:") and c.endswith(b". after")]
    assert len(kept) > 100, "most mutations change the binary behind the base64, not the text"
    decoded = [base64.b64decode(c[12:-7]) for c in kept if c[12:-7].endswith(b"=") or len(c[12:-7]) % 4 == 0]
    assert len({len(d) for d in decoded}) > 3


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300), st.integers(min_value=1, max_value=400), st.integers(min_value=0))
def test_mutate_text_never_raises_and_respects_max_size(data: bytes, max_size: int, seed: int) -> None:
    data = data if seed % 2 else b"x?OTR:" + base64.b64encode(data) + b"."
    out = mutator.mutate_text(data, max_size, random.Random(seed), no_inner)
    assert isinstance(out, bytes) and len(out) <= max_size
