"""The data types, the wire classifier and TLVs, table-driven (spec: "Data types",
"Unencoded messages", "Encoded messages", "Data Message", "Instance Tags").

Every parser case is fed whole, byte-truncated and with trailing garbage
(h11's ``test_io.py`` pattern).  Expected encodings are written out here
byte by byte from the spec, not produced by the engine's writers.
"""

from __future__ import annotations

import base64
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from implementations.engine import _codec, _wire
from implementations.engine._codec import DecodeError, Reader
from implementations.engine._tlv import Plaintext, Tlv, TlvType, decode_plaintext, encode_plaintext
from implementations.engine._wire import (
    DataMessage,
    DHCommit,
    DHKey,
    ErrorMessage,
    FragmentMarker,
    Header,
    Malformed,
    MessageType,
    PlainText,
    QueryMessage,
    RevealSignature,
    Signature,
    instance_tag_problem,
    parse,
    parse_binary,
)

# The whitespace tag, copied from the spec ("Tagged plaintext messages").
TAG = "\x20\x09\x20\x20\x09\x09\x09\x09" + "\x20\x09\x20\x09\x20\x09\x20\x20"
V1 = "\x20\x09\x20\x09\x20\x20\x09\x20"
V2 = "\x20\x20\x09\x09\x20\x20\x09\x20"
V3 = "\x20\x20\x09\x09\x20\x20\x09\x09"


def be(value: int, width: int) -> bytes:
    return value.to_bytes(width, "big")


def spec_mpi(value: int) -> bytes:
    body = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return be(len(body), 4) + body


def spec_data(value: bytes) -> bytes:
    return be(len(value), 4) + value


def armor(binary: bytes) -> str:
    return "?OTR:" + base64.b64encode(binary).decode("ascii") + "."


# ====================================================================== codec

# (reader method, exact encoding, value read); each is also read truncated and with a trailing byte.
READER_CASES = [
    ("byte", b"\x7f", 0x7F),
    ("byte", b"\xff", 0xFF),
    ("short", b"\x12\x34", 0x1234),
    ("short", b"\xff\xfe", 0xFFFE),
    ("uint", b"\xde\xad\xbe\xef", 0xDEADBEEF),
    ("uint", b"\x00\x00\x00\x00", 0),
    ("mpi", b"\x00\x00\x00\x00", 0),
    ("mpi", b"\x00\x00\x00\x01\x80", 0x80),
    ("mpi", b"\x00\x00\x00\x02\x01\x00", 0x100),
    ("data", b"\x00\x00\x00\x03abc", b"abc"),
    ("data", b"\x00\x00\x00\x00", b""),
    ("ctr", bytes(range(8)), bytes(range(8))),
    ("mac", bytes(range(20)), bytes(range(20))),
]


@pytest.mark.parametrize(("method", "encoded", "value"), READER_CASES)
def test_reader_reads_the_exact_encoding(method, encoded, value):
    reader = Reader(encoded)
    assert getattr(reader, method)() == value
    assert reader.remaining == 0
    reader.finish()


@pytest.mark.parametrize(("method", "encoded", "value"), READER_CASES)
def test_reader_rejects_every_truncation(method, encoded, value):
    for cut in range(len(encoded)):
        with pytest.raises(DecodeError):
            getattr(Reader(encoded[:cut]), method)()


@pytest.mark.parametrize(("method", "encoded", "value"), READER_CASES)
def test_finish_rejects_trailing_bytes(method, encoded, value):
    reader = Reader(encoded + b"\x00")
    assert getattr(reader, method)() == value
    with pytest.raises(DecodeError, match="1 trailing bytes"):
        reader.finish()


