"""``python -m benchmarks``: one command, one run, a table on stdout and JSON on disk.

Sections, all by default (``--only`` picks some): ``ake``, ``smp``,
``data``, ``reassembly`` (the pair table), ``memory`` (fragment flood and
long session), ``matrix`` and ``tests`` (wall times), ``fuzz`` (exec/s per
target).  ``--quick`` does a fraction of the work and skips ``matrix`` and
``tests`` unless ``--only`` names them.

Exit status: 0 when every measurement produced its figure (goals met or
not: goals are reported, not enforced), 1 when a figure or section ended
in an error, 2 on bad arguments.  Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from . import fuzzing, goals, machine, memory, peers, protocol, table, wall
from .budget import FULL, QUICK, Budget
from .model import DATA_FIGURE_IDS, Report, Section, ratios_to

PROTOCOL_SECTIONS = {
    "ake": ("ake",),
    "smp": ("smp",),
    "data": DATA_FIGURE_IDS,
    "reassembly": ("reassembly",),
}
SECTIONS = (*PROTOCOL_SECTIONS, "memory", "matrix", "tests", "fuzz")
SLOW_SECTIONS = ("matrix", "tests")
DEFAULT_JSON = Path("otrcheck-reports") / "bench.json"


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="a short run (few repetitions; no matrix, tests)"
    )
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="SECTION[,SECTION]",
        help=f"only these sections: {', '.join(SECTIONS)}",
    )
    parser.add_argument(
        "--impl", action="append", default=[], metavar="NAME", help="only these implementations (repeatable)"
    )
    parser.add_argument(
        "--json", type=Path, default=DEFAULT_JSON, help=f"JSON output (default {DEFAULT_JSON})"
    )
    parser.add_argument("--markdown", type=Path, help="also write the table to this Markdown file")
    parser.add_argument("--fuzz-runs", type=int, help="runs per fuzz target (default: from the budget)")
    args = parser.parse_args(argv)
    only = [s.strip() for item in args.only for s in item.split(",") if s.strip()]
    unknown = sorted(set(only) - set(SECTIONS))
    if unknown:
        parser.error(f"unknown section(s) {', '.join(unknown)}; known: {', '.join(SECTIONS)}")
    args.only = only
    if args.fuzz_runs is not None and args.fuzz_runs < 1:
        parser.error("--fuzz-runs must be positive")
    return args


def chosen_sections(only: list[str], quick: bool) -> list[str]:
    if only:
        return [s for s in SECTIONS if s in only]
    return [s for s in SECTIONS if not (quick and s in SLOW_SECTIONS)]


def run(budget: Budget, sections: list[str], impls: list[str], quick: bool) -> Report:
    """Measure ``sections`` with ``budget``; the report's goals are evaluated at the end."""
    started = time.perf_counter()
    report = Report(
        started=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        quick=quick,
        budget=budget.to_json(),
        machine=machine.describe(),
    )
    wanted = {fid for s in sections if s in PROTOCOL_SECTIONS for fid in PROTOCOL_SECTIONS[s]}
    if wanted:
        available, report.unavailable = peers.discover(impls or None)
        report.participants = [a.participant for a in available]
        for why in report.unavailable.values():
            _log(f"unavailable: {why}")
        report.pairs = protocol.measure_pairs(peers.plan(available), budget, wanted, _log)
        ratios_to(report.pairs)
    runners: dict[str, list[tuple[str, Callable[[], Section]]]] = {
        "memory": [
            ("memory_flood", lambda: memory.fragment_flood(budget)),
            ("memory_session", lambda: memory.long_session(budget)),
        ],
        "matrix": [("matrix", lambda: wall.matrix(budget.subprocess_timeout))],
        "tests": [("tests", lambda: wall.suite_run(budget.subprocess_timeout))],
        "fuzz": [("fuzz", lambda: fuzzing.fuzz_targets(budget.fuzz_runs, budget.subprocess_timeout))],
    }
    for section in sections:
        for name, runner in runners.get(section, []):
            _log(f"measuring {name} ...")
            try:
                report.sections[name] = runner()
            except Exception as exc:
                report.sections[name] = Section("error", f"{type(exc).__name__}: {exc}"[:500])
    for section in SLOW_SECTIONS:
        if section not in sections:
            report.sections[section] = Section("skipped", "--quick" if quick else "not in --only")
    report.machine["load_at_end"] = machine.load()
    report.goals = goals.evaluate(report)
    report.duration_s = round(time.perf_counter() - started, 1)
    return report


def failed(report: Report) -> list[str]:
    """What ended in an error: ``pair figure`` and section names."""
    problems = [
        f"{pair.key} {fid}" for pair in report.pairs for fid, m in pair.figures.items() if m.error is not None
    ]
    problems.extend(name for name, s in report.sections.items() if s.status == "error")
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    budget = QUICK if args.quick else FULL
    if args.fuzz_runs is not None:
        budget = dataclasses.replace(budget, fuzz_runs=args.fuzz_runs)
    report = run(budget, chosen_sections(args.only, args.quick), args.impl, args.quick)
    text = table.render(report)
    print(text, end="")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report.to_json(), indent=2) + "\n", encoding="utf-8")
    _log(f"wrote {args.json}")
    if args.markdown is not None:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(text, encoding="utf-8")
        _log(f"wrote {args.markdown}")
    problems = failed(report)
    if problems:
        _log(f"errors in: {', '.join(problems)}")
        return 1
    return 0
