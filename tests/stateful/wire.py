"""What the model and the machines read off the wire, written from the spec's message formats.

Independent of the engine's parser: ``peek`` classifies a wire string as the
spec's "Unencoded messages" and "Encoded messages" sections describe it and
returns the few fields the state machines branch on (the offered versions, the
instance tags, the committed and hashed gx, gy, a Data Message's flags) and how
many leading bytes of the binary are authenticated (everything, for the AKE
messages; for a Data Message, up to its MAC: the old MAC keys that follow are
not covered by any MAC).  Parsing is strict: lengths must fit exactly, a
Reveal Signature's r is 16 bytes, a hashed gx 32.  Like libotr, an MPI with a
leading zero byte is read for its value.
"""

from __future__ import annotations

import binascii
from collections.abc import Iterable
from dataclasses import dataclass, replace

# "Diffie-Hellman group": the 1536-bit modulus, copied from the spec text.
MODULUS = int(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD1"
    "29024E088A67CC74020BBEA63B139B22514A08798E3404DD"
    "EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245"
    "E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED"
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3D"
    "C2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F"
    "83655D23DCA3AD961C62F356208552BB9ED529077096966D"
    "670C354E4ABC9804F1746C08CA237327FFFFFFFFFFFFFFFF",
    16,
)
MIN_INSTANCE_TAG = 0x100
IGNORE_UNREADABLE = 0x01
TAG_BASE = "\x20\x09\x20\x20\x09\x09\x09\x09\x20\x09\x20\x09\x20\x09\x20\x20"
TAG_VERSIONS = {
    1: "\x20\x09\x20\x09\x20\x20\x09\x20",
    2: "\x20\x20\x09\x09\x20\x20\x09\x20",
    3: "\x20\x20\x09\x09\x20\x20\x09\x09",
}


@dataclass(frozen=True)
class Peek:
    """What the model reads off one wire string: its kind and the fields the rules branch on."""

    kind: str  # plaintext tagged query error dh_commit dh_key reveal_signature signature data malformed
    text: str = ""
    versions: frozenset[int] = frozenset()  # offered by a query or a whitespace tag
    version: int = 0
    sender_tag: int = 0
    receiver_tag: int = 0
    commit: tuple[bytes, bytes] | None = None  # (encrypted gx, hashed gx)
    gy: int = 0
    flags: int = 0
    auth_bytes: int = 0  # the prefix of the binary an attacker cannot change undetected

    @property
    def encoded(self) -> bool:
        return self.kind in ENCODED_KINDS


ENCODED_KINDS = frozenset({"dh_commit", "dh_key", "reveal_signature", "signature", "data"})
_TYPES = {0x02: "dh_commit", 0x0A: "dh_key", 0x11: "reveal_signature", 0x12: "signature", 0x03: "data"}


class _Short(Exception):
    pass


class _Bytes:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise _Short
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def int(self, n: int) -> int:
        return int.from_bytes(self.take(n), "big")

    def data_field(self) -> bytes:
        return self.take(self.int(4))


def decoded(wire: str) -> bytes | None:
    """The binary of ``?OTR:<base64>.``, or None."""
    at = wire.find("?OTR:")
    end = wire.find(".", at + 5)
    if at < 0 or end < 0:
        return None
    try:
        return binascii.a2b_base64(wire[at + 5 : end].encode("ascii"), strict_mode=True)
    except (binascii.Error, UnicodeEncodeError):
        return None


def peek(wire: str) -> Peek:
    """Classify a wire string as the spec does ("Unencoded messages", "Encoded messages")."""
    if "?OTR:" in wire:
        binary = decoded(wire)
        return _peek_binary(binary) if binary else Peek("malformed")
    if "?OTR Error:" in wire:
        return Peek("error", text=wire.split("?OTR Error:", 1)[1])
    at = wire.find("?OTR")
    if at >= 0:
        rest = wire[at + 4 :]
        versions: set[int] = set()
        if rest.startswith("?"):
            versions.add(1)
            rest = rest[1:]
        if rest.startswith("v") and "?" in rest:
            versions.update(int(c) for c in rest[1 : rest.index("?")] if c.isdigit())
            return Peek("query", versions=frozenset(versions))
        if 1 in versions:
            return Peek("query", versions=frozenset(versions))
    at = wire.find(TAG_BASE)
    if at < 0:
        return Peek("plaintext", text=wire)
    pos, offered = at + len(TAG_BASE), set()
    by_text = {t: v for v, t in TAG_VERSIONS.items()}
    while wire[pos : pos + 8] in by_text:
        offered.add(by_text[wire[pos : pos + 8]])
        pos += 8
    return Peek("tagged", text=wire[:at] + wire[pos:], versions=frozenset(offered))


def _peek_binary(binary: bytes) -> Peek:
    r = _Bytes(binary)
    try:
        version = r.int(2)
        kind = _TYPES.get(r.int(1))
        if version not in (2, 3) or kind is None:
            return Peek("malformed")
        sender = receiver = 0
        if version == 3:
            sender, receiver = r.int(4), r.int(4)
        base = Peek(kind, version=version, sender_tag=sender, receiver_tag=receiver, auth_bytes=len(binary))
        if kind == "dh_commit":
            encrypted, hashed = r.data_field(), r.data_field()
            if len(hashed) != 32:  # SHA-256(gx)
                return Peek("malformed")
            result = replace(base, commit=(encrypted, hashed))
        elif kind == "dh_key":
            result = replace(base, gy=int.from_bytes(r.data_field(), "big"))
        elif kind == "reveal_signature":
            if len(r.data_field()) != 16:  # "r (128 bits)"
                return Peek("malformed")
            r.data_field()
            r.take(20)
            result = base
        elif kind == "signature":
            r.data_field()
            r.take(20)
            result = base
        else:
            flags = r.int(1)
            r.take(8)  # sender keyid, recipient keyid
            r.data_field()  # next DH (MPI)
            r.take(8)  # CTR
            r.data_field()  # encrypted message
            mac_at = r.pos  # "the MAC ... of everything from the version to the end of the encrypted message"
            r.take(20)
            r.data_field()  # old MAC keys (not authenticated)
            result = replace(base, flags=flags, auth_bytes=mac_at + 20)
        if r.pos != len(binary):
            return Peek("malformed")
        return result
    except _Short:
        return Peek("malformed")


def tag_for(versions: Iterable[int]) -> str:
    return TAG_BASE + "".join(TAG_VERSIONS[v] for v in sorted(versions))
