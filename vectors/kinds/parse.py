"""``parse`` vectors: a received string and how it must be classified (spec, "Unencoded messages",
"Encoded messages", "Fragmentation").

Each test has an ``input`` and an ``expected`` in the shared ``x-parse``
vocabulary (docs/peer-protocol.md, "Extension ops"):

* ``message_type``: the spec's classification as a full decoder gives it
  (``plaintext``, ``tagged_plaintext``, ``query``, ``error``, ``fragment``,
  one of the five encoded types, or ``malformed``);
* ``message_version``: the version of an encoded message, 0 if none (for a
  malformed one, the version its header states, 0 if unreadable);
* where relevant, ``query_version`` with ``query_offered`` (the versions a
  query offers) and ``whitespace_version`` with ``tag_offered`` (the
  versions a whitespace tag offers);
* the engine's detailed decoding: ``fields`` (every field of an encoded
  message or a fragment) or ``reason`` (why it is malformed, a code of
  :data:`vectors.kinds._otrbin.REASONS` or :data:`FRAGMENT_REASONS`).

Equivalences used by :func:`replay` (written into each file's header):

1. **Exact.**  The answer equals the expectation.  ``query_version`` and
   ``whitespace_version`` are "the best version offered that the
   implementation accepts": the expectation is computed per target as the
   highest of the offered versions in {2, 3} that the target speaks (its
   ``hello``), so a v2-only implementation answers 2 to ``?OTRv23?``.
2. **Lenient** (``result`` ``acceptable`` only).  The spec allows another
   reading; ``lenient_answers`` lists the other answers, any implementation
   may give them.  ``query_offered`` / ``whitespace`` alternatives are
   offers, turned into answers as in 1.
3. **Classifiers.**  Two kinds of implementation cannot give a full
   decoder's answer, and each test says explicitly what they may answer
   instead (nothing is implicit: an answer not listed fails):

   * ``prefix_answers``, for the implementations in
     :data:`PREFIX_CLASSIFIERS`, whose ``message_type`` and
     ``message_version`` read only the first base-64 characters (libotr's
     ``otrl_proto_message_type``: ``AAMC`` is a v3 D-H Commit): for a
     malformed encoded message, the type and version its prefix spells, or
     ``unknown``;
   * ``reassembly_answers``, for every implementation but those in
     :data:`FRAGMENT_CLASSIFIERS`: their entry reassembles fragments before
     it classifies (the x-parse vocabulary gives ``fragment`` to the engine
     only), so a lone fragment is ``unknown`` (stored, nothing to classify
     yet) and a one-piece fragment may be the type of its piece.
4. An entry the target does not serve is not compared; a test none of
   whose entries is served is skipped.  An exception reported by the
   implementation (``{"x-crash": …}``) always fails.

``fields`` and ``reason`` were computed by :mod:`vectors.kinds._otrbin`, a
reader written from the spec independently of the engine's codec, and
fragment expectations by a regular expression of the spec's printf format;
:func:`replay` checks them against the engine's own decoder (in-process
only: the ``x-parse`` vocabulary has no field-level entry).
"""

from __future__ import annotations

import re
from typing import Any

from implementations.engine import EngineAdapter, _wire
from implementations.engine._fragments import Fragment, FragmentError, parse_fragment

from ..model import Target, Vector, Verdict
from . import _capture, _otrbin
from ._common import Comparison, Group, document, guarded, note, version_skip

KIND = "parse"
FILENAME = "otr_parse.json"
PREFIX_CLASSIFIERS = frozenset({"libotr"})
"""``message_type`` / ``message_version`` read the first base-64 characters only (libotr's proto.c)."""
FRAGMENT_CLASSIFIERS = frozenset({"engine"})
"""``message_type`` answers ``fragment`` for a fragment; the others reassemble before classifying."""

TAG = _wire.TAG_BASE
TAG_V = {
    1: "\x20\x09\x20\x09\x20\x20\x09\x20",
    2: "\x20\x20\x09\x09\x20\x20\x09\x20",
    3: "\x20\x20\x09\x09\x20\x20\x09\x09",
}
UNKNOWN_TAG = "\x09\x09\x20\x20\x09\x09\x20\x20"  # 8 bytes of space/tab that name no version
OURS = frozenset({2, 3})

FRAGMENT_REASONS = (
    "fragment_syntax",  # a separator, the trailing comma or a field is missing, or a comma in the piece
    "fragment_tag",  # an instance tag that is not 1-8 hex digits
    "fragment_number",  # k or n not decimal, or above 65535
    "fragment_empty_piece",
    "fragment_illegal_k_n",  # k == 0, n == 0 or k > n
)
_FRAGMENT = re.compile(r"^\?OTR(?:\|([0-9a-fA-F]{1,8})\|([0-9a-fA-F]{1,8}))?,(\d+),(\d+),([^,]+),$")
_PREFIX_TYPES = {"C": "dh_commit", "K": "dh_key", "R": "reveal_signature", "S": "signature", "D": "data"}
_PREFIX_VERSIONS = {"AAI": 2, "AAM": 3, "AAE": 1}
_V1_TYPES = {"AAEK": "v1_key_exchange", "AAED": "data"}

