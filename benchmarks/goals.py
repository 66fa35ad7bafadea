"""The goals of issue 9, held against one run.  They are reported, never weakened and never asserted.

* engine AKE time <= 0.5 x libotr's; engine SMP time <= 0.5 x libotr's;
* engine data throughput >= libotr's (every data figure and reassembly);
* engine >= 10 x python-potr on the AKE, on SMP and on data throughput;
* the full interop matrix in <= 60 s;
* engine memory flat over 100,000 messages in one session.

Each goal compares figures of the same run: the engine against itself
with libotr (or potr) against itself.  ``met`` is None when the run lacks
what the goal needs (an implementation unavailable, a figure failed, a
section skipped), and the ``measured`` text says what is missing.
"""

from __future__ import annotations

from collections.abc import Callable

from .model import DATA_FIGURE_IDS, GoalResult, PairResult, Report, Section, figure_spec, find_pair

ENGINE = "engine"
LIBOTR = "libotr"
POTR = "potr"
MATRIX_BUDGET_S = 60.0
SESSION_MESSAGES = 100_000
THROUGHPUT_IDS = (*DATA_FIGURE_IDS, "reassembly")


def _self_pair(report: Report, name: str) -> PairResult | None:
    return find_pair(report.pairs, name, name)


def _advantage(engine: PairResult, other: PairResult, figure_id: str) -> float | None:
    """How many times better the engine is on one figure (>1: better), or None if either is missing."""
    mine, theirs = engine.figures.get(figure_id), other.figures.get(figure_id)
    if mine is None or theirs is None or not mine.value or not theirs.value:
        return None
    if figure_spec(figure_id).better == "lower":
        return theirs.value / mine.value
    return mine.value / theirs.value


def _compare(
    report: Report,
    goal_id: str,
    text: str,
    other: str,
    figure_ids: tuple[str, ...],
    ok: Callable[[float], bool],
) -> GoalResult:
    engine, reference = _self_pair(report, ENGINE), _self_pair(report, other)
    if engine is None or reference is None:
        missing = ENGINE if engine is None else other
        return GoalResult(goal_id, text, None, f"{missing} did not take part")
    parts: list[str] = []
    verdicts: list[bool | None] = []
    for fid in figure_ids:
        advantage = _advantage(engine, reference, fid)
        if advantage is None:
            parts.append(f"{fid}: no figure")
            verdicts.append(None)
            continue
        spec = figure_spec(fid)
        ratio = 1 / advantage if spec.better == "lower" else advantage
        parts.append(f"{fid}: {ratio:.2f}x" if len(figure_ids) > 1 else f"{ratio:.2f}x {other}'s")
        verdicts.append(ok(advantage))
    if all(v is None for v in verdicts):
        return GoalResult(goal_id, text, None, "not measured in this run")
    met = None if None in verdicts else all(v is True for v in verdicts)
    versions = f" (engine v{engine.version}, {other} v{reference.version})"
    return GoalResult(goal_id, text, met, "; ".join(parts) + versions)


def _matrix(section: Section | None) -> GoalResult:
    text = f"full matrix in <= {MATRIX_BUDGET_S:.0f} s"
    if section is None or section.status != "ok":
        return GoalResult("matrix", text, None, section.detail if section else "not measured")
    seconds = float(section.values["seconds"])
    status = section.values.get("exit_status")
    note = "" if status == 0 else f" (exit status {status})"
    return GoalResult("matrix", text, seconds <= MATRIX_BUDGET_S, f"{seconds:.1f} s{note}")


def _memory(section: Section | None) -> GoalResult:
    text = f"engine memory flat over {SESSION_MESSAGES:,} messages in one session"
    if section is None or section.status != "ok":
        return GoalResult("memory", text, None, section.detail if section else "not measured")
    growth = int(section.values["growth_bytes"])
    messages = int(section.values["messages"])
    measured = f"{growth:+,} bytes from message {section.values['growth_from']:,} to {messages:,}"
    if messages < SESSION_MESSAGES:
        return GoalResult("memory", text, None, measured + " (too few messages to judge)")
    return GoalResult("memory", text, bool(section.values["flat"]), measured)


def evaluate(report: Report) -> list[GoalResult]:
    return [
        _compare(
            report, "ake-vs-libotr", "engine AKE <= 0.5x libotr's time", LIBOTR, ("ake",), lambda a: a >= 2
        ),
        _compare(
            report, "smp-vs-libotr", "engine SMP <= 0.5x libotr's time", LIBOTR, ("smp",), lambda a: a >= 2
        ),
        _compare(
            report,
            "data-vs-libotr",
            "engine data throughput >= libotr's",
            LIBOTR,
            THROUGHPUT_IDS,
            lambda a: a >= 1,
        ),
        _compare(
            report, "ake-vs-potr", "engine AKE >= 10x faster than potr", POTR, ("ake",), lambda a: a >= 10
        ),
        _compare(
            report, "smp-vs-potr", "engine SMP >= 10x faster than potr", POTR, ("smp",), lambda a: a >= 10
        ),
        _compare(
            report,
            "data-vs-potr",
            "engine data throughput >= 10x potr's",
            POTR,
            THROUGHPUT_IDS,
            lambda a: a >= 10,
        ),
        _matrix(report.sections.get("matrix")),
        _memory(report.sections.get("memory_session")),
    ]
