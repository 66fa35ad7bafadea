"""The documented divergences, as rules the differential target applies to one input at a time.

``vectors/divergences/<impl>.toml`` lists, per vector, the disagreements
each finding explains; ``vectors/kinds/parse.py`` adds the equivalences
for implementations that classify differently by design (a prefix
classifier, a parser that reassembles fragments, v2 only).  A fuzzer's
input is no vector, so each of those explanations is written here as a
rule over (input, the engine's answer, the other answer).  :func:`explain`
names the first rule that covers a disagreement; one no rule covers is a
finding.

Each rule cites what documents it: a finding id that the implementation's
divergence file lists, or ``equivalence:<name>`` for the parse kind's
equivalences (``tests/fuzz/test_divergences.py`` checks both, and that
every disagreement of the committed vectors is explained by a rule citing
the same finding as the divergence file).

Invariant: a rule covers an answer only when the input has the property
its finding describes, never "any answer for this entry", so the target
still catches a new kind of disagreement.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from implementations.engine import _wire
from implementations.engine import parsers as engine_parsers
from vectors.kinds import parse

ENCODED_TYPES = ("dh_commit", "dh_key", "reveal_signature", "signature", "data")
_TAG_GROUP = re.compile(r"[ \t]{8}")


@dataclass(frozen=True)
class Case:
    """One disagreement: the input, the engine's answer and the other implementation's."""

    entry: str
    given: str
    reference: Any
    answer: Any

    @property
    def kind(self) -> str:
        """The engine's classification of the input (``message_type``)."""
        return engine_parsers.message_type(self.given) if self.entry != "tlv" else "tlv"

    @property
    def first_marker(self) -> str:
        """The input from its first ``?OTR`` on ('' without one)."""
        at = self.given.find("?OTR")
        return self.given[at:] if at >= 0 else ""


@dataclass(frozen=True)
class Rule:
    implementation: str
    cites: str
    """A finding id (listed in vectors/divergences/<implementation>.toml) or ``equivalence:<name>``."""
    entries: frozenset[str]
    holds: Callable[[Case], bool]
    reason: str


def _crash(answer: Any) -> str:
    return str(answer.get("x-crash", "")) if isinstance(answer, dict) else ""


def _unterminated_query(case: Case) -> bool:
    """``?OTRv…`` or ``?OTR?v…`` whose version string has no closing ``?``."""
    rest = case.first_marker[4:]
    rest = rest[1:] if rest.startswith("?") else rest
    return rest.startswith("v") and "?" not in rest[1:]


def _offered(given: str) -> frozenset[int]:
    message = _wire.parse(given)
    return message.versions if isinstance(message, _wire.QueryMessage) else frozenset()


def _tag_versions(given: str) -> frozenset[int]:
    message = _wire.parse(given)
    return message.tag_versions or frozenset() if isinstance(message, _wire.PlainText) else frozenset()


def _v2_only(versions: frozenset[int]) -> int:
    return 2 if 2 in versions else 0


def _unknown_tag_group(given: str) -> bool:
    """After the whitespace tag base, a group of 8 spaces and tabs that names no version."""
    at = given.find(_wire.TAG_BASE)
    if at < 0:
        return False
    pos = at + len(_wire.TAG_BASE)
    known = set(_wire.TAG_VERSIONS.values())
    while _TAG_GROUP.match(given, pos):
        if given[pos : pos + 8] not in known:
            return True
        pos += 8
    return False


def _piece(case: Case) -> str | None:
    """The piece of a one-piece fragment (``k == n == 1``): the whole message it carries."""
    from implementations.engine._fragments import Fragment, parse_fragment

    fragment = parse_fragment(case.given)
    if isinstance(fragment, Fragment) and fragment.k == fragment.n == 1:
        return fragment.piece
    return None


def _reassembled(implementation: str) -> Callable[[Case], bool]:
    """A fragment: stored (unknown), or, for a one-piece fragment, its piece read as a message (with the
    piece's own documented divergences)."""

    def holds(case: Case) -> bool:
        if case.kind != "fragment":
            return False
        if case.entry == "message_type" and case.answer == "unknown":
            return True
        piece = _piece(case)
        if piece is None or piece.startswith(("?OTR,", "?OTR|")):
            return False
        reference = engine_parsers.parse(case.entry, piece)
        return (
            case.answer == reference
            or explain(implementation, case.entry, piece, reference, case.answer) is not None
        )

    return holds