@pytest.mark.parametrize(
    ("encoded", "declared", "remaining"),
    [
        (b"\x00\x00\x00\x05abc", 5, 3),
        (b"\x00\x00\x00\x01", 1, 0),
        (b"\xff\xff\xff\xffabcd", 0xFFFFFFFF, 4),
        (b"\x80\x00\x00\x00", 0x80000000, 0),
    ],
)
@pytest.mark.parametrize("method", ["data", "mpi", "mpi_bytes"])
def test_length_larger_than_what_remains_is_malformed_with_a_reason(encoded, declared, remaining, method):
    reader = Reader(encoded)
    with pytest.raises(DecodeError, match=f"length {declared} exceeds the {remaining} bytes remaining"):
        getattr(reader, method)("the field")
    with pytest.raises(DecodeError, match=r"^the field"):
        getattr(Reader(encoded), method)("the field")


def test_missing_bytes_are_reported_with_what_was_being_read():
    with pytest.raises(DecodeError, match="sender keyid: needs 4 bytes, 3 remain"):
        Reader(b"\x00\x00\x01").uint("sender keyid")
    with pytest.raises(DecodeError, match="CTR: needs 8 bytes, 0 remain"):
        Reader(b"").ctr()
    with pytest.raises(DecodeError, match="MAC: needs 20 bytes, 19 remain"):
        Reader(bytes(19)).mac()


MPI_CASES = [
    (0, "00000000"),
    (1, "0000000101"),
    (0x7F, "000000017f"),
    (0x80, "0000000180"),
    (0xFF, "00000001ff"),
    (0x100, "000000020100"),
    (0x8000, "000000028000"),
    (0xFFFF, "00000002ffff"),
    (0x10000, "00000003010000"),
    (2**63, "000000088000000000000000"),
    (2**1535, "000000c0" + "80" + "00" * 191),
    (2**1527 + 1, "000000bf" + "80" + "00" * 189 + "01"),
]


@pytest.mark.parametrize(("value", "hexed"), MPI_CASES)
def test_mpi_writer_uses_the_minimal_encoding(value, hexed):
    assert _codec.mpi(value).hex() == hexed
    assert Reader(bytes.fromhex(hexed)).mpi() == value
    assert Reader(bytes.fromhex(hexed)).mpi_bytes() == bytes.fromhex(hexed)


def test_mpi_writer_refuses_negative_values():
    with pytest.raises(ValueError):
        _codec.mpi(-1)


def test_mpi_reader_accepts_a_non_minimal_encoding_as_libotr_does():
    assert Reader(b"\x00\x00\x00\x03\x00\x00\x05").mpi() == 5
    assert Reader(b"\x00\x00\x00\x01\x00").mpi() == 0


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=2**1600))
def test_mpi_round_trips_and_never_has_a_leading_zero_byte(value):
    encoded = _codec.mpi(value)
    assert encoded == spec_mpi(value)
    assert encoded[4:5] != b"\x00"
    reader = Reader(encoded)
    assert reader.mpi() == value
    reader.finish()


def test_fixed_width_writers():
    assert _codec.byte(0xAB) == b"\xab"
    assert _codec.short(0x0102) == b"\x01\x02"
    assert _codec.uint(0x01020304) == b"\x01\x02\x03\x04"
    assert _codec.data(b"xy") == b"\x00\x00\x00\x02xy"
    assert _codec.fixed(1, 20) == bytes(19) + b"\x01"
    assert _codec.fixed(0, 20) == bytes(20)


def test_consumed_since_returns_the_bytes_as_sent():
    encoded = b"\x00\x00\x00\x02\x00\x05" + b"rest"
    reader = Reader(encoded)
    start = reader.position
    assert reader.mpi() == 5
    assert reader.consumed_since(start) == encoded[:6]
    assert reader.rest() == b"rest"


# ============================================================ unencoded kinds

