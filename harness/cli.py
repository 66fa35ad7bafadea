"""The ``otrcheck`` command line.

Subcommands:

* ``otrcheck peer NAME``: serve implementation NAME over the peer protocol
  (JSON lines on stdin/stdout, logs on stderr; see docs/peer-protocol.md);
* ``otrcheck impls``: every known implementation, whether it is available
  here, its version and where it comes from;
* ``otrcheck converse``: the main job until the interop matrix exists: two
  engines, each in its own ``otrcheck peer engine`` process, hold a whole
  conversation (AKE, messages both ways, fragments, SMP, extra key, end)
  and the transcript and events are printed;
* ``otrcheck diagrams``: the AKE, message-state and SMP machines as Mermaid
  diagrams, drawn from the transition tables.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from harness import impls


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


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