def _potr_whitespace_v2(case: Case) -> bool:
    answer = case.answer
    return isinstance(answer, dict) and answer.get("version") == _v2_only(_tag_versions(case.given))


def _potr_tag_reading(given: str) -> dict[str, Any]:
    """potr's ``TaggedPlaintext.parse``: the text before the base, and a version tag found in any
    8-byte block from the base to the end."""
    raw = given.encode("utf-8")
    at = raw.find(_wire.TAG_BASE.encode())
    if at < 0:
        return {"version": 0, "stripped": None}
    blocks = {raw[i : i + 8] for i in range(at, len(raw), 8)}
    version = 2 if _wire.TAG_VERSIONS[2].encode() in blocks else 0
    return {"version": version, "stripped": raw[:at].decode("utf-8", "replace")}


def _fragment_problem(case: Case) -> str | None:
    """Why the engine refuses the fragment at the first marker: None (well-formed), "k/n" (illegal k
    or n), or "syntax"."""
    from implementations.engine._fragments import FragmentError, parse_fragment

    fragment = parse_fragment(case.first_marker)
    if not isinstance(fragment, FragmentError):
        return None
    return "k/n" if re.match(r"^[kn] \d+ (is illegal|exceeds n)", fragment.reason) else "syntax"


def _first_fragment(case: Case) -> bool:
    """The first marker starts a well-formed first fragment (k == 1), which a receiver stores."""
    from implementations.engine._fragments import Fragment, parse_fragment

    fragment = parse_fragment(case.first_marker)
    return isinstance(fragment, Fragment) and fragment.k == 1


def _surrounded(implementation: str) -> Callable[[Case], bool]:
    """Text before a fragment, and the answer is what the fragment alone would get."""

    def holds(case: Case) -> bool:
        marker = case.first_marker
        plain = case.kind in ("plaintext", "tagged_plaintext")
        if not plain or not marker.startswith(("?OTR,", "?OTR|")) or marker == case.given:
            return False
        alone = Case(case.entry, marker, engine_parsers.parse(case.entry, marker), case.answer)
        return alone.answer == alone.reference or _reassembled(implementation)(alone)

    return holds


def _encoded_version(case: Case) -> int:
    """The protocol version the first encoded message states (0 if none can be read)."""
    message = _wire.parse(case.given)
    if isinstance(message, _wire.Malformed):
        return message.version or parse.prefix_classification(case.given)[1]
    header = getattr(message, "header", None)
    return header.version if header is not None else 0


_SMP_TYPES = frozenset({2, 3, 4, 5, 7})


def _canonical_smp(ttype: int, value: bytes) -> bool:
    """An SMP TLV value as the spec writes it: INT count, that many minimal MPIs, nothing after."""
    if ttype == 7:
        _, nul, value = value.partition(b"\0")
        if not nul:
            return False
    if len(value) < 4:
        return False
    count, pos = int.from_bytes(value[:4], "big"), 4
    for _ in range(count):
        if pos + 4 > len(value):
            return False
        size = int.from_bytes(value[pos : pos + 4], "big")
        body = value[pos + 4 : pos + 4 + size]
        if len(body) != size or body[:1] == b"\0":
            return False
        pos += 4 + size
    return pos == len(value)


def _tlv_unchecked(case: Case) -> bool:
    """potr's reading of a TLV list without length checks: SMP records whose values are not as the
    spec writes them come back re-encoded, and a damaged tail (the engine stops there) is read as
    records cut short."""
    from vectors.kinds import tlv as tlv_vectors

    ours, theirs = case.reference, case.answer
    if not isinstance(theirs, list) or len(theirs) < len(ours):
        return False
    if len(theirs) > len(ours) and tlv_vectors.records(bytes.fromhex(case.given))[1] is None:
        return False
    return all(
        a == b
        or (a["type"] == b["type"] in _SMP_TYPES and not _canonical_smp(a["type"], bytes.fromhex(a["value"])))
        for a, b in zip(ours, theirs[: len(ours)], strict=True)
    )


_PREFIX = "equivalence:prefix_answers"
_REASSEMBLY = "equivalence:reassembly_answers"
_V2 = "equivalence:speaks_v2_only"
_LENIENT = "equivalence:lenient_answers"
_WHITESPACE_ENTRY = "equivalence:whitespace_entry"

