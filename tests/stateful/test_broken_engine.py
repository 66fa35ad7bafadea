"""The machines can fail: each deliberately broken engine is caught within the ``ci`` profile.

The break is patched into this process, so both engines of the engine x engine
machine carry it.  An inverted tie-break is then invisible from outside (both
sides agree on who concedes), so it is the model-based machine that must catch
it; a skipped MAC check and a skipped SMP comparison are caught by the plain
machine's invariants.  Shrinking is skipped: the question is only whether a
failing example is found within the profile's budget.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import Phase, settings
from hypothesis.stateful import run_state_machine_as_test

from implementations.engine import _ake, _crypto, _smp
from tests.stateful.machines import InvariantViolated, OtrMachine, machine_for, run_timed
from tests.stateful.test_model import ModelChecked


def _invert_tie_break(monkeypatch: pytest.MonkeyPatch) -> None:
    rule = _ake.our_commit_wins
    monkeypatch.setattr(_ake, "our_commit_wins", lambda ours, theirs: not rule(ours, theirs))


def _skip_mac_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_crypto, "macs_equal", lambda a, b: True)


def _skip_smp_comparison(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_smp, "secrets_match", lambda a, b: True)


BREAKS: list[tuple[str, Callable[[pytest.MonkeyPatch], None], type[OtrMachine], set[str]]] = [
    # (name, the break, the machine that must catch it, the checks that may report it)
    ("tie-break-inverted", _invert_tie_break, ModelChecked, {"model_agrees_with_engine"}),
    (
        "mac-check-skipped",
        _skip_mac_checks,
        OtrMachine,
        {"tampered_messages_have_no_authenticated_effect", "shown_texts_were_sent_once_in_order_untampered"},
    ),
    (
        "smp-check-skipped",
        _skip_smp_comparison,
        OtrMachine,
        {"smp_succeeds_only_with_equal_secrets", "smp_ends_in_a_definite_result"},
    ),
]


@pytest.mark.parametrize(("name", "brk", "base", "checks"), BREAKS, ids=[b[0] for b in BREAKS])
def test_a_broken_engine_is_caught_within_the_ci_profile(
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    brk: Callable[[pytest.MonkeyPatch], None],
    base: type[OtrMachine],
    checks: set[str],
) -> None:
    brk(monkeypatch)
    machine = machine_for("engine-engine", base=base, key=f"broken: {name}")
    ci = settings(
        settings.get_profile("ci"),
        phases=[Phase.explicit, Phase.reuse, Phase.generate],
        report_multiple_bugs=False,
    )
    with pytest.raises(InvariantViolated) as caught:
        run_timed(f"broken: {name}", lambda: run_state_machine_as_test(machine, settings=ci))
    assert caught.value.name in checks, caught.value
