"""The mutators change exactly what they say, decoded with the engine's parser before and after."""

from __future__ import annotations

import base64
import dataclasses

import pytest

from harness import mutators
from harness.scenarios import roles
from harness.script import Script
from implementations.engine import EngineAdapter, _wire

HEADER_V3 = _wire.Header(3, _wire.MessageType.DATA, 0x100, 0x101)
HEADER_V2 = _wire.Header(2, _wire.MessageType.DATA)


def data_message(header: _wire.Header = HEADER_V3) -> _wire.DataMessage:
    return _wire.DataMessage(
        header,
        flags=0,
        sender_keyid=1,
        recipient_keyid=2,
        next_dh=0xC0FFEE << 1000,
        ctr=(7).to_bytes(8, "big"),
        encrypted_message=b"\x10ciphertext",
        mac=bytes(range(20)),
        old_mac_keys=b"",
    )


DATA_V3 = _wire.encode(data_message())
DATA_V2 = _wire.encode(data_message(HEADER_V2))
DH_KEY = _wire.encode(_wire.DHKey(_wire.Header(3, _wire.MessageType.DH_KEY, 0x100, 0x101), 5 << 1500))
COMMIT = _wire.encode(
    _wire.DHCommit(_wire.Header(3, _wire.MessageType.DH_COMMIT, 0x101, 0), b"\x01" * 196, b"\x02" * 32)
)


def parsed(wire: str) -> _wire.Message:
    return _wire.parse(wire)


def binary(wire: str) -> bytes:
    start = wire.index("?OTR:") + 5
    return base64.b64decode(wire[start : wire.index(".", start)])


def only_difference(before: object, after: object) -> set[str]:
    """The names of the dataclass fields that differ between two decoded messages."""
    assert type(before) is type(after)
    names = {f.name for f in dataclasses.fields(before)}  # type: ignore[arg-type]
    return {n for n in names if getattr(before, n) != getattr(after, n)}


# ------------------------------------------------------------- byte level


def test_flip_encoded_bit_flips_exactly_that_bit_and_stays_valid_base64():
    out = mutators.flip_encoded_bit(DATA_V3, 8 * 3 + 2)  # the sender instance tag's first byte
    original, changed = binary(DATA_V3), binary(out)
    assert len(original) == len(changed)
    diff = [i for i, (x, y) in enumerate(zip(original, changed, strict=True)) if x != y]
    assert diff == [3] and original[3] ^ changed[3] == 0x04
    assert isinstance(parsed(out), _wire.DataMessage)


def test_flip_encoded_bit_in_the_version_makes_the_message_malformed():
    out = mutators.flip_encoded_bit(DATA_V3, 8 * 1 + 2)  # version 3 -> 7
    message = parsed(out)
    assert isinstance(message, _wire.Malformed) and message.version == 7


def test_flip_encoded_bit_rejects_a_bit_outside_the_message():
    with pytest.raises(ValueError):
        mutators.flip_encoded_bit(DATA_V3, 8 * len(binary(DATA_V3)))
    with pytest.raises(ValueError):
        mutators.flip_encoded_bit(DATA_V3, -1)


def test_truncate_encoded_keeps_a_prefix_and_the_parser_rejects_it():
    out = mutators.truncate_encoded(DATA_V3, 30)
    assert binary(out) == binary(DATA_V3)[:30]
    assert isinstance(parsed(out), _wire.Malformed)


@pytest.mark.parametrize("keep", [0, -1, 10_000])
def test_truncate_encoded_rejects_lengths_that_do_not_truncate(keep):
    with pytest.raises(ValueError):
        mutators.truncate_encoded(DATA_V3, keep)


def test_set_version_changes_only_the_version_short():
    out = mutators.set_version(DATA_V3, 4)
    assert binary(out) == b"\x00\x04" + binary(DATA_V3)[2:]
    message = parsed(out)
    assert isinstance(message, _wire.Malformed) and message.version == 4


def test_set_version_to_the_same_version_is_the_identity():
    assert parsed(mutators.set_version(DATA_V3, 3)) == parsed(DATA_V3)


def test_bad_base64_is_rejected_by_a_strict_decoder_and_keeps_the_type_prefix():
    out = mutators.bad_base64(DATA_V3)
    assert out.startswith(DATA_V3[: len("?OTR:") + 8])
    assert len(out) == len(DATA_V3) and out[len("?OTR:") + 8 : len("?OTR:") + 12] == "!*=*"
    message = parsed(out)
    assert isinstance(message, _wire.Malformed) and "base64" in message.reason


# ------------------------------------------------------------ field level


def test_set_instance_tags_changes_only_the_tags():
    before = parsed(DATA_V3)
    after = parsed(mutators.set_instance_tags(DATA_V3, 0x42, 0x1234))
    assert isinstance(before, _wire.DataMessage) and isinstance(after, _wire.DataMessage)
    assert only_difference(before, after) == {"header"}
    assert (after.header.sender_tag, after.header.receiver_tag) == (0x42, 0x1234)
    assert (after.header.version, after.header.type) == (3, _wire.MessageType.DATA)


def test_set_instance_tags_works_on_any_v3_encoded_message():
    after = parsed(mutators.set_instance_tags(COMMIT, 0x300, 0x400))
    assert isinstance(after, _wire.DHCommit)
    assert (after.header.sender_tag, after.header.receiver_tag) == (0x300, 0x400)