RULES: tuple[Rule, ...] = (
    # ------------------------------------------------------------- libotr
    Rule(
        "libotr",
        _PREFIX,
        frozenset({"message_type"}),
        lambda c: c.kind == "malformed" and c.answer in (parse.prefix_classification(c.given)[0], "unknown"),
        "otrl_proto_message_type classifies by the first base-64 characters: a malformed encoded "
        "message is the type its prefix spells, or unknown",
    ),
    Rule(
        "libotr",
        _PREFIX,
        frozenset({"message_version"}),
        lambda c: c.kind == "malformed" and c.answer in (parse.prefix_classification(c.given)[1], 0),
        "otrl_proto_message_version reads the version from the first base-64 characters",
    ),
    Rule(
        "libotr",
        _REASSEMBLY,
        frozenset({"message_type", "query_version", "whitespace_version"}),
        _reassembled("libotr"),
        "libotr's classifier has no 'fragment': it reassembles first (a lone fragment is unknown)",
    ),
    Rule(
        "libotr",
        "LIBOTR-004",
        frozenset({"message_type"}),
        lambda c: c.kind in ("plaintext", "tagged_plaintext") and "?OTR" in c.given and c.answer == "unknown",
        "plaintext that merely mentions ?OTR is 'unknown' to libotr",
    ),
    Rule(
        "libotr",
        _LENIENT,
        frozenset({"message_type", "query_version"}),
        lambda c: _unterminated_query(c) and c.answer in ("query", 2, 3),
        "a query whose version string has no closing '?' is still a query to libotr (LIBOTR-005; the "
        "parse vectors find it acceptable, flag Unterminated)",
    ),
    Rule(
        "libotr",
        _LENIENT,
        frozenset({"whitespace_version"}),
        lambda c: _unknown_tag_group(c.given) and isinstance(c.answer, dict),
        "an unknown 8-character group after the tag base: stop there or skip it (parse vectors, UnknownTag)",
    ),
    Rule(
        "libotr",
        _WHITESPACE_ENTRY,
        frozenset({"whitespace_version"}),
        lambda c: c.kind not in ("plaintext", "tagged_plaintext"),
        "otrl_proto_whitespace_bestversion looks for a tag in any string; libotr only calls it for "
        "tagged plaintext, and the engine's entry answers only for plaintext",
    ),
    Rule(
        "libotr",
        "LIBOTR-006",
        frozenset({"base64"}),
        lambda c: (
            c.reference == {"ok": False, "data": None} and isinstance(c.answer, dict) and c.answer["ok"]
        ),
        "otrl_base64_otr_decode skips characters outside the alphabet and stops at '=': it decodes "
        "what the strict decoder refuses",
    ),
    # -------------------------------------------------------------- potr
    Rule(
        "potr",
        _V2,
        frozenset({"query_version"}),
        lambda c: c.answer == _v2_only(_offered(c.given)),
        "potr speaks v2 only: the best version it accepts from a query",
    ),
    Rule(
        "potr",
        _V2,
        frozenset({"message_type"}),
        lambda c: c.first_marker.startswith("?OTR:") and _encoded_version(c) == 3 and c.answer == "plaintext",
        "potr speaks v2 only: it has no class for a v3 encoded message and shows it as text",
    ),
    Rule(
        "potr",
        _LENIENT,
        frozenset({"message_type", "query_version"}),
        lambda c: _unterminated_query(c) and c.answer in ("query", 2),
        "a query whose version string has no closing '?' (parse vectors, Unterminated)",
    ),
    Rule(
        "potr",
        _LENIENT,
        frozenset({"message_type", "query_version", "whitespace_version"}),
        _surrounded("potr"),
        "text before a fragment: the spec says 'containing' (parse vectors, SurroundingText); potr "
        "reads the fragment",
    ),
    Rule(
        "potr",
        _V2,
        frozenset({"whitespace_version"}),
        lambda c: _potr_whitespace_v2(c) and c.answer.get("stripped") == (c.reference or {}).get("stripped"),
        "potr speaks v2 only: the best version it accepts from a whitespace tag",
    ),
    Rule(
        "potr",
        "POTR-040",
        frozenset({"whitespace_version"}),
        lambda c: _potr_whitespace_v2(c) and c.answer == _potr_tag_reading(c.given),
        "TaggedPlaintext.parse keeps only the text before the tag",
    ),
    Rule(
        "potr",
        "POTR-052",
        frozenset({"whitespace_version"}),
        lambda c: c.answer == _potr_tag_reading(c.given),
        "TaggedPlaintext.parse finds a version tag in any 8-byte block after the tag base, not only "
        "in the tags that follow it",
    ),
    Rule(
        "potr",
        _REASSEMBLY,
        frozenset({"message_type", "query_version", "whitespace_version"}),
        _reassembled("potr"),
        "potr's Context.parse reassembles first: a first fragment is stored (unknown)",
    ),
    Rule(
        "potr",
        "POTR-041",
        frozenset({"message_type"}),
        lambda c: c.kind == "fragment" and _fragment_problem(c) == "syntax" and c.answer == "plaintext",
        "a fragment potr cannot parse is returned as plaintext",
    ),
    Rule(
        "potr",
        "POTR-050",
        frozenset({"message_type", "query_version", "whitespace_version"}),
        lambda c: (
            c.first_marker.startswith("?OTR,")
            and not _first_fragment(c)
            and any(marker in c.first_marker[4:] for marker in ("?OTR", _wire.TAG_BASE))
        ),
        "a fragment potr discards (bad syntax, illegal or out-of-order k and n) is parsed again from "
        "after its '?OTR': a query, Error Message, encoded message or whitespace tag inside it takes effect",
    ),
    Rule(
        "potr",
        "POTR-051",
        frozenset({"message_type", "whitespace_version"}),
        lambda c: (
            c.kind == "tagged_plaintext"
            and "?OTR" in c.given
            and c.answer in ("plaintext", {"version": 0, "stripped": None})
        ),
        "Context.parse looks for a whitespace tag only in messages without '?OTR': the tag is shown and "
        "no AKE starts",
    ),
    Rule(
        "potr",
        "POTR-012",
        frozenset({"message_type"}),
        lambda c: c.kind == "fragment" and _fragment_problem(c) != "syntax" and c.answer == "plaintext",
        "a fragment that does not follow a stored one is discarded but returned as plaintext",
    ),
    Rule(
        "potr",
        "POTR-001",
        frozenset({"message_type", "query_version", "whitespace_version"}),
        lambda c: _crash(c.answer).startswith("Error(") and "?OTR:" in c.given,
        "binascii.Error escapes Context.parse on bad base64 inside '?OTR:'",
    ),
    Rule(
        "potr",
        "POTR-041",
        frozenset({"message_type"}),
        lambda c: c.kind == "malformed" and c.answer == "plaintext",
        "an encoded message potr cannot parse is returned as plaintext",
    ),
    Rule(
        "potr",
        "POTR-042",
        frozenset({"message_type"}),
        lambda c: c.kind == "malformed" and c.answer in ENCODED_TYPES,
        "potr checks no length: a damaged encoded message is taken for one of its type",
    ),
    Rule(
        "potr",
        "POTR-004",
        frozenset({"tlv"}),
        lambda c: bool(_crash(c.answer)),
        "TLV.parse raises on an unknown type, a cut header or a miscounted SMP record",
    ),
    Rule(
        "potr",
        "POTR-042",
        frozenset({"tlv"}),
        _tlv_unchecked,
        "TLV.parse checks no length: a record cut short is taken as complete, and SMP records are read "
        "into MPIs and re-encoded, so a value that is not count + minimal MPIs comes back changed",
    ),
)


UNDOCUMENTED = "OTRCHECK_FUZZ_UNDOCUMENTED"
"""Comma-separated finding ids whose rules are ignored, so the differential target finds them again
(to check triage, or once upstream says a divergence is fixed)."""


def rule_for(implementation: str, entry: str, given: str, reference: Any, answer: Any) -> Rule | None:
    """The first rule that explains ``answer`` differing from the engine's ``reference``, or None."""
    ignored = set(filter(None, os.environ.get(UNDOCUMENTED, "").split(",")))
    case = Case(entry, given, reference, answer)
    for rule in RULES:
        if rule.implementation != implementation or entry not in rule.entries or rule.cites in ignored:
            continue
        if rule.holds(case):
            return rule
    return None


def explain(implementation: str, entry: str, given: str, reference: Any, answer: Any) -> str | None:
    """What documents the disagreement (a finding id or an equivalence), or None: a finding."""
    rule = rule_for(implementation, entry, given, reference, answer)
    return None if rule is None else rule.cites
