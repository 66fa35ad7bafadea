"""The protocol figures of every pair, measured side by side: AKE, SMP, data messages, reassembly.

Each pair gets two sessions (two accounts each, fixture DSA keys, no seed:
the implementations' production randomness): one without a size limit
for the AKE and SMP, one fragmenting at 1000 characters for the data and
reassembly figures.  For each figure, every pair first does an untimed
warm-up (what an implementation does once per process, such as loading a
key, building a table or a subprocess peer's first request, is not timed),
then the pairs take one sample each *in turn*, repetition after
repetition, so that a change in the load of a shared machine falls on all
of them alike.  The figure is the median of a pair's samples
(:mod:`benchmarks.figures` says what each sample is and checks).

A pair whose figure fails (a failed check, a crashed peer) gets an error
for that figure and a new session for the next one; the others go on.
"""

from __future__ import annotations

from collections.abc import Callable

from .budget import Budget
from .figures import (
    AkeRunner,
    CheckFailed,
    DataRunner,
    ReassemblyRunner,
    Runner,
    SmpRunner,
    secure,
    text_of,
)
from .model import FRAGMENT_SIZE, SIZES, Measurement, PairResult, data_figure_id
from .peers import Available, Link, common_version

__all__ = ["CheckFailed", "measure_pair", "measure_pairs", "text_of"]


class _Sessions:
    """A pair's sessions by size limit, opened and secured on first use; a failed figure discards one."""

    ATTEMPTS = 3  # AKEs tried per new session: a known interop bug may fail one now and then (OTRJS-001)

    def __init__(self, alice: Available, bob: Available, version: int, notes: list[str]) -> None:
        self._alice, self._bob, self.version = alice, bob, version
        self._open: dict[int, Link] = {}
        self._notes = notes

    def get(self, max_message_size: int) -> Link:
        link = self._open.get(max_message_size)
        if link is not None:
            return link
        for attempt in range(1, self.ATTEMPTS + 1):
            link = Link.open(self._alice.make, self._bob.make, self.version, max_message_size)
            try:
                secure(link, self.version)
            except CheckFailed as exc:
                link.close()
                self._notes.append(f"setting up a session: AKE {attempt} of {self.ATTEMPTS} failed: {exc}")
                if attempt == self.ATTEMPTS:
                    raise
                continue
            self._open[max_message_size] = link
            return link
        raise AssertionError("unreachable")

    def discard(self, max_message_size: int) -> None:
        link = self._open.pop(max_message_size, None)
        if link is not None:
            link.close()

    def close(self) -> None:
        for size in list(self._open):
            self.discard(size)


Factory = Callable[[Link, int, Budget], Runner]


def _specs(budget: Budget) -> list[tuple[str, int, int, Factory]]:
    """(figure id, session size limit, repetitions, runner factory) in the table's order."""
    specs: list[tuple[str, int, int, Factory]] = [
        ("ake", 0, budget.ake_reps, AkeRunner),
        ("smp", 0, budget.smp_reps, SmpRunner),
    ]
    for mode in ("oneway", "roundtrip"):
        for i, size in enumerate(SIZES):
            count = (budget.oneway if mode == "oneway" else budget.roundtrip)[i]
            figure_id = data_figure_id(mode, size)
            specs.append((figure_id, FRAGMENT_SIZE, budget.batches, _data(mode, size, count)))
    specs.append(("reassembly", FRAGMENT_SIZE, budget.batches, ReassemblyRunner))
    return specs


def _data(mode: str, size: int, count: int) -> Factory:
    return lambda link, version, budget: DataRunner(link, version, budget, mode, size, count)


def _failure(exc: Exception) -> Measurement:
    return Measurement.failed(f"{type(exc).__name__}: {exc}")


def measure_pairs(
    pairs: list[tuple[Available, Available]],
    budget: Budget,
    wanted: set[str],
    log: Callable[[str], None] = lambda message: None,
) -> list[PairResult]:
    """Every wanted figure (ids of :data:`benchmarks.model.FIGURES`) of every pair, interleaved."""
    results: list[PairResult] = []
    sessions: list[_Sessions | None] = []
    for alice, bob in pairs:
        a, b = alice.participant, bob.participant
        version = common_version(a, b)
        transport = "pipe" if "pipe" in (a.transport, b.transport) else "in-process"
        result = PairResult(a.name, b.name, version, transport)
        results.append(result)
        sessions.append(None if version is None else _Sessions(alice, bob, version, result.notes))
    specs = [spec for spec in _specs(budget) if spec[0] in wanted]
    try:
        for n, (figure_id, size_limit, reps, factory) in enumerate(specs):
            log(f"measuring {figure_id} for {len(pairs)} pairs ...")
            runners: dict[int, Runner] = {}
            for i, (result, pair_sessions) in enumerate(zip(results, sessions, strict=True)):
                if pair_sessions is None:
                    result.figures[figure_id] = Measurement.failed("no protocol version in common")
                    continue
                try:
                    runner = factory(pair_sessions.get(size_limit), pair_sessions.version, budget)
                    runner.warm_up()
                    runners[i] = runner
                except Exception as exc:
                    result.figures[figure_id] = _failure(exc)
                    pair_sessions.discard(size_limit)
            for _ in range(reps):
                for i, runner in list(runners.items()):
                    if runner.done:
                        continue
                    try:
                        runner.sample()
                    except Exception as exc:
                        results[i].figures[figure_id] = _failure(exc)
                        del runners[i]
                        session = sessions[i]
                        assert session is not None
                        session.discard(size_limit)
            for i, runner in runners.items():
                results[i].figures[figure_id] = runner.measurement()
            if all(spec[1] != size_limit for spec in specs[n + 1 :]):
                for pair_sessions in sessions:
                    if pair_sessions is not None:
                        pair_sessions.discard(size_limit)
    finally:
        for pair_sessions in sessions:
            if pair_sessions is not None:
                pair_sessions.close()
    return results


def measure_pair(alice: Available, bob: Available, budget: Budget, wanted: set[str]) -> PairResult:
    return measure_pairs([(alice, bob)], budget, wanted)[0]
