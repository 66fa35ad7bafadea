"""The default test run includes the engine x engine and engine x libotr cells of the matrix.

Every scenario, every ordered pair of {engine, libotr}: no unexpected outcome (FAIL, XPASS,
CRASH, TIMEOUT), and every expected failure is tied to a finding.
"""

from __future__ import annotations

from collections import Counter

from harness import impls, runner
from harness.scenarios import load


def test_engine_and_libotr_matrix_has_no_unexpected_cell() -> None:
    scenarios = list(load().values())
    participants = [
        runner.worker_participant(name, impls.get(name).peer_command(), cwd=str(impls.REPO_ROOT))
        for name in ("engine", "libotr")
    ]
    assert all(p.hello is not None for p in participants), [p.unavailable for p in participants]
    cells = runner.run_matrix(participants, scenarios, seed=1, jobs=2)
    pairs = {(c.a, c.b) for c in cells}
    assert pairs == {("engine", "engine"), ("engine", "libotr"), ("libotr", "engine"), ("libotr", "libotr")}
    unexpected = [f"{c.scenario} {c.a}->{c.b}: {c.outcome} {c.detail}" for c in cells if c.unexpected]
    assert not unexpected, "\n".join(unexpected)
    assert all(c.finding for c in cells if c.outcome == "XFAIL")
    counts = Counter(c.outcome for c in cells if (c.a, c.b) == ("engine", "engine"))
    assert set(counts) <= {"PASS", "UNSUPPORTED"}, counts
