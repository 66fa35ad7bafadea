"""Replay vectors against implementations; count, explain, and compare.

:func:`replay` puts every vector to one :class:`~vectors.model.Target`
through its kind's ``replay`` and settles each outcome against the
target's expected disagreements (:mod:`vectors.divergences`):

=========================  ==========================================  ===========
kind's verdict             divergence entry for (implementation, id)   outcome
=========================  ==========================================  ===========
passed                     none                                        passed
failed                     none                                        failed
failed                     yes                                         expected
passed                     yes                                         unexpectedly agreeing (fails)
skipped                    any                                         skipped (with the reason)
=========================  ==========================================  ===========

The summary line is exactly ``N passed, M failed, K skipped``; ``M``
counts the unexpectedly agreeing vectors too, and expected disagreements
are counted on the next line.  :func:`differential` replays the same
vectors against several targets and groups the vectors by *which*
implementations disagree with the expected result.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Final, TextIO

from implementations.api import Adapter

from . import divergences as divergence_files
from . import kinds
from .divergences import Disagreement
from .model import Target, Vector, Verdict

PASSED: Final = "passed"
FAILED: Final = "failed"
SKIPPED: Final = "skipped"
EXPECTED, UNEXPECTED = "expected", "unexpectedly agreeing"


@dataclass(frozen=True)
class Outcome:
    vector: Vector
    implementation: str
    verdict: Verdict
    status: str  # PASSED, FAILED, SKIPPED, EXPECTED or UNEXPECTED
    divergence: Disagreement | None = None

    @property
    def disagrees(self) -> bool:
        """The implementation's answer differs from the vector's expected result (expected or not)."""
        return self.verdict.status == FAILED


@dataclass
class Run:
    implementation: str
    outcomes: list[Outcome] = field(default_factory=list)
    seconds: float = 0.0

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status in (FAILED, UNEXPECTED)]

    @property
    def ok(self) -> bool:
        return not self.failed

    def summary_line(self) -> str:
        return f"{self.count(PASSED)} passed, {len(self.failed)} failed, {self.count(SKIPPED)} skipped"


def target_for(name: str, adapter: Adapter) -> Target:
    """A :class:`Target` for ``adapter``, described by its own ``hello``."""
    hello = adapter.hello()
    return Target(
        name,
        adapter,
        hello.deterministic,
        frozenset(hello.features),
        frozenset(hello.protocol_versions),
    )


def replay_one(vector: Vector, target: Target) -> Verdict:
    module = kinds.load(vector.kind)
    if module is None:
        reason = kinds.problems().get(vector.kind, f"no module vectors/kinds/{vector.kind}.py")
        return Verdict(SKIPPED, reason)
    try:
        verdict: Verdict = module.replay(vector, target)
    except Exception as exc:  # a broken replayer or a dead worker fails this vector, not the run
        return Verdict(FAILED, f"replay raised {exc!r}")
    return verdict


def settle(vector: Vector, name: str, verdict: Verdict, entries: Sequence[Disagreement]) -> Outcome:
    entry = divergence_files.lookup(list(entries), name, vector.ident)
    if verdict.status == SKIPPED:
        return Outcome(vector, name, verdict, SKIPPED, entry)
    if entry is None:
        return Outcome(vector, name, verdict, verdict.status)
    if verdict.status == FAILED:
        return Outcome(vector, name, verdict, EXPECTED, entry)
    return Outcome(vector, name, verdict, UNEXPECTED, entry)


def replay(
    vectors: Iterable[Vector],
    target: Target,
    entries: Sequence[Disagreement] = (),
    revive: Callable[[], Target] | None = None,
    progress: Callable[[Outcome], None] | None = None,
) -> Run:
    """Replay ``vectors`` against ``target``; ``revive`` replaces a target whose worker died."""
    run = Run(target.name)
    start = time.monotonic()
    for vector in vectors:
        verdict = replay_one(vector, target)
        outcome = settle(vector, target.name, verdict, entries)
        run.outcomes.append(outcome)
        if progress is not None:
            progress(outcome)
        running = getattr(target.adapter, "running", True)
        if revive is not None and running is False:
            target = revive()
    run.seconds = time.monotonic() - start
    return run


def report(run: Run, out: TextIO, verbose: bool = False) -> None:
    """The run, for a terminal: failures with their detail, expected ones by finding, skips by reason."""
    out.write(f"== {run.implementation}: {len(run.outcomes)} vectors in {run.seconds:.1f} s\n")
    for o in run.failed:
        what = "UNEXPECTEDLY AGREEING" if o.status == UNEXPECTED else "FAILED"
        out.write(f"  {what} {o.vector.ident} ({o.vector.result}): {o.vector.comment}\n")
        if o.status == UNEXPECTED and o.divergence is not None:
            out.write(f"      listed under {o.divergence.finding} in divergences/{run.implementation}.toml\n")
        else:
            out.write(f"      {o.verdict.detail}\n")
    expected = [o for o in run.outcomes if o.status == EXPECTED]
    by_finding = Counter(o.divergence.finding for o in expected if o.divergence is not None)
    for finding, n in sorted(by_finding.items()):
        out.write(f"  expected disagreement {finding}: {n} vectors\n")
        if verbose:
            for o in expected:
                if o.divergence is not None and o.divergence.finding == finding:
                    out.write(f"      {o.vector.ident}: {o.verdict.detail}\n")
    skipped = Counter(o.verdict.detail for o in run.outcomes if o.status == SKIPPED)
    for reason, n in sorted(skipped.items()):
        out.write(f"  skipped {n}: {reason}\n")
    out.write(run.summary_line() + "\n")
    out.write(f"{len(expected)} expected disagreements\n")


# ----------------------------------------------------------- differential


@dataclass
class Differential:
    """Per vector, which implementations disagree with its expected result."""

    implementations: list[str]
    runs: dict[str, Run]
    rows: dict[str, dict[str, Outcome]]  # ident -> implementation -> outcome
    vectors: dict[str, Vector]

    def groups(self) -> dict[tuple[str, ...], list[str]]:
        """Disagreeing implementations (sorted) -> vector idents, most implementations first."""
        grouped: dict[tuple[str, ...], list[str]] = defaultdict(list)
        for ident, by_impl in self.rows.items():
            who = tuple(sorted(name for name, o in by_impl.items() if o.disagrees))
            if who:
                grouped[who].append(ident)
        return dict(sorted(grouped.items(), key=lambda item: (-len(item[0]), item[0])))


def differential(runs: Sequence[Run]) -> Differential:
    rows: dict[str, dict[str, Outcome]] = {}
    vectors: dict[str, Vector] = {}
    for run in runs:
        for o in run.outcomes:
            rows.setdefault(o.vector.ident, {})[run.implementation] = o
            vectors[o.vector.ident] = o.vector
    return Differential([r.implementation for r in runs], {r.implementation: r for r in runs}, rows, vectors)


def _cell(text: str, limit: int = 90) -> str:
    text = text.replace("|", "\\|").replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _observed(o: Outcome) -> str:
    detail = o.verdict.detail or o.verdict.status
    finding = o.divergence.finding if o.divergence is not None else "**no finding**"
    return f"{_cell(detail)} ({finding})"


def markdown(diff: Differential) -> str:
    """DIFFERENTIAL.md: counts per implementation, then the disagreeing vectors grouped by who disagrees."""
    lines = [
        "# Differential summary of the vectors",
        "",
        "Written by `otrcheck vectors diff`. Each vector was replayed against every implementation",
        "listed; a vector appears below when at least one implementation disagrees with its expected",
        "result. Vectors are grouped by the set of implementations that disagree; each disagreement names",
        "the finding that explains it (`vectors/divergences/<impl>.toml`), or says it has none.",
        "",
        "| implementation | passed | failed | expected disagreements | skipped |",
        "|---|---|---|---|---|",
    ]
    for name in diff.implementations:
        run = diff.runs[name]
        counts = (run.count(PASSED), len(run.failed), run.count(EXPECTED), run.count(SKIPPED))
        lines.append(f"| {name} | " + " | ".join(str(c) for c in counts) + " |")
    by_finding: Counter[tuple[str, str, bool]] = Counter()
    unexplained: Counter[str] = Counter()
    for by_impl in diff.rows.values():
        for name, o in by_impl.items():
            if not o.disagrees:
                continue
            if o.divergence is None:
                unexplained[name] += 1
            else:
                by_finding[(name, o.divergence.finding, o.divergence.proposed)] += 1
    lines += ["", "| implementation | finding | vectors |", "|---|---|---|"]
    for (name, finding, proposed), n in sorted(by_finding.items()):
        lines.append(f"| {name} | {finding}{' (proposed, not yet written up)' if proposed else ''} | {n} |")
    for name, n in sorted(unexplained.items()):
        lines.append(f"| {name} | **none** | {n} |")
    for who, idents in diff.groups().items():
        lines += ["", f"## Disagreeing: {', '.join(who)} ({len(idents)} vectors)", ""]
        lines.append("| vector | result | comment | " + " | ".join(who) + " |")
        lines.append("|---|---|---|" + "---|" * len(who))
        for ident in idents:
            vector = diff.vectors[ident]
            cells = [_observed(diff.rows[ident][name]) for name in who]
            lines.append(
                f"| `{ident}` | {vector.result} | {_cell(vector.comment, 70)} | " + " | ".join(cells) + " |"
            )
    if not diff.groups():
        lines += ["", "No implementation disagrees with any vector."]
    lenient = {
        name: [
            o.vector.ident
            for o in run.outcomes
            if o.status == PASSED and o.verdict.detail.startswith("acceptable")
        ]
        for name, run in diff.runs.items()
    }
    if any(lenient.values()):
        lines += [
            "",
            "## Lenient answers (acceptable: the spec allows them, not disagreements)",
            "",
            "| implementation | vectors |",
            "|---|---|",
        ]
        lines += [
            f"| {name} | {', '.join(f'`{i}`' for i in idents)} |"
            for name, idents in lenient.items()
            if idents
        ]
    return "\n".join(lines) + "\n"
