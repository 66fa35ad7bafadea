"""What triage filed (vectors/regression/fuzzed.jsonl) stays true: replayed through the target that found it.

The regression vectors of the "fuzzed" group are replayed against the implementations by
tests/vectors (like every regression).  Here each filed input goes back through its fuzz target:

* an engine finding is fixed: the target passes on the input now;
* a finding in another implementation is open upstream: the target still fails on the input with
  the signature triage filed (when it stops failing, upstream fixed it: update the record and
  drop its divergence entry).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from fuzz import crashes, registry, regressions
from fuzz.divergences import UNDOCUMENTED
from harness.fuzz.triage import Reproducer
from vectors import divergences, loader

ROOT = registry.FUZZ_DIR.parent
RECORDS = regressions.read()
FINDINGS_INDEX = ROOT / "docs" / "findings" / "README.md"
DIFFERENTIAL_FINDINGS = ",".join(
    sorted({str(r["finding"]) for r in RECORDS if r["fuzz_target"] == "differential"})
)


def ident(record: dict[str, object]) -> str:
    return f"{record['fuzz_target']}:{record['finding']}:{str(record['fuzz_input_hex'])[:24]}"


def test_every_record_is_a_test_of_the_fuzzed_group_in_the_same_order() -> None:
    tests = [v.test for v in loader.load([loader.ROOT / "regression"]) if v.tc_id > 500]
    assert len(tests) == len(RECORDS)
    for test, record in zip(tests, RECORDS, strict=True):
        assert {k: v for k, v in test.items() if k != "tcId"} == record


@pytest.mark.parametrize("record", RECORDS, ids=ident)
def test_every_record_names_a_written_up_finding_and_a_known_signature(record: dict[str, object]) -> None:
    assert record["finding"] in divergences.finding_ids(FINDINGS_INDEX)
    assert record["fuzz_target"] in registry.TARGETS
    assert any(row.finding == record["finding"] for row in crashes.known())


@pytest.fixture(scope="module")
def reproducers() -> Iterator[dict[tuple[str, str], Reproducer]]:
    """Child processes running a target (libotr's targets may crash), one per (target, undocumented)."""
    made: dict[tuple[str, str], Reproducer] = {}
    yield made
    for reproducer in made.values():
        reproducer.close()


def outcome(
    reproducers: dict[tuple[str, str], Reproducer], name: str, data: bytes, undocumented: str
) -> dict:
    key = (name, undocumented)
    if key not in reproducers:
        os.environ[UNDOCUMENTED] = undocumented
        try:
            reproducers[key] = Reproducer(name)
            reproducers[key].signature(b"")  # start it now, with this environment
        finally:
            del os.environ[UNDOCUMENTED]
    found = reproducers[key].signature(data)
    return {"outcome": "pass"} if found is None else {"outcome": "crash", "signature": found}


@pytest.mark.parametrize("record", RECORDS, ids=ident)
def test_every_filed_input_still_behaves_as_filed_in_its_target(
    reproducers, record: dict[str, object]
) -> None:
    name = str(record["fuzz_target"])
    data = bytes.fromhex(str(record["fuzz_input_hex"]))
    finding = str(record["finding"])
    documented = name == "differential"
    if documented:
        # A documented divergence passes the differential target; undocumented again, it is found again.
        assert outcome(reproducers, name, data, "")["outcome"] == "pass"
    answer = outcome(reproducers, name, data, DIFFERENTIAL_FINDINGS if documented else "")
    if record["implementation"] == "engine":
        assert answer == {"outcome": "pass"}, f"{finding} is back: {answer}"
    else:
        assert answer.get("outcome") == "crash", f"{finding} no longer fails: fixed upstream?"
        filed, found = str(record["signature"]), str(answer["signature"]["key"])
        # The same exception (or rule) and a frame in common: which frames of our own compatibility layer
        # appear depends on how the package is installed (a checkout, tox's env).
        assert found.split("@")[0] == filed.split("@")[0], (found, filed)
        frames = set(found.split("@", 1)[-1].split("<")) & set(filed.split("@", 1)[-1].split("<"))
        assert frames, (found, filed)
