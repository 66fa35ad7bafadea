"""The matrix on a terminal: live progress while it runs, a summary table when it is done.

:class:`Progress` is the runner's ``on_cell`` callback.  Cells arrive from
the worker threads (one per pair being run), so every update holds a lock.
On a TTY one status line is redrawn in place; anywhere else (CI logs) a
plain line is printed at every tenth of the run.  Either way, each
unexpected cell is printed the moment it arrives.  The marks are ASCII, and
text from a run that the output's encoding cannot carry is escaped: not
every CI console speaks UTF-8, and a callback must never raise in a worker.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import TextIO

from harness.reports.model import MatrixRun, cell_name, one_line, pair_label, plural
from harness.runner import OUTCOMES, Cell

_CLEAR = "\r\x1b[2K"


def describe(cell: Cell, width: int = 160) -> str:
    """One line for a cell that needs attention."""
    finding = f" ({cell.finding})" if cell.finding else ""
    head = f"{cell.outcome:<8} {cell_name(cell)} {pair_label(cell.a, cell.b, '->')}{finding}"
    return f"{head}: {one_line(cell.detail, width, '...')}" if cell.detail else head


def printable(text: str, out: TextIO) -> str:
    encoding = getattr(out, "encoding", None) or "utf-8"
    return text.encode(encoding, "backslashreplace").decode(encoding)


class Progress:
    """Counts cells as they arrive and shows it; safe to call from several threads."""

    def __init__(self, total: int, out: TextIO, live: bool | None = None) -> None:
        self.total = total
        self.out = out
        self.live = out.isatty() if live is None else live
        self.done = 0
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._next_tenth = 1

    def status(self) -> str:
        counts = " ".join(f"{self.counts[o]} {o}" for o in OUTCOMES if self.counts[o])
        return f"[{self.done}/{self.total}] {counts}".rstrip()

    def __call__(self, cell: Cell) -> None:
        with self._lock:
            self.done += 1
            self.counts[cell.outcome] += 1
            if self.live:
                lead = _CLEAR + describe(cell) + "\n" if cell.unexpected else _CLEAR
                self.out.write(printable(lead + self.status(), self.out))
            else:
                if cell.unexpected:
                    self.out.write(printable(describe(cell) + "\n", self.out))
                if self.total and self.done * 10 >= self._next_tenth * self.total:
                    while self.done * 10 >= self._next_tenth * self.total:
                        self._next_tenth += 1
                    self.out.write(self.status() + "\n")
            self.out.flush()

    def finish(self) -> None:
        with self._lock:
            if self.live:
                self.out.write(_CLEAR)
                self.out.flush()


def summary(run: MatrixRun, reports: Iterable[Path] = ()) -> str:
    """The table printed at the end: cells per outcome for every pair, then what went wrong."""
    names = [pair_label(a, b, "->") for a, b in run.pairs]
    width = max([len("pair"), len("total"), *map(len, names)])
    header = f"{'pair':<{width}} " + " ".join(f"{o:>{max(len(o), 4)}}" for o in OUTCOMES)

    def row(label: str, cells: list[Cell]) -> str:
        counts = run.summary(cells)
        return f"{label:<{width}} " + " ".join(f"{counts[o]:>{max(len(o), 4)}}" for o in OUTCOMES)

    lines = [
        f"otrcheck matrix: seed {run.seed}, {plural(len(run.participants), 'implementation')}, "
        f"{plural(len(run.scenarios), 'scenario')}, {plural(len(run.cells), 'cell')} in {run.seconds:.1f} s",
        "",
        header,
        "-" * len(header),
    ]
    for (a, b), label in zip(run.pairs, names, strict=True):
        lines.append(row(label, [c for c in run.cells if c.a == a and c.b == b]))
    lines += ["-" * len(header), row("total", run.cells)]
    left_out = [impl for impl in run.implementations if not impl.available]
    if left_out:
        lines += ["", "unavailable:"]
        lines += [f"  {impl.name}: {impl.unavailable}" for impl in left_out]
    unexpected = run.unexpected
    if unexpected:
        lines += ["", f"unexpected ({len(unexpected)}):"]
        lines += [f"  {describe(cell)}" for cell in unexpected]
    reports = list(reports)
    if reports:
        lines += ["", "reports: " + "  ".join(str(path) for path in reports)]
    verdict = (
        f"FAILED: {plural(len(unexpected), 'unexpected cell')}" if unexpected else "OK: no unexpected cell"
    )
    lines += ["", verdict]
    return "\n".join(lines) + "\n"
