"""The matrix as one static, self-contained HTML page (``matrix.html``): inline CSS, no script.

Rows are scenarios (grouped, each sanity scenario twice: its first and last
run), columns ordered pairs.  A cell shows its outcome by colour and
abbreviation; a cell that did not pass links to its section below, which
holds the detail, the finding and the transcript.  Everything that comes
from a run (details, transcripts, names) is escaped.
"""

from __future__ import annotations

from html import escape

from harness.reports.markdown import SYMBOLS
from harness.reports.model import (
    Finding,
    MatrixRun,
    cell_key,
    cell_name,
    finding_link,
    iso_utc,
    pair_label,
    plural,
)
from harness.runner import Cell

COLOURS = {
    "PASS": "#2e7d32",
    "FAIL": "#c62828",
    "XFAIL": "#f9a825",
    "XPASS": "#6a1b9a",
    "UNSUPPORTED": "#9e9e9e",
    "CRASH": "#4a0000",
    "TIMEOUT": "#ef6c00",
}

_CSS = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }
table { border-collapse: collapse; margin: 0.8em 0; }
th, td { border: 1px solid #ccc; padding: 2px 6px; }
th { background: #f4f4f4; text-align: left; font-weight: 600; }
table.grid td { text-align: center; min-width: 3em; }
table.grid td a { color: inherit; text-decoration: none; display: block; }
table.grid tr.group th { background: #e3e8f0; }
.badge { display: inline-block; padding: 1px 8px; margin: 2px; border-radius: 3px; }
section.cell { border-left: 6px solid #999; padding: 0.2em 1em; margin: 1em 0; background: #fafafa; }
pre { background: #272822; color: #f8f8f2; padding: 0.6em; overflow-x: auto; white-space: pre-wrap; }
.meta { color: #555; }
"""


def _outcome_css() -> str:
    rules = []
    for outcome, colour in COLOURS.items():
        text = "#000" if outcome in ("XFAIL", "UNSUPPORTED") else "#fff"
        rules.append(f".o-{outcome} {{ background: {colour}; color: {text}; }}")
        rules.append(f"section.o-{outcome}-border {{ border-left-color: {colour}; }}")
    return "\n".join(rules)


def _anchor(index: int) -> str:
    return f"cell-{index}"


def _finding(finding_id: str | None, findings: dict[str, Finding], base: str) -> str:
    if not finding_id:
        return ""
    href = f"{base.rstrip('/')}/{finding_link(finding_id, findings)}"
    title = findings[finding_id].title if finding_id in findings else ""
    suffix = f" ({escape(title)})" if title else ""
    return f'<a href="{escape(href)}">{escape(finding_id)}</a>{suffix}'


def render(
    run: MatrixRun, findings: dict[str, Finding] | None = None, findings_base: str = "docs/findings"
) -> str:
    findings = findings or {}
    pairs = run.pairs
    docs = {s.id: s.doc for s in run.scenarios}
    anchors = {cell_key(cell): _anchor(i) for i, cell in enumerate(run.not_passing)}
    by_slot = {(c.scenario, c.position, c.a, c.b): c for c in run.cells}
    unexpected = len(run.unexpected)

    out = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f"<title>otrcheck matrix, seed {run.seed}</title>",
        f"<style>{_CSS}{_outcome_css()}</style>",
        "</head>",
        "<body>",
        "<h1>otrcheck interop matrix</h1>",
        f'<p class="meta">seed {run.seed} · started {escape(iso_utc(run.started))} · {run.seconds:.1f} s · '
        f"{run.jobs} jobs · otrcheck {escape(run.otrcheck)}</p>",
        "<table><thead><tr><th>implementation</th><th>version</th><th>protocol versions</th>"
        "<th>in this run</th></tr></thead><tbody>",
    ]
    for impl in run.implementations:
        if impl.participant and impl.available:
            state = "yes"
        elif impl.participant:
            state = f"yes, but unavailable: {escape(impl.unavailable)}"
        else:
            state = f"no: {escape(impl.unavailable or 'not selected')}"
        versions = ", ".join(f"v{v}" for v in impl.protocol_versions)
        out.append(
            f"<tr><td>{escape(impl.name)}</td><td>{escape(impl.version)}</td><td>{versions}</td>"
            f"<td>{state}</td></tr>"
        )
    out.append("</tbody></table>")

    verdict = (
        f"<strong>{plural(unexpected, 'unexpected cell')}</strong>" if unexpected else "no unexpected cell"
    )
    out.append(f"<p>{plural(len(run.cells), 'cell')}, {verdict}.</p>")
    out.append(
        "<p>"
        + "".join(
            f'<span class="badge o-{o}">{escape(SYMBOLS[o])} {o} {n}</span>' for o, n in run.summary().items()
        )
        + "</p>"
    )

    out.append('<table class="grid"><thead><tr><th>scenario</th>')
    out += [f"<th>{escape(pair_label(a, b))}</th>" for a, b in pairs]
    out.append("</tr></thead><tbody>")
    group = None
    for scenario, position in run.rows():
        this_group = scenario.split("/", 1)[0]
        if this_group != group:
            group = this_group
            out.append(f'<tr class="group"><th colspan="{len(pairs) + 1}">{escape(group)}</th></tr>')
        label = f"{scenario} [{position}]" if position else scenario
        row = [f'<tr><th title="{escape(docs.get(scenario, ""))}">{escape(label)}</th>']
        for a, b in pairs:
            cell = by_slot.get((scenario, position, a, b))
            if cell is None:
                row.append("<td>·</td>")
                continue
            mark = escape(SYMBOLS[cell.outcome])
            tip = escape(f"{cell.outcome}: {cell.detail}" if cell.detail else cell.outcome)
            if cell_key(cell) in anchors:
                mark = f'<a href="#{anchors[cell_key(cell)]}">{mark}</a>'
            row.append(f'<td class="o-{cell.outcome}" title="{tip}">{mark}</td>')
        out.append("".join(row) + "</tr>")
    out.append("</tbody></table>")

    out.append("<h2>Not passing</h2>")
    if not run.not_passing:
        out.append("<p>Every cell passed.</p>")
    for cell in run.not_passing:
        out += _details(cell, anchors[cell_key(cell)], docs.get(cell.scenario, ""), findings, findings_base)
    out += ["</body>", "</html>"]
    return "\n".join(out) + "\n"


def _details(cell: Cell, anchor: str, doc: str, findings: dict[str, Finding], base: str) -> list[str]:
    parts = [
        f'<section class="cell o-{cell.outcome}-border" id="{anchor}">',
        f'<h3><span class="badge o-{cell.outcome}">{cell.outcome}</span> {escape(cell_name(cell))} · '
        f"{escape(pair_label(cell.a, cell.b))}</h3>",
    ]
    if doc:
        parts.append(f"<p><em>{escape(doc)}</em></p>")
    if cell.finding:
        parts.append(f"<p>finding: {_finding(cell.finding, findings, base)}</p>")
    parts.append(f"<p>{escape(cell.detail)}</p>")
    parts.append(f'<p class="meta">cell seed {cell.seed} · {cell.seconds:.3f} s</p>')
    if cell.transcript:
        parts.append("<pre>" + escape("\n".join(cell.transcript)) + "</pre>")
    parts.append("</section>")
    return parts
