"""``fragment`` vectors: a sequence of received strings and the messages their fragments complete
(spec, "Fragmentation", "Receiving Fragments").

``input`` is the list of strings received in order (fragments, and
sometimes an unfragmented message between them); ``max_chars``, when
present, is the receiver's reassembly cap.  ``expected`` is the list of
messages completed, in order: ``[]`` means everything was dropped.

The rules, as the spec states them, per sender instance (v3) or
correspondent (v2): an illegal fragment (k == 0, n == 0, k > n) is
discarded and the stored one kept; k == 1 forgets what is stored and
starts again; k == K+1 with the same n appends; anything else forgets what
is stored; K == N completes; a non-OTR or unfragmented message forgets the
stored fragment.  The cap is not in the spec (an implementation must have
one: CVE-2016-2851), so a sequence that passes a cap is ``acceptable``
either way.

Replayed through the engine's ``x-parse reassemble`` entry; libotr and
potr have no reassembly entry point (their reassembly is only reachable
inside a session, which the harness scenarios ``frag/*`` cover).

The expected messages were derived by :func:`spec_reassemble`, a direct
transcription of the spec's steps written for these vectors, and for the
real sequences checked against the message that was fragmented.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ..model import Target, Vector, Verdict
from . import _capture, _otrbin
from ._common import Comparison, Group, document, guarded, note, version_skip
from .parse import SPEC_DATA_MESSAGE, SPEC_FRAGMENTS

KIND = "fragment"
FILENAME = "otr_fragment.json"
REASSEMBLERS = frozenset({"engine"})
"""Implementations with an ``x-parse reassemble`` entry."""

# [0-9], not \d (which also takes non-ASCII digits), and \Z, not $ (which also matches before a final
# newline): both let this reader accept fragments the spec's printf format cannot produce.
_FRAGMENT = re.compile(r"^\?OTR(?:\|([0-9a-fA-F]{1,8})\|([0-9a-fA-F]{1,8}))?,([0-9]+),([0-9]+),([^,]+),\Z")

NOTES = {
    "RealMessage": note("Functionality", "Fragments of a message of a seeded engine conversation (padded)."),
    "SpecExample": note("Functionality", "The spec's three example fragments."),
    "InOrder": note("Functionality", "All fragments, in order: the message completes."),
    "Restart": note(
        "Functionality", "k == 1 again: the stored fragment is forgotten and reassembly restarts."
    ),
    "OutOfOrder": note(
        "ModifiedMessage",
        "A fragment that does not follow the stored one: everything stored is forgotten. python-potr "
        "shows such a fragment as text (finding POTR-012).",
    ),
    "Duplicate": note("ModifiedMessage", "A fragment received twice."),
    "ChangedN": note("ModifiedMessage", "n changes in the middle of a message."),
    "Illegal": note("ModifiedMessage", "k == 0, n == 0 or k > n: discarded, the stored fragment kept."),
    "Malformed": note(
        "ModifiedMessage", "A string that starts like a fragment but does not parse: discarded."
    ),
    "Interrupted": note(
        "Functionality",
        "A non-OTR or unfragmented message between fragments: the stored fragment is forgotten "
        "(libotr and potr keep it: findings LIBOTR-010, POTR-013).",
    ),
    "Instances": note("Functionality", "Fragments of two sender instances or versions interleaved."),
    "Cap": note(
        "EdgeCase",
        "The reassembly cap (max_chars): not in the spec, needed against memory exhaustion "
        "(CVE-2016-2851 was reachable only through a huge reassembled message).",
    ),
}


def _frag(version: int, k: int, n: int, piece: str, sender: int = 0x101, receiver: int = 0x100) -> str:
    if version == 3:
        return f"?OTR|{sender:x}|{receiver:x},{k},{n},{piece},"
    return f"?OTR,{k},{n},{piece},"


def spec_reassemble(wires: list[str], max_chars: int | None = None) -> list[str]:
    """The spec's "Receiving Fragments" steps, transcribed (plus the cap, when given)."""
    stored: dict[tuple[int, int], tuple[int, int, str]] = {}
    done: list[str] = []
    for wire in wires:
        if not wire.startswith(("?OTR|", "?OTR,")):
            # "an unfragmented message": a well-formed encoded one concerns its sender (version and
            # instance tag in its header); anything else concerns the correspondent as a whole
            source = _encoded_sender(wire) if wire.startswith("?OTR:") else None
            if source is None:
                stored.clear()
            else:
                stored.pop(source, None)
            continue
        match = _FRAGMENT.match(wire)
        if match is None:
            continue
        sender, _, k_text, n_text, piece = match.groups()
        key = (3, int(sender, 16)) if sender is not None else (2, 0)
        k, n = int(k_text), int(n_text)
        if k > 0xFFFF or n > 0xFFFF or k == 0 or n == 0 or k > n:
            continue
        big_k, big_n, f = stored.get(key, (0, 0, ""))
        if k == 1:
            big_k, big_n, f = k, n, piece
        elif n == big_n and k == big_k + 1:
            big_k, big_n, f = k, n, f + piece
        else:
            big_k, big_n, f = 0, 0, ""
        if max_chars is not None and len(f) > max_chars:
            big_k, big_n, f = 0, 0, ""
        if big_n > 0 and big_k == big_n:
            done.append(f)
            big_k, big_n, f = 0, 0, ""
        stored[key] = (big_k, big_n, f)
    return done


