"""Wire messages: classify a received string, and encode what we send.

:func:`parse` turns any string into exactly one message object or a
:class:`Malformed` with the reason; it never raises.  Encoded messages are
declared as field lists and read with :class:`~._codec.Reader`, so a length
longer than what remains, a missing field or a trailing byte is malformed.

Classification follows the spec ("Unencoded messages", "Encoded messages",
"Fragmentation"): a fragment is recognised first; otherwise the *first*
occurrence of ``?OTR`` decides (encoded ``?OTR:``, query ``?OTR?`` /
``?OTRv``, error ``?OTR Error:``), as libotr does; a string without a
recognised marker is plaintext, possibly whitespace-tagged.
"""

from __future__ import annotations

import base64
import binascii
import enum
from collections.abc import Callable
from dataclasses import dataclass

from . import _codec
from ._codec import DecodeError, Reader

QUERY_PREFIX = "?OTR"
ENCODED_PREFIX = "?OTR:"
ERROR_PREFIX = "?OTR Error:"

TAG_BASE = "\x20\x09\x20\x20\x09\x09\x09\x09\x20\x09\x20\x09\x20\x09\x20\x20"
TAG_VERSIONS = {
    1: "\x20\x09\x20\x09\x20\x20\x09\x20",
    2: "\x20\x20\x09\x09\x20\x20\x09\x20",
    3: "\x20\x20\x09\x09\x20\x20\x09\x09",
}
_TAG_BY_TEXT = {text: version for version, text in TAG_VERSIONS.items()}

MIN_INSTANCE_TAG = 0x100
IGNORE_UNREADABLE = 0x01
SUPPORTED_VERSIONS = (2, 3)


class MessageType(enum.IntEnum):
    DH_COMMIT = 0x02
    DATA = 0x03
    DH_KEY = 0x0A
    REVEAL_SIGNATURE = 0x11
    SIGNATURE = 0x12


# ------------------------------------------------------------ unencoded kinds


@dataclass(frozen=True)
class Malformed:
    """Input that claims to be an OTR message but is not a well-formed one."""

    reason: str
    version: int | None = None


@dataclass(frozen=True)
class PlainText:
    """Plaintext; ``tag_versions`` is None without a whitespace tag, else the versions it offers."""

    text: str
    tag_versions: frozenset[int] | None = None


@dataclass(frozen=True)
class QueryMessage:
    versions: frozenset[int]
    text: str = ""

    def encode(self) -> str:
        v1 = "?" if 1 in self.versions else ""
        others = "".join(str(v) for v in sorted(self.versions) if v != 1)
        return QUERY_PREFIX + v1 + (f"v{others}?" if others else "") + self.text


@dataclass(frozen=True)
class ErrorMessage:
    text: str

    def encode(self) -> str:
        return ERROR_PREFIX + self.text


@dataclass(frozen=True)
class FragmentMarker:
    """A string that starts like a fragment; the fragment module parses it."""

    wire: str


# -------------------------------------------------------------- encoded kinds


@dataclass(frozen=True)
class Header:
    """Protocol version, message type and (v3 only) the two instance tags."""

    version: int
    type: MessageType
    sender_tag: int = 0
    receiver_tag: int = 0

    def encode(self) -> bytes:
        out: bytes | None = self.__dict__.get("_encoded")
        if out is None:
            out = _codec.short(self.version) + _codec.byte(self.type)
            if self.version == 3:
                out += _codec.uint(self.sender_tag) + _codec.uint(self.receiver_tag)
            object.__setattr__(self, "_encoded", out)  # a cache of the fields' encoding, not a field
        return out


@dataclass(frozen=True)
class DHCommit:
    header: Header
    encrypted_gx: bytes
    hashed_gx: bytes

    def body(self) -> bytes:
        return _codec.data(self.encrypted_gx) + _codec.data(self.hashed_gx)


@dataclass(frozen=True)
class DHKey:
    header: Header
    gy: int

    def body(self) -> bytes:
        return _codec.mpi(self.gy)


@dataclass(frozen=True)
class RevealSignature:
    header: Header
    revealed_key: bytes
    encrypted_signature: bytes
    mac: bytes

    def body(self) -> bytes:
        return _codec.data(self.revealed_key) + _codec.data(self.encrypted_signature) + self.mac


@dataclass(frozen=True)
class Signature:
    header: Header
    encrypted_signature: bytes
    mac: bytes

    def body(self) -> bytes:
        return _codec.data(self.encrypted_signature) + self.mac


