"""The sections outside the pair table, on small inputs: wall-time runs, fuzz discovery, memory, checks."""

from __future__ import annotations

import sys
from pathlib import Path

from benchmarks import fuzzing, memory, protocol, wall
from benchmarks.model import Participant
from benchmarks.peers import Available, Link, plan
from implementations.api import Adapter, Result
from implementations.engine import EngineAdapter

LIBFUZZER_OUTPUT = """\
INFO: Seed: 1
#2\tINITED cov: 35 ft: 36 corp: 1/1b exec/s: 0 rss: 40Mb
#1000\tNEW    cov: 120 ft: 180 corp: 12/340b lim: 8 exec/s: 1000 rss: 41Mb L: 9/40 MS: 1 ChangeBit-
#5000\tDONE   cov: 131 ft: 200 corp: 14/400b lim: 43 exec/s: 2500 rss: 42Mb
Done 5000 runs in 2 second(s)
stat::number_of_executed_units: 5000
stat::average_exec_per_sec:     2500
stat::new_units_added:          13
stat::slowest_unit_time_sec:    0
stat::peak_rss_mb:              42
"""


def test_libfuzzer_final_stats_are_parsed():
    stats = fuzzing.parse_libfuzzer(LIBFUZZER_OUTPUT)
    assert stats["number_of_executed_units"] == 5000
    assert stats["average_exec_per_sec"] == 2500
    assert stats["peak_rss_mb"] == 42
    assert (stats["cov"], stats["ft"]) == (131, 200)


def test_no_fuzz_targets_is_reported_as_such(tmp_path):
    section = fuzzing.fuzz_targets(10, 30.0, fuzz_dir=tmp_path)
    assert section.status == "absent"
    assert section.detail == "no fuzz targets"


def test_a_target_that_dies_before_fuzzing_is_an_error_with_its_last_line(tmp_path):
    target = tmp_path / "fuzz_broken.py"
    target.write_text("raise SystemExit('cannot start: no such library')\n", encoding="utf-8")
    assert fuzzing.discover(tmp_path) == [target]
    entry = fuzzing.run_target(target, 10, 60.0, fuzz_dir=tmp_path)
    assert entry["status"] == "error"
    assert entry["detail"] == "cannot start: no such library"
    assert entry["exec_per_s"] is None
    assert not (tmp_path / "corpus").exists()  # the committed corpus is never written to


def test_timed_run_reports_status_output_and_timeouts(tmp_path):
    seconds, status, out = wall.timed_run([sys.executable, "-c", "print('hello'); raise SystemExit(3)"], 60.0)
    assert status == 3 and "hello" in out and seconds > 0
    _, status, _ = wall.timed_run(
        [sys.executable, "-c", "import time; time.sleep(30)"], 0.5, cwd=Path(tmp_path)
    )
    assert status is None


def test_the_flood_stays_within_the_reassembly_cap(tiny):
    section = memory.fragment_flood(tiny)
    assert section.status == "ok"
    assert section.values["fragments"] == tiny.flood_fragments + tiny.flood_large_pieces
    # a piece larger than the cap is refused: nothing of it stays
    assert section.values["retained_mib"] <= section.values["cap_mib"]


def test_the_long_session_counts_every_message(tiny):
    section = memory.long_session(tiny)
    assert section.status == "ok", section.detail
    assert section.values["messages"] == tiny.session_total
    assert len(section.values["readings"]) == tiny.session_total // tiny.session_checkpoint


class Deaf:
    """An engine account whose messages never reach the network: no AKE can complete."""

    def __init__(self) -> None:
        self._inner = EngineAdapter()

    def __getattr__(self, name: str) -> object:
        attr = getattr(self._inner, name)
        if name not in ("send", "receive", "query", "smp_start", "smp_respond"):
            return attr

        def silenced(*args: object) -> Result:
            result: Result = attr(*args)
            result.out.clear()
            return result

        return silenced


def available(name: str, make: type[Adapter] | type[Deaf], transport: str = "in-process") -> Available:
    return Available(Participant(name, "0", transport, (2, 3)), make)  # type: ignore[arg-type]


