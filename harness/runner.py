"""The interop matrix: every ordered pair of implementations x every scenario.

Outcomes of a cell:

* PASS, FAIL: the scenario's expectations held, or one did not;
* XFAIL, XPASS: a manifest expects this cell to fail (naming the finding),
  and it did, or it passed after all;
* UNSUPPORTED: an implementation lacks a version or feature the scenario
  needs, a manifest says it cannot run it, or its adapter said so;
* CRASH: an implementation's process died (a signal, an exit);
* TIMEOUT: an implementation did not answer in time.

An unexpected FAIL, XPASS, CRASH or TIMEOUT makes the run fail.

Every implementation runs in its own ``otrcheck peer NAME`` worker process
(crash isolation, and real parallelism on several cores); workers are kept
per pair and re-``init``-ed for each cell.  Each pair runs its sanity
scenarios first and last.  Every cell is reproducible from the run's seed:
the cell seed is derived from it, the scenario id and the pair.
"""

from __future__ import annotations

import contextlib
import hashlib
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from harness import manifest as manifests
from harness.network import MessageStorm
from harness.scenarios import Scenario
from harness.script import ExpectationFailed, Script
from implementations.api import Adapter, AdapterError, Hello, Unsupported
from implementations.peer import PeerCrashed, PeerProcess

OUTCOMES = ("PASS", "FAIL", "XFAIL", "XPASS", "UNSUPPORTED", "CRASH", "TIMEOUT")
UNEXPECTED = frozenset({"FAIL", "XPASS", "CRASH", "TIMEOUT"})
TRANSCRIPT_LINES = 40


@dataclass
class Cell:
    scenario: str
    a: str
    b: str
    outcome: str
    detail: str = ""
    finding: str | None = None
    seconds: float = 0.0
    seed: int = 0
    transcript: list[str] = field(default_factory=list)
    position: str = ""  # a sanity cell's run: "first" or "last" (order_for_pair runs them twice)

    @property
    def unexpected(self) -> bool:
        return self.outcome in UNEXPECTED


@dataclass(frozen=True)
class Participant:
    """An implementation as the runner sees it: a name, how to start a worker, and what it can do."""

    name: str
    start: Callable[[], Adapter] | None
    hello: Hello | None = None
    unavailable: str = ""


