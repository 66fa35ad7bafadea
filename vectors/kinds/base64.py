"""``base64`` vectors: the body of an encoded message (spec, "Encoded messages": "?OTR:", the
base-64 encoding of the binary message, ".") and what it decodes to.

Each test's ``input`` contains ``?OTR:…``; ``expected`` is the ``x-parse
base64`` answer, ``{"ok": true, "data": hex}`` for the body between
``?OTR:`` and the next ``.``, or ``{"ok": false, "data": null}``.
``result`` ``valid``: well-formed, must decode to ``data``; ``invalid``:
not strict RFC 4648 base-64 (with padding, standard alphabet, nothing
else), must be refused; ``acceptable``: RFC 4648 lets a decoder choose
(non-zero pad bits), ``lenient_answers`` lists the other answer.

The expected bytes were computed by :func:`vectors.kinds._otrbin.b64decode`
(written out from RFC 4648, no library), and for every valid test checked
against the standard library's strict decoder at generation time.
"""

from __future__ import annotations

import base64 as stdlib_base64
import binascii
from typing import Any

from ..model import Target, Vector, Verdict
from . import _capture, _otrbin
from ._common import Comparison, Group, document, guarded, note
from .parse import SPEC_DATA_MESSAGE

KIND = "base64"
FILENAME = "otr_base64.json"

NOTES = {
    "RealMessage": note("Functionality", "A message of a seeded engine-to-engine conversation."),
    "SpecExample": note("Functionality", "The spec's example Data Message ('Fragmentation')."),
    "Padding": note("Functionality", "The last quantum has 0, 1 or 2 padding characters."),
    "SurroundingText": note(
        "Functionality", "Text before '?OTR:' or after the closing '.' (not part of the body)."
    ),
    "NonAlphabet": note(
        "ModifiedMessage",
        "A character outside the base-64 alphabet (space, newline, '!', URL-safe '-' '_', non-ASCII). "
        "libotr 4.1.1 skips it (finding LIBOTR-006).",
    ),
    "BadPadding": note(
        "ModifiedMessage",
        "Padding missing, in excess, at the start or in the middle. libotr 4.1.1 stops at the first '=' "
        "(finding LIBOTR-006).",
    ),
    "IncompleteQuantum": note(
        "ModifiedMessage",
        "A length that is not a multiple of four. libotr 4.1.1 drops the incomplete group (LIBOTR-006).",
    ),
    "DegenerateBase64": note(
        "CVE",
        "Padding only, '?OTR:===.': the input of CVE-2012-3461 (libotr before 3.2.1 allocated zero bytes "
        "and overflowed). libotr 4.1.1 decodes it to nothing and reports success (LIBOTR-006).",
    ),
    "NoTerminator": note("ModifiedMessage", "No '.' after the body: not an encoded message."),
    "PadBits": note(
        "EdgeCase",
        "Non-zero bits in the last character before the padding: RFC 4648 section 3.5 lets a decoder "
        "reject or ignore them.",
    ),
}


def _ok(raw: bytes) -> dict[str, Any]:
    return {"ok": True, "data": raw.hex()}


BAD = {"ok": False, "data": None}


def _valid(g: Group, comment: str, text: str, flags: list[str]) -> None:
    start = text.index("?OTR:") + 5
    b64 = text[start : text.index(".", start)]
    raw = _otrbin.b64decode(b64)
    assert raw == binascii.a2b_base64(b64.encode(), strict_mode=True), text
    g.add(comment, "valid", flags, input=text, expected=_ok(raw))


def _invalid(g: Group, comment: str, text: str, flags: list[str]) -> None:
    start = text.find("?OTR:")
    end = text.find(".", start + 5) if start >= 0 else -1
    if end >= 0:
        try:
            _otrbin.b64decode(text[start + 5 : end])
        except _otrbin.Malformed:
            pass
        else:
            raise AssertionError(f"{comment}: decodes")
    g.add(comment, "invalid", flags, input=text, expected=BAD)


