"""Mutators: pure functions from one wire string to another, for scenarios and fuzzers.

Each takes an encoded message (``?OTR:<base64>.``, possibly with text around
it, which is kept) and returns it with exactly one thing changed: a bit, a
length, a field.  The field-level ones decode the message with the engine's
wire parser (``implementations.engine._wire``), change one field of the
decoded value, and re-encode it, so the result is well-formed base64 and
well-formed structure with a wrong value (a MAC that no longer verifies, a
keyid nobody holds) rather than noise a parser rejects at once.

Invariants: a mutator never raises on well-formed input of the kind it
names; on anything else (not an encoded message, the wrong message type, a
field it cannot change) it raises :class:`ValueError` saying why.  Nothing
here holds keys, so nothing here can produce a message that verifies.
"""

from __future__ import annotations

import base64
import dataclasses
from typing import TypeVar

from implementations.engine import _wire

_M = TypeVar("_M", _wire.DHKey, _wire.DataMessage)


# ------------------------------------------------------------------ helpers


def _split(wire: str) -> tuple[str, bytes, str]:
    """(text before ``?OTR:``, the decoded binary, text from the terminating ``.`` on)."""
    start = wire.find(_wire.ENCODED_PREFIX)
    if start < 0:
        raise ValueError("not an encoded OTR message: no '?OTR:'")
    body_at = start + len(_wire.ENCODED_PREFIX)
    end = wire.find(".", body_at)
    if end < 0:
        raise ValueError("not an encoded OTR message: no terminating '.'")
    try:
        binary = _wire.decode_base64(wire[body_at:end])
    except ValueError as exc:
        raise ValueError(f"the encoded body is not valid base64: {exc}") from None
    if not binary:
        raise ValueError("the encoded body is empty")
    return wire[:start], binary, wire[end:]


def _join(before: str, binary: bytes, after: str) -> str:
    return before + _wire.ENCODED_PREFIX + base64.b64encode(binary).decode("ascii") + after


def _decoded_any(wire: str) -> tuple[str, _wire.EncodedMessage, str]:
    before, binary, after = _split(wire)
    message = _wire.parse_binary(binary)
    if isinstance(message, _wire.Malformed):
        raise ValueError(f"the encoded message does not parse: {message.reason}")
    return before, message, after


def _decoded(wire: str, kind: type[_M]) -> tuple[str, _M, str]:
    before, message, after = _decoded_any(wire)
    if not isinstance(message, kind):
        raise ValueError(f"expected a {kind.__name__}, got a {type(message).__name__}")
    return before, message, after


def _reencoded(before: str, message: _wire.EncodedMessage, after: str) -> str:
    binary = message.header.encode() + message.body()
    return _join(before, binary, after)


def _flip_first_bit(value: bytes, what: str) -> bytes:
    if not value:
        raise ValueError(f"the {what} is empty: no bit to flip")
    return bytes((value[0] ^ 0x01,)) + value[1:]


# ----------------------------------------------------------- byte-level