NOTES = {
    "SpecExample": note("Functionality", "The string is given as an example in the specification."),
    "RealMessage": note(
        "Functionality", "Captured from a seeded engine-to-engine conversation (vectors/kinds/_capture.py)."
    ),
    "MentionsOtr": note(
        "EdgeCase",
        "Plaintext that contains '?OTR' without a marker the spec defines: it must be shown as it is "
        "(spec, 'Receiving plaintext without the whitespace tag'). libotr 4.1.1 answers 'unknown' "
        "(finding LIBOTR-004).",
    ),
    "Unterminated": note(
        "EdgeCase",
        "A query version string without its closing '?'. The spec's grammar needs the '?'; reading it as "
        "a query anyway is lenient (finding LIBOTR-005), so both readings are acceptable.",
    ),
    "SurroundingText": note("Functionality", "The marker is preceded or followed by other text."),
    "TagOrder": note(
        "EdgeCase",
        "Whitespace version tags in an order or repetition the spec does not foresee (v1 must come first).",
    ),
    "UnknownTag": note(
        "EdgeCase",
        "Eight bytes of spaces and tabs after the tag base that name no version: a receiver may stop "
        "reading the tag there or skip them.",
    ),
    "ErrorNoSpace": note(
        "EdgeCase",
        "'?OTR Error:' not followed by a space: still an Error Message (spec: 'Any message containing "
        "the string \"?OTR Error:\"'). libotr's receive path needs the space (finding LIBOTR-012).",
    ),
    "Truncated": note("ModifiedMessage", "A real message cut short (its base-64 re-encoded, with the '.')."),
    "TrailingBytes": note("ModifiedMessage", "A real message with bytes appended after its last field."),
    "NoTerminator": note("ModifiedMessage", "An encoded message without the closing '.'."),
    "BadBase64": note(
        "ModifiedMessage",
        "The body is not strict base-64: a character outside the alphabet, whitespace, wrong or "
        "missing padding (libotr's decoder skips or drops these, finding LIBOTR-006; potr 1.0.2 raises "
        "binascii.Error, finding POTR-001).",
    ),
    "DegenerateBase64": note(
        "CVE",
        "A body of padding only, '?OTR:===.': the input of CVE-2012-3461 (libotr before 3.2.1 allocated "
        "zero bytes and overflowed). It must be rejected or decode to nothing, never crash.",
    ),
    "LengthOverflow": note(
        "CVE",
        "A DATA or MPI length larger than the bytes that follow, up to 0xFFFFFFFF: the class of "
        "CVE-2016-2851 (libotr up to 4.1.0 wrapped malloc(len+1)). A length larger than the remaining "
        "buffer must be rejected.",
    ),
    "UnknownVersion": note("ModifiedMessage", "The protocol version is not 2 or 3."),
    "UnknownType": note("ModifiedMessage", "The message type byte is none of the five OTR v2/v3 types."),
    "FieldLength": note(
        "ModifiedMessage",
        "A field of fixed meaning with the wrong length (hashed gx not 32 bytes, r not 16).",
    ),
    "VersionOne": note(
        "EdgeCase",
        "An OTR version 1 message. The lab speaks v2 and v3 only: rejecting it as unsupported and "
        "classifying it as the v1 message it is are both acceptable.",
    ),
    "Padded": note(
        "Functionality", "A fragment with k and n zero-padded to five digits and 8-digit tags (libotr)."
    ),
    "Unpadded": note("Functionality", "A fragment with k, n and the tags written without zero padding."),
    "FragmentSyntax": note(
        "ModifiedMessage", "A fragment that does not follow the printf format of the spec."
    ),
    "IllegalKN": note("ModifiedMessage", "k == 0, n == 0 or k > n: 'discard this (illegal) fragment'."),
    "PrefixClassifier": note(
        "Classifier",
        "prefix_answers lists what an implementation that classifies by the message's first base-64 "
        "characters, without decoding it (libotr), may answer instead of 'malformed'.",
    ),
    "Reassembly": note(
        "Classifier",
        "reassembly_answers lists what an implementation whose parser reassembles fragments before it "
        "classifies (every one but the engine) may answer instead of 'fragment'.",
    ),
}


# ------------------------------------------------------------------ helpers


def tag(*versions: int) -> str:
    return TAG + "".join(TAG_V[v] for v in versions)


def encode(raw: bytes) -> str:
    return "?OTR:" + _otrbin.b64encode(raw) + "."


def body(wire: str) -> bytes:
    return _otrbin.b64decode(wire[5 : wire.index(".", 5)])


def best(offered: list[int] | None, speaks: frozenset[int] = OURS) -> int:
    return max(set(offered or ()) & OURS & speaks, default=0)


def prefix_classification(wire: str) -> tuple[str, int]:
    """What a prefix classifier answers: the type and version the first base-64 characters spell."""
    at = wire.find("?OTR:")
    text = wire[at + 5 : at + 9]
    version = _PREFIX_VERSIONS.get(text[:3], 0)
    if version == 1:
        return _V1_TYPES.get(text, "unknown"), 1
    if version and len(text) == 4 and text[3] in _PREFIX_TYPES:
        return _PREFIX_TYPES[text[3]], version
    return "unknown", version


def unencoded(
    text: str,
    message_type: str,
    query_offered: list[int] | None = None,
    tag_offered: list[int] | None = None,
    stripped: str | None = None,
    compare_query: bool = True,
    compare_whitespace: bool = True,
) -> dict[str, Any]:
    expected: dict[str, Any] = {"message_type": message_type, "message_version": 0}
    if compare_query:
        expected["query_offered"] = query_offered
        expected["query_version"] = best(query_offered)
    if compare_whitespace:
        expected["tag_offered"] = tag_offered
        expected["whitespace_version"] = {
            "version": best(tag_offered),
            "stripped": stripped if tag_offered is not None else None,
        }
    return {"input": text, "expected": expected}


# ------------------------------------------------------------ the groups


def _plaintext() -> Group:
    g = Group(1, 100, {"type": "plaintext", "source": "hand-written from the spec, 'Unencoded messages'"})
    for comment, text in [
        ("ordinary text", "hello"),
        ("empty message", ""),
        ("non-ASCII text", "caf\u00e9 \u2615 na\u00efve \U0001f600"),
        ("HTML markup", "<b>bold</b> &amp; <i>italic</i>"),
        ("several lines", "line one\nline two\n"),
        ("the word OTR without the marker", "OTR is great, OTR? yes"),
        ("lower-case marker is not a marker", "?otrv2?"),
        ("a long message", "lorem ipsum " * 400),
        ("spaces and tabs that are not a whitespace tag", "a \t  \t\t\t\t \t \t \t \t b"),
        ("the tag base with one byte changed", "x" + TAG[:-1] + "\t" + TAG_V[2]),
        ("a query marker split by a space", "? OTRv2?"),
    ]:
        g.add(comment, "valid", **unencoded(text, "plaintext"))
    for comment, text in [
        ("the bare marker", "?OTR"),
        ("the marker inside a sentence", "Do you use ?OTR at all?"),
        ("marker and comma, like a broken v2 fragment", "a ?OTR, b"),
        ("a space after the marker", "?OTR v2?"),
        ("upper-case V", "?OTRV2?"),
        ("lower-case error marker", "?OTR error: something"),
        ("error marker without the colon", "?OTR Error something"),
        ("marker followed by an unknown character", "?OTRx"),
        ("marker at the end of the text", "it is called ?OTR"),
        ("marker followed by a bar but not at the start", "pipe: ?OTR|x"),
    ]:
        g.add(comment, "valid", ["MentionsOtr"], **unencoded(text, "plaintext"))
    return g