@dataclass(frozen=True)
class DataMessage:
    header: Header
    flags: int
    sender_keyid: int
    recipient_keyid: int
    next_dh: int
    ctr: bytes
    encrypted_message: bytes
    mac: bytes = b"\0" * 20
    old_mac_keys: bytes = b""

    def authenticated_part(self) -> bytes:
        """Everything from the protocol version to the end of the encrypted message (the MAC'd part).

        Always the fields' (minimal) encoding, whatever bytes they were parsed from; computed
        once per message and kept, since a sent message needs it for its MAC and its encoding.
        """
        out: bytes | None = self.__dict__.get("_authenticated")
        if out is None:
            out = (
                self.header.encode()
                + _codec.byte(self.flags)
                + _codec.uint(self.sender_keyid)
                + _codec.uint(self.recipient_keyid)
                + _codec.mpi(self.next_dh)
                + self.ctr
                + _codec.data(self.encrypted_message)
            )
            object.__setattr__(self, "_authenticated", out)  # a cache, not a field
        return out

    def with_mac(self, mac: bytes) -> DataMessage:
        """This message with ``mac`` (same authenticated part, so its cached encoding carries over)."""
        signed = DataMessage(
            self.header,
            self.flags,
            self.sender_keyid,
            self.recipient_keyid,
            self.next_dh,
            self.ctr,
            self.encrypted_message,
            mac,
            self.old_mac_keys,
        )
        object.__setattr__(signed, "_authenticated", self.authenticated_part())
        return signed

    def body(self) -> bytes:
        return (
            self.authenticated_part()[len(self.header.encode()) :] + self.mac + _codec.data(self.old_mac_keys)
        )


EncodedMessage = DHCommit | DHKey | RevealSignature | Signature | DataMessage
Message = PlainText | QueryMessage | ErrorMessage | FragmentMarker | EncodedMessage | Malformed


def encode(message: EncodedMessage) -> str:
    """``?OTR:`` + base64(header || body) + ``.``."""
    binary = message.header.encode() + message.body()
    return ENCODED_PREFIX + base64.b64encode(binary).decode("ascii") + "."


# -------------------------------------------------------------------- parsing


def parse(wire: str) -> Message:
    """Classify one received string.  Never raises."""
    if wire.startswith(("?OTR|", "?OTR,")):
        return FragmentMarker(wire)
    at = wire.find(QUERY_PREFIX)
    if at >= 0:
        rest = wire[at:]
        if rest.startswith(ENCODED_PREFIX):
            return parse_encoded(rest)
        if rest.startswith(ERROR_PREFIX):
            return ErrorMessage(rest[len(ERROR_PREFIX) :])
        query = _parse_query(wire, at)
        if query is not None:
            return query
    return _parse_plaintext(wire)


def _parse_query(wire: str, at: int) -> QueryMessage | None:
    """``?OTR?`` (v1), optionally followed by ``v<ids>?``; or ``?OTRv<ids>?``.  Unknown ids are ignored."""
    pos = at + len(QUERY_PREFIX)
    versions: set[int] = set()
    matched = False
    if wire.startswith("?", pos):
        versions.add(1)
        pos += 1
        matched = True
    if wire.startswith("v", pos):
        end = wire.find("?", pos + 1)
        if end < 0:
            if not matched:
                return None
        else:
            versions.update(int(ch) for ch in wire[pos + 1 : end] if ch.isdigit() and ch.isascii())
            pos = end + 1
            matched = True
    if not matched:
        return None
    return QueryMessage(frozenset(versions), wire[pos:])


def _parse_plaintext(wire: str) -> PlainText:
    at = wire.find(TAG_BASE)
    if at < 0:
        return PlainText(wire)
    pos = at + len(TAG_BASE)
    versions: set[int] = set()
    while (version := _TAG_BY_TEXT.get(wire[pos : pos + 8])) is not None:
        versions.add(version)
        pos += 8
    return PlainText(wire[:at] + wire[pos:], frozenset(versions))


def decode_base64(body: str) -> bytes:
    """Strict base64 (RFC 4648 alphabet, correct padding); raises DecodeError."""
    try:
        raw = body.encode("ascii")
        decoded = binascii.a2b_base64(raw, strict_mode=True)
    except (UnicodeEncodeError, binascii.Error) as exc:
        raise DecodeError(f"bad base64: {exc}") from exc
    # binascii's strict mode still takes padding after a whole group ("QUJD==", ENGINE-010).
    if len(body) % 4 or "=" in body[:-2]:
        raise DecodeError("bad base64: padding after a whole group")
    return decoded


