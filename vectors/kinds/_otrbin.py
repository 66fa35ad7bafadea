"""An independent reader of OTR encoded messages, for computing vector expectations.

Written from the specification ("Encoded messages", "Data types", the
message layouts), with nothing taken from the engine's codec, so that the
``parse`` vectors' decoded fields and malformation reasons are a second
opinion the engine is checked against.  It reads one ``?OTR:…`` string and
answers the message type, the version and either the fields or the first
reason the string is not a well-formed message, in field order.

Reason codes (the ``reason`` of a ``parse`` vector):

``no_terminator``          no ``.`` after ``?OTR:``
``bad_base64``             the body is not canonical-alphabet, correctly padded base-64
``empty``                  the body decodes to nothing
``short_field``            a fixed-width field (SHORT, INT, CTR, MAC, a DATA/MPI length) is cut
``unsupported_version``    the protocol version is not 2 or 3
``unknown_type``           the message type byte is none of the five
``length_exceeds_buffer``  a DATA or MPI length is larger than what remains
``field_length``           a field of fixed meaning has the wrong length (hashed gx 32, r 16)
``trailing_bytes``         bytes left after the last field
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from typing import Any

TYPES = {0x02: "dh_commit", 0x0A: "dh_key", 0x11: "reveal_signature", 0x12: "signature", 0x03: "data"}
TYPE_BYTES = {name: byte for byte, name in TYPES.items()}
REASONS = (
    "no_terminator",
    "bad_base64",
    "empty",
    "short_field",
    "unsupported_version",
    "unknown_type",
    "length_exceeds_buffer",
    "field_length",
    "trailing_bytes",
)
_B64 = re.compile(r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$")
_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


class Malformed(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        assert reason in REASONS, reason
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def b64decode(body: str) -> bytes:
    """RFC 4648 base-64 with padding, the standard alphabet only; :class:`Malformed` otherwise.

    Written out rather than taken from a library so that it shares no code
    with the implementations it checks.  Non-zero pad bits are accepted
    (RFC 4648 section 3.5 lets decoders choose).
    """
    if not _B64.fullmatch(body):  # not match: "$" also matches before a final newline
        raise Malformed("bad_base64", f"not padded standard base-64: {body[:24]!r}")
    out = bytearray()
    for at in range(0, len(body), 4):
        quad = body[at : at + 4]
        pads = quad.count("=")
        value = 0
        for ch in quad.rstrip("="):
            value = value << 6 | _ALPHABET.index(ch)
        value <<= 6 * pads
        out += value.to_bytes(3, "big")[: 3 - pads]
    return bytes(out)


def b64encode(raw: bytes) -> str:
    out = []
    for at in range(0, len(raw), 3):
        chunk = raw[at : at + 3]
        value = int.from_bytes(chunk + b"\0" * (3 - len(chunk)), "big")
        chars = [_ALPHABET[value >> shift & 63] for shift in (18, 12, 6, 0)]
        keep = len(chunk) + 1
        out.append("".join(chars[:keep]) + "=" * (4 - keep))
    return "".join(out)


class _Reader:
    def __init__(self, raw: bytes) -> None:
        self.raw = raw
        self.pos = 0

    @property
    def left(self) -> int:
        return len(self.raw) - self.pos

    def fixed(self, n: int, what: str) -> bytes:
        if n > self.left:
            raise Malformed("short_field", f"{what}: {n} bytes needed, {self.left} left")
        out = self.raw[self.pos : self.pos + n]
        self.pos += n
        return out

    def int(self, width: int, what: str) -> int:
        fmt = {1: ">B", 2: ">H", 4: ">I"}[width]
        return int(struct.unpack(fmt, self.fixed(width, what))[0])

    def data(self, what: str) -> bytes:
        length = self.int(4, f"{what} length")
        if length > self.left:
            raise Malformed("length_exceeds_buffer", f"{what}: length {length}, {self.left} left")
        return self.fixed(length, what)


@dataclass(frozen=True)
class Decoded:
    message_type: str | None  # None: no type byte could be read or it is unknown
    version: int  # 0 when no version could be read
    fields: dict[str, Any] | None
    reason: str | None = None
    detail: str = ""


def decode(wire: str) -> Decoded:
    """Decode ``?OTR:<base64>.`` (what follows the ``.`` is not part of the message)."""
    assert wire.startswith("?OTR:"), wire
    end = wire.find(".", 5)
    if end < 0:
        return Decoded(None, 0, None, "no_terminator", "no '.'")
    try:
        raw = b64decode(wire[5:end])
    except Malformed as exc:
        return Decoded(None, 0, None, exc.reason, exc.detail)
    return decode_binary(raw)


def decode_binary(raw: bytes) -> Decoded:
    if not raw:
        return Decoded(None, 0, None, "empty", "no bytes")
    r = _Reader(raw)
    version = 0
    mtype: str | None = None
    try:
        version = r.int(2, "protocol version")
        if version not in (2, 3):
            raise Malformed("unsupported_version", f"version {version}")
        type_byte = r.int(1, "message type")
        if type_byte not in TYPES:
            raise Malformed("unknown_type", f"type {type_byte:#04x}")
        mtype = TYPES[type_byte]
        fields: dict[str, Any] = {"version": version, "type": mtype}
        if version == 3:
            fields["sender_instance_tag"] = r.int(4, "sender instance tag")
            fields["receiver_instance_tag"] = r.int(4, "receiver instance tag")
        _BODIES[mtype](r, fields)
        if r.left:
            raise Malformed("trailing_bytes", f"{r.left} bytes after the last field")
        return Decoded(mtype, version, fields)
    except Malformed as exc:
        return Decoded(mtype, version, None, exc.reason, exc.detail)


def _commit(r: _Reader, f: dict[str, Any]) -> None:
    f["encrypted_gx"] = r.data("encrypted gx").hex()
    hashed = r.data("hashed gx")
    if len(hashed) != 32:
        raise Malformed("field_length", f"hashed gx is {len(hashed)} bytes")
    f["hashed_gx"] = hashed.hex()


def _key(r: _Reader, f: dict[str, Any]) -> None:
    f["gy"] = format(int.from_bytes(r.data("gy"), "big"), "x")


def _reveal(r: _Reader, f: dict[str, Any]) -> None:
    key = r.data("revealed key")
    if len(key) != 16:
        raise Malformed("field_length", f"revealed key is {len(key)} bytes")
    f["revealed_key"] = key.hex()
    f["encrypted_signature"] = r.data("encrypted signature").hex()
    f["mac"] = r.fixed(20, "MAC").hex()


def _signature(r: _Reader, f: dict[str, Any]) -> None:
    f["encrypted_signature"] = r.data("encrypted signature").hex()
    f["mac"] = r.fixed(20, "MAC").hex()


def _data(r: _Reader, f: dict[str, Any]) -> None:
    f["flags"] = r.int(1, "flags")
    f["sender_keyid"] = r.int(4, "sender keyid")
    f["recipient_keyid"] = r.int(4, "recipient keyid")
    f["next_dh"] = format(int.from_bytes(r.data("next DH"), "big"), "x")
    f["ctr"] = r.fixed(8, "CTR").hex()
    f["encrypted_message"] = r.data("encrypted message").hex()
    f["mac"] = r.fixed(20, "MAC").hex()
    f["old_mac_keys"] = r.data("old MAC keys").hex()


_BODIES = {
    "dh_commit": _commit,
    "dh_key": _key,
    "reveal_signature": _reveal,
    "signature": _signature,
    "data": _data,
}
