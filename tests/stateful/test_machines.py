"""Every pair keeps every invariant under faults, and makes progress once the faults stop.

engine x engine, engine x libotr, libotr x engine and engine x potr (v2: potr
speaks nothing else), in the default test run under the ``ci`` profile.
libotr runs in pooled worker processes (``workers``), the rest in-process.
"""

from __future__ import annotations

import pytest
from hypothesis.stateful import run_state_machine_as_test

from tests.stateful.conftest import Workers, profile
from tests.stateful.machines import PAIRS, machine_for, run_timed, unavailable


@pytest.mark.parametrize("pair", list(PAIRS))
def test_pair_keeps_every_invariant_and_makes_progress(pair: str, workers: Workers) -> None:
    problem = unavailable(pair)
    if problem:
        pytest.skip(problem)
    machine = machine_for(pair, workers)
    run_timed(pair, lambda: run_state_machine_as_test(machine, settings=profile()))
