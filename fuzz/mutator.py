"""Structure-aware mutation: change the fields of ``?OTR:<base64>.`` messages, not their base64.

Byte-level mutation of an encoded message almost always breaks its base64
or its first length field, so a parser rejects it before reaching the code
behind.  :func:`mutate` finds the first encoded message in the input,
decodes it, changes one field of the binary (a length, the version or type,
an instance tag, a keyid or counter, an MPI, the bytes inside a DATA field
with its length kept right), and encodes it again.  Inputs without an
encoded message, and a share of those with one, get libFuzzer's own
mutation instead.

The field layout (:func:`layout`) is read as far as the bytes allow, so a
truncated or damaged message still offers the fields before the damage.
It works below the level of ``harness/mutators.py`` (which changes decoded
values and so cannot write a wrong length), and ``fuzz/`` may not import
the harness (tests/test_imports.py).

Invariant: :func:`mutate` is a pure function of (data, max_size, seed) and
the libFuzzer mutation it calls; it never returns more than ``max_size``
bytes and never raises.
"""

from __future__ import annotations

import base64
import binascii
import random
import re
from collections.abc import Callable
from dataclasses import dataclass

_ENCODED = re.compile(rb"\?OTR:([A-Za-z0-9+/=]*)\.")
_MODULUS_BITS = 1536
_MAC = 20
_CTR = 8


@dataclass(frozen=True)
class Field:
    offset: int
    size: int
    kind: str
    """version, type, tag, length (of the following value), value (a DATA or MPI body), flags, keyid,
    ctr, mac."""


def layout(binary: bytes) -> list[Field]:
    """The fields of an encoded message's binary, in order, as far as they are complete."""
    fields: list[Field] = []
    pos = 0

    def take(size: int, kind: str) -> bool:
        nonlocal pos
        if pos + size > len(binary):
            return False
        fields.append(Field(pos, size, kind))
        pos += size
        return True

    def data() -> bool:
        if not take(4, "length"):
            return False
        size = int.from_bytes(binary[pos - 4 : pos], "big")
        return take(size, "value") if size else True

    if not take(2, "version") or not take(1, "type"):
        return fields
    version, mtype = int.from_bytes(binary[0:2], "big"), binary[2]
    if version == 3 and not (take(4, "tag") and take(4, "tag")):
        return fields
    steps: list[Callable[[], bool]] = {
        0x02: [data, data],
        0x0A: [data],
        0x11: [data, data, lambda: take(_MAC, "mac")],
        0x12: [data, lambda: take(_MAC, "mac")],
        0x03: [
            lambda: take(1, "flags"),
            lambda: take(4, "keyid"),
            lambda: take(4, "keyid"),
            data,
            lambda: take(_CTR, "ctr"),
            data,
            lambda: take(_MAC, "mac"),
            data,
        ],
    }.get(mtype, [])
    for step in steps:
        if not step():
            break
    return fields


_INTERESTING = {
    "version": (0, 1, 2, 3, 4, 0xFFFF),
    "type": (0x02, 0x03, 0x0A, 0x11, 0x12, 0x00, 0xFF),
    "tag": (0, 1, 0xFF, 0x100, 0x101, 0x102, 0xFFFFFFFF),
    "flags": (0, 1, 2, 0xFF),
    "keyid": (0, 1, 2, 3, 0xFFFFFFFF),
    "length": (0, 1, 15, 16, 17, 31, 32, 33, 192, 193, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFE, 0xFFFFFFFF),
}
_INTERESTING_MPIS = (0, 1, 2, (1 << _MODULUS_BITS) - 1, 1 << _MODULUS_BITS, 1 << (_MODULUS_BITS - 8))


def _set(binary: bytes, field: Field, value: int) -> bytes:
    raw = (value % (1 << (8 * field.size))).to_bytes(field.size, "big")
    return binary[: field.offset] + raw + binary[field.offset + field.size :]


