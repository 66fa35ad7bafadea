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
  diagrams, drawn from the transition tables.
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

from harness import impls

if TYPE_CHECKING:
    from harness.scenarios import Scenario


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
    return parser


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {value}")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        result: int = args.func(args)
    except UsageError as exc:
        print(f"otrcheck {args.command}: error: {exc}", file=sys.stderr)
        return 2
    return result


if __name__ == "__main__":
    sys.exit(main())