def parse_encoded(wire: str) -> EncodedMessage | Malformed:
    """``?OTR:<base64>.`` (text after the ``.`` is ignored) into a message object."""
    end = wire.find(".", len(ENCODED_PREFIX))
    if end < 0:
        return Malformed("encoded message has no terminating '.'")
    try:
        binary = decode_base64(wire[len(ENCODED_PREFIX) : end])
    except DecodeError as exc:
        return Malformed(str(exc))
    if not binary:
        return Malformed("encoded message is empty")
    return parse_binary(binary)


def parse_binary(binary: bytes) -> EncodedMessage | Malformed:
    reader = Reader(binary)
    version: int | None = None
    try:
        version = reader.short("protocol version")
        if version not in SUPPORTED_VERSIONS:
            return Malformed(f"unsupported protocol version {version}", version)
        type_byte = reader.byte("message type")
        try:
            mtype = MessageType(type_byte)
        except ValueError:
            return Malformed(f"unknown message type {type_byte:#04x}", version)
        sender_tag = receiver_tag = 0
        if version == 3:
            sender_tag = reader.uint("sender instance tag")
            receiver_tag = reader.uint("receiver instance tag")
        header = Header(version, mtype, sender_tag, receiver_tag)
        message = _BODY_READERS[mtype](header, reader)
        reader.finish(mtype.name)
        return message
    except DecodeError as exc:
        return Malformed(str(exc), version)


def _read_commit(header: Header, r: Reader) -> DHCommit:
    encrypted_gx = r.data("encrypted gx")
    hashed_gx = r.data("hashed gx")
    if len(hashed_gx) != 32:
        raise DecodeError(f"hashed gx is {len(hashed_gx)} bytes, not 32")
    return DHCommit(header, encrypted_gx, hashed_gx)


def _read_key(header: Header, r: Reader) -> DHKey:
    return DHKey(header, r.mpi("gy"))


def _read_reveal(header: Header, r: Reader) -> RevealSignature:
    revealed = r.data("revealed key")
    if len(revealed) != 16:
        raise DecodeError(f"revealed key is {len(revealed)} bytes, not 16")
    return RevealSignature(header, revealed, r.data("encrypted signature"), r.mac())


def _read_signature(header: Header, r: Reader) -> Signature:
    return Signature(header, r.data("encrypted signature"), r.mac())


def _read_data(header: Header, r: Reader) -> DataMessage:
    flags = r.byte("flags")
    sender_keyid = r.uint("sender keyid")
    recipient_keyid = r.uint("recipient keyid")
    next_dh = r.data("next DH y")
    ctr = r.ctr()
    encrypted_message = r.data("encrypted message")
    read = r.consumed_since(0)
    message = DataMessage(
        header,
        flags,
        sender_keyid,
        recipient_keyid,
        int.from_bytes(next_dh, "big"),
        ctr,
        encrypted_message,
        mac=r.mac(),
        old_mac_keys=r.data("old MAC keys"),
    )
    # Every field of the authenticated part but the MPI has exactly one encoding, so when the MPI is
    # minimal the bytes read *are* authenticated_part(): keep them instead of encoding them again.
    expected = len(header.encode()) + 1 + 4 + 4 + 4 + len(next_dh) + 8 + 4 + len(encrypted_message)
    if next_dh[:1] != b"\0" and len(read) == expected:
        object.__setattr__(message, "_authenticated", read)
    return message


_BODY_READERS: dict[MessageType, Callable[[Header, Reader], EncodedMessage]] = {
    MessageType.DH_COMMIT: _read_commit,
    MessageType.DH_KEY: _read_key,
    MessageType.REVEAL_SIGNATURE: _read_reveal,
    MessageType.SIGNATURE: _read_signature,
    MessageType.DATA: _read_data,
}


def whitespace_tag(versions: frozenset[int]) -> str:
    """The tag offering ``versions`` (v1's tag first if present, as the spec requires)."""
    return TAG_BASE + "".join(TAG_VERSIONS[v] for v in sorted(versions) if v in TAG_VERSIONS)


def instance_tag_problem(header: Header, our_tag: int, commit: bool = False) -> str | None:
    """Spec "Instance Tags": why a v3 message must be discarded, or None if it is addressed to us."""
    if header.version != 3:
        return None
    if header.sender_tag < MIN_INSTANCE_TAG:
        return f"sender instance tag {header.sender_tag:#x} is below 0x100"
    if header.receiver_tag == 0:
        return None if commit else "receiver instance tag 0 outside a D-H Commit"
    if header.receiver_tag < MIN_INSTANCE_TAG:
        return f"receiver instance tag {header.receiver_tag:#x} is below 0x100"
    if header.receiver_tag != our_tag:
        return f"receiver instance tag {header.receiver_tag:#x} is not ours ({our_tag:#x})"
    return None
