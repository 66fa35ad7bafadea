"""Ratios and goals from hand-made figures: the arithmetic and the verdicts, including "not judged"."""

from __future__ import annotations

import pytest

from benchmarks import goals
from benchmarks.model import (
    DATA_FIGURE_IDS,
    FIGURE_IDS,
    Measurement,
    PairResult,
    Report,
    Section,
    ratios_to,
)


def pair(alice: str, bob: str, version: int = 3, **values: float) -> PairResult:
    result = PairResult(alice, bob, version, "in-process")
    for fid in FIGURE_IDS:
        if fid in values:
            result.figures[fid] = Measurement.of([values[fid]])
    return result


def figures(ake: float, smp: float, rate: float) -> dict[str, float]:
    return {"ake": ake, "smp": smp, **{fid: rate for fid in (*DATA_FIGURE_IDS, "reassembly")}}


def report(*pairs: PairResult, **sections: Section) -> Report:
    r = Report(started="now", quick=False, budget={}, machine={})
    r.pairs = list(pairs)
    r.sections = dict(sections)
    ratios_to(r.pairs)
    r.goals = goals.evaluate(r)
    return r


def verdicts(r: Report) -> dict[str, bool | None]:
    return {g.id: g.met for g in r.goals}


def test_a_measurement_is_the_median_of_its_samples():
    m = Measurement.of([5.0, 1.0, 3.0, 100.0, 2.0])
    assert m.value == 3.0 and m.error is None and m.samples == [5.0, 1.0, 3.0, 100.0, 2.0]
    empty = Measurement.of([])
    assert empty.value is None and empty.error == "no samples"


def test_ratios_are_to_libotr_against_itself_in_the_same_run():
    engine = pair("engine", "engine", ake=2.0, data_oneway_100B=30_000.0)
    libotr = pair("libotr", "libotr", ake=8.0, data_oneway_100B=20_000.0)
    mixed = pair("engine", "libotr", ake=4.0)
    ratios_to([engine, libotr, mixed])
    assert engine.figures["ake"].ratio == pytest.approx(0.25)
    assert engine.figures["data_oneway_100B"].ratio == pytest.approx(1.5)
    assert libotr.figures["ake"].ratio == pytest.approx(1.0)
    assert mixed.figures["ake"].ratio == pytest.approx(0.5)


def test_a_failed_figure_has_no_ratio_and_is_not_a_reference():
    engine = pair("engine", "engine", ake=2.0)
    libotr = pair("libotr", "libotr")
    libotr.figures["ake"] = Measurement.failed("CheckFailed: after the AKE bob is plaintext")
    ratios_to([engine, libotr])
    assert engine.figures["ake"].ratio is None
    assert libotr.figures["ake"].ratio is None


def test_goals_met_when_the_engine_is_fast_enough():
    r = report(
        pair("engine", "engine", **figures(ake=2.0, smp=30.0, rate=50_000.0)),
        pair("libotr", "libotr", **figures(ake=6.0, smp=130.0, rate=40_000.0)),
        pair("potr", "potr", 2, **figures(ake=25.0, smp=470.0, rate=4_000.0)),
        matrix=Section("ok", "", {"seconds": 42.0, "exit_status": 0}),
        memory_session=Section(
            "ok", "", {"growth_bytes": 100, "messages": 100_000, "growth_from": 10_000, "flat": True}
        ),
    )
    assert verdicts(r) == {
        "ake-vs-libotr": True,
        "smp-vs-libotr": True,
        "data-vs-libotr": True,
        "ake-vs-potr": True,
        "smp-vs-potr": True,
        "data-vs-potr": True,
        "matrix": True,
        "memory": True,
    }


def test_goals_not_met_are_reported_with_the_measured_ratio():
    r = report(
        pair("engine", "engine", **figures(ake=4.0, smp=60.0, rate=30_000.0)),
        pair("libotr", "libotr", **figures(ake=6.0, smp=130.0, rate=40_000.0)),
        pair("potr", "potr", 2, **figures(ake=25.0, smp=470.0, rate=5_000.0)),
        matrix=Section("ok", "", {"seconds": 75.0, "exit_status": 1}),
        memory_session=Section(
            "ok", "", {"growth_bytes": 1 << 20, "messages": 100_000, "growth_from": 10_000, "flat": False}
        ),
    )
    found = verdicts(r)
    assert found["ake-vs-libotr"] is False  # 4 / 6 = 0.67x, more than 0.5x
    assert found["smp-vs-libotr"] is True  # 60 / 130 = 0.46x
    assert found["data-vs-libotr"] is False
    assert found["ake-vs-potr"] is False  # 25 / 4 = 6.25x, less than 10x
    assert found["data-vs-potr"] is False
    assert found["matrix"] is False
    assert found["memory"] is False
    ake = next(g for g in r.goals if g.id == "ake-vs-libotr")
    assert ake.measured.startswith("0.67x libotr's")
    matrix = next(g for g in r.goals if g.id == "matrix")
    assert "exit status 1" in matrix.measured


def test_one_failed_figure_leaves_a_goal_not_judged_rather_than_met():
    engine = pair("engine", "engine", **figures(ake=2.0, smp=30.0, rate=50_000.0))
    engine.figures["data_oneway_16KiB"] = Measurement.failed(
        "CheckFailed: bob received 0 intact of 5 messages"
    )
    r = report(engine, pair("libotr", "libotr", **figures(ake=6.0, smp=130.0, rate=40_000.0)))
    data = next(g for g in r.goals if g.id == "data-vs-libotr")
    assert data.met is None
    assert "data_oneway_16KiB: no figure" in data.measured


def test_goals_without_the_needed_sections_are_not_judged():
    found = verdicts(report(matrix=Section("skipped", "--quick")))
    assert found["matrix"] is None
    assert found["memory"] is None
    assert found["smp-vs-potr"] is None
