"""The ``otrcheck`` command line.

Subcommands:

* ``otrcheck peer NAME``: serve implementation NAME over the peer protocol
  (JSON lines on stdin/stdout, logs on stderr; see docs/peer-protocol.md);
* ``otrcheck impls``: every known implementation, whether it is available
  here, its version and where it comes from;
* ``otrcheck matrix``: the main job: every ordered pair of implementations
  x every scenario, each implementation in its own worker process; writes
  the reports (JSON, Markdown, JUnit XML, HTML) and exits 1 when a cell is
  unexpected.  ``--peer NAME=COMMAND`` adds any program that speaks the
  peer protocol;
* ``otrcheck scenarios``: every scenario id, what it checks, what it needs;
* ``otrcheck converse``: two engines, each in its own ``otrcheck peer
  engine`` process, hold a whole conversation (AKE, messages both ways,
  fragments, SMP, extra key, end) and the transcript and events are printed;
* ``otrcheck diagrams``: the AKE, message-state and SMP machines as Mermaid
  diagrams, drawn from the transition tables;
* ``otrcheck vectors lint|generate|record|run|diff``: the test-vector corpus
  (``vectors/``): check the files against their schemas and ids, rewrite
  them from their generators, record a transcript, replay them against an
  implementation (``N passed, M failed, K skipped``; exit 1 on a failure),
  and write the differential summary of every implementation;
* ``otrcheck fuzz list|run|smoke|triage|corpus``: the fuzz targets of
  ``fuzz/`` under atheris, and triage of what they find into regression
  vectors (``harness/fuzz/``, fuzz/README.md).
"""

from __future__ import annotations

import argparse
import fnmatch
import re
import shlex
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from harness import fuzz as fuzz_cli
from harness import impls

if TYPE_CHECKING:
    from harness.scenarios import Scenario
    from vectors.model import Target, Vector


def _cmd_peer(args: argparse.Namespace) -> int:
    from implementations.peer import serve_stdio

    try:
        impl = impls.get(args.name)
    except KeyError as exc:
        print(exc.args[0], file=sys.stderr)
        return 2
    if impl.in_process is None:
        print(f"{impl.name} is unavailable here: {impl.unavailable}", file=sys.stderr)
        return 3
    return serve_stdio(impl.in_process())


def _cmd_impls(args: argparse.Namespace) -> int:
    for impl in impls.all_implementations():
        state = "available" if impl.available else f"unavailable: {impl.unavailable}"
        mode = ", isolated in a worker process" if impl.isolated else ""
        print(f"{impl.name:10} {impl.version:12} {state}{mode}")
        print(f"{'':10} {impl.description}; from {impl.location or '-'}")
    return 0


class UsageError(Exception):
    """A command line that cannot be run as given (exit status 2)."""


_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def _select_scenarios(patterns: list[str] | None, group: str | None = None) -> list[Scenario]:
    from harness.scenarios import load

    registry = list(load().values())
    if group is not None:
        registry = [s for s in registry if s.group == group]
    if not patterns:
        return registry
    for pattern in patterns:
        if not any(fnmatch.fnmatchcase(s.id, pattern) for s in registry):
            raise UsageError(f"no scenario matches {pattern!r} (see `otrcheck scenarios`)")
    return [s for s in registry if any(fnmatch.fnmatchcase(s.id, p) for p in patterns)]


def _parse_peer(spec: str) -> tuple[str, list[str]]:
    name, sep, command = spec.partition("=")
    if not sep or not _NAME.match(name):
        raise UsageError(f"--peer wants NAME=COMMAND with a name of letters, digits, '.', '_', '-': {spec!r}")
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        raise UsageError(f"--peer {name}: cannot split the command: {exc}") from None
    if not argv:
        raise UsageError(f"--peer {name}: the command is empty")
    return name, argv


def _parse_formats(values: list[str] | None) -> list[str]:
    from harness.reports import FILES

    if not values:
        return list(FILES)
    chosen = [f.strip() for value in values for f in value.split(",") if f.strip()]
    unknown = [f for f in chosen if f not in FILES]
    if unknown:
        raise UsageError(f"unknown format {', '.join(unknown)}; choose from {', '.join(FILES)}")
    return list(dict.fromkeys(chosen))


