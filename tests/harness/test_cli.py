"""The command line: subcommands exist, behave, and the generated docs are current."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from harness.cli import main
from harness.diagrams import render_markdown

ROOT = Path(__file__).resolve().parents[2]


def test_state_machine_page_matches_the_tables() -> None:
    page = (ROOT / "docs" / "state-machines.md").read_text(encoding="utf-8")
    assert page == render_markdown(), "run: otrcheck diagrams --write docs/state-machines.md"


def test_impls_lists_the_engine_as_available(capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["impls"]) == 0
    out = capsys.readouterr().out
    assert "engine" in out and "available" in out


def test_converse_in_process_meets_every_expectation(capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["converse", "--in-process", "--seed", "cli-test"]) == 0
    out = capsys.readouterr().out
    assert "FAIL" not in out
    assert "every expectation met" in out


def test_converse_through_peer_processes_v2_fragmented() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "harness.cli", "converse", "--version", "2", "--max-message-size", "150"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "?OTR," in proc.stdout  # v2 fragments crossed the wire


def test_peer_for_unknown_implementation_exits_with_usage_error() -> None:
    assert main(["peer", "no-such-impl"]) == 2
