"""The values a benchmark run produces, and their JSON form (schema ``otrcheck-bench/1``).

Invariants:

* A :class:`Measurement` holds either a value (the median of its samples)
  or an error, never both; ``samples`` are the raw per-repetition values in
  the figure's unit.
* Ratios are computed once, from figures of the same run
  (:func:`ratios_to`): ``value / reference``, whatever the direction; the
  figure's :attr:`FigureSpec.better` says which way is good.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any, Literal

SCHEMA = "otrcheck-bench/1"
REFERENCE_IMPL = "libotr"  # ratios are to libotr against itself, as the issue asks

Better = Literal["lower", "higher"]


@dataclass(frozen=True)
class FigureSpec:
    """One protocol figure measured per pair: what it is, its unit, and which direction is better."""

    id: str
    title: str
    unit: str
    better: Better


SIZES = (100, 1024, 16384)
FRAGMENT_SIZE = 1000  # max_message_size of both sides in the data and reassembly measurements


def _size_name(size: int) -> str:
    return f"{size // 1024}KiB" if size >= 1024 else f"{size}B"


def data_figure_id(mode: str, size: int) -> str:
    return f"data_{mode}_{_size_name(size)}"


FIGURES: tuple[FigureSpec, ...] = (
    FigureSpec("ake", "full AKE (query to both sides encrypted)", "ms", "lower"),
    FigureSpec("smp", "SMP with a question (start to success on both sides)", "ms", "lower"),
    *(
        FigureSpec(data_figure_id("oneway", size), f"data one way, {_size_name(size)}", "msg/s", "higher")
        for size in SIZES
    ),
    *(
        FigureSpec(
            data_figure_id("roundtrip", size), f"data round trip, {_size_name(size)}", "rt/s", "higher"
        )
        for size in SIZES
    ),
    FigureSpec(
        "reassembly",
        f"fragment reassembly (receiver only, 16KiB in {FRAGMENT_SIZE}-char fragments)",
        "frag/s",
        "higher",
    ),
)
FIGURE_IDS = tuple(spec.id for spec in FIGURES)
DATA_FIGURE_IDS = tuple(i for i in FIGURE_IDS if i.startswith("data_"))


def figure_spec(figure_id: str) -> FigureSpec:
    for spec in FIGURES:
        if spec.id == figure_id:
            return spec
    raise KeyError(figure_id)


@dataclass
class Measurement:
    """A figure for one pair: the median of ``samples``, or ``error`` saying why there is none."""

    value: float | None = None
    samples: list[float] = field(default_factory=list)
    error: str | None = None
    ratio: float | None = None  # value / the reference pair's value, same run
    note: str = ""

    @classmethod
    def of(cls, samples: list[float], note: str = "") -> Measurement:
        if not samples:
            return cls.failed("no samples")
        return cls(statistics.median(samples), list(samples), note=note)

    @classmethod
    def failed(cls, error: str) -> Measurement:
        return cls(error=error)

    def to_json(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "samples": self.samples,
            "error": self.error,
            "ratio_to_libotr": self.ratio,
            "note": self.note,
        }


@dataclass(frozen=True)
class Participant:
    """An implementation as it takes part: how it is reached and which protocol versions it speaks."""

    name: str
    version: str
    transport: Literal["in-process", "pipe"]
    protocol_versions: tuple[int, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "transport": self.transport,
            "protocol_versions": list(self.protocol_versions),
        }


@dataclass
class PairResult:
    """Every protocol figure of one ordered pair (alice's implementation -> bob's)."""

    alice: str
    bob: str
    version: int | None
    transport: str
    figures: dict[str, Measurement] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # what went wrong outside a figure (retried AKEs)

    @property
    def key(self) -> str:
        return f"{self.alice}->{self.bob}"

    def to_json(self) -> dict[str, Any]:
        return {
            "alice": self.alice,
            "bob": self.bob,
            "protocol_version": self.version,
            "transport": self.transport,
            "figures": {fid: m.to_json() for fid, m in self.figures.items()},
            "notes": self.notes,
        }


def ratios_to(pairs: list[PairResult], reference: str = REFERENCE_IMPL) -> None:
    """Set each measurement's ratio to the same figure of ``reference`` against itself (this run)."""
    ref = next((p for p in pairs if p.alice == reference and p.bob == reference), None)
    for pair in pairs:
        for fid, measurement in pair.figures.items():
            base = ref.figures.get(fid) if ref else None
            if measurement.value is None or base is None or not base.value:
                measurement.ratio = None
            else:
                measurement.ratio = measurement.value / base.value


def find_pair(pairs: list[PairResult], alice: str, bob: str) -> PairResult | None:
    return next((p for p in pairs if p.alice == alice and p.bob == bob), None)


@dataclass
class Section:
    """A measurement outside the pair table (memory, wall time, fuzzing): its status and numbers."""

    status: Literal["ok", "error", "skipped", "absent"]
    detail: str = ""
    values: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"status": self.status, "detail": self.detail, **self.values}


@dataclass(frozen=True)
class GoalResult:
    """One goal of the issue held against this run: met is None when it could not be judged."""

    id: str
    text: str
    met: bool | None
    measured: str

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "text": self.text, "met": self.met, "measured": self.measured}


@dataclass
class Report:
    started: str
    quick: bool
    budget: dict[str, Any]
    machine: dict[str, Any]
    participants: list[Participant] = field(default_factory=list)
    unavailable: dict[str, str] = field(default_factory=dict)
    pairs: list[PairResult] = field(default_factory=list)
    sections: dict[str, Section] = field(default_factory=dict)
    goals: list[GoalResult] = field(default_factory=list)
    duration_s: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "started": self.started,
            "duration_s": self.duration_s,
            "quick": self.quick,
            "budget": self.budget,
            "machine": self.machine,
            "reference": REFERENCE_IMPL,
            "figures": [{"id": s.id, "title": s.title, "unit": s.unit, "better": s.better} for s in FIGURES],
            "implementations": [p.to_json() for p in self.participants],
            "unavailable": self.unavailable,
            "pairs": [p.to_json() for p in self.pairs],
            "sections": {name: s.to_json() for name, s in self.sections.items()},
            "goals": [g.to_json() for g in self.goals],
        }