def _replace_value(binary: bytes, fields: list[Field], index: int, new: bytes) -> bytes:
    """Replace the value field at ``index`` (preceded by its length) and fix that length."""
    value = fields[index]
    length = fields[index - 1]
    before = binary[: length.offset] + len(new).to_bytes(4, "big")
    return before + new + binary[value.offset + value.size :]


def mutate_binary(binary: bytes, rng: random.Random, inner: Callable[[bytes, int], bytes]) -> bytes:
    """One field-level change of ``binary``; ``inner`` is a byte mutator for the inside of a value."""
    fields = layout(binary)
    special = [f for f in fields if f.kind in _INTERESTING]
    lengths = [f for f in fields if f.kind == "length"]
    values = [i for i, f in enumerate(fields) if f.kind == "value" and fields[i - 1].kind == "length"]
    operations: list[Callable[[], bytes]] = [
        lambda: binary[: rng.choice([f.offset for f in fields] + [rng.randrange(len(binary) + 1)])],
        lambda: _insert(binary, fields, rng),
        lambda: inner(binary, len(binary) + 64),
    ]
    if special:
        operations.append(lambda: _set(binary, (f := rng.choice(special)), rng.choice(_INTERESTING[f.kind])))
    if lengths:
        operations.append(lambda: _set_length_near(binary, rng.choice(lengths), rng))
    if values:
        operations += [lambda: _inner_value(binary, fields, rng.choice(values), inner)] * 2
        operations.append(lambda: _mpi_value(binary, fields, rng.choice(values), rng))
    return rng.choice(operations)()


def _insert(binary: bytes, fields: list[Field], rng: random.Random) -> bytes:
    extra = rng.randbytes(rng.choice((1, 4, 20)))
    if not fields or rng.random() < 0.5:
        return binary + extra
    at = rng.choice(fields).offset
    return binary[:at] + extra + binary[at:]


def _set_length_near(binary: bytes, field: Field, rng: random.Random) -> bytes:
    """A length set to what remains, one more, or one less: the off-by-one cases."""
    remaining = len(binary) - field.offset - 4
    return _set(binary, field, rng.choice((remaining, remaining + 1, max(remaining - 1, 0))))


def _inner_value(
    binary: bytes, fields: list[Field], index: int, inner: Callable[[bytes, int], bytes]
) -> bytes:
    value = fields[index]
    old = binary[value.offset : value.offset + value.size]
    return _replace_value(binary, fields, index, inner(old, max(2 * len(old), 64)))


def _mpi_value(binary: bytes, fields: list[Field], index: int, rng: random.Random) -> bytes:
    number = rng.choice(_INTERESTING_MPIS)
    raw = number.to_bytes((number.bit_length() + 7) // 8, "big")
    if rng.random() < 0.3:
        raw = b"\0" + raw  # a non-minimal MPI
    return _replace_value(binary, fields, index, raw)


def mutate_text(
    data: bytes, max_size: int, rng: random.Random, inner: Callable[[bytes, int], bytes]
) -> bytes:
    """Mutate the first ``?OTR:…`` message inside ``data`` at the field level; libFuzzer's way without one."""
    match = _ENCODED.search(data)
    if match is None or rng.random() < 0.25:
        return inner(data, max_size)
    try:
        binary = base64.b64decode(match.group(1), validate=True)
    except (binascii.Error, ValueError):
        return inner(data, max_size)
    changed = mutate_binary(binary, rng, inner)
    encoded = base64.b64encode(changed)
    if rng.random() < 0.05:
        encoded = encoded.rstrip(b"=")
    out = data[: match.start(1)] + encoded + data[match.end(1) :]
    return out[:max_size]


def mutate(data: bytes, max_size: int, seed: int) -> bytes:
    """The atheris custom mutator."""
    import atheris

    return mutate_text(data, max_size, random.Random(seed), atheris.Mutate)