def test_set_instance_tags_rejects_v2():
    with pytest.raises(ValueError, match="v2"):
        mutators.set_instance_tags(DATA_V2, 0x100, 0x101)


@pytest.mark.parametrize("wire", [DATA_V3, DATA_V2])
def test_tamper_data_ciphertext_changes_one_bit_of_the_encrypted_message_only(wire):
    before, after = parsed(wire), parsed(mutators.tamper_data_ciphertext(wire))
    assert isinstance(before, _wire.DataMessage) and isinstance(after, _wire.DataMessage)
    assert only_difference(before, after) == {"encrypted_message"}
    assert after.encrypted_message[0] ^ before.encrypted_message[0] == 0x01
    assert after.encrypted_message[1:] == before.encrypted_message[1:]


def test_tamper_data_mac_changes_one_bit_of_the_mac_only():
    before, after = parsed(DATA_V3), parsed(mutators.tamper_data_mac(DATA_V3))
    assert isinstance(before, _wire.DataMessage) and isinstance(after, _wire.DataMessage)
    assert only_difference(before, after) == {"mac"}
    assert bytes(a ^ b for a, b in zip(before.mac, after.mac, strict=True)) == b"\x01" + bytes(19)


def test_set_data_counter_changes_only_the_counter():
    before, after = parsed(DATA_V3), parsed(mutators.set_data_counter(DATA_V3, 0x0102))
    assert isinstance(after, _wire.DataMessage)
    assert only_difference(before, after) == {"ctr"}
    assert after.ctr == bytes(6) + b"\x01\x02"


def test_set_data_keyids_changes_only_the_keyids():
    before, after = parsed(DATA_V3), parsed(mutators.set_data_keyids(DATA_V3, 77, 88))
    assert isinstance(after, _wire.DataMessage)
    assert only_difference(before, after) == {"sender_keyid", "recipient_keyid"}
    assert (after.sender_keyid, after.recipient_keyid) == (77, 88)


def test_set_data_flags_changes_only_the_flags():
    before, after = parsed(DATA_V2), parsed(mutators.set_data_flags(DATA_V2, _wire.IGNORE_UNREADABLE))
    assert isinstance(after, _wire.DataMessage)
    assert only_difference(before, after) == {"flags"}
    assert after.flags == _wire.IGNORE_UNREADABLE


def test_set_dh_key_gy_changes_only_gy():
    before, after = parsed(DH_KEY), parsed(mutators.set_dh_key_gy(DH_KEY, 1))
    assert isinstance(after, _wire.DHKey)
    assert only_difference(before, after) == {"gy"}
    assert after.gy == 1


def test_text_around_the_encoded_message_is_kept():
    wire = "hi " + DATA_V3 + " trailing"
    out = mutators.tamper_data_mac(wire)
    assert out.startswith("hi ?OTR:") and out.endswith(". trailing")


FIELD_MUTATORS = [
    mutators.tamper_data_ciphertext,
    mutators.tamper_data_mac,
    lambda w: mutators.set_data_counter(w, 1),
    lambda w: mutators.set_data_keyids(w, 1, 1),
    lambda w: mutators.set_data_flags(w, 1),
]


@pytest.mark.parametrize("mutate", FIELD_MUTATORS)
@pytest.mark.parametrize("wire", [COMMIT, DH_KEY])
def test_data_message_mutators_refuse_other_message_types(mutate, wire):
    with pytest.raises(ValueError, match="DataMessage"):
        mutate(wire)


ALL = [
    lambda w: mutators.flip_encoded_bit(w, 0),
    lambda w: mutators.truncate_encoded(w, 5),
    lambda w: mutators.set_version(w, 4),
    mutators.bad_base64,
    lambda w: mutators.set_instance_tags(w, 0x100, 0x100),
    *FIELD_MUTATORS,
    lambda w: mutators.set_dh_key_gy(w, 1),
]


@pytest.mark.parametrize("mutate", ALL)
@pytest.mark.parametrize("wire", ["hello", "?OTRv3?", "?OTR Error: x", "?OTR:AAMD", "?OTR:!!!!.", "?OTR:."])
def test_every_mutator_raises_value_error_on_what_is_not_an_encoded_message(mutate, wire):
    with pytest.raises(ValueError):
        mutate(wire)


def test_mutators_are_pure():
    wire = DATA_V3
    assert mutators.tamper_data_mac(wire) == mutators.tamper_data_mac(wire)
    assert wire == DATA_V3


# ---------------------------------------- against a real engine Data Message


def _private_pair() -> Script:
    s = Script(seed=7)
    peers = {"a": "bob", "b": "alice"}
    for side, role in roles():
        s.add(role, EngineAdapter(), peers[side])
    s.alice.query()
    s.deliver()
    return s


@pytest.mark.parametrize(
    "mutate",
    [
        mutators.tamper_data_ciphertext,
        mutators.tamper_data_mac,
        lambda w: mutators.set_data_counter(w, 99),
        lambda w: mutators.set_data_keyids(w, 1, 9),
    ],
)
def test_a_field_mutation_of_a_real_data_message_is_unreadable_to_the_engine(mutate):
    s = _private_pair()
    s.alice.send("secret")
    packet = s.net.find("data", to="bob")
    s.net.modify(packet, mutate(packet.wire), "mutated")
    s.deliver(1)
    s.bob.sees("error", code="unreadable")
    s.bob.sees_no("message")
