"""TLV records inside a Data Message's plaintext (spec, "Data Message").

The decrypted plaintext is ``human text [NUL TLV*]``.  Decoding never
raises: a truncated record list yields the records before the damage and
a reason, so nothing already readable is lost.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from ._codec import short


class TlvType(enum.IntEnum):
    PADDING = 0
    DISCONNECTED = 1
    SMP1 = 2
    SMP2 = 3
    SMP3 = 4
    SMP4 = 5
    SMP_ABORT = 6
    SMP1Q = 7
    EXTRA_SYMMETRIC_KEY = 8


@dataclass(frozen=True)
class Tlv:
    type: int
    value: bytes = b""

    def encode(self) -> bytes:
        if len(self.value) > 0xFFFF:
            raise ValueError("a TLV value is at most 65535 bytes")
        return short(self.type) + short(len(self.value)) + self.value


@dataclass(frozen=True)
class Plaintext:
    """A decrypted Data Message body split into its human part and its TLVs."""

    text: bytes
    tlvs: tuple[Tlv, ...]
    damage: str | None = None

    @property
    def is_heartbeat(self) -> bool:
        return not self.text


def encode_plaintext(text: bytes, tlvs: list[Tlv] | tuple[Tlv, ...] = ()) -> bytes:
    if b"\0" in text:
        raise ValueError("the human-readable part cannot contain NUL")
    if not tlvs:
        return text
    return text + b"\0" + b"".join(t.encode() for t in tlvs)


def decode_plaintext(body: bytes) -> Plaintext:
    text, sep, rest = body.partition(b"\0")
    if not sep:
        return Plaintext(text, ())
    tlvs: list[Tlv] = []
    pos = 0
    while pos < len(rest):
        if len(rest) - pos < 4:
            return Plaintext(text, tuple(tlvs), f"TLV header truncated at offset {pos}")
        ttype = int.from_bytes(rest[pos : pos + 2], "big")
        length = int.from_bytes(rest[pos + 2 : pos + 4], "big")
        if length > len(rest) - pos - 4:
            return Plaintext(
                text,
                tuple(tlvs),
                f"TLV type {ttype} length {length} exceeds the {len(rest) - pos - 4} bytes remaining",
            )
        tlvs.append(Tlv(ttype, rest[pos + 4 : pos + 4 + length]))
        pos += 4 + length
    return Plaintext(text, tuple(tlvs))
