"""The matrix reports: each format, drawn from one synthetic run that has every outcome.

The run has two implementations (x, y), so four ordered pairs, a sanity
scenario (two cells per pair) and three other scenarios in two groups.  Its
details carry markup, pipes, newlines and a control character, so every
format's escaping is exercised.
"""

from __future__ import annotations

import io
import json
import threading
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import jsonschema
import pytest

from harness.reports import (
    FILES,
    ImplementationInfo,
    MatrixRun,
    ScenarioInfo,
    html,
    json_report,
    junit,
    load_findings,
    markdown,
    terminal,
    write,
)
from harness.runner import OUTCOMES, UNEXPECTED, Cell

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((ROOT / "docs" / "matrix-report.schema.json").read_text(encoding="utf-8"))
NASTY = "bob saw <script>alert('x')</script> | a & b\nsecond line \x01"

SCENARIOS = [
    ScenarioInfo("sanity/hello", "sanity", "the smallest conversation", ("v3",), True),
    ScenarioInfo("ake/basic", "ake", "a query leads to a session", ("v3",)),
    ScenarioInfo("ake/crossed", "ake", "both query at once", ("v3",)),
    ScenarioInfo("smp/same-secret", "smp", "SMP succeeds", ("smp", "v3")),
]
# (scenario, position) -> outcome for each pair; every outcome appears somewhere.
PLAN = {
    ("x", "x"): {"ake/basic": "PASS", "ake/crossed": "PASS", "smp/same-secret": "PASS"},
    ("x", "y"): {"ake/basic": "FAIL", "ake/crossed": "XFAIL", "smp/same-secret": "UNSUPPORTED"},
    ("y", "x"): {"ake/basic": "XPASS", "ake/crossed": "CRASH", "smp/same-secret": "TIMEOUT"},
    ("y", "y"): {"ake/basic": "PASS", "ake/crossed": "XFAIL", "smp/same-secret": "UNSUPPORTED"},
}


def make_cell(scenario: str, a: str, b: str, outcome: str, position: str = "") -> Cell:
    finding = "LIBOTR-001" if outcome in ("XFAIL", "XPASS") else None
    detail = {"PASS": "", "UNSUPPORTED": "y lacks smp"}.get(outcome, f"{outcome}: {NASTY}")
    transcript = [] if outcome in ("PASS", "UNSUPPORTED") else ["alice->bob: ?OTRv3?", f"bob->alice: {NASTY}"]
    return Cell(scenario, a, b, outcome, detail, finding, 0.125, 2**64 - 1, transcript, position)


def synthetic_cells() -> list[Cell]:
    cells = []
    for (a, b), outcomes in PLAN.items():
        cells.append(make_cell("sanity/hello", a, b, "PASS", "first"))
        cells += [make_cell(scenario, a, b, outcome) for scenario, outcome in outcomes.items()]
        cells.append(make_cell("sanity/hello", a, b, "PASS" if (a, b) != ("y", "y") else "FAIL", "last"))
    return cells[::-1]  # the runner's threads deliver cells in any order


@pytest.fixture
def run() -> MatrixRun:
    return MatrixRun(
        seed=7,
        started=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        seconds=12.5,
        jobs=2,
        implementations=[
            ImplementationInfo("x", "1.0", True, "", ("v2", "v3", "smp"), (2, 3), True, ("x-peer",)),
            ImplementationInfo("y", "2.0", True, "", ("v3",), (3,), True, ("y-peer", "--flag")),
            ImplementationInfo("z", "", False, "z-peer not found", participant=False),
        ],
        scenarios=SCENARIOS,
        cells=synthetic_cells(),
        otrcheck="0.1.0",
    )


def test_the_synthetic_run_has_every_outcome(run: MatrixRun) -> None:
    assert {c.outcome for c in run.cells} == set(OUTCOMES)


# ---------------------------------------------------------------- JSON


def test_json_report_validates_against_the_schema(run: MatrixRun) -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    jsonschema.Draft202012Validator(SCHEMA).validate(json.loads(json_report.render(run)))


def test_the_schema_rejects_an_unknown_outcome(run: MatrixRun) -> None:
    doc = json_report.to_document(run)
    doc["cells"][0]["outcome"] = "MAYBE"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, SCHEMA)


def test_json_report_round_trips(run: MatrixRun) -> None:
    doc = json.loads(json_report.render(run))
    again = json_report.from_document(doc)
    assert json_report.to_document(again) == doc
    assert again.cells == run.cells


