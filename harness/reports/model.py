"""What every report is drawn from: one matrix run, its participants, scenarios and cells.

Invariants the formats rely on:

* cells are ordered by :func:`cell_key` (scenario id, side a, side b, then
  the sanity run's position, "first" before "last"), so every format lists
  them the same way whatever order the worker threads finished in;
* a pair is an *ordered* pair: ``a`` plays alice (side a), ``b`` plays bob;
* scenario groups keep the order of ``MatrixRun.scenarios`` (the registry's).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from harness.runner import OUTCOMES, Cell
from harness.scenarios import Scenario

POSITIONS = ("", "first", "last")
# The order in which reports list the cells that did not pass: what fails the run first.
SEVERITY = ("CRASH", "TIMEOUT", "FAIL", "XPASS", "XFAIL", "UNSUPPORTED")


def otrcheck_version() -> str:
    try:
        return metadata.version("otrcheck")
    except metadata.PackageNotFoundError:
        return "unknown"


@dataclass(frozen=True)
class ImplementationInfo:
    """An implementation as a report shows it: what it is, and whether it took part in the run."""

    name: str
    version: str = ""
    available: bool = True
    unavailable: str = ""
    features: tuple[str, ...] = ()
    protocol_versions: tuple[int, ...] = ()
    participant: bool = True
    command: tuple[str, ...] = ()


@dataclass(frozen=True)
class ScenarioInfo:
    id: str
    group: str
    doc: str
    needs: tuple[str, ...] = ()
    sanity: bool = False

    @classmethod
    def of(cls, scenario: Scenario) -> ScenarioInfo:
        return cls(scenario.id, scenario.group, scenario.doc, tuple(sorted(scenario.needs)), scenario.sanity)


def cell_key(cell: Cell) -> tuple[str, str, str, int]:
    return (cell.scenario, cell.a, cell.b, POSITIONS.index(cell.position))


def cell_name(cell: Cell) -> str:
    """The scenario id, with the sanity run's position when there is one: ``sanity/x [first]``."""
    return f"{cell.scenario} [{cell.position}]" if cell.position else cell.scenario


def pair_label(a: str, b: str, arrow: str = "→") -> str:
    return f"{a}{arrow}{b}"


def one_line(text: str, width: int = 200, ellipsis: str = "…") -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - len(ellipsis)] + ellipsis


def plural(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def iso_utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class MatrixRun:
    seed: int
    started: datetime
    seconds: float
    jobs: int
    implementations: list[ImplementationInfo]
    scenarios: list[ScenarioInfo]
    cells: list[Cell]
    otrcheck: str = field(default_factory=otrcheck_version)

    def __post_init__(self) -> None:
        self.cells = sorted(self.cells, key=cell_key)

    @property
    def participants(self) -> list[str]:
        return [impl.name for impl in self.implementations if impl.participant]

    @property
    def pairs(self) -> list[tuple[str, str]]:
        names = self.participants
        return [(a, b) for a in names for b in names]

    @property
    def groups(self) -> list[str]:
        return list(dict.fromkeys(s.group for s in self.scenarios))

    def summary(self, cells: Iterable[Cell] | None = None) -> dict[str, int]:
        """The number of cells per outcome, every outcome present (zero when none)."""
        counts = Counter(cell.outcome for cell in (self.cells if cells is None else cells))
        return {outcome: counts.get(outcome, 0) for outcome in OUTCOMES}

    @property
    def unexpected(self) -> list[Cell]:
        return [cell for cell in self.cells if cell.unexpected]

    @property
    def not_passing(self) -> list[Cell]:
        """Every cell but the passes, what fails the run first (then in cell order)."""
        cells = [cell for cell in self.cells if cell.outcome != "PASS"]
        return sorted(cells, key=lambda cell: SEVERITY.index(cell.outcome))

    def findings(self) -> dict[str, list[Cell]]:
        """Finding id -> the cells that name it, ids in order."""
        found: dict[str, list[Cell]] = {}
        for cell in self.cells:
            if cell.finding:
                found.setdefault(cell.finding, []).append(cell)
        return dict(sorted(found.items()))

    def rows(self) -> list[tuple[str, str]]:
        """The grid's rows: (scenario id, position), in scenario order, sanity runs first then last."""
        order = {s.id: i for i, s in enumerate(self.scenarios)}
        present = {(cell.scenario, cell.position) for cell in self.cells}
        present |= {(s.id, "") for s in self.scenarios if not s.sanity}
        present |= {(s.id, p) for s in self.scenarios if s.sanity for p in ("first", "last")}
        return sorted(
            present, key=lambda row: (order.get(row[0], len(order)), row[0], POSITIONS.index(row[1]))
        )


@dataclass(frozen=True)
class Finding:
    id: str
    title: str
    link: str  # relative to the findings directory: ``libotr.md#libotr-001``


_HEADING = re.compile(r"^##\s+([A-Z][A-Z0-9]*-\d+)\b")
_TABLE_ROW = re.compile(r"^\|\s*\[([A-Z][A-Z0-9]*-\d+)\]\([^)]*\)\s*\|(.*)\|\s*$")


def load_findings(directory: Path | None) -> dict[str, Finding]:
    """Finding ids documented under ``docs/findings/``: the file with the ``## ID`` section and a title.

    The title comes from a summary table row ``| [ID](...) | ... | title | status |`` (the
    next-to-last column), as the README and the per-implementation pages write them.
    """
    if directory is None or not directory.is_dir():
        return {}
    files: dict[str, str] = {}
    titles: dict[str, str] = {}
    for path in sorted(directory.glob("*.md")):
        for line in path.read_text(encoding="utf-8").splitlines():
            heading = _HEADING.match(line)
            if heading:
                files.setdefault(heading.group(1), path.name)
            row = _TABLE_ROW.match(line)
            if row:
                columns = [c.strip() for c in row.group(2).split("|")]
                if len(columns) >= 2:
                    titles.setdefault(row.group(1), columns[-2])
    return {
        fid: Finding(fid, titles.get(fid, ""), f"{name}#{fid.lower()}") for fid, name in sorted(files.items())
    }


def finding_link(finding_id: str, findings: dict[str, Finding]) -> str:
    """Where a finding is documented, relative to the findings directory (a guess when undocumented)."""
    known = findings.get(finding_id)
    if known is not None:
        return known.link
    return f"{finding_id.split('-', 1)[0].lower()}.md#{finding_id.lower()}"