def _encoded_sender(wire: str) -> tuple[int, int] | None:
    decoded = _otrbin.decode(wire)
    if decoded.fields is None:
        return None
    if decoded.version == 3:
        return (3, int(decoded.fields["sender_instance_tag"]))
    return (2, 0)


def _case(
    g: Group,
    comment: str,
    wires: list[str],
    expected: list[str],
    flags: list[str],
    max_chars: int | None = None,
    lenient: list[list[str]] | None = None,
) -> None:
    """One test; ``expected`` is written by hand and must equal :func:`spec_reassemble`'s answer."""
    derived = spec_reassemble(wires, max_chars)
    assert derived == expected, (comment, derived, expected)
    fields: dict[str, Any] = {"input": wires}
    if max_chars is not None:
        fields["max_chars"] = max_chars
    fields["expected"] = expected
    if lenient is not None:
        fields["lenient_answers"] = lenient
    g.add(comment, "acceptable" if lenient is not None else "valid", flags, **fields)


def _real(version: int) -> tuple[list[str], str]:
    """The fragments of the first message that needed three or more, and that message."""
    pieces: list[str] = []
    for sent in _capture.conversation(version, 200):
        match = _FRAGMENT.match(sent.wire)
        if match is None:
            continue
        k, n = int(match.group(3)), int(match.group(4))
        pieces = [sent.wire] if k == 1 else [*pieces, sent.wire]
        if k == n and n >= 3:
            break
    whole = spec_reassemble(pieces)
    assert len(whole) == 1 and whole[0] in {s.wire for s in _capture.conversation(version)}
    return pieces, whole[0]


