"""``otrcheck matrix`` and ``otrcheck scenarios`` from the command line, run in-process."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

import pytest

from harness import runner
from harness.cli import main
from harness.reports import FILES

ROOT = Path(__file__).resolve().parents[2]
ENGINE_PEER = f"{shlex.quote(sys.executable)} -m harness.cli peer engine"


def test_matrix_of_the_engine_with_itself_passes_and_writes_every_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [
        "matrix",
        "--impl",
        "engine",
        "--scenario",
        "sanity/*",
        "--scenario",
        "ake/*",
        "--out",
        str(tmp_path),
    ]
    assert main(argv) == 0
    for name in FILES.values():
        assert (tmp_path / name).is_file(), name
    doc = json.loads((tmp_path / "matrix.json").read_text(encoding="utf-8"))
    assert doc["participants"] == ["engine"] and doc["unexpected"] == 0
    assert {c["scenario"].split("/")[0] for c in doc["cells"]} == {"sanity", "ake"}
    assert sorted(c["position"] for c in doc["cells"] if c["scenario"].startswith("sanity/")) == [
        "first",
        "last",
    ]
    out = capsys.readouterr().out
    assert "engine->engine" in out and "OK: no unexpected cell" in out


def test_a_peer_given_on_the_command_line_takes_part(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(ROOT)
    argv = ["matrix", "--impl", "engine", "--peer", f"ext={ENGINE_PEER}", "--scenario", "sanity/*"]
    assert main([*argv, "--format", "json", "--out", str(tmp_path)]) == 0
    assert not (tmp_path / "matrix.md").exists()
    doc = json.loads((tmp_path / "matrix.json").read_text(encoding="utf-8"))
    assert doc["participants"] == ["engine", "ext"]
    ext = next(i for i in doc["implementations"] if i["name"] == "ext")
    assert (
        ext["available"] and ext["participant"] and ext["command"][-3:] == ["harness.cli", "peer", "engine"]
    )
    assert {(c["a"], c["b"]) for c in doc["cells"]} == {
        ("engine", "engine"),
        ("engine", "ext"),
        ("ext", "engine"),
        ("ext", "ext"),
    }
    assert {c["outcome"] for c in doc["cells"]} == {"PASS"}
    assert "ext->engine" in capsys.readouterr().out


def test_a_peer_that_does_not_start_is_listed_and_fails_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["matrix", "--impl", "engine", "--peer", "broken=/nonexistent/otr-peer", "--scenario", "sanity/*"]
    assert main([*argv, "--format", "json", "--out", str(tmp_path)]) == 1
    doc = json.loads((tmp_path / "matrix.json").read_text(encoding="utf-8"))
    broken = next(i for i in doc["implementations"] if i["name"] == "broken")
    assert not broken["available"] and broken["unavailable"]
    assert {c["outcome"] for c in doc["cells"] if "broken" in (c["a"], c["b"])} == {"UNSUPPORTED"}
    assert "broken could not be started" in capsys.readouterr().out


def test_an_unexpected_cell_makes_the_exit_status_1(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def one_failing_cell(participants: list[runner.Participant], *args: object) -> list[runner.Cell]:
        return [runner.Cell("ake/v3-basic", "engine", "engine", "FAIL", "alice is plaintext")]

    monkeypatch.setattr(runner, "run_matrix", one_failing_cell)
    argv = [
        "matrix",
        "--impl",
        "engine",
        "--scenario",
        "ake/v3-basic",
        "--format",
        "md",
        "--out",
        str(tmp_path),
    ]
    assert main(argv) == 1
    assert "alice is plaintext" in (tmp_path / "matrix.md").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--impl", "no-such-impl"], "unknown implementation"),
        (["--peer", "no-equals-sign"], "NAME=COMMAND"),
        (["--peer", "engine=true"], "named twice"),
        (["--scenario", "no-such-group/*"], "no scenario matches"),
        (["--format", "json,pdf"], "unknown format pdf"),
    ],
)
def test_matrix_usage_errors_exit_2_before_running_anything(
    args: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["matrix", "--impl", "engine", *args, "--out", str(tmp_path / "r")]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_scenarios_lists_ids_with_what_they_check_and_need(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scenarios", "--group", "ake"]) == 0
    out = capsys.readouterr().out
    assert "ake/v3-basic" in out and "needs v3" in out and "sanity/" not in out
    assert "A query from alice leads to a v3 session" in out
