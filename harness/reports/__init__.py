"""Reports of an interop-matrix run.

Each format renders a :class:`~harness.reports.model.MatrixRun` to text:

* ``json`` (``matrix.json``): the stable document, schema ``otrcheck-matrix/1``
  (docs/matrix-report.md, docs/matrix-report.schema.json);
* ``md`` (``matrix.md``): scenario groups x ordered pairs, every cell that
  did not pass, the findings;
* ``junit`` (``matrix.xml``): JUnit XML, a test suite per pair;
* ``html`` (``matrix.html``): one static page, a scenario x pair grid with
  a section per cell that did not pass.

:mod:`harness.reports.terminal` is the live view and the final summary.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path

from harness.reports import html, json_report, junit, markdown
from harness.reports.model import (
    Finding,
    ImplementationInfo,
    MatrixRun,
    ScenarioInfo,
    cell_key,
    load_findings,
)

FILES = {"json": "matrix.json", "md": "matrix.md", "junit": "matrix.xml", "html": "matrix.html"}

__all__ = [
    "FILES",
    "Finding",
    "ImplementationInfo",
    "MatrixRun",
    "ScenarioInfo",
    "cell_key",
    "load_findings",
    "write",
]


def write(
    run: MatrixRun,
    out_dir: Path,
    formats: Iterable[str] = tuple(FILES),
    findings_dir: Path | None = None,
) -> list[Path]:
    """Write the reports in ``formats`` under ``out_dir`` (created if needed); return their paths.

    Finding links in the Markdown and HTML reports point at ``findings_dir``,
    relative to ``out_dir``, so they work where the reports are opened.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    findings = load_findings(findings_dir)
    base = os.path.relpath(findings_dir, out_dir) if findings_dir is not None else "docs/findings"
    base = base.replace(os.sep, "/")
    renderers: dict[str, Callable[[], str]] = {
        "json": lambda: json_report.render(run),
        "md": lambda: markdown.render(run, findings, base),
        "junit": lambda: junit.render(run),
        "html": lambda: html.render(run, findings, base),
    }
    written = []
    for fmt in formats:
        path = out_dir / FILES[fmt]
        # A lone surrogate in a peer's output must not lose the whole report.
        path.write_text(renderers[fmt](), encoding="utf-8", errors="backslashreplace")
        written.append(path)
    return written