def _findings_dir() -> Path | None:
    """docs/findings of the checkout being run (the working directory first: tox installs a wheel)."""
    for root in (Path.cwd(), impls.REPO_ROOT):
        if (root / "docs" / "findings").is_dir():
            return root / "docs" / "findings"
    return None


def _cmd_matrix(args: argparse.Namespace) -> int:
    from harness import manifest, reports, runner
    from harness.reports import terminal

    formats = _parse_formats(args.format)
    scenarios = _select_scenarios(args.scenario)
    peers = [_parse_peer(spec) for spec in args.peer or []]
    out = sys.stdout

    requested = list(dict.fromkeys(args.impl or []))
    try:
        registry = [impls.get(name) for name in requested] if requested else impls.all_implementations()
    except KeyError as exc:
        raise UsageError(exc.args[0]) from None
    names = [impl.name for impl in registry] + [name for name, _ in peers]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise UsageError(f"implementation named twice: {', '.join(duplicates)}")

    participants: list[runner.Participant] = []
    infos: list[reports.ImplementationInfo] = []
    not_started: list[str] = []

    def take_part(participant: runner.Participant, command: list[str], fallback_version: str = "") -> None:
        """In the run, even when it cannot start: its cells then say why (UNSUPPORTED) and the run fails."""
        hello = participant.hello
        participants.append(participant)
        infos.append(
            reports.ImplementationInfo(
                participant.name,
                hello.version if hello else fallback_version,
                hello is not None,
                participant.unavailable,
                tuple(hello.features) if hello else (),
                tuple(hello.protocol_versions) if hello else (),
                participant=True,
                command=tuple(command),
            )
        )
        if hello is None:
            not_started.append(participant.name)

    for impl in registry:
        if impl.available:
            command = impl.peer_command()
            worker = runner.worker_participant(
                impl.name, command, cwd=str(impls.REPO_ROOT), timeout=impls.PEER_TIMEOUT
            )
            take_part(worker, command, impl.version)
        elif requested:
            take_part(runner.Participant(impl.name, None, None, impl.unavailable), [], impl.version)
        else:  # not asked for by name and cannot run here: listed with the reason
            info = reports.ImplementationInfo(
                impl.name, impl.version, False, impl.unavailable, participant=False
            )
            infos.append(info)
    for name, command in peers:
        take_part(runner.worker_participant(name, command, timeout=args.timeout), command)

    out.write(f"otrcheck matrix: seed {args.seed}, {len(scenarios)} scenarios, {args.jobs} jobs\n")
    for info in infos:
        state = f"{info.version or '?'}" if info.available else f"unavailable: {info.unavailable}"
        role = "" if info.participant else " (not in this run)"
        out.write(f"  {info.name:<10} {state}{role}\n")
    out.flush()

    entries = [] if args.no_manifests else manifest.load()
    per_pair = len(runner.order_for_pair(scenarios))
    progress = terminal.Progress(per_pair * len(participants) ** 2, out)
    started, clock = datetime.now(UTC), time.monotonic()
    cells = runner.run_matrix(participants, scenarios, args.seed, args.jobs, entries, progress)
    progress.finish()
    run = reports.MatrixRun(
        seed=args.seed,
        started=started,
        seconds=time.monotonic() - clock,
        jobs=args.jobs,
        implementations=infos,
        scenarios=[reports.ScenarioInfo.of(s) for s in scenarios],
        cells=cells,
    )
    written = reports.write(run, Path(args.out), formats, _findings_dir())
    out.write("\n" + terminal.printable(terminal.summary(run, written), out))
    for name in not_started:
        out.write(f"error: {name} could not be started; its cells are UNSUPPORTED\n")
    out.flush()
    return 1 if run.unexpected or not_started else 0


def _cmd_scenarios(args: argparse.Namespace) -> int:
    scenarios = _select_scenarios(args.scenario, args.group)
    width = max((len(s.id) for s in scenarios), default=0)
    for s in scenarios:
        needs = ", ".join(sorted(s.needs)) or "-"
        sanity = " (sanity: run first and last)" if s.sanity else ""
        print(f"{s.id:<{width}}  needs {needs}{sanity}")
        print(f"{'':<{width}}  {s.doc}")
    return 0