def test_json_report_has_sorted_keys_and_cells_with_sanity_runs_apart(run: MatrixRun) -> None:
    text = json_report.render(run)
    assert text == json.dumps(json.loads(text), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    cells = json.loads(text)["cells"]
    keys = [(c["scenario"], c["a"], c["b"]) for c in cells]
    assert keys == sorted(keys)
    sanity = [c["position"] for c in cells if c["scenario"] == "sanity/hello" and c["a"] == c["b"] == "x"]
    assert sanity == ["first", "last"]
    assert {c["position"] for c in cells if c["scenario"] != "sanity/hello"} == {""}


def test_json_summary_counts_unexpected_cells_and_lists_findings(run: MatrixRun) -> None:
    doc = json_report.to_document(run)
    assert sum(doc["summary"].values()) == len(doc["cells"]) == 4 * 5
    assert doc["unexpected"] == sum(1 for c in doc["cells"] if c["outcome"] in UNEXPECTED)
    assert doc["participants"] == ["x", "y"]
    assert [f["id"] for f in doc["findings"]] == ["LIBOTR-001"]
    assert {c["outcome"] for c in doc["findings"][0]["cells"]} == {"XFAIL", "XPASS"}
    assert doc["started"] == "2026-01-02T03:04:05Z"


def test_json_from_document_refuses_another_schema(run: MatrixRun) -> None:
    doc = json_report.to_document(run)
    doc["schema"] = "otrcheck-matrix/0"
    with pytest.raises(ValueError, match="otrcheck-matrix/1"):
        json_report.from_document(doc)


# ---------------------------------------------------------------- Markdown


def test_markdown_has_a_row_per_group_and_a_column_per_pair(run: MatrixRun) -> None:
    text = markdown.render(run)
    header = next(line for line in text.splitlines() if line.startswith("| group |"))
    assert header == "| group | x→x | x→y | y→x | y→y |"
    for group in ("sanity", "ake", "smp"):
        assert any(line.startswith(f"| {group} |") for line in text.splitlines())
    sanity_row = next(line for line in text.splitlines() if line.startswith("| sanity |"))
    assert sanity_row == "| sanity | 2/2 | 2/2 | 2/2 | **1✓ 1✗** |"


def test_markdown_grid_cells_count_outcomes_compactly() -> None:
    cells = [make_cell("a/b", "x", "y", o) for o in ("PASS", "PASS", "FAIL", "XFAIL")]
    assert markdown.grid_cell(cells[:2]) == "2/2"
    assert markdown.grid_cell(cells) == "**2✓ 1✗ 1xf**"
    assert markdown.grid_cell(cells[3:]) == "1xf"
    assert markdown.grid_cell([]) == "·"


def test_markdown_lists_every_cell_that_did_not_pass_on_one_table_row(run: MatrixRun) -> None:
    text = markdown.render(run, load_findings(ROOT / "docs" / "findings"), "../docs/findings")
    section = text.split("## Not passing", 1)[1].split("## Findings", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ") and "---" not in line][1:]
    assert len(rows) == len(run.not_passing)
    for cell in run.not_passing:
        name = markdown.escape(f"{cell.scenario} [{cell.position}]" if cell.position else cell.scenario)
        assert any(row.startswith(f"| {name} | {cell.a}→{cell.b} |") for row in rows), cell
    # pipes in details are escaped: every row has exactly the table's five columns
    assert all(row.replace("\\|", "").count("|") == 6 for row in rows)
    assert "<script>" not in text
    assert "[LIBOTR-001](../docs/findings/libotr.md#libotr-001)" in text
    assert "## Findings" in text


# ---------------------------------------------------------------- JUnit


def test_junit_has_a_suite_per_pair_and_the_right_failures_and_skips(run: MatrixRun) -> None:
    root = ET.fromstring(junit.render(run))
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == ["x→x", "x→y", "y→x", "y→y"]
    cases = root.findall("testsuite/testcase")
    assert len(cases) == len(run.cells)
    failures = root.findall("testsuite/testcase/failure")
    assert len(failures) == len(run.unexpected) == int(root.get("failures", "-1"))
    assert {f.get("type") for f in failures} == set(UNEXPECTED)
    skipped = root.findall("testsuite/testcase/skipped")
    assert len(skipped) == 2 and all(s.get("message") == "y lacks smp" for s in skipped)
    for suite in suites:
        assert int(suite.get("tests", "-1")) == len(suite.findall("testcase"))
        assert int(suite.get("failures", "-1")) == len(suite.findall("testcase/failure"))


def test_junit_names_sanity_runs_and_notes_the_finding_of_an_xfail(run: MatrixRun) -> None:
    root = ET.fromstring(junit.render(run))
    names = [c.get("name") for c in root.find("testsuite").findall("testcase")]  # type: ignore[union-attr]
    assert "sanity/hello [first]" in names and "sanity/hello [last]" in names
    case = next(c for c in root.iter("testcase") if c.find("system-out") is not None)
    assert case.get("classname") == "ake"
    assert "LIBOTR-001" in (case.findtext("system-out") or "")
    assert case.find("failure") is None and case.find("skipped") is None
    crash = next(f for f in root.iter("failure") if f.get("type") == "CRASH")
    assert "bob->alice:" in (crash.text or "") and "\x01" not in (crash.text or "")


# ---------------------------------------------------------------- HTML


class StrictParser(HTMLParser):
    """Fails on a closing tag that does not match the open one (void elements excepted)."""

    VOID = frozenset({"meta", "br", "hr", "img", "link", "input"})

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        assert tag != "script", "a script element got through"
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes <{self.stack[-1:]}>"
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_html_page_is_well_formed_and_shows_every_scenario(run: MatrixRun) -> None:
    page = html.render(run)
    parser = StrictParser()
    parser.feed(page)
    parser.close()
    assert parser.stack == []
    text = "".join(parser.text)
    for scenario in SCENARIOS:
        assert scenario.id in text
    assert "sanity/hello [first]" in text and "sanity/hello [last]" in text
    assert "<script>alert" not in page and "&lt;script&gt;" in page


def test_html_links_each_cell_that_did_not_pass_to_its_section(run: MatrixRun) -> None:
    page = html.render(run)
    for i in range(len(run.not_passing)):
        assert f'href="#cell-{i}"' in page and f'id="cell-{i}"' in page
    assert page.count('<section class="cell') == len(run.not_passing)
    assert "<pre>" in page


# ---------------------------------------------------------------- terminal


def test_terminal_summary_has_a_row_per_pair_totals_and_the_verdict(run: MatrixRun) -> None:
    text = terminal.summary(run, [Path("out/matrix.json")])
    lines = text.splitlines()
    for label in ("x->x", "x->y", "y->x", "y->y", "total"):
        assert any(line.startswith(label + " ") for line in lines), label
    total = next(line for line in lines if line.startswith("total"))
    assert total.split()[1:] == [str(n) for n in run.summary().values()]
    assert "z: z-peer not found" in text
    assert "out/matrix.json" in text
    assert lines[-1] == f"FAILED: {len(run.unexpected)} unexpected cells"


def test_terminal_progress_in_plain_mode_prints_unexpected_cells_and_tenths() -> None:
    out = io.StringIO()
    progress = terminal.Progress(20, out, live=False)
    cells = synthetic_cells()
    for cell in cells:
        progress(cell)
    progress.finish()
    text = out.getvalue()
    assert "\r" not in text and "\x1b" not in text
    status_lines = [line for line in text.splitlines() if line.startswith("[")]
    assert status_lines[-1].startswith("[20/20]") and len(status_lines) == 10
    for cell in cells:
        if cell.unexpected:
            assert f"{cell.outcome:<8} " in text and f"{cell.a}->{cell.b}" in text


def test_terminal_progress_live_redraws_one_line() -> None:
    out = io.StringIO()
    progress = terminal.Progress(2, out, live=True)
    progress(make_cell("a/b", "x", "y", "PASS"))
    progress(make_cell("a/c", "x", "y", "FAIL"))
    progress.finish()
    text = out.getvalue()
    assert text.count("\r\x1b[2K") == 3
    assert "FAIL     a/c x->y" in text and "[2/2] 1 PASS 1 FAIL" in text


def test_terminal_progress_counts_cells_from_many_threads() -> None:
    out = io.StringIO()
    progress = terminal.Progress(800, out, live=False)

    def deliver() -> None:
        for i in range(100):
            progress(make_cell(f"g/s{i}", "x", "y", "PASS"))

    threads = [threading.Thread(target=deliver) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert progress.done == 800 and progress.counts["PASS"] == 800
    assert out.getvalue().splitlines()[-1] == "[800/800] 800 PASS"


def test_terminal_output_escapes_what_the_console_cannot_encode() -> None:
    out = io.TextIOWrapper(io.BytesIO(), encoding="ascii")
    progress = terminal.Progress(1, out, live=False)
    progress(Cell("a/b", "x", "y", "FAIL", "saw \u2713 instead"))
    out.flush()
    assert b"saw \\u2713 instead" in out.buffer.getvalue()


# ---------------------------------------------------------------- files and findings


def test_write_produces_every_format_with_links_relative_to_the_output(
    run: MatrixRun, tmp_path: Path
) -> None:
    findings = tmp_path / "docs" / "findings"
    findings.mkdir(parents=True)
    (findings / "libotr.md").write_text(
        "| id | title | status |\n|---|---|---|\n| [LIBOTR-001](#libotr-001) | ties stall | open |\n\n"
        "## LIBOTR-001\n",
        encoding="utf-8",
    )
    paths = write(run, tmp_path / "reports", FILES, findings)
    assert sorted(p.name for p in paths) == sorted(FILES.values())
    page = (tmp_path / "reports" / "matrix.md").read_text(encoding="utf-8")
    assert "[LIBOTR-001](../docs/findings/libotr.md#libotr-001): ties stall" in page


def test_documented_findings_are_found_with_their_file_and_title() -> None:
    findings = load_findings(ROOT / "docs" / "findings")
    assert findings["LIBOTR-001"].link == "libotr.md#libotr-001"
    assert "simultaneous" in findings["LIBOTR-001"].title
    assert findings["ENGINE-001"].link == "engine.md#engine-001"
