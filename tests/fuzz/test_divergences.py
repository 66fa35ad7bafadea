"""The differential target's documented divergences (fuzz/divergences.py) against the documented list.

* every rule cites a finding that ``vectors/divergences/<impl>.toml`` lists for that
  implementation, or one of the parse vectors' equivalences;
* every disagreement between the engine and libotr or potr on the committed parse, base64 and
  tlv vectors is explained by a rule, and where the divergence file names a finding for that
  vector, the rule cites the same one;
* a disagreement no finding describes is not explained (the target still finds new ones).
"""

from __future__ import annotations

import functools
import logging
from typing import Any

import pytest

from fuzz import divergences, drivers, targets
from vectors import divergences as divergence_files
from vectors import loader

EQUIVALENCES = {
    "equivalence:prefix_answers",
    "equivalence:reassembly_answers",
    "equivalence:speaks_v2_only",
    "equivalence:lenient_answers",
    "equivalence:whitespace_entry",
}


@functools.cache
def disagreements() -> tuple[tuple[str, str, str, str, Any, Any], ...]:
    """(implementation, vector ident, entry, input, engine's answer, its answer) for the parser vectors."""
    logging.getLogger("potr").setLevel(logging.CRITICAL + 1)
    found = []
    for vector in loader.load():
        if vector.kind not in ("parse", "base64", "tlv"):
            continue
        entries = ["tlv"] if vector.kind == "tlv" else [e for e in targets.DIFFERENTIAL_ENTRIES if e != "tlv"]
        for entry in entries:
            given = vector.test["input"] if entry == "tlv" else drivers.cstring(vector.test["input"])
            reference = drivers.x_parse("engine", entry, given)
            for implementation in ("libotr", "potr"):
                try:
                    answer = drivers.x_parse(implementation, entry, given)
                except drivers.Unsupported:
                    continue
                if answer != reference:
                    found.append((implementation, vector.ident, entry, given, reference, answer))
    return tuple(found)


def test_every_rule_cites_a_listed_finding_or_an_equivalence_of_the_parse_vectors() -> None:
    listed = {(d.implementation, d.finding) for d in divergence_files.load()}
    for rule in divergences.RULES:
        assert rule.cites in EQUIVALENCES or (rule.implementation, rule.cites) in listed, rule


def test_the_parser_vectors_show_disagreements_to_explain() -> None:
    assert len(disagreements()) > 300
    assert {d[0] for d in disagreements()} == {"libotr", "potr"}


def test_every_disagreement_on_the_vectors_is_explained_by_the_finding_its_divergence_entry_names() -> None:
    entries = divergence_files.load()
    unexplained, mismatched = [], []
    for implementation, ident, entry, given, reference, answer in disagreements():
        cites = divergences.explain(implementation, entry, given, reference, answer)
        if cites is None:
            unexplained.append((implementation, ident, entry, answer))
            continue
        listed = divergence_files.lookup(entries, implementation, ident)
        if listed is not None and not cites.startswith("equivalence:") and cites != listed.finding:
            mismatched.append((implementation, ident, listed.finding, cites))
    assert unexplained == []
    assert mismatched == []


@pytest.mark.parametrize(
    ("implementation", "entry", "given", "answer"),
    [
        ("libotr", "message_type", "hello", "data"),  # plaintext read as a Data Message
        ("libotr", "base64", "?OTR:QUJD.", {"ok": True, "data": "00"}),  # valid base64, other bytes
        ("potr", "message_type", "?OTRv2?", "plaintext"),  # a query not recognised
        ("potr", "query_version", "?OTRv3?", 2),  # v2 where only v3 is offered
        ("potr", "tlv", "00010000", [{"type": 1, "value": "00"}]),  # a value that is not there
    ],
)
def test_a_disagreement_no_finding_describes_is_not_explained(
    implementation: str, entry: str, given: str, answer: Any
) -> None:
    reference = drivers.x_parse("engine", entry, given)
    assert answer != reference
    assert divergences.explain(implementation, entry, given, reference, answer) is None


def test_a_finding_can_be_made_undocumented_again(monkeypatch) -> None:
    given = "?OTR,?OTRv2?"
    reference = drivers.x_parse("engine", "message_type", given)
    answer = drivers.x_parse("potr", "message_type", given)
    assert divergences.explain("potr", "message_type", given, reference, answer) == "POTR-050"
    monkeypatch.setenv(divergences.UNDOCUMENTED, "POTR-050")
    assert divergences.explain("potr", "message_type", given, reference, answer) is None