# wire -> the one message parse() must return.
UNENCODED_CASES: dict[str, _wire.Message] = {
    # --- query messages: every example of the spec, and text after them
    "?OTR?": QueryMessage(frozenset({1})),
    "?OTRv2?": QueryMessage(frozenset({2})),
    "?OTRv23?": QueryMessage(frozenset({2, 3})),
    "?OTRv32?": QueryMessage(frozenset({2, 3})),
    "?OTR?v2?": QueryMessage(frozenset({1, 2})),
    "?OTRv24x?": QueryMessage(frozenset({2, 4})),
    "?OTR?v24x?": QueryMessage(frozenset({1, 2, 4})),
    "?OTR?v?": QueryMessage(frozenset({1})),
    "?OTRv?": QueryMessage(frozenset()),
    "?OTRv3?": QueryMessage(frozenset({3})),
    "?OTRv23? Alice has requested an Off-the-Record private conversation.": QueryMessage(
        frozenset({2, 3}), " Alice has requested an Off-the-Record private conversation."
    ),
    "?OTRv3?\nexplanation": QueryMessage(frozenset({3}), "\nexplanation"),
    "?OTR?v23?see http://otr.cypherpunks.ca/": QueryMessage(
        frozenset({1, 2, 3}), "see http://otr.cypherpunks.ca/"
    ),
    # --- whitespace tags: stripped, the text around them kept
    "Hello" + TAG + V1: PlainText("Hello", frozenset({1})),
    "Hello" + TAG + V2: PlainText("Hello", frozenset({2})),
    "Hello" + TAG + V3: PlainText("Hello", frozenset({3})),
    "Hello" + TAG + V1 + V2 + V3: PlainText("Hello", frozenset({1, 2, 3})),
    "Hello" + TAG + V3 + V2: PlainText("Hello", frozenset({2, 3})),
    TAG + V2 + V3: PlainText("", frozenset({2, 3})),
    "Hello " + TAG + V2 + V3 + "world": PlainText("Hello world", frozenset({2, 3})),
    "a" + TAG + V3 + "\tb\t": PlainText("a\tb\t", frozenset({3})),
    # an unknown 8-byte group ends the tag; it and what follows stay in the text
    "x" + TAG + V3 + "\x20" * 8 + V2 + "!": PlainText("x" + "\x20" * 8 + V2 + "!", frozenset({3})),
    "x" + TAG + "\x20\x20\x09\x09\x20\x09\x20\x20" + V3: PlainText(
        "x" + "\x20\x20\x09\x09\x20\x09\x20\x20" + V3, frozenset()
    ),
    "x" + TAG: PlainText("x", frozenset()),
    # a partial tag is not a tag
    "x" + TAG[:8] + V3: PlainText("x" + TAG[:8] + V3),
    # --- error messages
    "?OTR Error:": ErrorMessage(""),
    "?OTR Error: You transmitted an unreadable encrypted message.": ErrorMessage(
        " You transmitted an unreadable encrypted message."
    ),
    "preamble ?OTR Error: details": ErrorMessage(" details"),
    # --- the first "?OTR" decides (as libotr's otrl_proto_message_type does)
    "?OTRv3? and then ?OTR Error: x": QueryMessage(frozenset({3}), " and then ?OTR Error: x"),
    "?OTR Error: x then ?OTRv3?": ErrorMessage(" x then ?OTRv3?"),
    # --- plaintext, including "?OTR" markers that are no recognised form
    "": PlainText(""),
    "hello": PlainText("hello"),
    "?OT": PlainText("?OT"),
    "OTR?": PlainText("OTR?"),
    "?otrv2?": PlainText("?otrv2?"),
    "?OTR": PlainText("?OTR"),
    "?OTR ": PlainText("?OTR "),
    "?OTRx": PlainText("?OTRx"),
    "?OTR;AAMC.": PlainText("?OTR;AAMC."),
    "?OTR Err": PlainText("?OTR Err"),
    "?OTR error: lower case": PlainText("?OTR error: lower case"),
    "?OTRv2": PlainText("?OTRv2"),
    "?OTRx" + TAG + V3: PlainText("?OTRx", frozenset({3})),
    # --- fragments are recognised by their prefix only
    "?OTR|5a73a599|27e31597,00001,00003,piece,": FragmentMarker("?OTR|5a73a599|27e31597,00001,00003,piece,"),
    "?OTR,1,2,piece,": FragmentMarker("?OTR,1,2,piece,"),
}


@pytest.mark.parametrize("wire", UNENCODED_CASES, ids=[repr(w)[:50] for w in UNENCODED_CASES])
def test_unencoded_message_is_classified(wire):
    assert parse(wire) == UNENCODED_CASES[wire]