def _cmd_converse(args: argparse.Namespace) -> int:
    from harness.converse import run

    return run(
        seed=args.seed,
        version=args.version,
        max_message_size=args.max_message_size,
        in_process=args.in_process,
        out=sys.stdout,
    )


def _cmd_diagrams(args: argparse.Namespace) -> int:
    from harness.diagrams import render_markdown

    page = render_markdown()
    if args.write:
        with open(args.write, "w", encoding="utf-8") as fh:
            fh.write(page)
    else:
        sys.stdout.write(page)
    return 0


# ------------------------------------------------------------------ vectors


def _checkout() -> Path:
    """The source tree being worked on (the working directory first: tox installs a wheel)."""
    for root in (Path.cwd(), impls.REPO_ROOT):
        if (root / "vectors" / "kinds").is_dir():
            return root
    return impls.REPO_ROOT


def _register_scenarios() -> None:
    """Hand the harness's scenarios to the transcript kind, which records from them (vectors may not
    import the harness).  Nothing to do when that kind is not there."""
    from vectors import kinds

    transcript = kinds.load("transcript")
    if transcript is None or not hasattr(transcript, "use_scenarios"):
        return
    from harness.scenarios import load
    from harness.script import Script

    transcript.use_scenarios(transcript.ScenarioSource(load(), Script))


def _cmd_vectors_lint(args: argparse.Namespace) -> int:
    from vectors import kinds, lint, loader

    findings = _findings_dir()
    index = findings / "README.md" if findings is not None else None
    problems = lint.lint_files(args.paths or None) + lint.lint_divergences(findings_index=index)
    problems += [f"kind {kind}: {reason}" for kind, reason in kinds.problems().items()]
    for problem in problems:
        print(problem)
    files = loader.vector_files(args.paths or None)
    count = sum(1 for path in files for _ in loader.vectors_of(path))
    state = f"{len(problems)} problems" if problems else "no problems"
    print(f"{len(files)} files, {count} vectors: {state}")
    return 1 if problems else 0


def _cmd_vectors_generate(args: argparse.Namespace) -> int:
    from vectors import generate, kinds

    unknown = [k for k in args.kind or [] if k not in kinds.KIND_NAMES]
    if unknown:
        raise UsageError(f"unknown kind {', '.join(unknown)}; kinds: {', '.join(kinds.KIND_NAMES)}")
    _register_scenarios()
    selected = args.kind or list(kinds.available())
    if args.check:
        problems = generate.differences(selected)
        for problem in problems:
            print(problem)
        print(
            f"{len(selected)} kinds checked: "
            + (f"{len(problems)} files differ" if problems else "up to date")
        )
        return 1 if problems else 0
    for path in generate.write(selected):
        print(f"wrote {path}")
    return 0


def _cmd_vectors_record(args: argparse.Namespace) -> int:
    from vectors import kinds

    transcript = kinds.load("transcript")
    if transcript is None or not hasattr(transcript, "record_cli"):
        print(
            "otrcheck vectors record: the transcript kind (vectors/kinds/transcript.py) is not available",
            file=sys.stderr,
        )
        return 2
    parser = argparse.ArgumentParser(prog="otrcheck vectors record", description="Record one transcript.")
    if hasattr(transcript, "add_record_arguments"):
        transcript.add_record_arguments(parser)
    record_args = parser.parse_args(args.record_args)
    _register_scenarios()
    result: int = transcript.record_cli(record_args)
    return result


class _Targets:
    """Targets of one implementation (libotr in a worker process): the first, and a new one whenever a
    worker dies; :meth:`close` ends them all."""

    def __init__(self, name: str) -> None:
        try:
            self.impl = impls.get(name)
        except KeyError as exc:
            raise UsageError(exc.args[0]) from None
        if not self.impl.available:
            raise UsageError(f"{name} is unavailable here: {self.impl.unavailable}")
        self.made: list[Target] = []

    def make(self) -> Target:
        from vectors.runner import target_for

        self.made.append(target_for(self.impl.name, self.impl.make()))
        return self.made[-1]

    def close(self) -> None:
        for target in self.made:
            close = getattr(target.adapter, "close", None)
            if callable(close):
                close()
            else:
                target.adapter.quit()


