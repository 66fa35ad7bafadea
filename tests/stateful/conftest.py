"""Hypothesis profiles for the state machines, the libotr worker pool, and the coverage summary.

Profiles (chosen with ``OTRCHECK_HYPOTHESIS_PROFILE``, default ``ci``):

* ``ci``: bounded and reproducible (``derandomize``), part of the default
  test run; every machine of ``tests/stateful`` together stays within a
  couple of minutes on two cores.
* ``thorough``: many more and longer runs from fresh random seeds
  (``tox -e stateful``).

The profiles are registered here but only *applied* by the machines of this
folder (:func:`profile`), so the rest of the suite keeps Hypothesis' defaults.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

from harness import impls
from implementations.peer import PeerProcess

PROFILE_ENV = "OTRCHECK_HYPOTHESIS_PROFILE"

_COMMON = {
    "deadline": None,  # a libotr worker or an SMP step may take tens of milliseconds
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    "print_blob": True,
}
# ci: about a minute for every machine together on two cores (measured: see the summary it prints).
settings.register_profile(
    "ci", max_examples=120, stateful_step_count=40, derandomize=True, database=None, **_COMMON
)
# thorough: about half an hour; new random examples every run, failures kept in .hypothesis/.
settings.register_profile("thorough", max_examples=2000, stateful_step_count=60, derandomize=False, **_COMMON)


def profile_name() -> str:
    return os.environ.get(PROFILE_ENV, "ci")


def profile() -> settings:
    """The settings of the selected profile (``ci`` unless ``OTRCHECK_HYPOTHESIS_PROFILE`` says)."""
    return settings.get_profile(profile_name())


class Workers:
    """Worker processes of the isolated implementations (libotr, otrjs, otr3), started on first use.

    One pool serves the whole session, two workers per implementation (one per side), each
    re-``init``-ed for every example; a worker found dead is replaced.
    """

    def __init__(self) -> None:
        self._workers: dict[tuple[str, int], PeerProcess] = {}

    def get(self, index: int, impl: str = "libotr") -> PeerProcess:
        worker = self._workers.get((impl, index))
        if worker is None or not worker.running:
            if worker is not None:
                worker.close()
            made = impls.get(impl).make()
            assert isinstance(made, PeerProcess), f"{impl} must run isolated"
            worker = self._workers[(impl, index)] = made
        return worker

    def close(self) -> None:
        for worker in self._workers.values():
            worker.close()


@pytest.fixture(scope="session")
def workers() -> Iterator[Workers]:
    pool = Workers()
    yield pool
    pool.close()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Per machine: examples, steps, seconds, distinct (authstate, msgstate, smpstate) and transitions.

    ``states`` counts the triples observed on either side, out of the 24 the spec's machines
    allow (SMP only runs while ENCRYPTED); ``odd`` the observed triples outside those.
    ``transitions`` counts distinct (triple before, input, triple after).  Set
    ``OTRCHECK_STATEFUL_STATES=1`` to list the triples.
    """
    from tests.stateful.machines import COVERAGE
    from tests.stateful.model import REACHABLE

    if not COVERAGE:
        return
    write = terminalreporter.write_line
    terminalreporter.section(f"stateful coverage (profile {profile_name()})")
    width = max(len(name) for name in COVERAGE) + 2
    write(
        f"{'machine':<{width}}{'examples':>9}{'steps':>8}{'seconds':>9}{'states':>9}{'odd':>5}{'transitions':>13}"
    )
    for name, cov in sorted(COVERAGE.items()):
        spec = len(cov.states & REACHABLE)
        odd = len(cov.states - REACHABLE)
        write(
            f"{name:<{width}}{cov.examples:>9}{cov.steps:>8}{cov.seconds:>9.1f}"
            f"{f'{spec}/{len(REACHABLE)}':>9}{odd:>5}{len(cov.transitions):>13}"
        )
    for name, cov in sorted(COVERAGE.items()):
        if cov.known:
            met = ", ".join(f"{k} in {v}" for k, v in sorted(cov.known.items()))
            write(f"{name}: recorded findings met (examples): {met}")
    if os.environ.get("OTRCHECK_STATEFUL_STATES"):
        for name, cov in sorted(COVERAGE.items()):
            write(f"{name} states:")
            for state in sorted(cov.states):
                write(f"    {state}{'' if state in REACHABLE else '   (outside the spec)'}")