def flip_encoded_bit(wire: str, bit: int) -> str:
    """Flip bit ``bit`` of the decoded binary (``1 << bit % 8`` of byte ``bit // 8``) and re-encode it."""
    before, binary, after = _split(wire)
    if not 0 <= bit < 8 * len(binary):
        raise ValueError(f"bit {bit} is outside the {len(binary)}-byte message")
    raw = bytearray(binary)
    raw[bit // 8] ^= 1 << (bit % 8)
    return _join(before, bytes(raw), after)


def truncate_encoded(wire: str, keep_bytes: int) -> str:
    """Keep only the first ``keep_bytes`` bytes of the decoded binary (at least one is dropped)."""
    before, binary, after = _split(wire)
    if not 0 < keep_bytes < len(binary):
        raise ValueError(f"keep_bytes must be in 1..{len(binary) - 1} for a {len(binary)}-byte message")
    return _join(before, binary[:keep_bytes], after)


def set_version(wire: str, version: int) -> str:
    """Overwrite the protocol version SHORT; the rest of the binary is left exactly as it was."""
    before, binary, after = _split(wire)
    if not 0 <= version <= 0xFFFF:
        raise ValueError("the protocol version is a SHORT")
    if len(binary) < 2:
        raise ValueError("the message is too short to hold a protocol version")
    return _join(before, version.to_bytes(2, "big") + binary[2:], after)


def bad_base64(wire: str) -> str:
    """Overwrite the 4 base64 characters after the first 8 (version, type) with ``!*=*`` (not base64)."""
    _split(wire)  # only well-formed encoded messages are mutated
    start = wire.find(_wire.ENCODED_PREFIX) + len(_wire.ENCODED_PREFIX)
    end = wire.find(".", start)
    if end - start < 16:
        raise ValueError("the encoded body is too short to corrupt after its first 8 characters")
    return wire[: start + 8] + "!*=*" + wire[start + 12 :]


# ------------------------------------------------------------ field-level


def set_instance_tags(wire: str, sender: int, receiver: int) -> str:
    """Rewrite the sender and receiver instance tags of a v3 encoded message (the MAC is not recomputed)."""
    before, message, after = _decoded_any(wire)
    if message.header.version != 3:
        raise ValueError(f"only v3 messages carry instance tags; this is v{message.header.version}")
    for tag in (sender, receiver):
        if not 0 <= tag <= 0xFFFFFFFF:
            raise ValueError("instance tags are INTs")
    header = dataclasses.replace(message.header, sender_tag=sender, receiver_tag=receiver)
    return _reencoded(before, dataclasses.replace(message, header=header), after)


def tamper_data_ciphertext(wire: str) -> str:
    """Flip the low bit of the first byte of a Data Message's encrypted message: the MAC then fails."""
    before, message, after = _decoded(wire, _wire.DataMessage)
    changed = _flip_first_bit(message.encrypted_message, "encrypted message")
    return _reencoded(before, dataclasses.replace(message, encrypted_message=changed), after)


def tamper_data_mac(wire: str) -> str:
    """Flip the low bit of the first byte of a Data Message's authenticator."""
    before, message, after = _decoded(wire, _wire.DataMessage)
    return _reencoded(before, dataclasses.replace(message, mac=_flip_first_bit(message.mac, "MAC")), after)


def set_data_counter(wire: str, ctr: int) -> str:
    """Set a Data Message's top half of the counter (8 bytes, big-endian); the MAC is not recomputed."""
    before, message, after = _decoded(wire, _wire.DataMessage)
    if not 0 <= ctr < 1 << 64:
        raise ValueError("the counter top half is 8 bytes")
    return _reencoded(before, dataclasses.replace(message, ctr=ctr.to_bytes(8, "big")), after)


def set_data_keyids(wire: str, sender: int, recipient: int) -> str:
    """Set a Data Message's sender and recipient keyids; the MAC is not recomputed."""
    before, message, after = _decoded(wire, _wire.DataMessage)
    for keyid in (sender, recipient):
        if not 0 <= keyid <= 0xFFFFFFFF:
            raise ValueError("keyids are INTs")
    changed = dataclasses.replace(message, sender_keyid=sender, recipient_keyid=recipient)
    return _reencoded(before, changed, after)


def set_data_flags(wire: str, flags: int) -> str:
    """Set a Data Message's flags BYTE (0x01 is IGNORE_UNREADABLE); the MAC is not recomputed."""
    before, message, after = _decoded(wire, _wire.DataMessage)
    if not 0 <= flags <= 0xFF:
        raise ValueError("the flags are a BYTE")
    return _reencoded(before, dataclasses.replace(message, flags=flags), after)


def set_dh_key_gy(wire: str, gy: int) -> str:
    """Replace the gy MPI of a D-H Key Message (minimally encoded, as any MPI)."""
    before, message, after = _decoded(wire, _wire.DHKey)
    if gy < 0:
        raise ValueError("MPIs are unsigned")
    return _reencoded(before, dataclasses.replace(message, gy=gy), after)
