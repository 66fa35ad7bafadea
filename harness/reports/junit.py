"""The matrix as JUnit XML (``matrix.xml``), for CI systems that draw test results.

One ``testsuite`` per ordered pair (``engine→libotr``), one ``testcase`` per
cell: ``classname`` is the scenario group, ``name`` the scenario id (with
``[first]`` / ``[last]`` for the two sanity runs).  FAIL, XPASS, CRASH and
TIMEOUT are ``failure`` elements (``type`` = the outcome) carrying the
detail and the transcript; UNSUPPORTED is ``skipped`` with the reason; an
XFAIL passes, with a ``system-out`` note naming the finding.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from harness.reports.model import MatrixRun, cell_name, iso_utc, pair_label
from harness.runner import UNEXPECTED, Cell

_XML_INVALID = {c: None for c in range(0x20) if c not in (0x09, 0x0A, 0x0D)}


def _text(value: str) -> str:
    """XML 1.0 cannot carry most control characters, even escaped: drop them."""
    return value.translate(_XML_INVALID)


def _testcase(parent: ET.Element, cell: Cell) -> None:
    case = ET.SubElement(
        parent,
        "testcase",
        classname=_text(cell.scenario.split("/", 1)[0]),
        name=_text(cell_name(cell)),
        time=f"{cell.seconds:.3f}",
    )
    if cell.outcome in UNEXPECTED:
        failure = ET.SubElement(
            case, "failure", type=cell.outcome, message=_text(f"{cell.outcome}: {cell.detail}")
        )
        body = [f"{cell.outcome}: {cell.detail}", f"cell seed {cell.seed}"]
        if cell.finding:
            body.append(f"finding {cell.finding}")
        if cell.transcript:
            body += ["", "transcript (last messages):", *cell.transcript]
        failure.text = _text("\n".join(body))
    elif cell.outcome == "UNSUPPORTED":
        ET.SubElement(case, "skipped", message=_text(cell.detail))
    elif cell.outcome == "XFAIL":
        out = ET.SubElement(case, "system-out")
        # The runner's XFAIL detail starts with the finding id already.
        named = (
            cell.detail if cell.finding and cell.finding in cell.detail else f"{cell.finding}: {cell.detail}"
        )
        out.text = _text(f"expected failure, {named}")


def render(run: MatrixRun) -> str:
    total = ET.Element(
        "testsuites",
        name="otrcheck matrix",
        tests=str(len(run.cells)),
        failures=str(len(run.unexpected)),
        errors="0",
        skipped=str(sum(1 for c in run.cells if c.outcome == "UNSUPPORTED")),
        time=f"{run.seconds:.3f}",
    )
    for a, b in run.pairs:
        cells = [c for c in run.cells if c.a == a and c.b == b]
        suite = ET.SubElement(
            total,
            "testsuite",
            name=_text(pair_label(a, b)),
            tests=str(len(cells)),
            failures=str(sum(1 for c in cells if c.unexpected)),
            errors="0",
            skipped=str(sum(1 for c in cells if c.outcome == "UNSUPPORTED")),
            time=f"{sum(c.seconds for c in cells):.3f}",
            timestamp=iso_utc(run.started),
        )
        properties = ET.SubElement(suite, "properties")
        ET.SubElement(properties, "property", name="seed", value=str(run.seed))
        ET.SubElement(properties, "property", name="a", value=_text(a))
        ET.SubElement(properties, "property", name="b", value=_text(b))
        for cell in cells:
            _testcase(suite, cell)
    ET.indent(total)
    return ET.tostring(total, encoding="unicode", xml_declaration=True) + "\n"
