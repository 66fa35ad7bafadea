"""The OTR data types (spec, "Data types"): readers and writers.

:class:`Reader` never reads past its buffer: a length larger than what
remains raises :class:`DecodeError` with the wire-level reason, and
:meth:`Reader.finish` rejects trailing bytes.  Writers produce the minimal
MPI encoding the spec requires.
"""

from __future__ import annotations

import struct

_SHORT = struct.Struct(">H")
_UINT = struct.Struct(">I")


class DecodeError(ValueError):
    """The bytes are not a well-formed encoding; ``str()`` says why, in wire terms."""


def byte(value: int) -> bytes:
    return bytes((value,))


def short(value: int) -> bytes:
    return _SHORT.pack(value)


def uint(value: int) -> bytes:
    return _UINT.pack(value)


def mpi(value: int) -> bytes:
    """Minimum-length MPI: 4-byte length, big-endian value with no leading 0x00 (0 is empty)."""
    if value < 0:
        raise ValueError("MPIs are unsigned")
    body = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return uint(len(body)) + body


def data(value: bytes) -> bytes:
    return uint(len(value)) + value


def fixed(value: int, width: int) -> bytes:
    """A fixed-width big-endian field (DSA r and s, SMP-free places): leading zeros kept."""
    return value.to_bytes(width, "big")


class Reader:
    """Sequential reader over one message body.

    The fixed-width readers check the bounds themselves and go through
    :meth:`raw` only to fail, so the hot path of parsing a Data Message is
    a few comparisons and ``unpack_from`` calls, with the same errors.
    """

    def __init__(self, buf: bytes) -> None:
        self._buf = bytes(buf)
        self._pos = 0

    @property
    def position(self) -> int:
        return self._pos

    def consumed_since(self, start: int) -> bytes:
        """The exact bytes read since ``start`` (a :attr:`position`), e.g. a PUBKEY as sent."""
        return self._buf[start : self._pos]

    @property
    def remaining(self) -> int:
        return len(self._buf) - self._pos

    def raw(self, n: int, what: str = "field") -> bytes:
        if n > self.remaining:
            raise DecodeError(f"{what}: needs {n} bytes, {self.remaining} remain")
        out = self._buf[self._pos : self._pos + n]
        self._pos += n
        return out

    def byte(self, what: str = "BYTE") -> int:
        return self.raw(1, what)[0]

    def short(self, what: str = "SHORT") -> int:
        pos = self._pos
        if pos + 2 > len(self._buf):
            self.raw(2, what)
        self._pos = pos + 2
        return int(_SHORT.unpack_from(self._buf, pos)[0])

    def uint(self, what: str = "INT") -> int:
        pos = self._pos
        if pos + 4 > len(self._buf):
            self.raw(4, what)
        self._pos = pos + 4
        return int(_UINT.unpack_from(self._buf, pos)[0])

    def data(self, what: str = "DATA") -> bytes:
        pos, buf = self._pos, self._buf
        if pos + 4 > len(buf):
            self.raw(4, f"{what} length")
        length = _UINT.unpack_from(buf, pos)[0]
        start = pos + 4
        if start + length > len(buf):
            self._pos = start
            raise DecodeError(f"{what}: length {length} exceeds the {self.remaining} bytes remaining")
        self._pos = start + length
        return buf[start : start + length]

    def mpi(self, what: str = "MPI") -> int:
        """An MPI; a non-minimal encoding (leading 0x00) is accepted, as libotr does."""
        return int.from_bytes(self.data(what), "big")

    def mpi_bytes(self, what: str = "MPI") -> bytes:
        """The exact encoded MPI (length and value), for hashing what was sent."""
        start = self._pos
        self.data(what)
        return self._buf[start : self._pos]

    def ctr(self) -> bytes:
        return self.raw(8, "CTR")

    def mac(self) -> bytes:
        return self.raw(20, "MAC")

    def rest(self) -> bytes:
        return self.raw(self.remaining)

    def finish(self, what: str = "message") -> None:
        if self.remaining:
            raise DecodeError(f"{what}: {self.remaining} trailing bytes")