def test_engine_tag_constants_are_the_spec_bytes():
    assert _wire.TAG_BASE == TAG
    assert _wire.TAG_VERSIONS == {1: V1, 2: V2, 3: V3}
    assert _wire.whitespace_tag(frozenset({2, 3})) == TAG + V2 + V3
    assert _wire.whitespace_tag(frozenset({3, 1})) == TAG + V1 + V3  # v1 first, as the spec requires


@pytest.mark.parametrize(
    ("versions", "encoded"),
    [({1}, "?OTR?"), ({2}, "?OTRv2?"), ({3}, "?OTRv3?"), ({2, 3}, "?OTRv23?"), ({1, 2, 3}, "?OTR?v23?")],
)
def test_query_message_encodes_as_the_spec_spells_it(versions, encoded):
    query = QueryMessage(frozenset(versions))
    assert query.encode() == encoded
    assert parse(query.encode()) == query
    with_text = QueryMessage(frozenset(versions), " explanation")
    assert parse(with_text.encode()) == with_text


def test_error_message_round_trips():
    message = ErrorMessage(" something broke")
    assert message.encode() == "?OTR Error: something broke"
    assert parse(message.encode()) == message


# ============================================================== encoded kinds

GY = int.from_bytes(bytes((0x80 + i) % 256 for i in range(192)), "big")  # 192 bytes, high bit set
GY_SHORT = int.from_bytes(bytes(range(1, 192)), "big")  # 191 bytes

Segments = list[tuple[str, bytes]]


def header_segments(version: int, mtype: int, sender: int = 0x1234ABCD, receiver: int = 0x100) -> Segments:
    segments = [("protocol version", be(version, 2)), ("message type", be(mtype, 1))]
    if version == 3:
        segments += [("sender instance tag", be(sender, 4)), ("receiver instance tag", be(receiver, 4))]
    return segments


def header(version: int, mtype: MessageType) -> Header:
    return Header(version, mtype, 0x1234ABCD, 0x100) if version == 3 else Header(2, mtype)


ENC_GX, HASHED_GX = bytes(range(196)), bytes(range(32))
ENC_XB, ENC_XA = b"encrypted X_B" * 20, b"encrypted X_A" * 20


def commit_case(v: int) -> tuple[_wire.EncodedMessage, Segments]:
    return DHCommit(header(v, MessageType.DH_COMMIT), ENC_GX, HASHED_GX), [
        *header_segments(v, 0x02),
        ("encrypted gx", spec_data(ENC_GX)),
        ("hashed gx", spec_data(HASHED_GX)),
    ]


def key_case(v: int) -> tuple[_wire.EncodedMessage, Segments]:
    return DHKey(header(v, MessageType.DH_KEY), GY), [*header_segments(v, 0x0A), ("gy", spec_mpi(GY))]


def short_key_case(v: int) -> tuple[_wire.EncodedMessage, Segments]:
    return DHKey(header(v, MessageType.DH_KEY), GY_SHORT), [
        *header_segments(v, 0x0A),
        ("gy", be(191, 4) + GY_SHORT.to_bytes(191, "big")),
    ]


def reveal_case(v: int) -> tuple[_wire.EncodedMessage, Segments]:
    r = b"\x00" + bytes(range(1, 16))
    return RevealSignature(header(v, MessageType.REVEAL_SIGNATURE), r, ENC_XB, bytes(20)), [
        *header_segments(v, 0x11),
        ("revealed key", spec_data(r)),
        ("encrypted signature", spec_data(ENC_XB)),
        ("MAC", bytes(20)),
    ]


def signature_case(v: int) -> tuple[_wire.EncodedMessage, Segments]:
    return Signature(header(v, MessageType.SIGNATURE), ENC_XA, b"\xaa" * 20), [
        *header_segments(v, 0x12),
        ("encrypted signature", spec_data(ENC_XA)),
        ("MAC", b"\xaa" * 20),
    ]


