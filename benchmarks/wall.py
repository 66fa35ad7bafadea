"""Wall time of whole jobs, each run as a subprocess: the interop matrix and the default test run.

The matrix runs as ``python -m harness.cli matrix`` with its reports sent to
a temporary directory (``otrcheck-reports/`` is left alone); the test run
is the command tox's ``py`` env runs, ``python -m pytest -q -p
no:cacheprovider``, from the repository root.  The figure is the elapsed
wall time; the exit status and the job's own summary line are kept beside
it, because a fast run that failed is not a fast run.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from .model import Section

_PYTEST_SUMMARY = re.compile(r"^=*\s*(\d+ (passed|failed|error).*?)\s*=*$")


def repo_root() -> Path:
    """The checkout being measured: the current directory when it is one (tox runs commands there),
    else the one this package lies in (an installed copy lies in site-packages, which is not)."""
    for candidate in (Path.cwd(), Path(__file__).resolve().parents[1]):
        if (candidate / "pyproject.toml").is_file() and (candidate / "harness").is_dir():
            return candidate
    return Path.cwd()


def timed_run(
    command: Sequence[str], timeout: float, cwd: Path | None = None, env: Mapping[str, str] | None = None
) -> tuple[float, int | None, str]:
    """(seconds, exit status or None on timeout, the output's last lines); ``env`` adds variables."""
    start = time.perf_counter()
    try:
        done = subprocess.run(
            list(command),
            cwd=cwd or repo_root(),
            env=None if env is None else {**os.environ, **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        output = exc.output if isinstance(exc.output, str) else ""
        return time.perf_counter() - start, None, output[-2000:]
    return time.perf_counter() - start, done.returncode, done.stdout[-4000:]


def matrix(timeout: float) -> Section:
    with tempfile.TemporaryDirectory(prefix="otrcheck-bench-matrix-") as out:
        command = [sys.executable, "-m", "harness.cli", "matrix", "--out", out]
        seconds, status, tail = timed_run(command, timeout)
        values: dict[str, object] = {"seconds": round(seconds, 2), "exit_status": status}
        report = Path(out) / "matrix.json"
        if report.is_file():
            values.update(_matrix_summary(json.loads(report.read_text(encoding="utf-8"))))
    values["command"] = "otrcheck matrix"
    if status is None:
        return Section("error", f"timed out after {timeout:.0f} s", values)
    return Section("ok", _last_line(tail), values)


def _matrix_summary(report: dict[str, object]) -> dict[str, object]:
    """Participants, cell counts and the matrix's own timing from ``matrix.json`` (otrcheck-matrix/1)."""
    summary: dict[str, object] = {}
    cells = report.get("cells")
    if isinstance(cells, list):
        summary["cells"] = len(cells)
    for key in ("participants", "summary", "jobs"):
        if key in report:
            summary[key] = report[key]
    if isinstance(report.get("seconds"), (int, float)):
        summary["matrix_own_seconds"] = report["seconds"]
    return summary


def suite_run(timeout: float) -> Section:
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    seconds, status, tail = timed_run(command, timeout)
    values: dict[str, object] = {
        "seconds": round(seconds, 2),
        "exit_status": status,
        "command": "python -m pytest -q -p no:cacheprovider",
    }
    if status is None:
        return Section("error", f"timed out after {timeout:.0f} s", values)
    summary = next(
        (m.group(1) for line in reversed(tail.splitlines()) if (m := _PYTEST_SUMMARY.match(line.strip()))),
        _last_line(tail),
    )
    return Section("ok", summary, values)


def _last_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1].strip() if lines else ""
