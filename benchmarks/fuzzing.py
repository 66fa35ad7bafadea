"""exec/s of every fuzz target over a fixed number of runs.

Targets are found at run time: every ``fuzz/fuzz_<name>.py`` (the OSS-Fuzz
convention of issue 8) is run as its own command line would run it,
``python fuzz/fuzz_<name>.py -runs=N -seed=1 -print_final_stats=1 CORPUS``,
with ``OTRCHECK_FUZZ_SKIP_KNOWN=1``, on a temporary copy of
``fuzz/corpus/<name>/`` (libFuzzer writes new inputs into its first corpus
directory, and the committed corpus must not change), with crash artifacts
sent to a temporary directory.  The figure is libFuzzer's own
``stat::average_exec_per_sec``; a target that stops early (a new crash, a
missing dependency) is reported with the reason and the runs it made.  No
``fuzz_*.py`` at all is reported as "no fuzz targets".
"""

from __future__ import annotations

import contextlib
import importlib.util
import re
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .model import Section
from .wall import repo_root, timed_run

# Inputs that reproduce a finding already filed (fuzz/known_crashes.toml) count as passing, so a
# target with a known crash still makes its N runs: this section measures speed, not discovery.
SKIP_KNOWN = {"OTRCHECK_FUZZ_SKIP_KNOWN": "1"}
MIN_SECONDS = 2.0  # of fuzzing beyond start-up, for an exec/s that start-up jitter does not swamp
_EMPTY: dict[str, Any] = {
    "seed_inputs": None,
    "runs": None,
    "exec_per_s": None,
    "cov": None,
    "ft": None,
    "peak_rss_mb": None,
    "startup_seconds": None,
    "seconds": None,
}
_STAT = re.compile(r"^stat::(\w+):\s+(\d+)\s*$")
_COVERAGE = re.compile(r"#(\d+)\s+\w+\s+cov: (\d+) ft: (\d+)")


def fuzz_dir_of_repo() -> Path:
    return repo_root() / "fuzz"


def discover(fuzz_dir: Path | None = None) -> list[Path]:
    return sorted((fuzz_dir or fuzz_dir_of_repo()).glob("fuzz_*.py"))


def parse_libfuzzer(output: str) -> dict[str, int]:
    """libFuzzer's final ``stat::`` lines, and the last coverage / feature counts it printed."""
    stats: dict[str, int] = {}
    for line in output.splitlines():
        if match := _STAT.match(line.strip()):
            stats[match.group(1)] = int(match.group(2))
        elif match := _COVERAGE.search(line):
            stats["cov"], stats["ft"] = int(match.group(2)), int(match.group(3))
    return stats


def _libfuzzer(path: Path, total_runs: int, corpus: Path, artifacts: str, timeout: float) -> _Run:
    command = [
        sys.executable,
        str(path),
        f"-runs={total_runs}",
        "-seed=1",
        "-print_final_stats=1",
        f"-artifact_prefix={artifacts}",
        str(corpus),
    ]
    seconds, status, output = timed_run(command, timeout, env=SKIP_KNOWN)
    return _Run(seconds, status, output, parse_libfuzzer(output))


@dataclass(frozen=True)
class _Run:
    seconds: float
    status: int | None
    output: str
    stats: dict[str, int]

    @property
    def units(self) -> int | None:
        return self.stats.get("number_of_executed_units")

    def problem(self, timeout: float) -> str | None:
        """Why this run did not fuzz to the end, or None."""
        if self.status is None:
            return f"timed out after {timeout:.0f} s"
        if self.units is None:
            lines = [line for line in self.output.splitlines() if line.strip()]
            return lines[-1].strip() if lines else f"exit status {self.status}"
        if self.status != 0:
            return f"stopped after {self.units} inputs (exit status {self.status})"
        return None