def cell_seed(seed: int, scenario: str, a: str, b: str) -> int:
    digest = hashlib.sha256(f"{seed}/{scenario}/{a}/{b}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def missing_needs(scenario: Scenario, hello: Hello) -> list[str]:
    have = set(hello.features) | {f"v{v}" for v in hello.protocol_versions}
    return sorted(scenario.needs - have)


class _Workers:
    """The worker processes of one pair, reused from cell to cell and replaced after a crash."""

    def __init__(self, participants: dict[str, Participant]) -> None:
        self._participants = participants
        self._pool: dict[tuple[str, int], Adapter] = {}

    def get(self, name: str, slot: int) -> Adapter:
        adapter = self._pool.get((name, slot))
        if adapter is None:
            start = self._participants[name].start
            assert start is not None
            adapter = self._pool[(name, slot)] = start()
        return adapter

    def discard_all(self) -> None:
        for adapter in self._pool.values():
            close = getattr(adapter, "close", None)
            if close is not None:
                with contextlib.suppress(Exception):  # a dead worker may fail to close; it is gone either way
                    close()
        self._pool.clear()


def run_cell(
    scenario: Scenario,
    a: Participant,
    b: Participant,
    seed: int,
    entries: list[manifests.Entry],
    workers: _Workers,
) -> Cell:
    cell = Cell(scenario.id, a.name, b.name, "PASS", seed=cell_seed(seed, scenario.id, a.name, b.name))
    for participant in (a, b):
        if participant.hello is None:
            cell.outcome = "UNSUPPORTED"
            cell.detail = f"{participant.name} unavailable: {participant.unavailable}"
            return cell
        lacking = missing_needs(scenario, participant.hello)
        if lacking:
            cell.outcome, cell.detail = "UNSUPPORTED", f"{participant.name} lacks {', '.join(lacking)}"
            return cell
    declared = manifests.lookup(entries, "unsupported", scenario.id, a.name, b.name)
    if declared is not None:
        cell.outcome, cell.detail = "UNSUPPORTED", f"{declared.implementation}: {declared.reason}"
        return cell

    started = time.monotonic()
    script = Script(cell.seed, scenario.plan)
    try:
        slots: dict[str, int] = {}
        peers = {"a": "bob", "b": "alice"}
        for side, role in scenario.roles:
            name = a.name if side == "a" else b.name
            slot = slots[name] = slots.get(name, -1) + 1
            script.add(role, workers.get(name, slot), peers[side])
        scenario.run(script)
    except ExpectationFailed as exc:
        cell.outcome, cell.detail = "FAIL", str(exc)
    except MessageStorm as exc:
        cell.outcome, cell.detail = "FAIL", str(exc)
    except Unsupported as exc:
        cell.outcome, cell.detail = "UNSUPPORTED", exc.detail
    except PeerCrashed as exc:
        cell.outcome = "TIMEOUT" if exc.reason == "timeout" else "CRASH"
        cell.detail = str(exc)
        workers.discard_all()
    except AdapterError as exc:
        cell.outcome, cell.detail = "FAIL", f"{exc.kind} error from an adapter: {exc.detail}"
    except AssertionError as exc:  # a network expectation (no such packet in flight)
        cell.outcome, cell.detail = "FAIL", str(exc)
    cell.seconds = time.monotonic() - started
    cell.transcript = [
        f"{d.packet.sender}->{d.receiver}: {d.packet.wire[:100]}"
        + (f" [{d.packet.note}]" if d.packet.note else "")
        for d in script.net.log[-TRANSCRIPT_LINES:]
    ]
    expected = manifests.lookup(entries, "expected_failure", scenario.id, a.name, b.name)
    if expected is not None:
        cell.finding = expected.finding
        if cell.outcome in ("FAIL", "CRASH", "TIMEOUT"):
            cell.detail = f"{expected.finding}: {expected.reason} [{cell.outcome}: {cell.detail}]"
            cell.outcome = "XFAIL"
        elif cell.outcome == "PASS":
            cell.outcome, cell.detail = "XPASS", f"expected to fail ({expected.finding}) but passed"
    return cell


def order_for_pair(scenarios: Iterable[Scenario]) -> list[Scenario]:
    """Sanity scenarios first and last, the rest in id order between."""
    listed = sorted(scenarios, key=lambda s: s.id)
    sanity = [s for s in listed if s.sanity]
    rest = [s for s in listed if not s.sanity]
    return [*sanity, *rest, *sanity] if sanity else rest


def run_pair(
    scenarios: list[Scenario],
    a: Participant,
    b: Participant,
    seed: int,
    entries: list[manifests.Entry],
    on_cell: Callable[[Cell], None],
) -> list[Cell]:
    workers = _Workers({a.name: a, b.name: b})
    cells = []
    sanity_done: set[str] = set()
    try:
        for scenario in order_for_pair(scenarios):
            cell = run_cell(scenario, a, b, seed, entries, workers)
            if scenario.sanity:
                cell.position = "last" if scenario.id in sanity_done else "first"
                sanity_done.add(scenario.id)
            cells.append(cell)
            on_cell(cell)
    finally:
        workers.discard_all()
    return cells


def run_matrix(
    participants: list[Participant],
    scenarios: list[Scenario],
    seed: int,
    jobs: int = 2,
    entries: list[manifests.Entry] | None = None,
    on_cell: Callable[[Cell], None] = lambda cell: None,
) -> list[Cell]:
    entries = manifests.load() if entries is None else entries
    pairs = [(a, b) for a in participants for b in participants]
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = [pool.submit(run_pair, scenarios, a, b, seed, entries, on_cell) for a, b in pairs]
        return [cell for future in futures for cell in future.result()]


def worker_participant(
    name: str, command: list[str], cwd: str | None = None, timeout: float = 30.0
) -> Participant:
    """A participant whose workers run ``command`` (anything that speaks the peer protocol)."""

    def start() -> Adapter:
        return PeerProcess(command, cwd=cwd, timeout=timeout, name=name)

    try:
        probe = start()
        try:
            hello = probe.hello()
        finally:
            probe.close()  # type: ignore[attr-defined]
    except AdapterError as exc:
        return Participant(name, None, None, f"{exc.kind}: {exc.detail}")
    return Participant(name, start, hello)