def _vectors(paths: list[str] | None) -> list[Vector]:
    from vectors import loader

    try:
        return loader.load(paths or None)
    except loader.VectorFileError as exc:
        raise UsageError(str(exc)) from None


def _cmd_vectors_run(args: argparse.Namespace) -> int:
    from vectors import divergences, runner

    selected = _vectors(args.paths)
    entries = [] if args.no_divergences else divergences.load()
    targets = _Targets(args.impl)
    try:
        run = runner.replay(selected, targets.make(), entries, revive=targets.make)
    finally:
        targets.close()
    runner.report(run, sys.stdout, verbose=args.verbose)
    return 0 if run.ok else 1


def _cmd_vectors_diff(args: argparse.Namespace) -> int:
    from vectors import divergences, runner

    selected = _vectors(args.paths)
    entries = divergences.load()
    names = list(dict.fromkeys(args.impl or [i.name for i in impls.all_implementations() if i.available]))
    runs = []
    for name in names:
        targets = _Targets(name)
        try:
            runs.append(runner.replay(selected, targets.make(), entries, revive=targets.make))
        finally:
            targets.close()
    diff = runner.differential(runs)
    page = runner.markdown(diff)
    out = Path(args.out) if args.out else _checkout() / "vectors" / "DIFFERENTIAL.md"
    out.write_text(page, encoding="utf-8")
    sys.stdout.write(page)
    print(f"\nwritten to {out}")
    return 0


