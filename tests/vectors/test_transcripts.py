"""Transcript vectors (``vectors/transcript/otr_transcripts.json``).

* The committed file is what :func:`vectors.kinds.transcript.generate` records (no drift).
* Every transcript replays byte for byte against the engine: in process, and through
  ``otrcheck peer engine`` (a second code path: JSON-lines, another process).
* A transcript changed by one character fails that replay: the check can fail.
* libotr and potr replay the transcripts they can run at the level of events; their failures
  are listed below with the finding that explains each, and nothing else may fail.
"""

from __future__ import annotations

import argparse
import copy
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from harness import impls
from harness.scenarios import load
from harness.script import ExpectationFailed, Script
from implementations.api import Adapter
from implementations.engine import EngineAdapter
from vectors import loader
from vectors.kinds import transcript
from vectors.model import Target, Vector

ROOT = Path(__file__).resolve().parents[2]
SOURCE = transcript.ScenarioSource(load(), Script)
VECTORS = transcript.load_vectors()
BY_ID = {vector.tc_id: vector for vector in VECTORS}

# Events-level replays that fail, by tcId: the role the target played -> the finding that explains it.
LIBOTR_EXPECTED: dict[int, dict[str, str]] = {
    7: {"bob": "LIBOTR-001"},  # v2 simultaneous start: libotr concedes although its hash is higher
    18: {"alice": "LIBOTR-013"},  # text containing "?OTRv23?" replaced by a query, even while private
    32: {"alice": "LIBOTR-032"},  # SMP restart without TLV 6: the engine raises no abort
    40: {"bob": "LIBOTR-011"},  # a Data Message in PLAINTEXT gets no Error Message back
    43: {"alice": "LIBOTR-002"},  # the extra symmetric key is used in v2
    62: {"bob": "LIBOTR-006"},  # ?OTR:===. decodes to nothing, successfully: no malformed report
    71: {"alice": "LIBOTR-030"},  # v2 resend after an injected Error Message
    74: {"alice": "LIBOTR-001"},  # v2 simultaneous start, the mirror of 7
}
POTR_EXPECTED: dict[int, dict[str, str]] = {
    7: {"bob": "POTR-031"},  # no tie-break: every D-H Commit is answered with a D-H Key
    35: {"alice": "POTR-003", "bob": "POTR-002"},  # SMP with different secrets ends in abort, not failure
    68: {"bob": "POTR-007"},  # WHITESPACE_START_AKE ignored: the tag starts an AKE
    74: {"alice": "POTR-031"},  # the mirror of 7
}


def engine_target(adapter: Adapter | None = None) -> Target:
    hello = EngineAdapter().hello()
    return Target(
        "engine",
        adapter or EngineAdapter(),
        deterministic=True,
        features=frozenset(hello.features),
        protocol_versions=frozenset(hello.protocol_versions),
    )


def tampered(vector: Vector, change: Any) -> Vector:
    """A copy of ``vector`` whose test ``change`` edits in place."""
    test = copy.deepcopy(vector.test)
    change(test)
    return replace(vector, test=test)


def flip_char(wire: str, at: int) -> str:
    """``wire`` with the base64 character at ``at`` replaced by another one."""
    return wire[:at] + ("B" if wire[at] != "B" else "C") + wire[at + 1 :]


# ------------------------------------------------------------------ the file


def test_generate_records_the_committed_file_quickly():
    started = time.monotonic()
    document = transcript.generate(SOURCE)
    elapsed = time.monotonic() - started
    assert loader.canonical_json(document) == transcript.PATH.read_text(encoding="utf-8"), (
        "vectors/transcript/otr_transcripts.json is stale: regenerate it"
    )
    assert elapsed < 20, f"recording took {elapsed:.1f} s"


def test_generate_without_the_scenarios_says_where_to_get_them(monkeypatch):
    monkeypatch.setattr(transcript, "_registered", None)
    with pytest.raises(transcript.RecordingError, match="ScenarioSource"):
        transcript.generate()


def test_generate_uses_the_registered_scenarios(monkeypatch):
    monkeypatch.setattr(transcript, "_registered", None)
    transcript.use_scenarios(SOURCE)
    assert transcript.generate()["numberOfTests"] == len(transcript.RECORDED)


def test_the_file_holds_enough_transcripts_of_every_kind():
    assert len(VECTORS) >= 25
    assert len({v.tc_id for v in VECTORS}) == len(VECTORS)
    flags = {flag for vector in VECTORS for flag in vector.flags}
    wanted = {"v2", "v3", "fragmented", "smp", "end", "symkey", "instances", "require-encryption"}
    assert wanted | {"faults", "injected", "no-session"} <= flags
    groups = {vector.test["scenario"].split("/")[0] for vector in VECTORS}
    assert {
        "sanity",
        "ake",
        "start",
        "data",
        "frag",
        "smp",
        "end",
        "symkey",
        "policy",
        "net",
        "robust",
    } <= groups
    registry = SOURCE.scenarios
    for vector in VECTORS:
        assert vector.comment == registry[vector.test["scenario"]].doc
        assert vector.result == "valid"