def data_case(v: int) -> tuple[_wire.EncodedMessage, Segments]:
    message = DataMessage(
        header(v, MessageType.DATA),
        flags=0x01,
        sender_keyid=1,
        recipient_keyid=2,
        next_dh=GY,
        ctr=be(1, 8),
        encrypted_message=b"ciphertext",
        mac=b"\x55" * 20,
        old_mac_keys=b"\x11" * 40,
    )
    return message, [
        *header_segments(v, 0x03),
        ("flags", b"\x01"),
        ("sender keyid", be(1, 4)),
        ("recipient keyid", be(2, 4)),
        ("next DH y", spec_mpi(GY)),
        ("CTR", be(1, 8)),
        ("encrypted message", spec_data(b"ciphertext")),
        ("MAC", b"\x55" * 20),
        ("old MAC keys", spec_data(b"\x11" * 40)),
    ]


def empty_data_case(v: int) -> tuple[_wire.EncodedMessage, Segments]:
    message = DataMessage(header(v, MessageType.DATA), 0, 0xFFFFFFFF, 7, 2, bytes(8), b"", bytes(20), b"")
    return message, [
        *header_segments(v, 0x03),
        ("flags", b"\x00"),
        ("sender keyid", be(0xFFFFFFFF, 4)),
        ("recipient keyid", be(7, 4)),
        ("next DH y", spec_mpi(2)),
        ("CTR", bytes(8)),
        ("encrypted message", spec_data(b"")),
        ("MAC", bytes(20)),
        ("old MAC keys", spec_data(b"")),
    ]


# name -> a builder of (message object, its (field name, bytes) layout written from the spec)
ENCODED: dict[str, Callable[[int], tuple[_wire.EncodedMessage, Segments]]] = {
    "dh-commit": commit_case,
    "dh-key": key_case,
    "dh-key-short-gy": short_key_case,
    "reveal-signature": reveal_case,
    "signature": signature_case,
    "data": data_case,
    "data-empty": empty_data_case,
}
CASES = [(name, v) for name in ENCODED for v in (2, 3)]
CASE_IDS = [f"{name}-v{v}" for name, v in CASES]
PREFIXES = {"dh-commit": "C", "dh-key": "K", "dh-key-short-gy": "K", "reveal-signature": "R"}
PREFIXES |= {"signature": "S", "data": "D", "data-empty": "D"}


def build(name: str, version: int) -> tuple[_wire.EncodedMessage, Segments, bytes]:
    message, segments = ENCODED[name](version)
    return message, segments, b"".join(b for _, b in segments)


@pytest.mark.parametrize(("name", "version"), CASES, ids=CASE_IDS)
def test_encoded_message_encodes_as_the_spec_lays_it_out(name, version):
    message, _, binary = build(name, version)
    wire = _wire.encode(message)
    assert wire == armor(binary)
    assert wire.startswith("?OTR:AA" + ("M" if version == 3 else "I") + PREFIXES[name])


@pytest.mark.parametrize(("name", "version"), CASES, ids=CASE_IDS)
def test_encoded_message_parses_back_equal(name, version):
    message, _, binary = build(name, version)
    assert parse(_wire.encode(message)) == message
    assert parse_binary(binary) == message


@pytest.mark.parametrize(("name", "version"), CASES, ids=CASE_IDS)
def test_text_after_the_terminating_dot_is_ignored(name, version):
    message, _, _ = build(name, version)
    assert parse(_wire.encode(message) + " trailing chatter.") == message
    assert parse("leading chatter " + _wire.encode(message)) == message


@pytest.mark.parametrize(("name", "version"), CASES, ids=CASE_IDS)
def test_every_binary_truncation_is_malformed_and_names_the_cut_field(name, version):
    _, segments, binary = build(name, version)
    start = 0
    for field_name, chunk in segments:
        for cut in range(start, start + len(chunk)):
            result = parse(armor(binary[:cut]))
            assert isinstance(result, Malformed), (field_name, cut)
            if cut == 0:
                assert result.reason == "encoded message is empty"
            else:
                assert field_name.lower() in result.reason.lower(), (field_name, cut, result.reason)
                assert result.version == (version if cut >= 2 else None)
        start += len(chunk)


