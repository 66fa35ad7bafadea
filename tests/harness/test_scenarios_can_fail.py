"""The scenarios can fail: a deliberately broken engine turns the cells that test the broken rule red.

The broken engine runs in this process (so the break can be patched in); its correct
counterpart runs in a worker process, untouched by the patch.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from harness import impls, runner
from harness.scenarios import load
from implementations.engine import EngineAdapter, _ake, _crypto, _smp


def _broken(name: str) -> runner.Participant:
    return runner.Participant(name, EngineAdapter, EngineAdapter().hello())


def _correct() -> runner.Participant:
    impl = impls.get("engine")
    return runner.worker_participant("engine", impl.peer_command(), cwd=str(impls.REPO_ROOT))


def _run(scenario_ids: list[str], broken: runner.Participant, broken_side: str) -> dict[str, str]:
    registry = load()
    scenarios = [registry[i] for i in scenario_ids]
    a, b = (broken, _correct()) if broken_side == "a" else (_correct(), broken)
    cells = runner.run_pair(scenarios, a, b, seed=1, entries=[], on_cell=lambda cell: None)
    return {cell.scenario: cell.outcome for cell in cells}


def _invert_tie_break(monkeypatch: pytest.MonkeyPatch) -> None:
    rule = _ake.our_commit_wins
    monkeypatch.setattr(_ake, "our_commit_wins", lambda ours, theirs: not rule(ours, theirs))


def _skip_mac_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_crypto, "macs_equal", lambda a, b: True)


def _smp_always_succeeds(monkeypatch: pytest.MonkeyPatch) -> None:
    original = _smp.SmpMachine.receive

    def lying(self: _smp.SmpMachine, tlv: object) -> _smp.SmpOutcome:
        outcome = original(self, tlv)  # type: ignore[arg-type]
        results = [("success" if r == "failure" else r, q) for r, q in outcome.results]
        return _smp.SmpOutcome(outcome.tlvs, results, outcome.detail)

    monkeypatch.setattr(_smp.SmpMachine, "receive", lying)


BREAKS: list[tuple[str, Callable[[pytest.MonkeyPatch], None], str, list[str], list[str]]] = [
    # (name, the break, the broken side, scenarios that must fail, scenarios that must still pass)
    ("tie-break-inverted", _invert_tie_break, "a", ["ake/simultaneous-start-alice-higher"], ["ake/v3-basic"]),
    ("tie-break-inverted", _invert_tie_break, "b", ["ake/simultaneous-start-bob-higher"], ["ake/v3-basic"]),
    (
        "mac-check-skipped",
        _skip_mac_checks,
        "b",
        ["robust/tampered-ciphertext"],
        ["sanity/query-ake-message"],
    ),
    ("smp-comparison-lies", _smp_always_succeeds, "b", ["smp/failure-different-secrets"], ["smp/success"]),
]


@pytest.mark.parametrize(("name", "brk", "side", "must_fail", "must_pass"), BREAKS)
def test_a_broken_engine_fails_exactly_the_scenarios_of_the_rule_it_breaks(
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    brk: Callable[[pytest.MonkeyPatch], None],
    side: str,
    must_fail: list[str],
    must_pass: list[str],
) -> None:
    healthy = _run(must_fail + must_pass, _broken(name), side)
    assert set(healthy.values()) == {"PASS"}, healthy
    brk(monkeypatch)
    outcomes = _run(must_fail + must_pass, _broken(name), side)
    for scenario_id in must_fail:
        assert outcomes[scenario_id] == "FAIL", (name, scenario_id, outcomes)
    for scenario_id in must_pass:
        assert outcomes[scenario_id] == "PASS", (name, scenario_id, outcomes)