def generate() -> dict[str, Any]:
    groups = []
    for version, first in ((3, 1), (2, 101)):
        g = Group(first, 100, {"type": "sequence", "protocol_version": version, "source": f"v{version}"})
        real, whole = _real(version)
        n = len(real)
        _case(g, f"the {n} fragments of a real message, in order", real, [whole], ["RealMessage", "InOrder"])
        _case(g, "reversed", real[::-1], [], ["RealMessage", "OutOfOrder"])
        _case(g, "the last fragment missing", real[:-1], [], ["RealMessage"])
        _case(g, "the middle fragment missing", [real[0], *real[2:]], [], ["RealMessage", "OutOfOrder"])
        _case(
            g, "the first fragment twice", [real[0], *real], [whole], ["RealMessage", "Restart", "Duplicate"]
        )
        _case(
            g,
            "the second fragment twice",
            [real[0], real[1], *real[1:]],
            [],
            ["RealMessage", "Duplicate", "OutOfOrder"],
        )
        _case(g, "everything twice in a row", real + real, [whole, whole], ["RealMessage", "InOrder"])
        _case(g, "a restart after fragment 2", [real[0], real[1], *real], [whole], ["RealMessage", "Restart"])
        _case(
            g,
            "the last fragment again after completion",
            [*real, real[-1]],
            [whole],
            ["RealMessage", "OutOfOrder"],
        )
        _case(
            g,
            "a plaintext between fragments 1 and 2",
            [real[0], "hello", *real[1:]],
            [],
            ["RealMessage", "Interrupted"],
        )
        _case(
            g,
            "a query between fragments",
            [real[0], "?OTRv23?", *real[1:]],
            [],
            ["RealMessage", "Interrupted"],
        )
        _case(
            g,
            "an error message between fragments",
            [real[0], "?OTR Error: x", *real[1:]],
            [],
            ["RealMessage", "Interrupted"],
        )
        other = next(s.wire for s in _capture.encoded(version)[4:] if s.sender == _capture.BOB)
        _case(
            g,
            "an unfragmented Data Message between fragments",
            [real[0], other, *real[1:]],
            [],
            ["RealMessage", "Interrupted"],
        )
        _case(
            g,
            "a plaintext before fragment 1 changes nothing",
            ["hello", *real],
            [whole],
            ["RealMessage", "Interrupted"],
        )
        a = [_frag(version, k, 3, p) for k, p in zip((1, 2, 3), ("AAA", "BBB", "CCC"), strict=True)]
        _case(g, "three pieces, in order", a, ["AAABBBCCC"], ["InOrder"])
        _case(g, "a single piece (k = n = 1)", [_frag(version, 1, 1, "whole")], ["whole"], ["InOrder"])
        _case(g, "fragment 2 first, then all", [a[1], *a], ["AAABBBCCC"], ["OutOfOrder", "Restart"])
        _case(g, "fragment 3 before 2", [a[0], a[2], a[1]], [], ["OutOfOrder"])
        _case(g, "n changes from 3 to 4", [a[0], _frag(version, 2, 4, "BBB"), a[2]], [], ["ChangedN"])
        _case(
            g,
            "n changes, then a restart with the new n",
            [a[0], _frag(version, 2, 2, "X"), _frag(version, 1, 2, "P"), _frag(version, 2, 2, "Q")],
            ["PQ"],
            ["ChangedN", "Restart"],
        )
        _case(
            g,
            "k == 0 between fragments is discarded, the rest completes",
            [a[0], _frag(version, 0, 3, "ZZ"), a[1], a[2]],
            ["AAABBBCCC"],
            ["Illegal"],
        )
        _case(
            g,
            "k > n between fragments is discarded",
            [a[0], _frag(version, 4, 3, "ZZ"), a[1], a[2]],
            ["AAABBBCCC"],
            ["Illegal"],
        )
        _case(
            g,
            "n == 0 between fragments is discarded",
            [a[0], _frag(version, 1, 0, "ZZ"), a[1], a[2]],
            ["AAABBBCCC"],
            ["Illegal"],
        )
        _case(
            g,
            "an empty piece between fragments is discarded",
            [a[0], _frag(version, 2, 3, ""), a[1], a[2]],
            ["AAABBBCCC"],
            ["Malformed"],
        )
        _case(
            g,
            "a fragment without its trailing comma is discarded",
            [a[0], a[1][:-1], a[1], a[2]],
            ["AAABBBCCC"],
            ["Malformed"],
        )
        _case(
            g,
            "k above 65535 is discarded",
            [a[0], _frag(version, 65537, 65537, "Z"), a[1], a[2]],
            ["AAABBBCCC"],
            ["Malformed"],
        )
        _case(
            g,
            "k == n == 65535 alone completes nothing",
            [_frag(version, 65535, 65535, "Z")],
            [],
            ["OutOfOrder"],
        )
        _case(
            g,
            "padded and unpadded numbers mixed",
            [a[0], a[1].replace(",2,3,", ",00002,00003,"), a[2]],
            ["AAABBBCCC"],
            ["InOrder"],
        )
        _case(
            g,
            "k == 1 twice with different n",
            [_frag(version, 1, 5, "A"), a[0], a[1], a[2]],
            ["AAABBBCCC"],
            ["Restart"],
        )
        _case(g, "cap: exactly at the cap completes", a, ["AAABBBCCC"], ["Cap"], max_chars=9)
        _case(g, "cap: one over the cap is dropped", a, [], ["Cap"], max_chars=8, lenient=[["AAABBBCCC"]])
        _case(
            g,
            "cap: a first piece over the cap is dropped",
            [_frag(version, 1, 1, "X" * 20)],
            [],
            ["Cap"],
            max_chars=10,
            lenient=[["X" * 20]],
        )
        if version == 3:
            b = [_frag(3, k, 2, p, sender=0x102) for k, p in ((1, "bb1"), (2, "bb2"))]
            _case(
                g,
                "two sender instances interleaved",
                [a[0], b[0], a[1], b[1], a[2]],
                ["bb1bb2", "AAABBBCCC"],
                ["Instances"],
            )
            v2 = [_frag(2, k, 2, p) for k, p in ((1, "v2a"), (2, "v2b"))]
            _case(
                g,
                "v3 and v2 fragments interleaved",
                [a[0], v2[0], a[1], v2[1], a[2]],
                ["v2av2b", "AAABBBCCC"],
                ["Instances"],
            )
            _case(
                g,
                "upper- and lower-case hex tags are the same instance",
                [a[0], a[1].replace("|101|", "|0101|"), a[2]],
                ["AAABBBCCC"],
                ["InOrder"],
            )
            _case(
                g,
                "the spec's three example fragments",
                list(SPEC_FRAGMENTS),
                [SPEC_DATA_MESSAGE],
                ["SpecExample", "InOrder"],
            )
            _case(
                g,
                "the spec's example fragments reversed",
                list(SPEC_FRAGMENTS[::-1]),
                [],
                ["SpecExample", "OutOfOrder"],
            )
        groups.append(g)
    header = [
        "Fragment sequences and the messages they complete (x-parse entry 'reassemble', engine only).",
        "Generated by vectors.kinds.fragment.generate(); expectations from its spec_reassemble().",
    ]
    return document(KIND, "OTR-fragment", header, NOTES, groups)


def replay(vector: Vector, target: Target) -> Verdict:
    if target.name not in REASSEMBLERS:
        return Verdict("skipped", "no reassembly entry point")
    skip = version_skip(target, vector.group.get("protocol_version"))
    if skip is not None:
        return skip

    def run() -> Verdict:
        test = vector.test
        request: Any = test["input"]
        if "max_chars" in test:
            request = {"fragments": test["input"], "max_chars": test["max_chars"]}
        lenient = test.get("lenient_answers", []) if vector.result == "acceptable" else []
        cmp = Comparison()
        cmp.ask(target, "reassemble", json.dumps(request), test["expected"], lenient)
        return cmp.verdict()

    return guarded(run, f"{target.name} x-parse reassemble")
