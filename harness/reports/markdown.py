"""The matrix as Markdown (``matrix.md``): scenario groups x ordered pairs, then what did not pass.

A grid cell counts the pair's cells in that group: ``12/12`` when all
passed, otherwise the count per outcome (``10✓ 1✗ 1xf``), in bold when one
of them is unexpected.  Finding ids link to ``docs/findings/``; the link
base is relative to where the file is written.
"""

from __future__ import annotations

from harness.reports.model import (
    Finding,
    MatrixRun,
    cell_name,
    finding_link,
    iso_utc,
    one_line,
    pair_label,
    plural,
)
from harness.runner import OUTCOMES, UNEXPECTED, Cell

SYMBOLS = {
    "PASS": "✓",
    "FAIL": "✗",
    "XFAIL": "xf",
    "XPASS": "XP",
    "UNSUPPORTED": "u",
    "CRASH": "CR",
    "TIMEOUT": "TO",
}


def escape(text: str) -> str:
    """Text safe inside a GFM table cell: one line, no pipes, no inline markup."""
    flat = " ".join(text.split())
    for char in "\\`*_[]<>|":
        flat = flat.replace(char, "\\" + char)
    return flat


def grid_cell(cells: list[Cell]) -> str:
    if not cells:
        return "·"
    counts = {o: sum(1 for c in cells if c.outcome == o) for o in OUTCOMES}
    if counts["PASS"] == len(cells):
        return f"{len(cells)}/{len(cells)}"
    text = " ".join(f"{n}{SYMBOLS[o]}" for o, n in counts.items() if n)
    return f"**{text}**" if any(counts[o] for o in UNEXPECTED) else text


def _finding_cell(finding_id: str | None, findings: dict[str, Finding], base: str) -> str:
    if not finding_id:
        return ""
    return f"[{finding_id}]({base.rstrip('/')}/{finding_link(finding_id, findings)})"


def render(
    run: MatrixRun, findings: dict[str, Finding] | None = None, findings_base: str = "docs/findings"
) -> str:
    findings = findings or {}
    out: list[str] = ["# otrcheck interop matrix", ""]
    out.append(
        f"Seed {run.seed} · started {iso_utc(run.started)} · {run.seconds:.1f} s · "
        f"{run.jobs} jobs · otrcheck {run.otrcheck}"
    )
    out += ["", "| implementation | version | protocol versions | in this run |", "|---|---|---|---|"]
    for impl in run.implementations:
        if impl.participant and impl.available:
            state = "yes"
        elif impl.participant:
            state = f"yes, but unavailable: {escape(impl.unavailable)}"
        else:
            state = f"no: {escape(impl.unavailable) or 'not selected'}"
        versions = ", ".join(f"v{v}" for v in impl.protocol_versions)
        out.append(f"| {escape(impl.name)} | {escape(impl.version)} | {versions} | {state} |")

    unexpected = len(run.unexpected)
    verdict = f"**{plural(unexpected, 'unexpected cell')}**" if unexpected else "no unexpected cell"
    out += ["", f"{plural(len(run.cells), 'cell')}, {verdict}.", ""]
    out += [f"- {outcome}: {n}" for outcome, n in run.summary().items()]

    pairs = run.pairs
    out += ["", "## Matrix", ""]
    out.append(
        "Rows are scenario groups, columns ordered pairs (side a's implementation → side b's). "
        "`n/n`: all passed; otherwise "
        + ", ".join(f"{escape(s)} {o}" for o, s in SYMBOLS.items())
        + "; bold when a cell is unexpected."
    )
    out += ["", "| group | " + " | ".join(escape(pair_label(a, b)) for a, b in pairs) + " |"]
    out.append("|---|" + "---|" * len(pairs))
    for group in run.groups:
        row = [
            grid_cell(
                [c for c in run.cells if c.a == a and c.b == b and c.scenario.split("/", 1)[0] == group]
            )
            for a, b in pairs
        ]
        out.append(f"| {escape(group)} | " + " | ".join(row) + " |")

    out += ["", "## Not passing", ""]
    not_passing = run.not_passing
    if not not_passing:
        out.append("Every cell passed.")
    else:
        out += ["| scenario | pair | outcome | finding | detail |", "|---|---|---|---|---|"]
        for cell in not_passing:
            outcome = f"**{cell.outcome}**" if cell.unexpected else cell.outcome
            out.append(
                f"| {escape(cell_name(cell))} | {escape(pair_label(cell.a, cell.b))} | {outcome} | "
                f"{_finding_cell(cell.finding, findings, findings_base)} | {escape(one_line(cell.detail))} |"
            )

    referenced = run.findings()
    if referenced:
        out += ["", "## Findings", ""]
        for fid, cells in referenced.items():
            title = findings[fid].title if fid in findings else ""
            where = ", ".join(f"{escape(cell_name(c))} ({escape(pair_label(c.a, c.b))})" for c in cells)
            line = f"- {_finding_cell(fid, findings, findings_base)}"
            line += f": {title}" if title else ""  # titles are Markdown already (docs/findings)
            out.append(f"{line} — {plural(len(cells), 'cell')}: {where}")
    return "\n".join(out) + "\n"