@pytest.mark.parametrize(("name", "version"), CASES, ids=CASE_IDS)
def test_every_truncation_of_the_base64_text_is_malformed(name, version):
    wire = _wire.encode(build(name, version)[0])
    body = wire[len("?OTR:") : -1]
    for cut in range(len(body)):
        assert isinstance(parse("?OTR:" + body[:cut] + "."), Malformed), cut
        assert isinstance(parse("?OTR:" + body[:cut]), Malformed), cut
    assert parse("?OTR:" + body) == Malformed("encoded message has no terminating '.'")


@pytest.mark.parametrize(("name", "version"), CASES, ids=CASE_IDS)
@pytest.mark.parametrize("garbage", [b"\x00", b"garbage", bytes(20)])
def test_trailing_bytes_are_malformed(name, version, garbage):
    _, _, binary = build(name, version)
    result = parse(armor(binary + garbage))
    assert isinstance(result, Malformed)
    assert f"{len(garbage)} trailing bytes" in result.reason
    assert result.version == version


BAD_ARMOR = {
    "?OTR:===.": "bad base64",
    "?OTR:====.": "bad base64",
    "?OTR:AAMC*.": "bad base64",
    "?OTR:AAM.": "bad base64",
    "?OTR:AAMCA===.": "bad base64",
    "?OTR:AA==AA==.": "bad base64",
    "?OTR:AAMC AAAA.": "bad base64",
    "?OTR:AAMC\nAAAA.": "bad base64",
    "?OTR:AAMCé.": "bad base64",
    "?OTR:.": "encoded message is empty",
    "?OTR:": "no terminating '.'",
    "?OTR:AAMC": "no terminating '.'",
}


@pytest.mark.parametrize("wire", BAD_ARMOR)
def test_bad_armor_is_malformed_with_a_reason(wire):
    result = parse(wire)
    assert isinstance(result, Malformed)
    assert BAD_ARMOR[wire] in result.reason


@pytest.mark.parametrize("version", [0, 1, 4, 0x0203, 0xFFFF])
def test_unknown_protocol_version_is_malformed(version):
    for rest in (b"", b"\x02", b"\x02" + bytes(40)):
        result = parse(armor(be(version, 2) + rest))
        assert result == Malformed(f"unsupported protocol version {version}", version)


@pytest.mark.parametrize("version", [2, 3])
@pytest.mark.parametrize("mtype", [0x00, 0x01, 0x04, 0x0B, 0x10, 0x13, 0xFF])
def test_unknown_message_type_is_malformed(version, mtype):
    result = parse(armor(be(version, 2) + be(mtype, 1) + bytes(40)))
    assert result == Malformed(f"unknown message type {mtype:#04x}", version)


def replace_segment(name: str, field: str, chunk: bytes, version: int = 3) -> bytes:
    _, segments, _ = build(name, version)
    assert field in dict(segments)
    return b"".join(chunk if f == field else b for f, b in segments)


HUGE = be(0xFFFFFFFF, 4)


@pytest.mark.parametrize(
    ("name", "field"),
    [
        ("data", "encrypted message"),
        ("data", "old MAC keys"),
        ("data", "next DH y"),
        ("dh-commit", "encrypted gx"),
        ("dh-key", "gy"),
        ("reveal-signature", "encrypted signature"),
        ("signature", "encrypted signature"),
    ],
)
@pytest.mark.parametrize("version", [2, 3])
def test_length_0xffffffff_is_malformed_not_allocated(name, field, version):
    _, segments, _ = build(name, version)
    value = dict(segments)[field]
    binary = replace_segment(name, field, HUGE + value[4:], version)
    result = parse(armor(binary))
    assert isinstance(result, Malformed)
    assert field.lower() in result.reason.lower()
    assert "length 4294967295 exceeds" in result.reason


@pytest.mark.parametrize("length", [0, 1, 20, 31, 33, 64])
def test_hashed_gx_must_be_32_bytes(length):
    result = parse(armor(replace_segment("dh-commit", "hashed gx", spec_data(bytes(length)))))
    assert result == Malformed(f"hashed gx is {length} bytes, not 32", 3)