def _add_vectors_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    vectors = sub.add_parser("vectors", help="the test-vector corpus: lint, generate, record, run, diff")
    vsub = vectors.add_subparsers(dest="vectors_command", required=True)

    lint = vsub.add_parser("lint", help="check vector files against their schemas, ids, counts, flags")
    lint.add_argument("paths", nargs="*", metavar="PATH", help="files or directories (default: all)")
    lint.set_defaults(func=_cmd_vectors_lint)

    generate = vsub.add_parser("generate", help="rewrite the vector files from their generators")
    generate.add_argument("kind", nargs="*", metavar="KIND", help="kinds to generate (default: all)")
    generate.add_argument("--check", action="store_true", help="only check that the files are up to date")
    generate.set_defaults(func=_cmd_vectors_generate)

    # The transcript kind owns `record`'s options; they are parsed in _cmd_vectors_record so that
    # building this parser (every otrcheck command, every worker) does not import the kinds.
    record = vsub.add_parser(
        "record",
        help="record one transcript from a scenario and a seed (see `otrcheck vectors record -h`)",
        add_help=False,
    )
    record.set_defaults(func=_cmd_vectors_record, record_args=[])

    run = vsub.add_parser(
        "run",
        help="replay vectors against an implementation",
        description="Replay every applicable vector against one implementation.  Prints "
        "`N passed, M failed, K skipped`; exit status 1 when a vector fails or an expected "
        "disagreement (vectors/divergences) no longer happens.",
    )
    run.add_argument("paths", nargs="*", metavar="PATH", help="vector files or directories (default: all)")
    run.add_argument(
        "--impl", required=True, metavar="NAME", help="the implementation (see `otrcheck impls`)"
    )
    run.add_argument("--verbose", "-v", action="store_true", help="also list each expected disagreement")
    run.add_argument(
        "--no-divergences", action="store_true", help="ignore vectors/divergences (every disagreement fails)"
    )
    run.set_defaults(func=_cmd_vectors_run)

    diff = vsub.add_parser("diff", help="which implementations disagree with which vectors (Markdown)")
    diff.add_argument("paths", nargs="*", metavar="PATH", help="vector files or directories (default: all)")
    diff.add_argument(
        "--impl",
        action="append",
        metavar="NAME",
        help="an implementation (repeatable; default: every available one)",
    )
    diff.add_argument("--out", metavar="FILE", help="where to write it (default: vectors/DIFFERENTIAL.md)")
    diff.set_defaults(func=_cmd_vectors_diff)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="otrcheck", description="OTR conformance and interop lab")
    sub = parser.add_subparsers(dest="command", required=True)

    peer = sub.add_parser("peer", help="serve an implementation over the peer protocol on stdin/stdout")
    peer.add_argument("name", help="implementation name (see `otrcheck impls`)")
    peer.set_defaults(func=_cmd_peer)

    sub.add_parser("impls", help="list implementations and their availability").set_defaults(func=_cmd_impls)

    matrix = sub.add_parser(
        "matrix",
        help="run every ordered pair of implementations through the scenarios and write the reports",
        description="Run the interop matrix.  Exit status: 0 when no cell is unexpected, 1 when one is "
        "(or an implementation that should take part could not be started), 2 for a usage error.",
    )
    matrix.add_argument(
        "--impl",
        action="append",
        metavar="NAME",
        help="an implementation to include (repeatable; default: every available one, see `otrcheck impls`)",
    )
    matrix.add_argument(
        "--peer",
        action="append",
        metavar="NAME=COMMAND",
        help="also run COMMAND (split like a shell) as implementation NAME; it must speak the peer "
        "protocol (docs/peer-protocol.md) on stdin/stdout (repeatable)",
    )
    matrix.add_argument(
        "--scenario", action="append", metavar="GLOB", help="only scenarios whose id matches (repeatable)"
    )
    matrix.add_argument(
        "--seed", type=int, default=1, metavar="N", help="the run's seed; each cell's seed derives from it"
    )
    matrix.add_argument(
        "--jobs", type=_positive, default=2, metavar="N", help="pairs run at once (default 2)"
    )
    matrix.add_argument(
        "--format",
        action="append",
        metavar="FORMATS",
        help="comma-separated: json, md, junit, html (default: all)",
    )
    matrix.add_argument(
        "--out",
        default="otrcheck-reports",
        metavar="DIR",
        help="where the reports go (default otrcheck-reports)",
    )
    matrix.add_argument(
        "--no-manifests", action="store_true", help="ignore harness/manifests (no expected failures)"
    )
    matrix.add_argument(
        "--timeout",
        type=float,
        default=impls.PEER_TIMEOUT,
        metavar="SECONDS",
        help=f"seconds a --peer has for each request (default {impls.PEER_TIMEOUT:g})",
    )
    matrix.set_defaults(func=_cmd_matrix)

    listing = sub.add_parser("scenarios", help="list the scenarios: id, what each checks, what it needs")
    listing.add_argument("--group", help="only this group (the id's first part: ake, smp, ...)")
    listing.add_argument(
        "--scenario", action="append", metavar="GLOB", help="only ids that match (repeatable)"
    )
    listing.set_defaults(func=_cmd_scenarios)

    converse = sub.add_parser("converse", help="run one engine-to-engine conversation and print it")
    converse.add_argument(
        "--seed", default="otrcheck", help="seed for both sides (text); '' for system randomness"
    )
    converse.add_argument("--version", type=int, choices=(2, 3), default=3)
    converse.add_argument("--max-message-size", type=int, default=0, help="fragment above this size")
    converse.add_argument("--in-process", action="store_true", help="skip the peer-protocol subprocesses")
    converse.set_defaults(func=_cmd_converse)

    diagrams = sub.add_parser("diagrams", help="the state machines as Mermaid diagrams (Markdown)")
    diagrams.add_argument("--write", metavar="PATH", help="write the page to PATH instead of stdout")
    diagrams.set_defaults(func=_cmd_diagrams)

    _add_vectors_parser(sub)
    fuzz_cli.add_parser(sub)
    return parser


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {value}")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    libfuzzer: list[str] = []
    if argv[:1] == ["fuzz"]:  # `otrcheck fuzz run T -- -max_len=64`: libFuzzer's own flags after `--`
        argv, libfuzzer = fuzz_cli.split_libfuzzer_flags(argv)
    args, extra = parser.parse_known_args(argv)
    if libfuzzer:
        args.libfuzzer = libfuzzer
    if args.func is _cmd_vectors_record:
        args.record_args = extra
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        result: int = args.func(args)
    except UsageError as exc:
        command = " ".join(filter(None, (args.command, getattr(args, "vectors_command", None))))
        print(f"otrcheck {command}: error: {exc}", file=sys.stderr)
        return 2
    return result


if __name__ == "__main__":
    sys.exit(main())