def _tagged() -> Group:
    g = Group(101, 100, {"type": "tagged_plaintext", "source": "spec, 'Tagged plaintext messages'"})
    combos: list[tuple[int, ...]] = [(2,), (3,), (2, 3), (3, 2), (1,), (1, 2), (1, 3), (1, 2, 3)]
    for versions in combos:
        label = "+".join(f"v{v}" for v in versions)
        g.add(
            f"text then the tag offering {label}",
            "valid",
            **unencoded(
                "hello" + tag(*versions), "tagged_plaintext", tag_offered=sorted(versions), stripped="hello"
            ),
        )
    g.add(
        "the tag base alone, no version tag (offers nothing)",
        "valid",
        **unencoded("hello" + TAG, "tagged_plaintext", tag_offered=[], stripped="hello"),
    )
    g.add(
        "the tag at the start",
        "valid",
        **unencoded(tag(2, 3) + "hello", "tagged_plaintext", tag_offered=[2, 3], stripped="hello"),
    )
    g.add(
        "the tag in the middle of the text",
        "valid",
        **unencoded("hel" + tag(3) + "lo there", "tagged_plaintext", tag_offered=[3], stripped="hello there"),
    )
    g.add(
        "the tag alone: the remaining text is empty",
        "valid",
        **unencoded(tag(2, 3), "tagged_plaintext", tag_offered=[2, 3], stripped=""),
    )
    g.add(
        "text, tag, text with spaces after",
        "valid",
        **unencoded("hi " + tag(2) + "   ", "tagged_plaintext", tag_offered=[2], stripped="hi    "),
    )
    g.add(
        "the tag inside HTML",
        "valid",
        **unencoded(
            "<p>hi" + tag(2, 3) + "</p>", "tagged_plaintext", tag_offered=[2, 3], stripped="<p>hi</p>"
        ),
    )
    g.add(
        "non-ASCII text around the tag",
        "valid",
        **unencoded(
            "\u00e9t\u00e9" + tag(3) + "\u2615",
            "tagged_plaintext",
            tag_offered=[3],
            stripped="\u00e9t\u00e9\u2615",
        ),
    )
    g.add(
        "a version tag cut short stays in the text",
        "valid",
        **unencoded(TAG + TAG_V[2][:4], "tagged_plaintext", tag_offered=[], stripped=TAG_V[2][:4]),
    )
    g.add(
        "two tags: only the first counts and only it is stripped",
        "valid",
        **unencoded("a" + tag(2) + "b" + tag(3), "tagged_plaintext", tag_offered=[2], stripped="ab" + tag(3)),
    )
    g.add(
        "a tag with v3 then plain text that starts with a space",
        "valid",
        **unencoded("x" + tag(3) + " y", "tagged_plaintext", tag_offered=[3], stripped="x y"),
    )
    fields = unencoded("a" + tag(2, 1), "tagged_plaintext", tag_offered=[1, 2], stripped="a")
    fields["lenient_answers"] = {"whitespace": [{"tag_offered": [2], "stripped": "a" + TAG_V[1]}]}
    g.add("v1 after v2 (the spec says v1 comes first)", "acceptable", ["TagOrder"], **fields)
    g.add(
        "the same version twice",
        "valid",
        ["TagOrder"],
        **unencoded("a" + tag(2, 2), "tagged_plaintext", tag_offered=[2], stripped="a"),
    )
    fields = unencoded(
        "a" + TAG + TAG_V[2] + UNKNOWN_TAG + TAG_V[3],
        "tagged_plaintext",
        tag_offered=[2],
        stripped="a" + UNKNOWN_TAG + TAG_V[3],
    )
    fields["lenient_answers"] = {"whitespace": [{"tag_offered": [2, 3], "stripped": "a"}]}
    g.add("an unknown version tag between v2 and v3", "acceptable", ["UnknownTag"], **fields)
    fields = unencoded(
        "a" + TAG + UNKNOWN_TAG + TAG_V[3],
        "tagged_plaintext",
        tag_offered=[],
        stripped="a" + UNKNOWN_TAG + TAG_V[3],
    )
    fields["lenient_answers"] = {"whitespace": [{"tag_offered": [3], "stripped": "a"}]}
    g.add("an unknown version tag before v3", "acceptable", ["UnknownTag"], **fields)
    g.add(
        "a tag offering only v1 (no version the lab speaks)",
        "valid",
        **unencoded(tag(1), "tagged_plaintext", tag_offered=[1], stripped=""),
    )
    return g


def _query() -> Group:
    g = Group(201, 100, {"type": "query", "source": "spec, 'OTR Query Messages' (every example string)"})
    spec_examples = [
        ("?OTR?", [1], "version 1 only"),
        ("?OTRv2?", [2], "version 2 only"),
        ("?OTRv23?", [2, 3], "versions 2 and 3"),
        ("?OTR?v2?", [1, 2], "versions 1 and 2"),
        ("?OTRv24x?", [2], "version 2 and hypothetical future versions 4 and x"),
        ("?OTR?v24x?", [1, 2], "versions 1, 2 and hypothetical future versions"),
        ("?OTR?v?", [1], "also version 1 only"),
        ("?OTRv?", [], "a bizarre claim: no version at all"),
    ]
    for text, offered, what in spec_examples:
        g.add(
            f"spec example: {what}",
            "valid",
            ["SpecExample"],
            **unencoded(text, "query", query_offered=offered),
        )
    for comment, text, offered in [
        ("version 3 only", "?OTRv3?", [3]),
        ("identifiers in another order", "?OTRv32?", [2, 3]),
        ("version 1 and version 3", "?OTR?v3?", [1, 3]),
        ("a future version only", "?OTRv4?", []),
        ("'1' inside the v-string (v1 is spelled with '?')", "?OTRv1?", [1]),
        ("an identifier listed twice", "?OTRv233?", [2, 3]),
        ("an empty v-string after v1", "?OTR?v?", [1]),
    ]:
        g.add(comment, "valid", **unencoded(text, "query", query_offered=offered))
    for comment, text, offered in [
        ("text after the query", "?OTRv2? Let's talk privately", [2]),
        ("text before the query", "Alice says ?OTRv23? to you", [2, 3]),
        ("the query hidden in an HTML attribute", '<span title="?OTRv3?">hi</span>', [3]),
        ("the engine's own Query Message (captured)", _capture.conversation(3)[0].wire, [2, 3]),
        (
            "libotr's default query text",
            '?OTRv23?\n<b>alice</b> has requested an <a href="https://otr.cypherpunks.ca/">Off-the-Record '
            "private conversation</a>.  However, you do not have a plugin to support that.\nSee "
            "https://otr.cypherpunks.ca/ for more information.",
            [2, 3],
        ),
        ("a query, then an error marker", "?OTRv3? ?OTR Error: ignored", [3]),
        ("a query followed by a whitespace tag (the query decides)", "?OTRv2?" + tag(3), [2]),
    ]:
        flags = ["SurroundingText"]
        fields = unencoded(text, "query", query_offered=offered, compare_whitespace=False)
        g.add(comment, "valid", flags, **fields)
    fields = unencoded("?OTRv2? or ?OTRv3?", "query", query_offered=[2], compare_whitespace=False)
    fields["lenient_answers"] = {"query_offered": [[2, 3], [3]]}
    g.add(
        "two queries: the first one decides (the spec does not say)",
        "acceptable",
        ["SurroundingText"],
        **fields,
    )
    for comment, text, strict_type, strict_offered, lenient_offered in [
        ("unterminated v-string followed by text", "?OTRv2 rocks", "plaintext", None, [2]),
        ("unterminated v-string at the end", "?OTRv23", "plaintext", None, [2, 3]),
        ("the bare 'v' at the end", "?OTRv", "plaintext", None, []),
        ("v1, then an unterminated v-string", "?OTR?v2", "query", [1], [1, 2]),
    ]:
        fields = unencoded(text, strict_type, query_offered=strict_offered)
        other = "query" if strict_type == "plaintext" else "plaintext"
        fields["lenient_answers"] = {
            "message_type": [other] if strict_type == "plaintext" else [],
            "query_offered": [lenient_offered],
        }
        if not fields["lenient_answers"]["message_type"]:
            del fields["lenient_answers"]["message_type"]
        g.add(comment, "acceptable", ["Unterminated"], **fields)
    return g