@pytest.mark.parametrize("length", [0, 1, 15, 17, 20, 32])
def test_revealed_key_must_be_16_bytes(length):
    result = parse(armor(replace_segment("reveal-signature", "revealed key", spec_data(bytes(length)))))
    assert result == Malformed(f"revealed key is {length} bytes, not 16", 3)


def test_data_message_mac_covers_version_to_encrypted_message():
    message, segments, binary = build("data", 3)
    assert isinstance(message, DataMessage)
    mac_at = sum(len(b) for f, b in segments[: [f for f, _ in segments].index("MAC")])
    assert message.authenticated_part() == binary[:mac_at]


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_parse_never_raises_on_any_text(wire):
    assert isinstance(parse(wire), (PlainText, QueryMessage, ErrorMessage, FragmentMarker, Malformed))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_parse_binary_never_raises_on_any_bytes(binary):
    result = parse_binary(binary)
    if not isinstance(result, Malformed):
        assert parse_binary(result.header.encode() + result.body()) == result


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(CASES), st.integers(min_value=0), st.binary(max_size=8))
def test_mutated_encoded_messages_parse_to_malformed_or_re_encode_identically(case, position, chunk):
    """Overwrite a few bytes anywhere: the parser never raises, and whatever it accepts is consistent.

    Re-encoding is byte-identical except where an MPI arrived non-minimal (accepted, like libotr,
    and re-encoded minimal): then it is shorter and parses to the same message.
    """
    _, _, binary = build(*case)
    at = position % (len(binary) + 1)
    mutated = binary[:at] + chunk + binary[at + len(chunk) :]
    result = parse_binary(mutated)
    if not isinstance(result, Malformed):
        again = result.header.encode() + result.body()
        assert parse_binary(again) == result
        assert again == mutated or len(again) < len(mutated)


# ====================================================================== TLVs

TLV_CASES = [
    (Tlv(TlvType.PADDING, bytes(5)), "0000000500000000" + "00"),
    (Tlv(TlvType.DISCONNECTED), "00010000"),
    (Tlv(TlvType.SMP_ABORT), "00060000"),
    (Tlv(TlvType.EXTRA_SYMMETRIC_KEY, be(1, 4) + b"use"), "00080007" + "00000001" + b"use".hex()),
    (Tlv(0xBEEF, b"\x00\xff"), "beef000200ff"),
    (Tlv(TlvType.SMP1Q, b"q?\x00" + bytes(4)), "00070007" + "713f00" + "00000000"),
]


@pytest.mark.parametrize(("tlv", "hexed"), TLV_CASES)
def test_tlv_encodes_as_type_length_value(tlv, hexed):
    assert tlv.encode().hex() == hexed
    assert decode_plaintext(b"\x00" + bytes.fromhex(hexed)) == Plaintext(b"", (tlv,))


def test_tlv_value_is_at_most_65535_bytes():
    assert len(Tlv(0, bytes(0xFFFF)).encode()) == 4 + 0xFFFF
    with pytest.raises(ValueError):
        Tlv(0, bytes(0x10000)).encode()


PLAINTEXT_CASES = [
    (b"hello", Plaintext(b"hello", ())),
    (b"", Plaintext(b"", ())),
    (b"hello\x00", Plaintext(b"hello", ())),
    (b"\x00\x00\x01\x00\x00", Plaintext(b"", (Tlv(1),))),
    (b"hi\x00\x00\x01\x00\x00\x00\x00\x00\x01\x00", Plaintext(b"hi", (Tlv(1), Tlv(0, b"\x00")))),
    ("héllo".encode() + b"\x00\x00\x06\x00\x00", Plaintext("héllo".encode(), (Tlv(6),))),
]


@pytest.mark.parametrize(("body", "expected"), PLAINTEXT_CASES)
def test_plaintext_splits_into_text_and_tlvs(body, expected):
    assert decode_plaintext(body) == expected
    assert expected.is_heartbeat == (expected.text == b"")