def generate() -> dict[str, Any]:
    real = Group(1, 100, {"type": "real", "source": "seeded engine conversations, v3 and v2"})
    for version in (3, 2):
        seen: set[str] = set()
        for sent in _capture.encoded(version):
            kind = _otrbin.decode(sent.wire).message_type
            assert kind is not None
            if kind in seen and kind != "data":
                continue
            seen.add(kind)
            _valid(real, f"v{version} {kind} ({sent.label})", sent.wire, ["RealMessage"])
    _valid(real, "the spec's example Data Message", SPEC_DATA_MESSAGE, ["SpecExample"])
    commit = _capture.encoded(3)[0].wire
    _valid(real, "text before the marker", "look: " + commit, ["RealMessage", "SurroundingText"])
    _valid(real, "text after the '.'", commit + " more. text.", ["RealMessage", "SurroundingText"])
    _valid(real, "two encoded messages: the first body counts", "?OTR:QUJD. ?OTR:REVG.", ["SurroundingText"])

    small = Group(101, 100, {"type": "padding", "source": "hand-written, RFC 4648 section 10 test vectors"})
    for text, plain in [("", b""), ("Zg==", b"f"), ("Zm8=", b"fo"), ("Zm9v", b"foo"), ("Zm9vYg==", b"foob")]:
        assert stdlib_base64.b64encode(plain).decode() == text
        _valid(small, f"RFC 4648 vector {plain!r}", f"?OTR:{text}.", ["Padding"])
    for text, plain in [("Zm9vYmE=", b"fooba"), ("Zm9vYmFy", b"foobar")]:
        _valid(small, f"RFC 4648 vector {plain!r}", f"?OTR:{text}.", ["Padding"])
    _valid(small, "every alphabet character", "?OTR:" + _otrbin.b64encode(bytes(range(256)) * 3) + ".", [])
    _valid(small, "all zero bytes", "?OTR:AAAAAAAA.", [])
    _valid(small, "all 0xff bytes", "?OTR:////.", [])
    small.add(
        "non-zero pad bits ('QR==' instead of 'QQ==')",
        "acceptable",
        ["PadBits"],
        input="?OTR:QR==.",
        expected=_ok(b"A"),
        lenient_answers=[BAD],
    )
    small.add(
        "non-zero pad bits with one '=' ('QUJ=' instead of 'QUI=')",
        "acceptable",
        ["PadBits"],
        input="?OTR:QUJ=.",
        expected=_ok(b"AB"),
        lenient_answers=[BAD],
    )

    bad = Group(201, 100, {"type": "invalid", "source": "hand-written damage, and real messages damaged"})
    for comment, text, flags in [
        ("padding only (CVE-2012-3461)", "?OTR:===.", ["DegenerateBase64"]),
        ("one padding character", "?OTR:=.", ["DegenerateBase64"]),
        ("four padding characters", "?OTR:====.", ["DegenerateBase64"]),
        ("a space inside", "?OTR:QU JD.", ["NonAlphabet"]),
        ("a newline inside", "?OTR:QUJD\nREVG.", ["NonAlphabet"]),
        ("a tab inside", "?OTR:QUJD\tREVG.", ["NonAlphabet"]),
        ("a CR LF line break inside", "?OTR:QUJD\r\nREVG.", ["NonAlphabet"]),
        ("a '!' inside", "?OTR:Q!JD.", ["NonAlphabet"]),
        ("URL-safe '-'", "?OTR:-_-_.", ["NonAlphabet"]),
        ("a non-ASCII letter", "?OTR:QUJ\u00c9.", ["NonAlphabet"]),
        ("a NUL-free control character", "?OTR:QU\x01JD.", ["NonAlphabet"]),
        ("padding in the middle", "?OTR:AA=C.", ["BadPadding"]),
        ("padding, then more data", "?OTR:QQ==QUJD.", ["BadPadding"]),
        ("three padding characters", "?OTR:Q===.", ["BadPadding"]),
        ("leading padding", "?OTR:=QUJ.", ["BadPadding"]),
        ("padding missing from a two-character group", "?OTR:QUJDRA.", ["BadPadding"]),
        ("padding missing from a three-character group", "?OTR:QUJDREU.", ["BadPadding"]),
        ("too much padding", "?OTR:QQ===.", ["BadPadding"]),
        ("one character", "?OTR:A.", ["IncompleteQuantum"]),
        ("five characters", "?OTR:QUJDR.", ["IncompleteQuantum"]),
        ("a '.' inside the body ends it early", "?OTR:QU.JD.", ["IncompleteQuantum"]),
        ("no closing '.'", "?OTR:QUJD", ["NoTerminator"]),
        ("the marker alone", "?OTR:", ["NoTerminator"]),
        ("no marker at all", "QUJD.", []),
        ("a query, not an encoded message", "?OTRv23?", []),
    ]:
        _invalid(bad, comment, text, flags)
    for version in (3, 2):
        wire = next(s.wire for s in _capture.encoded(version) if s.wire.endswith("=.") and "D" in s.wire[5:9])
        b64 = wire[5:-1]
        mid = len(b64) // 2
        _invalid(
            bad, f"v{version} Data Message with a space", f"?OTR:{b64[:mid]} {b64[mid:]}.", ["NonAlphabet"]
        )
        _invalid(
            bad,
            f"v{version} Data Message without its padding",
            "?OTR:" + b64.rstrip("=") + ".",
            ["BadPadding"],
        )
        _invalid(
            bad, f"v{version} Data Message, last character cut", f"?OTR:{b64[:-1]}.", ["IncompleteQuantum"]
        )
        _invalid(bad, f"v{version} Data Message without its '.'", wire[:-1], ["NoTerminator"])

    header = [
        "Base-64 bodies of encoded messages and what they decode to (x-parse entry 'base64').",
        "Generated by vectors.kinds.base64.generate(); expected bytes from vectors/kinds/_otrbin.py.",
    ]
    return document(KIND, "OTR-base64", header, NOTES, [real, small, bad])


def replay(vector: Vector, target: Target) -> Verdict:
    def run() -> Verdict:
        cmp = Comparison()
        lenient = vector.test.get("lenient_answers", []) if vector.result == "acceptable" else []
        cmp.ask(target, "base64", vector.test["input"], vector.test["expected"], lenient)
        return cmp.verdict()

    return guarded(run, f"{target.name} x-parse base64")