def _error() -> Group:
    g = Group(301, 100, {"type": "error", "source": "spec, 'OTR Error Messages'"})
    for comment, text, flags in [
        ("error with a space after the colon", "?OTR Error: it broke", []),
        ("error without a space after the colon", "?OTR Error:it broke", ["ErrorNoSpace"]),
        ("error with no text", "?OTR Error:", ["ErrorNoSpace"]),
        ("text before the marker", "oops ?OTR Error: it broke", ["SurroundingText"]),
        (
            "libotr's unreadable-message error",
            "?OTR Error: You transmitted an unreadable encrypted message.",
            [],
        ),
        ("several lines", "?OTR Error: line one\nline two", []),
        ("non-ASCII detail", "?OTR Error: \u00e9chec \u2615", []),
        ("an error that quotes a query", "?OTR Error: ?OTRv3?", []),
        ("an error that quotes an encoded message", "?OTR Error: ?OTR:AAMC.", []),
        ("an error that quotes a fragment", "?OTR Error:?OTR,1,2,x,", ["ErrorNoSpace"]),
    ]:
        g.add(
            comment, "valid", flags, **unencoded(text, "error", compare_query=False, compare_whitespace=False)
        )
    return g


def _encoded_expected(wire: str, decoded: _otrbin.Decoded) -> dict[str, Any]:
    assert decoded.fields is not None and decoded.message_type is not None, decoded
    return {
        "input": wire,
        "expected": {
            "message_type": decoded.message_type,
            "message_version": decoded.version,
            "fields": decoded.fields,
        },
    }


def _encoded(version: int, first_id: int) -> Group:
    g = Group(
        first_id,
        100,
        {
            "type": "encoded",
            "protocol_version": version,
            "source": f"a seeded engine-to-engine v{version} conversation: AKE, texts, SMP, end",
        },
    )
    for sent in _capture.encoded(version):
        decoded = _otrbin.decode(sent.wire)
        what = decoded.message_type
        g.add(
            f"{what} from {sent.sender} ({sent.label})",
            "valid",
            ["RealMessage"],
            **_encoded_expected(sent.wire, decoded),
        )
    commit, data = _capture.encoded(version)[0].wire, _capture.encoded(version)[4].wire
    for comment, wire in [
        ("D-H Commit with text after the '.' (not part of the message)", commit + " and more"),
        ("Data Message with text after the '.'", data + "\nsecond line"),
        ("D-H Commit with text before the marker", "hey " + commit),
        ("Data Message with HTML around it", "<p>" + data + "</p>"),
    ]:
        fields = _encoded_expected(wire, _otrbin.decode(wire[wire.index("?OTR:") :]))
        g.add(comment, "valid", ["RealMessage", "SurroundingText"], **fields)
    if version == 3:
        fields = _encoded_expected(SPEC_DATA_MESSAGE, _otrbin.decode(SPEC_DATA_MESSAGE))
        g.add("the Data Message of the spec's fragmentation example", "valid", ["SpecExample"], **fields)
    return g


SPEC_DATA_MESSAGE = (
    "?OTR:AAMDJ+MVmSfjFZcAAAAAAQAAAAIAAADA1g5IjD1ZGLDVQEyCgCyn9hbrL3KAbGDdzE2ZkMyTKl7XfkSxh8YJnudstiB74i4B"
    "zT0W2haClg6dMary/jo9sMudwmUdlnKpIGEKXWdvJKT+hQ26h9nzMgEditLB8vjPEWAJ6gBXvZrY6ZQrx3gb4v0UaSMOMiR5sB7E"
    "aulb2Yc6RmRnnlxgUUC2alosg4WIeFN951PLjScajVba6dqlDi+q1H5tPvI5SWMN7PCBWIJ41+WvF+5IAZzQZYgNaVLbAAAAAAAA"
    "AAEAAAAHwNiIi5Ms+4PsY/L2ipkTtquknfx6HodLvk3RAAAAAA==."
)
"""The spec's example Data Message ("Fragmentation"), line breaks removed."""

SPEC_FRAGMENTS = (
    "?OTR|5a73a599|27e31597,00001,00003,?OTR:AAMDJ+MVmSfjFZcAAAAAAQAAAAIAAADA1g5IjD1ZGLDVQEyCgCyn9hbrL3KAb"
    "GDdzE2ZkMyTKl7XfkSxh8YJnudstiB74i4BzT0W2haClg6dMary/jo9sMudwmUdlnKpIGEKXWdvJKT+hQ26h9nzMgEditLB8v,",
    "?OTR|5a73a599|27e31597,00002,00003,jPEWAJ6gBXvZrY6ZQrx3gb4v0UaSMOMiR5sB7Eaulb2Yc6RmRnnlxgUUC2alosg4W"
    "IeFN951PLjScajVba6dqlDi+q1H5tPvI5SWMN7PCBWIJ41+WvF+5IAZzQZYgNaVLbAAAAAAAAAAEAAAAHwNiIi5Ms+4PsY/L2i,",
    "?OTR|5a73a599|27e31597,00003,00003,pkTtquknfx6HodLvk3RAAAAAA==.,",
)
"""The spec's three example fragments of :data:`SPEC_DATA_MESSAGE`, line breaks removed.

Their sender tag (0x5a73a599) is not the one inside the message (0x27e31599): a slip in
the spec's example, harmless for reassembly, which does not look inside the pieces.
"""


