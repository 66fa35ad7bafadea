"""``tlv`` vectors: the TLV records after the NUL of a Data Message's plaintext (spec, "Data
Message": type SHORT, length SHORT, value; "Records with unrecognized types should be ignored").

``input`` is the hex of the bytes after the NUL; ``expected`` is the
``x-parse tlv`` answer, the records in order, ``[{"type": int, "value":
hex}]``.  At this layer a record is well-formed whatever its value holds:
an SMP TLV with the wrong number of MPIs, or a Disconnected TLV with a
value, is a well-formed *record* (``valid``) whose content the SMP or
message layer then judges.

A damaged list (a header or a value cut short, bytes left over) is
``acceptable``: the spec says nothing about it.  ``expected`` is then the
records before the damage (what the engine and libotr keep) and
``lenient_answers`` lists the other reasonable answer, no records at all
(the whole list refused).  Raising is never acceptable.

The expected records were computed by this module's own reader
(:func:`records`), independent of the engine's ``_tlv``.
"""

from __future__ import annotations

import hashlib
from typing import Any

from ..model import Target, Vector, Verdict
from ._common import Comparison, Group, document, guarded, note

KIND = "tlv"
FILENAME = "otr_tlv.json"

NOTES = {
    "KnownType": note("Functionality", "A record of a type the spec defines (0-8)."),
    "UnknownType": note(
        "Functionality",
        "A type the spec does not define: 'Records with unrecognized types should be ignored'. "
        "python-potr 1.0.2 raises UnknownTLV (finding POTR-004).",
    ),
    "Chain": note("Functionality", "Several records in a row, with no padding between them."),
    "ZeroLength": note("EdgeCase", "A record with an empty value, or an empty list."),
    "SmpMpiCount": note(
        "EdgeCase",
        "An SMP record whose value holds the wrong number of MPIs (SMP1 6, SMP2 11, SMP3 8, SMP4 3): "
        "well-formed as a record; the SMP layer must reject it without failing the message.",
    ),
    "ValueWhereNone": note(
        "EdgeCase", "A Disconnected or SMP Abort record with a value: well-formed as a record."
    ),
    "Truncated": note(
        "ModifiedMessage",
        "A record header or value cut short, or bytes left over. The spec is silent: keeping the records "
        "before the damage and refusing them all are both acceptable; raising is not (POTR-004).",
    ),
}


def tlv(ttype: int, value: bytes) -> bytes:
    return ttype.to_bytes(2, "big") + len(value).to_bytes(2, "big") + value


def mpi(value: int) -> bytes:
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return len(raw).to_bytes(4, "big") + raw


def mpis(count: int, label: str) -> bytes:
    """An SMP payload: INT count, then ``count`` 1536-bit-ish MPIs derived from ``label``."""
    out = count.to_bytes(4, "big")
    for i in range(count):
        seed = hashlib.sha256(f"{label}/{i}".encode()).digest()
        value = int.from_bytes(seed * 6, "big")  # 192 bytes
        out += mpi(value)
    return out


def records(blob: bytes) -> tuple[list[dict[str, Any]], str | None]:
    """The records readable from ``blob`` and, if any, where the damage starts."""
    out: list[dict[str, Any]] = []
    pos = 0
    while pos < len(blob):
        if len(blob) - pos < 4:
            return out, f"{len(blob) - pos} bytes left at offset {pos}, not a record header"
        ttype = int.from_bytes(blob[pos : pos + 2], "big")
        length = int.from_bytes(blob[pos + 2 : pos + 4], "big")
        if pos + 4 + length > len(blob):
            return out, f"record at offset {pos} claims {length} bytes, {len(blob) - pos - 4} follow"
        out.append({"type": ttype, "value": blob[pos + 4 : pos + 4 + length].hex()})
        pos += 4 + length
    return out, None


def _add(g: Group, comment: str, blob: bytes, flags: list[str]) -> None:
    found, damage = records(blob)
    if damage is None:
        g.add(comment, "valid", flags, input=blob.hex(), expected=found)
    else:
        g.add(
            comment,
            "acceptable",
            [*flags, "Truncated"],
            input=blob.hex(),
            expected=found,
            damage=damage,
            lenient_answers=[[]] if found else [],
        )