def test_encode_plaintext_round_trips_and_refuses_nul_in_text():
    tlvs = (Tlv(TlvType.SMP1, bytes(range(30))), Tlv(TlvType.DISCONNECTED), Tlv(0x1234, b"\x00\x00"))
    body = encode_plaintext(b"text", tlvs)
    assert body == b"text\x00" + b"".join(t.encode() for t in tlvs)
    assert decode_plaintext(body) == Plaintext(b"text", tlvs)
    assert encode_plaintext(b"text") == b"text"
    with pytest.raises(ValueError):
        encode_plaintext(b"te\x00xt", tlvs)


def test_truncated_tlv_list_keeps_the_readable_records_and_reports_the_damage():
    tlvs = (Tlv(TlvType.SMP1, bytes(range(10))), Tlv(TlvType.DISCONNECTED), Tlv(0x00AA, b"xyz"))
    area = b"".join(t.encode() for t in tlvs)
    ends = [len(b"".join(t.encode() for t in tlvs[: i + 1])) for i in range(len(tlvs))]
    for cut in range(len(area) + 1):
        decoded = decode_plaintext(b"msg\x00" + area[:cut])
        complete = tuple(t for t, end in zip(tlvs, ends, strict=True) if end <= cut)
        assert decoded.text == b"msg"
        assert decoded.tlvs == complete, cut
        at_boundary = cut == 0 or cut in ends
        if at_boundary:
            assert decoded.damage is None, cut
        else:
            assert decoded.damage is not None, cut
            offset = max([0, *[e for e in ends if e <= cut]])
            header_short = cut - offset < 4
            assert ("header truncated" in decoded.damage) == header_short, decoded.damage
            assert ("exceeds" in decoded.damage) == (not header_short), decoded.damage


def test_tlv_length_beyond_the_plaintext_is_reported():
    decoded = decode_plaintext(b"\x00" + bytes.fromhex("0001ffff") + b"ab")
    assert decoded.tlvs == ()
    assert decoded.damage == "TLV type 1 length 65535 exceeds the 2 bytes remaining"


# ============================================================= instance tags

OURS = 0x00000101
INSTANCE_TAG_CASES = [
    # (version, sender, receiver, commit, problem substring or None)
    (2, 0, 0, False, None),
    (2, 0, 0x55, False, None),
    (3, 0x100, OURS, False, None),
    (3, 0xFFFFFFFF, OURS, False, None),
    (3, 0x100, OURS, True, None),
    (3, 0x100, 0, True, None),
    (3, 0xFFFFFFFF, 0, True, None),
    (3, 0, OURS, False, "sender instance tag 0x0 is below 0x100"),
    (3, 1, OURS, False, "sender instance tag 0x1 is below 0x100"),
    (3, 0xFF, OURS, False, "sender instance tag 0xff is below 0x100"),
    (3, 0xFF, 0, True, "sender instance tag 0xff is below 0x100"),
    (3, 0x100, 0, False, "receiver instance tag 0 outside a D-H Commit"),
    (3, 0x100, 1, False, "receiver instance tag 0x1 is below 0x100"),
    (3, 0x100, 0xFF, True, "receiver instance tag 0xff is below 0x100"),
    (3, 0x100, 0x100, False, "receiver instance tag 0x100 is not ours (0x101)"),
    (3, 0x100, 0x102, True, "receiver instance tag 0x102 is not ours (0x101)"),
    (3, 0x100, 0xFFFFFFFF, False, "is not ours"),
]


@pytest.mark.parametrize(("version", "sender", "receiver", "commit", "problem"), INSTANCE_TAG_CASES)
def test_instance_tag_rules(version, sender, receiver, commit, problem):
    header = Header(version, MessageType.DH_COMMIT if commit else MessageType.DATA, sender, receiver)
    found = instance_tag_problem(header, OURS, commit=commit)
    if problem is None:
        assert found is None
    else:
        assert found is not None and problem in found


def test_our_own_highest_instance_tag_is_accepted():
    header = Header(3, MessageType.DATA, 0x100, 0xFFFFFFFF)
    assert instance_tag_problem(header, 0xFFFFFFFF) is None