# -------------------------------------------------------------- fragments


def fragment_fields(wire: str) -> dict[str, Any] | None:
    """The spec's printf format as a regular expression (independent of the engine's parser)."""
    match = _FRAGMENT.match(wire)
    if match is None:
        return None
    sender, receiver, k, n, piece = match.groups()
    return {
        "version": 3 if sender is not None else 2,
        "sender_instance_tag": int(sender, 16) if sender else 0,
        "receiver_instance_tag": int(receiver, 16) if receiver else 0,
        "k": int(k),
        "n": int(n),
        "piece": piece,
    }


def unpad(wire: str) -> str:
    f = fragment_fields(wire)
    assert f is not None
    if f["version"] == 3:
        tags = f"{f['sender_instance_tag']:x}|{f['receiver_instance_tag']:x}"
        return f"?OTR|{tags},{f['k']},{f['n']},{f['piece']},"
    return f"?OTR,{f['k']},{f['n']},{f['piece']},"


def _fragment_case(wire: str) -> dict[str, Any]:
    fields = fragment_fields(wire)
    assert fields is not None and 1 <= fields["k"] <= fields["n"] <= 0xFFFF, wire
    answers = ["unknown"]
    if fields["k"] == fields["n"] == 1 and fields["piece"].startswith("?OTR:"):
        answers.append(prefix_classification(fields["piece"])[0])
    return {
        "input": wire,
        "expected": {"message_type": "fragment", "message_version": 0, "fields": fields},
        "reassembly_answers": {"message_type": answers},
    }


def _bad_fragment(wire: str, reason: str) -> dict[str, Any]:
    assert reason in FRAGMENT_REASONS
    return {
        "input": wire,
        "expected": {"message_type": "fragment", "message_version": 0, "reason": reason},
        "reassembly_answers": {"message_type": ["unknown"]},
    }


def _fragments(version: int, first_id: int) -> Group:
    g = Group(
        first_id,
        100,
        {
            "type": "fragment",
            "protocol_version": version,
            "source": f"the v{version} conversation with a maximum message size of 200 (padded, as the "
            "engine and libotr write them), rewritten without padding, and hand-made damage",
        },
    )
    pieces = [s.wire for s in _capture.conversation(version, 200) if s.wire.startswith(("?OTR|", "?OTR,"))]
    chosen = pieces[:3] + pieces[-2:]
    for wire in chosen:
        f = fragment_fields(wire)
        assert f is not None
        g.add(
            f"fragment {f['k']} of {f['n']}, padded",
            "valid",
            ["RealMessage", "Padded", "Reassembly"],
            **_fragment_case(wire),
        )
        g.add(
            f"fragment {f['k']} of {f['n']}, unpadded",
            "valid",
            ["RealMessage", "Unpadded", "Reassembly"],
            **_fragment_case(unpad(wire)),
        )
    whole = _capture.encoded(version)[1].wire  # a D-H Key fits in one fragment
    head = "?OTR|101|100," if version == 3 else "?OTR,"
    g.add(
        "a message in a single fragment (k = n = 1)",
        "valid",
        ["Reassembly"],
        **_fragment_case(f"{head}1,1,{whole},"),
    )
    g.add(
        "k = n = 65535, the largest", "valid", ["Reassembly"], **_fragment_case(f"{head}65535,65535,piece,")
    )
    g.add(
        "leading zeros beyond five digits",
        "valid",
        ["Reassembly"],
        **_fragment_case(f"{head}0000001,0000002,piece,"),
    )
    if version == 3:
        g.add(
            "upper-case hex instance tags",
            "valid",
            ["Reassembly"],
            **_fragment_case("?OTR|ABCDEF01|0000FFFF,1,2,piece,"),
        )
        g.add(
            "receiver instance tag 0 (a fragmented D-H Commit)",
            "valid",
            ["Reassembly"],
            **_fragment_case("?OTR|100|0,1,2,piece,"),
        )
        for i, wire in enumerate(SPEC_FRAGMENTS, 1):
            g.add(
                f"spec example fragment {i} of 3",
                "valid",
                ["SpecExample", "Padded", "Reassembly"],
                **_fragment_case(wire),
            )
    bad = [
        ("k = 0", f"{head}0,2,piece,", "fragment_illegal_k_n", ["IllegalKN"]),
        ("n = 0", f"{head}1,0,piece,", "fragment_illegal_k_n", ["IllegalKN"]),
        ("k > n", f"{head}3,2,piece,", "fragment_illegal_k_n", ["IllegalKN"]),
        ("an empty piece", f"{head}1,2,,", "fragment_empty_piece", ["FragmentSyntax"]),
        ("no trailing comma", f"{head}1,2,piece", "fragment_syntax", ["FragmentSyntax"]),
        ("text after the trailing comma", f"{head}1,2,piece,more", "fragment_syntax", ["FragmentSyntax"]),
        ("a comma inside the piece", f"{head}1,2,pie,ce,", "fragment_syntax", ["FragmentSyntax"]),
        ("k above 65535", f"{head}65536,65536,piece,", "fragment_number", ["FragmentSyntax"]),
        ("n above 65535", f"{head}1,70000,piece,", "fragment_number", ["FragmentSyntax"]),
        ("a sign before k", f"{head}+1,2,piece,", "fragment_number", ["FragmentSyntax"]),
        ("a space before k", f"{head} 1,2,piece,", "fragment_number", ["FragmentSyntax"]),
        ("k in hex", f"{head}0x1,2,piece,", "fragment_number", ["FragmentSyntax"]),
        ("k and n missing", f"{head}piece,", "fragment_syntax", ["FragmentSyntax"]),
    ]
    if version == 3:
        bad += [
            (
                "a nine-digit instance tag",
                "?OTR|100000000|101,1,2,piece,",
                "fragment_tag",
                ["FragmentSyntax"],
            ),
            (
                "an instance tag that is not hex",
                "?OTR|xyz|101,1,2,piece,",
                "fragment_tag",
                ["FragmentSyntax"],
            ),
            ("an empty sender instance tag", "?OTR||101,1,2,piece,", "fragment_tag", ["FragmentSyntax"]),
            (
                "no '|' between the instance tags",
                "?OTR|100,1,2,piece,",
                "fragment_syntax",
                ["FragmentSyntax"],
            ),
            (
                "a 0x prefix on an instance tag",
                "?OTR|0x100|101,1,2,piece,",
                "fragment_tag",
                ["FragmentSyntax"],
            ),
            ("the bare v3 fragment marker", "?OTR|", "fragment_syntax", ["FragmentSyntax"]),
        ]
    else:
        bad += [("the bare v2 fragment marker", "?OTR,", "fragment_syntax", ["FragmentSyntax"])]
    for comment, wire, reason, flags in bad:
        g.add(comment, "invalid", [*flags, "Reassembly"], **_bad_fragment(wire, reason))
    fields = {
        "input": f"see {head}1,2,piece,",
        "expected": {"message_type": "plaintext", "message_version": 0},
        "lenient_answers": {"message_type": ["fragment"]},
        "reassembly_answers": {"message_type": ["unknown"]},
    }
    g.add(
        "text before a fragment (the spec says 'containing'; the printf format says otherwise)",
        "acceptable",
        ["SurroundingText", "Reassembly"],
        **fields,
    )
    return g