def generate() -> dict[str, Any]:
    known = Group(1, 100, {"type": "known", "source": "hand-built records of every type the spec defines"})
    smp1 = mpis(6, "smp1")
    for comment, blob in [
        ("padding, 5 zero bytes", tlv(0, b"\0" * 5)),
        ("padding, the spec's example value 'hello'", tlv(0, b"hello")),
        ("padding, 1000 bytes", tlv(0, bytes(range(256)) * 3 + bytes(232))),
        ("disconnected, the spec's example (type 1, no data)", tlv(1, b"")),
        ("SMP message 1: 6 MPIs", tlv(2, smp1)),
        ("SMP message 2: 11 MPIs", tlv(3, mpis(11, "smp2"))),
        ("SMP message 3: 8 MPIs", tlv(4, mpis(8, "smp3"))),
        ("SMP message 4: 3 MPIs", tlv(5, mpis(3, "smp4"))),
        ("SMP abort", tlv(6, b"")),
        ("SMP message 1 with a question", tlv(7, b"what is it?\0" + smp1)),
        ("SMP message 1 with an empty question", tlv(7, b"\0" + smp1)),
        ("SMP message 1 with a UTF-8 question", tlv(7, "caf\u00e9 \u2615?".encode() + b"\0" + smp1)),
        ("extra symmetric key, use 1, no use data", tlv(8, b"\0\0\0\x01")),
        ("extra symmetric key with use data", tlv(8, b"\0\0\0\x02" + b"file://x")),
    ]:
        _add(known, comment, blob, ["KnownType"])

    unknown = Group(101, 100, {"type": "unknown", "source": "hand-built records of undefined types"})
    for comment, blob in [
        ("type 9, the first undefined", tlv(9, b"x")),
        ("type 0x0100 (ChatSecure's OTRDATA)", tlv(0x0100, b"x")),
        ("type 0x8000", tlv(0x8000, b"")),
        ("type 0xffff", tlv(0xFFFF, b"\xab\xcd")),
        ("an unknown record between known ones", tlv(1, b"") + tlv(0x42, b"zz") + tlv(0, b"p")),
        ("an unknown record after SMP message 1", tlv(2, smp1) + tlv(0x0100, b"payload")),
    ]:
        _add(unknown, comment, blob, ["UnknownType"])

    chains = Group(201, 100, {"type": "chain", "source": "hand-built record lists"})
    for comment, blob, flags in [
        ("no records at all", b"", ["ZeroLength"]),
        ("padding with an empty value", tlv(0, b""), ["ZeroLength"]),
        (
            "SMP message 1 with an empty value (0 bytes, not even the count)",
            tlv(2, b""),
            ["ZeroLength", "SmpMpiCount"],
        ),
        ("disconnected then padding", tlv(1, b"") + tlv(0, b"\0\0"), ["Chain"]),
        ("padding then disconnected", tlv(0, b"abc") + tlv(1, b""), ["Chain"]),
        ("two empty padding records", tlv(0, b"") + tlv(0, b""), ["Chain", "ZeroLength"]),
        ("SMP message 1 and padding", tlv(2, smp1) + tlv(0, b"\0" * 7), ["Chain"]),
        ("extra symmetric key and disconnected", tlv(8, b"\0\0\0\x01") + tlv(1, b""), ["Chain"]),
        ("SMP abort then SMP message 1 (a restart)", tlv(6, b"") + tlv(2, smp1), ["Chain"]),
        ("three records of the same type", tlv(0, b"a") + tlv(0, b"b") + tlv(0, b"c"), ["Chain"]),
        ("a record of exactly 65535 bytes", tlv(0, bytes(65535)), []),
    ]:
        _add(chains, comment, blob, flags)

    odd = Group(301, 100, {"type": "content", "source": "well-formed records whose content is wrong"})
    for comment, blob, flags in [
        ("SMP message 1 with 5 MPIs", tlv(2, mpis(5, "smp1")), ["SmpMpiCount"]),
        ("SMP message 1 with 7 MPIs", tlv(2, mpis(7, "smp1")), ["SmpMpiCount"]),
        ("SMP message 2 with 10 MPIs", tlv(3, mpis(10, "smp2")), ["SmpMpiCount"]),
        ("SMP message 3 with 9 MPIs", tlv(4, mpis(9, "smp3")), ["SmpMpiCount"]),
        ("SMP message 4 with 0 MPIs", tlv(5, mpis(0, "smp4")), ["SmpMpiCount"]),
        (
            "SMP message 1 whose count says 6 but holds 1 MPI",
            tlv(2, (6).to_bytes(4, "big") + mpi(5)),
            ["SmpMpiCount"],
        ),
        ("SMP message 1 holding three bytes", tlv(2, b"abc"), ["SmpMpiCount"]),
        ("SMP message 1 with a question but no NUL", tlv(7, smp1), ["SmpMpiCount"]),
        ("disconnected with a value", tlv(1, b"xx"), ["ValueWhereNone"]),
        ("SMP abort with a value", tlv(6, b"x"), ["ValueWhereNone"]),
        ("extra symmetric key with one byte", tlv(8, b"\0"), ["ValueWhereNone"]),
    ]:
        _add(odd, comment, blob, flags)

    damaged = Group(401, 100, {"type": "damaged", "source": "record lists cut short or with bytes left over"})
    good = tlv(1, b"") + tlv(0, b"ab")
    for comment, blob in [
        ("one byte", b"\x00"),
        ("a header cut to two bytes", b"\x00\x01"),
        ("a header cut to three bytes", b"\x00\x01\x00"),
        ("a value cut short", tlv(0, b"abcde")[:-2]),
        ("a length of 0xffff with two bytes of value", b"\x00\x00\xff\xffab"),
        ("a good record, then a header cut short", tlv(0, b"a") + b"\x00\x02\x00"),
        ("two good records, then one byte", good + b"\x00"),
        ("two good records, then a value cut short", good + tlv(0, b"0123456789")[:-1]),
        ("SMP message 1 cut in its last MPI", tlv(2, smp1)[:-1]),
        ("SMP message 1 then a truncated unknown record", tlv(2, smp1) + b"\x01\x00\x00\x05abc"),
    ]:
        _add(damaged, comment, blob, [])

    header = [
        "TLV record lists after the NUL of a Data Message plaintext (x-parse entry 'tlv').",
        "Generated by vectors.kinds.tlv.generate(); records computed by its own reader.",
    ]
    return document(KIND, "OTR-TLV", header, NOTES, [known, unknown, chains, odd, damaged])


def replay(vector: Vector, target: Target) -> Verdict:
    def run() -> Verdict:
        cmp = Comparison()
        lenient = vector.test.get("lenient_answers", []) if vector.result == "acceptable" else []
        cmp.ask(target, "tlv", vector.test["input"], vector.test["expected"], lenient)
        return cmp.verdict()

    return guarded(run, f"{target.name} x-parse tlv")
