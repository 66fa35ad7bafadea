"""Run fuzz targets under libFuzzer (atheris) and read what they report.

One run is one child process, ``python fuzz/fuzz_<name>.py`` with the
target's dictionary, a work corpus that collects what the run discovers
(``<workdir>/<name>/corpus``, the first corpus directory, the one libFuzzer
writes to) and the generated seed corpus (``fuzz/corpus/<name>``, read
only), crash artifacts into ``<workdir>/<name>/crashes/``.  Its final
statistics (``-print_final_stats=1``) and its last status line give the
numbers of :class:`RunStats`: inputs run, exec/s, coverage (libFuzzer's
``cov``: edges, ``ft``: features), corpus size, peak RSS.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from fuzz import registry
from fuzz.crashes import SKIP_KNOWN
from harness.impls import REPO_ROOT

DEFAULT_WORKDIR = REPO_ROOT / ".fuzz"
_STATUS = re.compile(
    r"^#(\d+)\s+(\w+)\s+cov: (\d+) ft: (\d+) corp: (\d+)/\S+.*?exec/s: (\d+) rss: (\d+)Mb", re.MULTILINE
)
_FINAL = re.compile(r"^stat::(\w+):\s+(\d+)", re.MULTILINE)


@dataclass
class RunStats:
    target: str
    seconds: float
    returncode: int
    runs: int = 0
    exec_per_sec: int = 0
    coverage: int = 0
    features: int = 0
    corpus: int = 0
    peak_rss_mb: int = 0
    crashes: list[Path] = field(default_factory=list)
    log: Path | None = None

    @property
    def crashed(self) -> bool:
        return bool(self.crashes) or self.returncode not in (0,)

    def row(self) -> str:
        crash = (
            f"{len(self.crashes)} crash(es)"
            if self.crashes
            else ("exit " + str(self.returncode) if self.returncode else "none")
        )
        cells = [
            self.target,
            f"{self.runs:,}",
            f"{self.seconds:.0f}",
            f"{self.exec_per_sec:,}",
            self.coverage,
        ]
        cells += [self.features, self.corpus, self.peak_rss_mb, crash]
        return "| " + " | ".join(str(c) for c in cells) + " |"


TABLE_HEADER = (
    "| target | inputs | seconds | exec/s | cov (edges) | ft (features) | corpus | peak RSS MB | crashes |\n"
    "|---|---|---|---|---|---|---|---|---|"
)


def parse_output(target: str, output: str, seconds: float, returncode: int) -> RunStats:
    stats = RunStats(target, seconds, returncode)
    lines = _STATUS.findall(output)
    if lines:
        runs, _, cov, ft, corp, eps, rss = lines[-1]
        stats.runs, stats.coverage, stats.features = int(runs), int(cov), int(ft)
        stats.corpus, stats.exec_per_sec, stats.peak_rss_mb = int(corp), int(eps), int(rss)
    final = dict(_FINAL.findall(output))
    if "number_of_executed_units" in final:
        stats.runs = int(final["number_of_executed_units"])
    if "average_exec_per_sec" in final:
        stats.exec_per_sec = int(final["average_exec_per_sec"])
    if "peak_rss_mb" in final:
        stats.peak_rss_mb = max(stats.peak_rss_mb, int(final["peak_rss_mb"]))
    return stats


def command(
    name: str,
    workdir: Path,
    seconds: float | None = None,
    runs: int | None = None,
    rss_limit_mb: int = 2048,
    seeds: bool = True,
    extra: list[str] | None = None,
) -> list[str]:
    target = registry.TARGETS[name]
    own = workdir / name
    flags = [
        f"-dict={target.dictionary}",
        f"-artifact_prefix={own / 'crashes'}/",
        f"-rss_limit_mb={rss_limit_mb}",
        "-print_final_stats=1",
        "-timeout=60",
    ]
    if seconds is not None:
        flags.append(f"-max_total_time={int(seconds)}")
    if runs is not None:
        flags.append(f"-runs={runs}")
    corpora = [str(own / "corpus")] + ([str(target.corpus)] if seeds and target.corpus.is_dir() else [])
    return [sys.executable, str(target.wrapper), *flags, *(extra or []), *corpora]


def run(
    name: str,
    workdir: Path = DEFAULT_WORKDIR,
    seconds: float | None = None,
    runs: int | None = None,
    rss_limit_mb: int = 2048,
    seeds: bool = True,
    skip_known: bool = False,
    extra: list[str] | None = None,
    echo: bool = False,
) -> RunStats:
    """Fuzz ``name`` once; the log goes to ``<workdir>/<name>/log`` (and to stderr with ``echo``)."""
    own = workdir / name
    for sub in ("corpus", "crashes"):
        (own / sub).mkdir(parents=True, exist_ok=True)
    before = set((own / "crashes").iterdir())
    env = dict(os.environ)
    env[SKIP_KNOWN] = "1" if skip_known else "0"
    env.setdefault("PYTHONPATH", str(REPO_ROOT))
    log = own / "log"
    started = time.monotonic()
    with log.open("w", encoding="utf-8", errors="replace") as handle:
        proc = subprocess.Popen(
            command(name, workdir, seconds, runs, rss_limit_mb, seeds, extra),
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
        )
        assert proc.stdout is not None
        for line in proc.stdout:
            handle.write(line)
            if echo:
                sys.stderr.write(line)
        returncode = proc.wait()
    stats = parse_output(
        name, log.read_text(encoding="utf-8", errors="replace"), time.monotonic() - started, returncode
    )
    stats.crashes = sorted(set((own / "crashes").iterdir()) - before)
    stats.log = log
    return stats