# -------------------------------------------------------------- malformed


def _malformed_case(wire: str, reason: str, lenient: dict[str, list[Any]] | None = None) -> dict[str, Any]:
    at = wire.find("?OTR:")
    decoded = _otrbin.decode(wire[at:])
    assert decoded.reason == reason, (wire[:40], decoded, reason)
    mtype, version = prefix_classification(wire)
    classifier: dict[str, list[Any]] = {}
    answers = sorted({mtype, "unknown"})
    classifier["message_type"] = answers
    if version != decoded.version:
        classifier["message_version"] = [version]
    case: dict[str, Any] = {
        "input": wire,
        "expected": {"message_type": "malformed", "message_version": decoded.version, "reason": reason},
        "prefix_answers": classifier,
    }
    if lenient:
        case["lenient_answers"] = lenient
    return case


def _header_length(version: int) -> int:
    return 3 if version == 2 else 11


def _first_length_offset(kind: str, version: int) -> int:
    """Where the first DATA/MPI length of a message of ``kind`` starts."""
    return _header_length(version) + (9 if kind == "data" else 0)


def _set_length(raw: bytes, offset: int, value: int) -> bytes:
    return raw[:offset] + value.to_bytes(4, "big") + raw[offset + 4 :]


def _malformed(version: int, first_id: int) -> Group:
    g = Group(
        first_id,
        200,
        {
            "type": "malformed",
            "protocol_version": version,
            "source": f"real v{version} messages of the seeded conversation, damaged one way each",
        },
    )
    messages = _capture.encoded(version)
    by_kind: dict[str, str] = {}
    for sent in messages:
        decoded = _otrbin.decode(sent.wire)
        assert decoded.message_type is not None
        by_kind.setdefault(decoded.message_type, sent.wire)

    def add(comment: str, wire: str, flags: list[str], lenient: dict[str, list[Any]] | None = None) -> None:
        reason = _otrbin.decode(wire[wire.find("?OTR:") :]).reason
        assert reason is not None, (comment, wire[:40])
        result = "acceptable" if lenient else "invalid"
        g.add(comment, result, [*flags, "PrefixClassifier"], **_malformed_case(wire, reason, lenient))

    hdr = _header_length(version)
    for kind, wire in by_kind.items():
        raw = body(wire)
        add(f"{kind}: the header only", encode(raw[:hdr]), ["Truncated"])
        add(f"{kind}: the header and one byte", encode(raw[: hdr + 1]), ["Truncated"])
        add(f"{kind}: cut in the middle", encode(raw[: len(raw) // 2]), ["Truncated"])
        add(f"{kind}: the last byte missing", encode(raw[:-1]), ["Truncated"])
        add(f"{kind}: no closing '.'", wire[:-1], ["NoTerminator"])
        add(f"{kind}: one byte appended", encode(raw + b"\0"), ["TrailingBytes"])
        add(f"{kind}: four bytes appended", encode(raw + b"\xde\xad\xbe\xef"), ["TrailingBytes"])
        at = _first_length_offset(kind, version)
        add(
            f"{kind}: the first DATA/MPI length is 0xFFFFFFFF",
            encode(_set_length(raw, at, 0xFFFFFFFF)),
            ["LengthOverflow"],
        )
        add(
            f"{kind}: the first DATA/MPI length is 0x80000000",
            encode(_set_length(raw, at, 0x80000000)),
            ["LengthOverflow"],
        )
        length = int.from_bytes(raw[at : at + 4], "big")
        add(
            f"{kind}: the first DATA/MPI length one too large",
            encode(_set_length(raw, at, length + 1)),
            ["LengthOverflow"],
        )
        b64 = wire[5:-1]
        mid = len(b64) // 2
        add(f"{kind}: a '!' in the base-64", f"?OTR:{b64[:mid]}!{b64[mid + 1 :]}.", ["BadBase64"])
        add(f"{kind}: a space in the base-64", f"?OTR:{b64[:mid]} {b64[mid:]}.", ["BadBase64"])
        add(f"{kind}: one base-64 character missing", f"?OTR:{b64[:mid]}{b64[mid + 1 :]}.", ["BadBase64"])
        if "+" in b64 or "/" in b64:
            urlsafe = "?OTR:" + b64.replace("+", "-").replace("/", "_") + "."
            add(f"{kind}: the URL-safe base-64 alphabet", urlsafe, ["BadBase64"])

    raw = body(by_kind["data"])
    at = _first_length_offset("data", version)
    next_dh_len = int.from_bytes(raw[at : at + 4], "big")
    enc_at = at + 4 + next_dh_len + 8
    add(
        "data: the encrypted message DATA length is 0xFFFFFFFF (the field of CVE-2016-2851)",
        encode(_set_length(raw, enc_at, 0xFFFFFFFF)),
        ["LengthOverflow"],
    )
    enc_len = int.from_bytes(raw[enc_at : enc_at + 4], "big")
    old_at = enc_at + 4 + enc_len + 20
    add(
        "data: the old MAC keys DATA length is 0xFFFFFFFF",
        encode(_set_length(raw, old_at, 0xFFFFFFFF)),
        ["LengthOverflow"],
    )
    add("data: the old MAC keys DATA length field cut", encode(raw[: old_at + 2]), ["Truncated"])
    add("data: the CTR cut", encode(raw[: enc_at - 4]), ["Truncated"])

    commit = body(by_kind["dh_commit"])
    enc_gx_len = int.from_bytes(commit[hdr : hdr + 4], "big")
    hash_at = hdr + 4 + enc_gx_len
    add(
        "dh_commit: hashed gx of 31 bytes",
        encode(commit[:hash_at] + (31).to_bytes(4, "big") + commit[hash_at + 4 : hash_at + 4 + 31]),
        ["FieldLength"],
    )
    add(
        "dh_commit: hashed gx of 33 bytes",
        encode(commit[:hash_at] + (33).to_bytes(4, "big") + commit[hash_at + 4 :] + b"\0"),
        ["FieldLength"],
    )
    reveal = body(by_kind["reveal_signature"])
    add(
        "reveal_signature: revealed key of 15 bytes",
        encode(
            reveal[:hdr] + (15).to_bytes(4, "big") + reveal[hdr + 4 : hdr + 4 + 15] + reveal[hdr + 4 + 16 :]
        ),
        ["FieldLength"],
    )
    add(
        "reveal_signature: revealed key of 17 bytes",
        encode(
            reveal[:hdr]
            + (17).to_bytes(4, "big")
            + reveal[hdr + 4 : hdr + 4 + 16]
            + b"\0"
            + reveal[hdr + 4 + 16 :]
        ),
        ["FieldLength"],
    )
    signature = body(by_kind["signature"])
    add("signature: the MAC cut to 19 bytes", encode(signature[:-1]), ["Truncated"])
    for type_byte in (0x00, 0x01, 0x04, 0x13, 0xFF):
        damaged = raw[:2] + bytes([type_byte]) + raw[3:]
        add(f"unknown message type {type_byte:#04x}", encode(damaged), ["UnknownType"])
    for other in (0, 4, 0x0103, 0xFFFF):
        damaged = other.to_bytes(2, "big") + raw[2:]
        add(f"protocol version {other:#x}", encode(damaged), ["UnknownVersion"])
    if version == 3:
        add("the sender instance tag cut", encode(raw[:5]), ["Truncated"])
        add("the receiver instance tag cut", encode(raw[:9]), ["Truncated"])
    else:
        add("the message type missing", encode(raw[:2]), ["Truncated"])
    return g


def _malformed_any() -> Group:
    g = Group(1201, 100, {"type": "malformed", "source": "hand-written degenerate encoded messages"})

    def add(comment: str, wire: str, flags: list[str], lenient: dict[str, list[Any]] | None = None) -> None:
        reason = _otrbin.decode(wire[wire.find("?OTR:") :]).reason
        assert reason is not None, wire
        g.add(
            comment,
            "acceptable" if lenient else "invalid",
            [*flags, "PrefixClassifier"],
            **_malformed_case(wire, reason, lenient),
        )

    add("padding only (CVE-2012-3461)", "?OTR:===.", ["DegenerateBase64"])
    add("one padding character", "?OTR:=.", ["DegenerateBase64"])
    add("four padding characters", "?OTR:====.", ["DegenerateBase64"])
    add("an empty body", "?OTR:.", ["Truncated"])
    add("the marker alone", "?OTR:", ["NoTerminator"])
    add(
        "one character then junk, no '.' (POTR-001's shortest input)",
        "?OTR:A!!!",
        ["BadBase64", "NoTerminator"],
    )
    add("a v2 Data Message header and one stray character (POTR-001)", "?OTR:AAIDA.", ["BadBase64"])
    add(
        "a v2 Data Message cut in transit, no '.' (POTR-001)", "?OTR:AAIDAAAAAAEAAAABAAAAwA", ["NoTerminator"]
    )
    add("a v3 Data Message header then junk", "?OTR:AAMD!!!.", ["BadBase64"])
    add("one byte: the version cut", "?OTR:AA==.", ["Truncated"])
    add("two bytes: version 3, no type", "?OTR:AAM=.", ["Truncated"])
    add("version 3, type D-H Commit, nothing else", "?OTR:AAMC.", ["Truncated"])
    add("version 2, type D-H Key, nothing else", "?OTR:AAIK.", ["Truncated"])
    add("version 4", "?OTR:AAQC.", ["UnknownVersion"])
    add("type 0x17", "?OTR:AAMX.", ["UnknownType"])
    add(
        "a v1 Data Message header",
        "?OTR:AAED.",
        ["VersionOne"],
        {"message_type": ["data"]},
    )
    add(
        "a v1 Key Exchange header",
        "?OTR:AAEK.",
        ["VersionOne"],
        {"message_type": ["v1_key_exchange"]},
    )
    add("padding in the middle", "?OTR:AA==AAMC.", ["BadBase64"])
    add("a newline inside the base-64", "?OTR:AAMC\nAAAA.", ["BadBase64"])
    add("a non-ASCII character inside the base-64", "?OTR:AAM\u00c9.", ["BadBase64"])
    return g


def generate() -> dict[str, Any]:
    groups = [
        _plaintext(),
        _tagged(),
        _query(),
        _error(),
        _encoded(3, 401),
        _encoded(2, 501),
        _fragments(3, 601),
        _fragments(2, 701),
        _malformed(3, 801),
        _malformed(2, 1001),
        _malformed_any(),
    ]
    header = [
        "Classification of received strings by OTR v2/v3 receivers, in the shared x-parse vocabulary",
        "(docs/peer-protocol.md, 'Extension ops'). Generated by vectors.kinds.parse.generate().",
        "Equivalences (see the module docstring): exact; lenient_answers only when result is 'acceptable';",
        "prefix_answers only for implementations that classify by the first base-64 characters",
        "(libotr); reassembly_answers for those that reassemble fragments before classifying (all",
        "but the engine); query_version and whitespace_version are computed per",
        "implementation from query_offered / tag_offered and the versions it speaks.",
        "fields and reason come from vectors/kinds/_otrbin.py, a reader independent of the engine.",
    ]
    return document(KIND, "OTR-parse", header, NOTES, groups)


# ----------------------------------------------------------------- replay


def _engine_details(vector: Vector) -> str | None:
    """Compare the engine's own decoding with ``fields`` / ``reason``; a problem or None."""
    text: str = vector.test["input"]
    expected = vector.test["expected"]
    got: dict[str, Any]
    if expected["message_type"] == "fragment":
        parsed = parse_fragment(text)
        if isinstance(parsed, FragmentError):
            got = {"reason": _fragment_reason(parsed.reason)}
        else:
            got = {"fields": _fragment_dict(parsed)}
    elif "fields" in expected or "reason" in expected:
        message = _wire.parse(text)
        if isinstance(message, _wire.Malformed):
            got = {"reason": _encoded_reason(message.reason)}
        elif isinstance(
            message,
            _wire.DHCommit | _wire.DHKey | _wire.RevealSignature | _wire.Signature | _wire.DataMessage,
        ):
            got = {"fields": _message_dict(message)}
        else:
            got = {"classified": type(message).__name__}
    else:
        return None
    want = {key: expected[key] for key in ("fields", "reason") if key in expected}
    if got != want:
        return f"engine decoding {_short(got)}, expected {_short(want)}"
    return None


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) < 200 else text[:197] + "..."


_ENGINE_REASONS: list[tuple[str, str]] = [
    (r"no terminating '\.'", "no_terminator"),
    (r"^bad base64", "bad_base64"),
    (r"is empty$", "empty"),
    (r"^unsupported protocol version", "unsupported_version"),
    (r"^unknown message type", "unknown_type"),
    (r": needs \d+ bytes, \d+ remain$", "short_field"),
    (r": length \d+ exceeds the \d+ bytes remaining$", "length_exceeds_buffer"),
    (r"^(hashed gx|revealed key) is \d+ bytes", "field_length"),
    (r": \d+ trailing bytes$", "trailing_bytes"),
]
_ENGINE_FRAGMENT_REASONS: list[tuple[str, str]] = [
    (r"instance tag .* is not 1-8 hex digits", "fragment_tag"),
    (r"is not a decimal number|exceeds 65535", "fragment_number"),
    (r"^empty piece$", "fragment_empty_piece"),
    (r"^k 0 is illegal$|^n 0 is illegal$|^k \d+ exceeds n \d+$", "fragment_illegal_k_n"),
    (r"^no ','|^no '\|'|trailing comma|contains a comma|^not a fragment", "fragment_syntax"),
]


def _classify(text: str, table: list[tuple[str, str]]) -> str:
    for pattern, code in table:
        if re.search(pattern, text):
            return code
    return f"unmapped: {text}"


def _encoded_reason(text: str) -> str:
    return _classify(text, _ENGINE_REASONS)


def _fragment_reason(text: str) -> str:
    return _classify(text, _ENGINE_FRAGMENT_REASONS)


def _fragment_dict(f: Fragment) -> dict[str, Any]:
    return {
        "version": f.version,
        "sender_instance_tag": f.sender_tag,
        "receiver_instance_tag": f.receiver_tag,
        "k": f.k,
        "n": f.n,
        "piece": f.piece,
    }


def _message_dict(m: _wire.EncodedMessage) -> dict[str, Any]:
    h = m.header
    out: dict[str, Any] = {"version": h.version, "type": _TYPE_NAMES[h.type]}
    if h.version == 3:
        out["sender_instance_tag"] = h.sender_tag
        out["receiver_instance_tag"] = h.receiver_tag
    if isinstance(m, _wire.DHCommit):
        out.update(encrypted_gx=m.encrypted_gx.hex(), hashed_gx=m.hashed_gx.hex())
    elif isinstance(m, _wire.DHKey):
        out.update(gy=format(m.gy, "x"))
    elif isinstance(m, _wire.RevealSignature):
        out.update(
            revealed_key=m.revealed_key.hex(),
            encrypted_signature=m.encrypted_signature.hex(),
            mac=m.mac.hex(),
        )
    elif isinstance(m, _wire.Signature):
        out.update(encrypted_signature=m.encrypted_signature.hex(), mac=m.mac.hex())
    else:
        out.update(
            flags=m.flags,
            sender_keyid=m.sender_keyid,
            recipient_keyid=m.recipient_keyid,
            next_dh=format(m.next_dh, "x"),
            ctr=m.ctr.hex(),
            encrypted_message=m.encrypted_message.hex(),
            mac=m.mac.hex(),
            old_mac_keys=m.old_mac_keys.hex(),
        )
    return out


_TYPE_NAMES = {
    _wire.MessageType.DH_COMMIT: "dh_commit",
    _wire.MessageType.DH_KEY: "dh_key",
    _wire.MessageType.REVEAL_SIGNATURE: "reveal_signature",
    _wire.MessageType.SIGNATURE: "signature",
    _wire.MessageType.DATA: "data",
}


def _whitespace_answer(offer: dict[str, Any] | None, speaks: frozenset[int]) -> dict[str, Any]:
    if offer is None or offer.get("tag_offered") is None:
        return {"version": 0, "stripped": None}
    return {"version": best(offer["tag_offered"], speaks), "stripped": offer["stripped"]}


def replay(vector: Vector, target: Target) -> Verdict:
    skip = version_skip(target, vector.group.get("protocol_version"))
    if skip is not None:
        return skip
    speaks = target.protocol_versions or OURS
    return guarded(lambda: _replay(vector, target, speaks), f"{target.name} x-parse")


def _replay(vector: Vector, target: Target, speaks: frozenset[int]) -> Verdict:
    test = vector.test
    text: str = test["input"]
    expected: dict[str, Any] = test["expected"]
    lenient: dict[str, Any] = test.get("lenient_answers", {}) if vector.result == "acceptable" else {}
    classifier: dict[str, list[Any]] = {}
    applicable = [
        test.get("prefix_answers", {}) if target.name in PREFIX_CLASSIFIERS else {},
        test.get("reassembly_answers", {}) if target.name not in FRAGMENT_CLASSIFIERS else {},
    ]
    for answers in applicable:
        for entry, values in answers.items():
            classifier.setdefault(entry, []).extend(values)
    cmp = Comparison()

    def alternatives(entry: str) -> tuple[list[Any], str]:
        lenient_list = list(lenient.get(entry, []))
        classifier_list = list(classifier.get(entry, []))
        kind = "lenient" if lenient_list else "classifier"
        if lenient_list and classifier_list:
            kind = "lenient or classifier"
        return lenient_list + classifier_list, kind

    for entry in ("message_type", "message_version"):
        also, kind = alternatives(entry)
        cmp.ask(target, entry, text, expected[entry], also, kind)
    if "query_offered" in expected:
        offers = lenient.get("query_offered", [])
        cmp.ask(
            target,
            "query_version",
            text,
            best(expected["query_offered"], speaks),
            [best(o, speaks) for o in offers],
        )
    if "tag_offered" in expected:
        strict = _whitespace_answer(
            {"tag_offered": expected["tag_offered"], "stripped": expected["whitespace_version"]["stripped"]},
            speaks,
        )
        others = [_whitespace_answer(o, speaks) for o in lenient.get("whitespace", [])]
        cmp.ask(target, "whitespace_version", text, strict, others)
    verdict = cmp.verdict()
    if target.name == "engine" and isinstance(target.adapter, EngineAdapter) and verdict.status != "skipped":
        problem = _engine_details(vector)
        if problem is not None:
            detail = f"{verdict.detail}; {problem}" if verdict.status == "failed" else problem
            return type(verdict)("failed", detail, verdict.observed)
    return verdict