def _copy_seeds(seeds: Path, corpus: Path) -> None:
    """Copy the seed inputs one by one; one that vanishes meanwhile (a corpus regenerated) is skipped."""
    corpus.mkdir()
    if not seeds.is_dir():
        return
    for seed in seeds.iterdir():
        with contextlib.suppress(FileNotFoundError, IsADirectoryError):
            shutil.copyfile(seed, corpus / seed.name)


def run_target(path: Path, runs: int, timeout: float, fuzz_dir: Path | None = None) -> dict[str, Any]:
    """Two runs, ``-runs=0`` (start-up, seed corpus) and ``runs`` inputs more: exec/s from the difference.

    libFuzzer's ``-runs`` counts the seed corpus too, and its own exec/s is
    whole inputs over whole seconds since start-up (0 for a short run), so
    the baseline run's inputs and time are subtracted instead.  A target so
    fast that ``runs`` inputs take under :data:`MIN_SECONDS` beyond start-up
    is run again with ten times as many (up to 100 x ``runs``), each run on
    a fresh copy of the seed corpus.
    """
    name = path.stem.removeprefix("fuzz_")
    seeds = (fuzz_dir or fuzz_dir_of_repo()) / "corpus" / name
    with tempfile.TemporaryDirectory(prefix=f"otrcheck-bench-fuzz-{name}-") as tmp:
        copies = 0

        def fresh_corpus() -> Path:
            nonlocal copies
            copies += 1
            corpus = Path(tmp) / f"corpus{copies}"
            _copy_seeds(seeds, corpus)
            return corpus

        base = _libfuzzer(path, 0, fresh_corpus(), f"{tmp}/", timeout)
        full, asked = None, runs
        while base.problem(timeout) is None and base.units is not None:
            full = _libfuzzer(path, base.units + asked, fresh_corpus(), f"{tmp}/", timeout)
            if full.problem(timeout) or full.seconds - base.seconds >= MIN_SECONDS or asked >= 100 * runs:
                break
            asked *= 10
    entry: dict[str, Any] = {
        "name": name,
        "seed_inputs": base.units,
        "runs": None,
        "exec_per_s": None,
        "cov": None,
        "ft": None,
        "peak_rss_mb": None,
        "startup_seconds": round(base.seconds, 2),
        "seconds": None,
        "status": "error",
        "detail": base.problem(timeout) or "",
    }
    if full is None or base.units is None:
        return entry
    fuzzed = (full.units or base.units) - base.units
    elapsed = full.seconds - base.seconds
    entry.update(
        runs=fuzzed,
        exec_per_s=round(fuzzed / elapsed) if elapsed > 0 and fuzzed > 0 else None,
        cov=full.stats.get("cov"),
        ft=full.stats.get("ft"),
        peak_rss_mb=full.stats.get("peak_rss_mb"),
        seconds=round(elapsed, 2),
    )
    problem = full.problem(timeout)
    entry["status"] = "ok" if problem is None else "stopped" if full.units is not None else "error"
    entry["detail"] = problem or ""
    if problem is None and entry["exec_per_s"] is None:
        entry["detail"] = "too quick to time against start-up"
    return entry


def fuzz_targets(runs: int, timeout: float, fuzz_dir: Path | None = None) -> Section:
    targets = discover(fuzz_dir)
    if not targets:
        return Section("absent", "no fuzz targets", {"targets": []})
    if importlib.util.find_spec("atheris") is None:
        return Section("error", "atheris is not installed", {"targets": [t.stem for t in targets]})
    entries = []
    for path in targets:
        try:
            entries.append(run_target(path, runs, timeout, fuzz_dir))
        except Exception as exc:  # one target's trouble is its own line, not the section's end
            detail = f"{type(exc).__name__}: {exc}"[:300]
            name = path.stem.removeprefix("fuzz_")
            entries.append({**_EMPTY, "name": name, "status": "error", "detail": detail})
    failed = [e["name"] for e in entries if e["status"] != "ok"]
    detail = f"{len(entries)} targets, {runs} runs each" + (
        f"; not clean: {', '.join(failed)}" if failed else ""
    )
    return Section("ok", detail, {"runs": runs, "targets": entries})
