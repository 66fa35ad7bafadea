"""A tiny real run of the benchmarks: the report's shape, its JSON against the schema, the table.

Nothing here looks at how fast anything was: only that every figure was
measured (or failed with a reason), that ratios and goals are computed
from the same run, and that the output is well formed.
"""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from benchmarks import run, table
from benchmarks.model import FIGURE_IDS, SCHEMA
from benchmarks.run import SECTIONS, chosen_sections, main

SCHEMA_FILE = Path(run.__file__).with_name("schema.json")


def validate(obj: object) -> None:
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.Draft202012Validator(schema).validate(obj)


@pytest.fixture(scope="module")
def engine_report(tiny):
    return run.run(tiny, ["ake", "smp", "data", "reassembly", "memory"], ["engine"], quick=True)


def test_every_protocol_figure_of_the_engine_pair_has_a_value(engine_report):
    assert [p.key for p in engine_report.pairs] == ["engine->engine"]
    pair = engine_report.pairs[0]
    assert pair.version == 3
    assert set(pair.figures) == set(FIGURE_IDS)
    for fid, measurement in pair.figures.items():
        assert measurement.error is None, (fid, measurement.error)
        assert measurement.value is not None and measurement.value > 0
        assert measurement.samples, fid


def test_without_libotr_no_ratio_and_the_libotr_goals_are_not_judged(engine_report):
    assert all(m.ratio is None for m in engine_report.pairs[0].figures.values())
    goals = {g.id: g for g in engine_report.goals}
    assert goals["ake-vs-libotr"].met is None
    assert "libotr did not take part" in goals["ake-vs-libotr"].measured
    assert goals["matrix"].met is None  # skipped under --quick


def test_memory_sections_report_the_flood_and_the_session(engine_report):
    flood = engine_report.sections["memory_flood"]
    assert flood.status == "ok"
    assert flood.values["fragments"] == 52
    session = engine_report.sections["memory_session"]
    assert session.status == "ok", session.detail
    assert [r["messages"] for r in session.values["readings"]] == [20, 40, 60]
    assert isinstance(session.values["flat"], bool)
    goal = next(g for g in engine_report.goals if g.id == "memory")
    assert goal.met is None and "too few messages" in goal.measured


def test_the_report_is_valid_against_the_schema(engine_report):
    obj = engine_report.to_json()
    assert obj["schema"] == SCHEMA
    validate(obj)
    json.dumps(obj)


def test_the_table_shows_the_pair_the_sections_and_the_goals(engine_report):
    text = table.render(engine_report)
    assert "engine→engine v3" in text
    assert "full AKE" in text and "SMP with a question" in text
    assert "engine over a long session" in text
    assert "| engine AKE <= 0.5x libotr's time |" in text
    assert "not judged" in text


def test_quick_skips_the_slow_sections_unless_named():
    assert "matrix" not in chosen_sections([], quick=True)
    assert "tests" not in chosen_sections([], quick=True)
    assert chosen_sections([], quick=False) == list(SECTIONS)
    assert chosen_sections(["matrix"], quick=True) == ["matrix"]


def test_the_command_writes_json_and_markdown(tmp_path, capsys):
    out, md = tmp_path / "bench.json", tmp_path / "bench.md"
    status = main(["--quick", "--impl", "engine", "--only", "ake", "--json", str(out), "--markdown", str(md)])
    assert status == 0
    obj = json.loads(out.read_text(encoding="utf-8"))
    validate(obj)
    assert obj["quick"] is True
    assert list(obj["pairs"][0]["figures"]) == ["ake"]
    assert obj["sections"]["matrix"]["status"] == "skipped"
    assert md.read_text(encoding="utf-8") == capsys.readouterr().out


def test_an_unknown_section_is_refused(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--only", "ake,nonsense"])
    assert exc.value.code == 2
    assert "nonsense" in capsys.readouterr().err