def test_the_file_validates_against_its_schema():
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((loader.SCHEMA_DIR / transcript.SCHEMA).read_text(encoding="utf-8"))
    document = json.loads(transcript.PATH.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(schema).validate(document)


def test_the_keys_are_in_the_file_and_are_the_fixture_keys():
    from implementations.fixtures import key

    keys = VECTORS[0].group["keys"]
    assert set(keys) == {"alice", "bob"}
    for name, entry in keys.items():
        assert entry["x"] == key(name).to_json()["x"]


def test_faults_are_told_apart_from_in_order_delivery():
    flags = {vector.test["scenario"]: set(vector.flags) for vector in VECTORS}
    for in_order in ("sanity/query-ake-message", "data/one-way-burst", "data/interleaved", "smp/success"):
        assert "faults" not in flags[in_order]
    for faulty in ("net/drop-dh-key", "net/duplicate-data", "net/reorder-data", "robust/reflected-data"):
        assert "faults" in flags[faulty]
    # a query typed into the network is not a fault: any implementation can be sent it
    assert {"injected"} <= flags["start/query-v3"] and "faults" not in flags["start/query-v3"]


# ---------------------------------------------------------------- recording


def test_record_cli_writes_a_file_that_replays(tmp_path):
    out = tmp_path / "smp.json"
    args = argparse.Namespace(scenario="smp/success-with-question", seed=99, out=str(out))
    assert transcript.record_cli(args, SOURCE) == 0
    document = json.loads(out.read_text(encoding="utf-8"))
    assert document["numberOfTests"] == 1
    (vector,) = loader.vectors_of(out, document)
    assert vector.test["seed"] == 99 and "smp" in vector.flags
    assert transcript.replay(vector, engine_target()).status == "passed"


def test_the_seed_fixes_the_wires_but_not_the_events():
    scenario = SOURCE.scenarios["smp/success"]
    first, second = (transcript.record(scenario, seed, SOURCE) for seed in (1, 2))
    assert first == transcript.record(scenario, 1, SOURCE)

    def wires(test: dict[str, Any]) -> list[str]:
        return [out["wire"] for step in test["steps"] for out in step.get("out", [])]

    def essences(test: dict[str, Any]) -> list[str | None]:
        return [transcript.essence(e) for step in test["steps"] for e in step.get("events", [])]

    assert wires(first) != wires(second)
    assert essences(first) == essences(second)


@dataclass(frozen=True)
class BrokenScenario:
    id: str = "test/broken"
    doc: str = "Fails at once."
    needs: frozenset[str] = frozenset()
    roles: tuple[tuple[str, Any], ...] = SOURCE.scenarios["ake/v3-basic"].roles
    plan: Any = None

    def run(self, script: Script) -> None:
        script.alice.query()
        raise ExpectationFailed("bob should see something")


def test_a_scenario_that_fails_engine_against_engine_is_not_recorded():
    with pytest.raises(transcript.RecordingError, match="bob should see something"):
        transcript.record(BrokenScenario(), 1, SOURCE)


# ------------------------------------------------------- byte-exact replays


@pytest.mark.parametrize("vector", VECTORS, ids=lambda v: f"{v.tc_id}-{v.test['scenario']}")
def test_every_transcript_replays_byte_exactly_against_the_in_process_engine(vector):
    verdict = transcript.replay(vector, engine_target())
    assert verdict.status == "passed", verdict.detail


@pytest.fixture(scope="module")
def engine_peer() -> Iterator[Target]:
    process = impls.get("engine").make(isolated=True)
    try:
        yield engine_target(process)
    finally:
        process.close()  # type: ignore[attr-defined]


@pytest.mark.parametrize("vector", VECTORS, ids=lambda v: f"{v.tc_id}-{v.test['scenario']}")
def test_every_transcript_replays_byte_exactly_through_the_engine_peer_process(vector, engine_peer):
    verdict = transcript.replay(vector, engine_peer)
    assert verdict.status == "passed", verdict.detail


def test_a_changed_character_in_a_delivered_wire_fails_the_replay():
    vector = BY_ID[15]  # data/ascii
    index = next(
        i
        for i, step in enumerate(vector.test["steps"])
        if "deliver" in step
        and step["deliver"]["to"] == "bob"
        and step["events"]
        and step["events"][0]["type"] == "message"
    )

    def change(test: dict[str, Any]) -> None:
        deliver = test["steps"][index]["deliver"]
        deliver["wire"] = flip_char(deliver["wire"], len(deliver["wire"]) - 12)  # inside the MAC

    verdict = transcript.replay(tampered(vector, change), engine_target())
    assert verdict.status == "failed"
    assert f"step {index} " in verdict.detail and "as bob" in verdict.detail


def test_a_changed_character_in_a_sent_wire_fails_the_replay():
    vector = BY_ID[26]  # smp/success
    index = max(i for i, step in enumerate(vector.test["steps"]) if step.get("out"))

    def change(test: dict[str, Any]) -> None:
        out = test["steps"][index]["out"][0]
        out["wire"] = flip_char(out["wire"], 30)

    verdict = transcript.replay(tampered(vector, change), engine_target())
    assert verdict.status == "failed"
    assert f"step {index} " in verdict.detail and "first difference at character 30" in verdict.detail


def test_a_changed_event_fails_the_replay():
    vector = BY_ID[1]
    index = next(i for i, step in enumerate(vector.test["steps"]) if step.get("events"))

    def change(test: dict[str, Any]) -> None:
        test["steps"][index]["events"][0]["x-extra"] = True

    verdict = transcript.replay(tampered(vector, change), engine_target())
    assert verdict.status == "failed" and f"step {index} " in verdict.detail


def test_a_changed_seed_fails_the_replay():
    vector = BY_ID[2]

    def change(test: dict[str, Any]) -> None:
        test["roles"][0]["seed"] = "00" + test["roles"][0]["seed"]

    verdict = transcript.replay(tampered(vector, change), engine_target())
    assert verdict.status == "failed"


# ------------------------------------------------------ events-level replays


class Worker:
    """One implementation's adapter for a whole module, replaced if its process dies."""

    def __init__(self, name: str) -> None:
        self.impl = impls.get(name)
        if not self.impl.available:
            pytest.skip(f"{name} unavailable: {self.impl.unavailable}")
        self.adapter: Adapter = self.impl.make()
        hello = self.adapter.hello()
        self.hello = hello

    def target(self) -> Target:
        if getattr(self.adapter, "running", True) is False:
            self.close()
            self.adapter = self.impl.make()
        return Target(
            self.impl.name,
            self.adapter,
            deterministic=self.hello.deterministic,
            features=frozenset(self.hello.features),
            protocol_versions=frozenset(self.hello.protocol_versions),
        )

    def close(self) -> None:
        close = getattr(self.adapter, "close", None)
        if close is not None:
            close()


@pytest.fixture(scope="module")
def libotr() -> Iterator[Worker]:
    worker = Worker("libotr")
    yield worker
    worker.close()


@pytest.fixture(scope="module")
def potr() -> Iterator[Worker]:
    worker = Worker("potr")
    yield worker
    worker.close()


def check_events_level(vector: Vector, target: Target, expected: dict[int, dict[str, str]]) -> None:
    verdict = transcript.replay(vector, target)
    known = expected.get(vector.tc_id, {})
    if verdict.status == "skipped":
        assert not known, f"expected to fail ({known}) but skipped: {verdict.detail}"
        if "faults" in vector.flags:
            assert verdict.detail == "faults are only replayed byte-for-byte"
        return
    failing = {role for role, problems in (verdict.observed or {}).items() if problems}
    assert failing == set(known), f"{target.name}: {verdict.status}: {verdict.detail}"
    assert verdict.status == ("failed" if known else "passed"), verdict.detail


@pytest.mark.parametrize("vector", VECTORS, ids=lambda v: f"{v.tc_id}-{v.test['scenario']}")
def test_the_events_level_replay_of_the_engine_agrees_with_the_recording(vector):
    # The engine as a non-deterministic target: the events-level path must find no difference.
    target = replace(engine_target(), name="engine-events", deterministic=False)
    check_events_level(vector, target, {})


def test_a_changed_event_fails_the_events_level_replay():
    vector = BY_ID[15]  # data/ascii
    index = next(
        i
        for i, step in enumerate(vector.test["steps"])
        if any(e["type"] == "message" for e in step.get("events", []))
    )

    def change(test: dict[str, Any]) -> None:
        event = next(e for e in test["steps"][index]["events"] if e["type"] == "message")
        event["text"] += "!"

    target = replace(engine_target(), name="engine-events", deterministic=False)
    verdict = transcript.replay(tampered(vector, change), target)
    assert verdict.status == "failed" and "message(text=" in verdict.detail


@pytest.mark.interop
@pytest.mark.parametrize("vector", VECTORS, ids=lambda v: f"{v.tc_id}-{v.test['scenario']}")
def test_libotr_raises_the_recorded_events(vector, libotr):
    check_events_level(vector, libotr.target(), LIBOTR_EXPECTED)


@pytest.mark.interop
@pytest.mark.parametrize("vector", VECTORS, ids=lambda v: f"{v.tc_id}-{v.test['scenario']}")
def test_potr_raises_the_recorded_events(vector, potr):
    check_events_level(vector, potr.target(), POTR_EXPECTED)


def test_the_expected_failures_name_known_findings_and_transcripts():
    index = (ROOT / "docs" / "findings" / "README.md").read_text(encoding="utf-8")
    for expected in (LIBOTR_EXPECTED, POTR_EXPECTED):
        for tc_id, roles in expected.items():
            assert tc_id in BY_ID
            assert set(roles) <= {role["name"] for role in BY_ID[tc_id].test["roles"]}
            for finding in roles.values():
                assert f"[{finding}]" in index, finding


def test_potr_skips_what_it_cannot_play(potr):
    verdict = transcript.replay(BY_ID[26], potr.target())  # smp/success, in v3
    assert verdict.status == "skipped" and verdict.detail == "potr lacks v3"
