"""coyim/otr3 through its Go shim: provisioning, the peer protocol, interop with the engine, findings.

Provisioning runs on first use (Go toolchain and otr3 sources fetched into
~/.cache/otrcheck/otr3 without root, or the system's, and the shim built);
when it is possible here and fails, these tests fail with the reason.
"""

from __future__ import annotations

import pytest

from harness import impls
from implementations.api import Unsupported
from implementations.otr3 import provision
from tests.otrjs.conformance import check_request_validation, duo_with_engine, run_scenario, start

pytestmark = pytest.mark.interop


def test_provisioning_builds_the_shim() -> None:
    found = provision.locate()
    assert found.problem is None, found.problem
    assert found.command is not None and found.version
    assert impls.get("otr3").available


def test_hello_names_otr3_its_versions_and_features() -> None:
    with start("otr3") as peer:
        hello = peer.hello()
    assert (hello.impl, hello.protocol_versions) == ("otr3", (2, 3))
    assert {"smp", "symkey", "fragmentation", "heartbeat"} <= set(hello.features)
    assert hello.deterministic


def test_shim_refuses_malformed_requests_and_keeps_serving() -> None:
    check_request_validation("otr3")


@pytest.mark.parametrize("shim_is_alice", [True, False], ids=["otr3-queries", "engine-queries"])
def test_ake_messages_and_smp_with_the_engine(shim_is_alice: bool) -> None:
    duo, shim = duo_with_engine("otr3", shim_is_alice)
    with shim:
        duo.act("alice", "query")
        duo.flush()
        a, b = duo.a.adapter.status("bob"), duo.b.adapter.status("alice")
        assert (a.msgstate, b.msgstate, a.version) == ("encrypted", "encrypted", 3)
        assert (
            a.ssid == b.ssid and a.peer_fingerprint == b.fingerprint and b.peer_fingerprint == a.fingerprint
        )
        duo.act("alice", "send", "caf\u00e9")
        duo.flush()
        assert [e.text for e in duo.events("bob", "message")] == ["caf\u00e9"]  # type: ignore[attr-defined]
        duo.act("alice", "smp_start", "secret", "who?")
        duo.flush()
        assert [e.question for e in duo.events("bob", "smp")] == ["who?"]  # type: ignore[attr-defined]
        duo.act("bob", "smp_respond", "secret")
        duo.flush()
        for side in ("alice", "bob"):
            assert "success" in [e.result for e in duo.events(side, "smp")]  # type: ignore[attr-defined]
        key = duo.a.adapter.symkey("bob", 7, b"\x00data").fields["key"]
        assert isinstance(key, str) and len(key) == 64


def test_seeded_runs_put_the_same_bytes_on_the_wire() -> None:
    transcripts = []
    for _ in range(2):
        duo, shim = duo_with_engine("otr3", shim_is_alice=True)
        with shim:
            duo.act("alice", "query")
            duo.flush()
            duo.act("alice", "send", "same")
            duo.flush()
        transcripts.append([w.wire for w in duo.transcript])
    assert transcripts[0] == transcripts[1]


def test_smp_abort_is_unsupported() -> None:
    _, shim = duo_with_engine("otr3", shim_is_alice=True)
    with shim, pytest.raises(Unsupported):
        shim.smp_abort("bob")


def test_otr3_001_the_tie_break_winner_stalls_the_ake() -> None:
    assert run_scenario("ake/simultaneous-start-bob-higher", "engine", "otr3").startswith("FAIL")
    assert run_scenario("ake/simultaneous-start-alice-higher", "engine", "otr3") == "PASS"


def test_otr3_004_a_secret_with_no_smp_request_panics_and_the_shim_goes_on() -> None:
    duo, shim = duo_with_engine("otr3", shim_is_alice=False)
    with shim:
        duo.act("alice", "query")
        duo.flush()
        result = shim.smp_respond("alice", "nothing asked")
        assert [getattr(e, "code", None) for e in result.events] == ["x-crash"]
        assert "nil pointer" in result.events[0].detail  # type: ignore[attr-defined]
        assert shim.hello().impl == "otr3"
