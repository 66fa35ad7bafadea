"""Manifests and scenarios stay in step: every entry matches a scenario and names a written-up finding."""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path

import pytest

from harness import impls, manifest
from harness.scenarios import load

ROOT = Path(__file__).resolve().parents[2]
FINDINGS = (ROOT / "docs" / "findings" / "README.md").read_text(encoding="utf-8")


def test_every_manifest_names_a_known_implementation() -> None:
    known = set(impls.names())
    for entry in manifest.load():
        assert entry.implementation in known
        assert set(entry.with_) <= known, entry


def test_every_manifest_glob_matches_at_least_one_scenario() -> None:
    ids = list(load())
    for entry in manifest.load():
        for pattern in entry.scenarios:
            assert fnmatch.filter(ids, pattern), f"{entry.implementation}: {pattern} matches no scenario"


def test_every_expected_failure_names_a_finding_that_is_written_up() -> None:
    listed = set(re.findall(r"\[([A-Z][A-Z0-9]*-\d{3})\]", FINDINGS))
    for entry in manifest.load():
        if entry.kind == "expected_failure":
            assert entry.finding in listed, f"{entry.finding} is not in docs/findings/README.md"


def test_every_scenario_has_a_slash_id_a_doc_and_known_needs() -> None:
    features = {"v2", "v3", "smp", "smp_question", "symkey", "fragmentation", "instance_tags"}
    features |= {"require_encryption", "whitespace_tag", "error_start_ake", "heartbeat"}
    for scenario in load().values():
        assert re.fullmatch(r"[a-z0-9]+/[a-z0-9][a-z0-9-]*", scenario.id), scenario.id
        assert scenario.doc
        assert scenario.needs <= features, (scenario.id, scenario.needs - features)


def test_there_is_a_sanity_scenario() -> None:
    assert any(s.sanity for s in load().values())


@pytest.mark.parametrize(
    ("when", "a", "b", "applies"),
    [
        ("any", "x", "y", True),
        ("any", "y", "x", True),
        ("any", "y", "y", False),
        ("a", "x", "y", True),
        ("a", "y", "x", False),
        ("b", "y", "x", True),
        ("both", "x", "y", False),
        ("both", "x", "x", True),
    ],
)
def test_entry_sides(when: str, a: str, b: str, applies: bool) -> None:
    entry = manifest.Entry("x", "expected_failure", ("g/*",), "r", "F-001", when)
    assert entry.applies("g/s", a, b) is applies


def test_entry_with_limits_the_other_side() -> None:
    entry = manifest.Entry("x", "expected_failure", ("g/*",), "r", "F-001", "any", ("z",))
    assert entry.applies("g/s", "x", "z") and entry.applies("g/s", "z", "x")
    assert not entry.applies("g/s", "x", "y")