def test_work_that_did_not_happen_is_an_error_not_a_figure(tiny):
    result = protocol.measure_pair(
        available("engine", EngineAdapter), available("deaf", Deaf), tiny, {"ake", "smp", "data_oneway_100B"}
    )
    for fid in ("ake", "smp", "data_oneway_100B"):
        m = result.figures[fid]
        assert m.value is None and m.error is not None and m.error.startswith("CheckFailed"), (fid, m)


def test_no_common_version_is_an_error_for_every_figure(tiny):
    v2 = Available(Participant("a", "0", "in-process", (2,)), EngineAdapter)
    v3 = Available(Participant("b", "0", "in-process", (3,)), EngineAdapter)
    result = protocol.measure_pair(v2, v3, tiny, {"ake"})
    assert result.version is None
    assert result.figures["ake"].error == "no protocol version in common"


def test_a_subprocess_peer_is_measured_through_the_pipe(tiny):
    from harness import impls
    from implementations.peer import PeerProcess

    engine = impls.get("engine")

    def spawn() -> Adapter:
        return PeerProcess(engine.peer_command(), cwd=impls.REPO_ROOT, timeout=60)

    piped = available("engine-peer", spawn, "pipe")  # type: ignore[arg-type]
    result = protocol.measure_pair(available("engine", EngineAdapter), piped, tiny, {"ake"})
    assert result.transport == "pipe"
    assert result.figures["ake"].error is None and result.figures["ake"].value


def test_the_plan_is_each_against_itself_then_the_engine_against_each():
    names = ["engine", "libotr", "potr"]
    found = [
        (a.participant.name, b.participant.name)
        for a, b in plan([available(n, EngineAdapter) for n in names])
    ]
    assert found == [
        ("engine", "engine"),
        ("libotr", "libotr"),
        ("potr", "potr"),
        ("engine", "libotr"),
        ("engine", "potr"),
    ]


def test_a_link_delivers_until_quiet_and_can_drop_its_event_log():
    link = Link.open(EngineAdapter, EngineAdapter, 3)
    try:
        assert link.act("alice", "query") >= 5  # query, commit, key, reveal, signature
        assert link.take("bob")  # bob saw the session go secure
        link.keep_events = False
        link.act("alice", "send", "hello")
        assert link.take("bob") == []
    finally:
        link.close()


class EveryThirdQueryUnanswered:
    """An engine account that ignores every third Query Message it receives: that AKE never starts."""

    def __init__(self) -> None:
        self._inner = EngineAdapter()
        self.queries = 0

    def __getattr__(self, name: str) -> object:
        return getattr(self._inner, name)

    def receive(self, peer: str, wire: str) -> Result:
        result = self._inner.receive(peer, wire)
        if wire.startswith("?OTRv"):
            self.queries += 1
            if self.queries % 3 == 0:
                result.out.clear()
        return result


def test_failed_akes_are_not_samples_but_are_counted_in_the_note(tiny):
    import dataclasses

    budget = dataclasses.replace(tiny, ake_reps=4)
    result = protocol.measure_pair(
        available("engine", EngineAdapter), available("flaky", EveryThirdQueryUnanswered), budget, {"ake"}
    )
    ake = result.figures["ake"]
    assert ake.error is None and len(ake.samples) == 4
    assert "more failed: after the AKE alice is plaintext" in ake.note


def test_pairs_take_their_samples_in_turn(tiny):
    import dataclasses

    order: list[str] = []

    def recording(tag: str) -> type:
        class Recording(EngineAdapter):
            def smp_start(self, peer: str, secret: str, question: str | None) -> Result:
                order.append(tag)
                return super().smp_start(peer, secret, question)

        return Recording

    budget = dataclasses.replace(tiny, smp_reps=3)
    first, second = available("first", recording("first")), available("second", recording("second"))
    results = protocol.measure_pairs([(first, first), (second, second)], budget, {"smp"})
    assert all(r.figures["smp"].error is None for r in results)
    assert order == ["first", "second"] + ["first", "second"] * 3  # warm-ups, then one sample each in turn
