"""The matrix as a stable JSON document, schema ``otrcheck-matrix/1``.

docs/matrix-report.md describes every field and docs/matrix-report.schema.json
is its JSON Schema.  Keys are sorted and cells ordered by
:func:`~harness.reports.model.cell_key`, so two runs with the same results
differ only in times.  :func:`from_document` reads a document back.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from harness.reports.model import ImplementationInfo, MatrixRun, ScenarioInfo, iso_utc
from harness.runner import Cell

SCHEMA = "otrcheck-matrix/1"


def _cell(cell: Cell) -> dict[str, Any]:
    return {
        "scenario": cell.scenario,
        "a": cell.a,
        "b": cell.b,
        "position": cell.position,
        "outcome": cell.outcome,
        "detail": cell.detail,
        "finding": cell.finding,
        "seconds": round(cell.seconds, 3),
        "seed": cell.seed,
        "transcript": list(cell.transcript),
    }


def _ref(cell: Cell) -> dict[str, Any]:
    return {
        "scenario": cell.scenario,
        "a": cell.a,
        "b": cell.b,
        "position": cell.position,
        "outcome": cell.outcome,
    }


def to_document(run: MatrixRun) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "otrcheck": run.otrcheck,
        "seed": run.seed,
        "started": iso_utc(run.started),
        "seconds": round(run.seconds, 3),
        "jobs": run.jobs,
        "participants": run.participants,
        "implementations": [
            {
                "name": impl.name,
                "version": impl.version,
                "available": impl.available,
                "unavailable": impl.unavailable,
                "features": list(impl.features),
                "protocol_versions": list(impl.protocol_versions),
                "participant": impl.participant,
                "command": list(impl.command),
            }
            for impl in run.implementations
        ],
        "scenarios": [
            {"id": s.id, "group": s.group, "doc": s.doc, "needs": list(s.needs), "sanity": s.sanity}
            for s in run.scenarios
        ],
        "cells": [_cell(cell) for cell in run.cells],
        "summary": run.summary(),
        "unexpected": len(run.unexpected),
        "findings": [{"id": fid, "cells": [_ref(c) for c in cells]} for fid, cells in run.findings().items()],
    }


def render(run: MatrixRun) -> str:
    return json.dumps(to_document(run), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def from_document(doc: dict[str, Any]) -> MatrixRun:
    """The run a document describes (times at the document's precision)."""
    if doc.get("schema") != SCHEMA:
        raise ValueError(f"not an {SCHEMA} document: schema = {doc.get('schema')!r}")
    return MatrixRun(
        seed=doc["seed"],
        started=datetime.fromisoformat(doc["started"].replace("Z", "+00:00")),
        seconds=doc["seconds"],
        jobs=doc["jobs"],
        implementations=[
            ImplementationInfo(
                i["name"],
                i["version"],
                i["available"],
                i["unavailable"],
                tuple(i["features"]),
                tuple(i["protocol_versions"]),
                i["participant"],
                tuple(i["command"]),
            )
            for i in doc["implementations"]
        ],
        scenarios=[
            ScenarioInfo(s["id"], s["group"], s["doc"], tuple(s["needs"]), s["sanity"])
            for s in doc["scenarios"]
        ],
        cells=[
            Cell(
                c["scenario"],
                c["a"],
                c["b"],
                c["outcome"],
                c["detail"],
                c["finding"],
                c["seconds"],
                c["seed"],
                list(c["transcript"]),
                c["position"],
            )
            for c in doc["cells"]
        ],
        otrcheck=doc["otrcheck"],
    )
