"""``otrcheck fuzz``: run the fuzz targets (``fuzz/``), triage what they find, keep their corpora.

Subcommands:

* ``list``: every target, its invariant, and whether it can run here;
* ``run TARGET... [--time S | --runs N]``: fuzz each target in turn
  (libFuzzer through atheris), print a table of inputs, exec/s, coverage,
  corpus and peak RSS; ``--triage`` triages what was found;
* ``smoke [--time S]``: every available target briefly, known findings
  skipped; exit 1 on any new crash (CI: ``tox -e fuzz-smoke``);
* ``rediscover``: potr_parse from an empty corpus must find python-potr's
  bad-base64 crash (POTR-001) within 60 s, and triage must name it;
* ``triage [CRASH...]``: reproduce, minimize, deduplicate and file crashes
  as regression vectors (:mod:`harness.fuzz.triage`);
* ``corpus [--check]``: write (or check) the seed corpora and dictionaries
  generated from the vectors (:mod:`fuzz.corpora`).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from pathlib import Path

from fuzz import registry

from .run import DEFAULT_WORKDIR, TABLE_HEADER, RunStats


def unavailable(name: str) -> str | None:
    """Why target ``name`` cannot run here, or None."""
    if importlib.util.find_spec("atheris") is None:
        return "atheris is not installed (pip install -e '.[fuzz]')"
    implementation = registry.TARGETS[name].implementation
    needs = {"engine": [], "potr": ["potr"], "libotr": ["libotr"], "all": ["libotr", "potr"]}[implementation]
    from harness import impls

    for impl in needs:
        found = impls.get(impl)
        if not found.available:
            return f"{impl} is unavailable: {found.unavailable}"
    return None


def _names(given: list[str]) -> list[str]:
    if not given or given == ["all"]:
        return list(registry.TARGETS)
    unknown = [n for n in given if n not in registry.TARGETS]
    if unknown:
        raise SystemExit(f"otrcheck fuzz: unknown target(s) {unknown}; known: {', '.join(registry.TARGETS)}")
    return given


def _cmd_list(args: argparse.Namespace) -> int:
    from fuzz import targets

    for name, target in registry.TARGETS.items():
        doc = (getattr(targets, name).__doc__ or "").split("\n\n")[0]
        invariant = " ".join(doc.split()).removeprefix("Invariant: ")
        problem = unavailable(name)
        state = "available" if problem is None else f"unavailable: {problem}"
        print(f"{name:18} {target.implementation:7} {state}")
        print(f"{'':18} {invariant}")
    return 0


def _print_table(results: list[RunStats]) -> None:
    print(TABLE_HEADER)
    for stats in results:
        print(stats.row())


def _cmd_run(args: argparse.Namespace) -> int:
    from . import run, triage

    results: list[RunStats] = []
    status = 0
    for name in _names(args.targets):
        problem = unavailable(name)
        if problem is not None:
            print(f"{name}: skipped: {problem}", file=sys.stderr)
            status = 1
            continue
        seconds = None if args.runs is not None and args.time is None else (args.time or 60)
        stats = run.run(
            name,
            args.workdir,
            seconds,
            args.runs,
            args.rss_limit,
            seeds=not args.empty,
            skip_known=args.skip_known,
            extra=args.libfuzzer,
            echo=args.verbose,
        )
        results.append(stats)
        print(
            f"{name}: {stats.runs:,} inputs in {stats.seconds:.0f} s, {stats.exec_per_sec:,} exec/s, cov "
            f"{stats.coverage}, ft {stats.features}, peak RSS {stats.peak_rss_mb} MB, "
            f"{len(stats.crashes)} crash(es); log {stats.log}",
            flush=True,
        )
        if stats.crashed:
            status = 1
        if args.triage:
            for crash in stats.crashes:
                print(triage.triage_one(crash, name, args.workdir, args.finding).line(), flush=True)
    _print_table(results)
    if args.report:
        rows = [
            {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(s).items() if k != "crashes"}
            | {"crashes": [str(c) for c in s.crashes]}
            for s in results
        ]
        Path(args.report).write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    return status


def _cmd_smoke(args: argparse.Namespace) -> int:
    from . import run

    results: list[RunStats] = []
    status = 0
    for name in _names(args.targets):
        problem = unavailable(name)
        if problem is not None:
            print(f"{name}: not run: {problem}", flush=True)
            if registry.TARGETS[name].implementation == "engine" or args.strict:
                status = 1
            continue
        stats = run.run(name, args.workdir, args.time, None, args.rss_limit, skip_known=True)
        results.append(stats)
        verdict = "new crash: " + ", ".join(str(c) for c in stats.crashes) if stats.crashed else "ok"
        print(
            f"{name}: {stats.runs:,} inputs, {stats.exec_per_sec:,} exec/s, cov {stats.coverage}: {verdict}",
            flush=True,
        )
        if stats.crashed:
            status = 1
            found = " ".join(map(str, stats.crashes))
            print(f"  log: {stats.log}; triage with: otrcheck fuzz triage --target {name} {found}")
    _print_table(results)
    return status


def _cmd_rediscover(args: argparse.Namespace) -> int:
    """potr_parse from an empty corpus must find POTR-001 (bad base64) within the time, and triage
    must name it: the fuzzing pipeline works end to end (nothing is written)."""
    import tempfile

    from . import run, triage

    problem = unavailable("potr_parse")
    if problem is not None:
        print(f"potr_parse cannot run: {problem}")
        return 1
    with tempfile.TemporaryDirectory(prefix="otrcheck-rediscover-") as tmp:
        workdir = Path(tmp)
        stats = run.run("potr_parse", workdir, args.time, None, seeds=False)
        print(
            f"potr_parse from an empty corpus: {stats.runs:,} inputs in {stats.seconds:.1f} s, "
            f"{len(stats.crashes)} crash(es)"
        )
        for crash in stats.crashes:
            result = triage.triage_one(crash, "potr_parse", workdir, write=False)
            print(result.line())
            if result.finding == "POTR-001":
                print(f"POTR-001 rediscovered in {stats.seconds:.1f} s")
                return 0
    print(f"POTR-001 not rediscovered within {args.time:.0f} s")
    return 1


def _cmd_triage(args: argparse.Namespace) -> int:
    from . import triage

    work: list[tuple[Path, str]] = []
    for given in args.crashes or [str(args.workdir)]:
        path = Path(given)
        files = (
            sorted(p for p in path.rglob("*") if p.is_file() and p.parent.name == "crashes")
            if path.is_dir()
            else [path]
        )
        for file in files:
            target = args.target or (file.parent.parent.name if file.parent.name == "crashes" else None)
            if target not in registry.TARGETS:
                print(f"{file}: which target? (--target NAME)", file=sys.stderr)
                return 2
            work.append((file, target))
    if not work:
        print("nothing to triage")
        return 0
    status = 0
    for file, target in work:
        result = triage.triage_one(
            file, target, args.workdir, args.finding, write=not args.dry_run, tries=args.tries
        )
        print(result.line(), flush=True)
        if result.status in ("unfiled", "inexpressible"):
            status = 1
    return status


def _cmd_corpus(args: argparse.Namespace) -> int:
    from fuzz import corpora

    if args.check:
        problems = corpora.differences(args.targets or None)
        for problem in problems:
            print(problem)
        print(f"{len(problems)} difference(s)")
        return 1 if problems else 0
    written = corpora.write(args.targets or None)
    print(f"wrote {len(written)} files: {corpora.summary()}")
    return 0


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    fuzz = sub.add_parser("fuzz", help="fuzz targets: list, run, smoke, triage, corpus (fuzz/README.md)")
    fsub = fuzz.add_subparsers(dest="fuzz_command", required=True)

    fsub.add_parser("list", help="the targets, their invariants, availability").set_defaults(func=_cmd_list)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "targets", nargs="*", metavar="TARGET", help="targets (default: all; see `otrcheck fuzz list`)"
        )
        p.add_argument(
            "--workdir", type=Path, default=DEFAULT_WORKDIR, help="work corpora, crashes, logs (.fuzz)"
        )
        p.add_argument(
            "--rss-limit", type=int, default=2048, metavar="MB", help="libFuzzer -rss_limit_mb (2048)"
        )

    run = fsub.add_parser(
        "run",
        help="fuzz targets in turn and print exec/s and coverage",
        description="Fuzz each target (one after the other) with libFuzzer through atheris.  Extra "
        "libFuzzer flags go after `--`.  Exit status 1 when a target crashed.",
    )
    common(run)
    run.add_argument("--time", type=float, metavar="S", help="seconds per target (default 60 unless --runs)")
    run.add_argument("--runs", type=int, metavar="N", help="inputs per target (libFuzzer -runs)")
    run.add_argument("--empty", action="store_true", help="start from an empty corpus (no generated seeds)")
    run.add_argument("--skip-known", action="store_true", help="known findings' crashes count as passing")
    run.add_argument("--triage", action="store_true", help="triage each crash found")
    run.add_argument("--finding", metavar="ID", help="with --triage: file new crashes under this finding")
    run.add_argument("--report", metavar="FILE", help="also write the numbers as JSON")
    run.add_argument("--verbose", "-v", action="store_true", help="echo libFuzzer's output")
    run.set_defaults(func=_cmd_run, libfuzzer=[])

    smoke = fsub.add_parser("smoke", help="every target briefly, known findings skipped (CI)")
    common(smoke)
    smoke.add_argument("--time", type=float, default=20, metavar="S", help="seconds per target (20)")
    smoke.add_argument("--strict", action="store_true", help="a target that cannot run fails the smoke run")
    smoke.set_defaults(func=_cmd_smoke)

    rediscover = fsub.add_parser(
        "rediscover", help="potr_parse from an empty corpus must find POTR-001 in time (end-to-end check)"
    )
    rediscover.add_argument("--time", type=float, default=60, metavar="S", help="seconds allowed (60)")
    rediscover.set_defaults(func=_cmd_rediscover)

    triage = fsub.add_parser(
        "triage", help="reproduce, minimize, deduplicate, file crashes as regression vectors"
    )
    triage.add_argument(
        "crashes", nargs="*", metavar="CRASH", help="crash files or directories (default: the workdir)"
    )
    triage.add_argument(
        "--target", help="the target that found them (default: from <workdir>/<target>/crashes/)"
    )
    triage.add_argument("--finding", metavar="ID", help="file crashes with no known finding under this id")
    triage.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR)
    triage.add_argument("--tries", type=int, default=3000, help="minimization budget (reproductions)")
    triage.add_argument("--dry-run", action="store_true", help="say what would be filed, write nothing")
    triage.set_defaults(func=_cmd_triage)

    corpus = fsub.add_parser("corpus", help="write the seed corpora and dictionaries from the vectors")
    corpus.add_argument("targets", nargs="*", metavar="TARGET")
    corpus.add_argument(
        "--check", action="store_true", help="only check that the dictionaries and corpora match"
    )
    corpus.set_defaults(func=_cmd_corpus)


def split_libfuzzer_flags(argv: list[str]) -> tuple[list[str], list[str]]:
    """``otrcheck fuzz run ... -- -max_len=100``: everything after ``--`` goes to libFuzzer."""
    if "--" in argv:
        at = argv.index("--")
        return argv[:at], argv[at + 1 :]
    return argv, []
