"""otr.js 0.2.16 through its Node.js shim: provisioning, the peer protocol, interop with the engine, findings.

Provisioning runs on first use (npm into ~/.cache/otrcheck/otrjs); when it
is possible here and fails, these tests fail with the reason, never skip.
Each test starts its own shim process; otr.js SMP takes seconds, so the
fast checks here stop at the AKE and data messages.
"""

from __future__ import annotations

import json
import subprocess

import pytest

from harness import impls
from implementations.api import Unsupported
from implementations.otrjs import provision
from tests.otrjs.conformance import (
    check_request_validation,
    duo_with_engine,
    init_config,
    run_scenario,
    start,
)

pytestmark = pytest.mark.interop


def test_provisioning_gives_a_command_for_otr_0_2_16() -> None:
    found = provision.locate()
    assert found.problem is None, found.problem
    assert found.command is not None and found.version == "0.2.16"
    assert impls.get("otrjs").available


def test_hello_names_otrjs_its_versions_and_features() -> None:
    with start("otrjs") as peer:
        hello = peer.hello()
    assert (hello.impl, hello.version, hello.protocol_versions) == ("otrjs", "0.2.16", (2, 3))
    assert {"smp", "symkey", "fragmentation", "instance_tags"} <= set(hello.features)
    assert "heartbeat" not in hello.features
    assert hello.deterministic


def test_shim_refuses_malformed_requests_and_keeps_serving() -> None:
    check_request_validation("otrjs")


@pytest.mark.parametrize("shim_is_alice", [True, False], ids=["otrjs-queries", "engine-queries"])
def test_ake_and_messages_both_ways_with_the_engine(shim_is_alice: bool) -> None:
    duo, shim = duo_with_engine("otrjs", shim_is_alice)
    with shim:
        duo.act("alice", "query")
        duo.flush()
        a, b = duo.a.adapter.status("bob"), duo.b.adapter.status("alice")
        assert (a.msgstate, b.msgstate, a.version) == ("encrypted", "encrypted", 3)
        assert (
            a.ssid == b.ssid and a.peer_fingerprint == b.fingerprint and b.peer_fingerprint == a.fingerprint
        )
        duo.act("alice", "send", "caf\u00e9 \u2603")
        duo.act("bob", "send", "hi")
        duo.flush()
        assert [e.text for e in duo.events("bob", "message")] == ["caf\u00e9 \u2603"]  # type: ignore[attr-defined]
        assert [e.text for e in duo.events("alice", "message")] == ["hi"]  # type: ignore[attr-defined]
        duo.act("alice", "end")
        duo.flush()
        assert duo.events("alice", "insecure") and duo.events("bob", "finished")


def test_seeded_runs_put_the_same_bytes_on_the_wire() -> None:
    transcripts = []
    for _ in range(2):
        duo, shim = duo_with_engine("otrjs", shim_is_alice=False)
        with shim:
            duo.act("alice", "query")
            duo.flush()
            duo.act("bob", "send", "same")
            duo.flush()
        transcripts.append([w.wire for w in duo.transcript])
    assert transcripts[0] == transcripts[1]


def test_symkey_other_than_a_file_name_is_unsupported() -> None:
    with start("otrjs") as peer:
        peer.init(init_config("alice", 0x100, b"s"))
        with pytest.raises(Unsupported):
            peer.symkey("bob", 7, b"x")
        result = peer.symkey("bob", 1, b"report.pdf")  # use 1 and a name: otr.js's sendFile
        assert result.fields["key"] is None and [e.code for e in result.events] == ["not_private"]  # type: ignore[attr-defined]


def test_otrjs_001_an_r_with_a_zero_top_nibble_breaks_the_ake_with_the_engine() -> None:
    # Seed 1: otr.js (alice, higher hash) keeps its commit and reveals r = 040e5256...
    outcome = run_scenario("ake/v2-simultaneous-start-alice-higher", "otrjs", "engine")
    assert outcome.startswith("FAIL") and "expected both private" in outcome


def test_otrjs_004_degenerate_base64_throws_out_of_receive_and_the_shim_goes_on() -> None:
    duo, shim = duo_with_engine("otrjs", shim_is_alice=False)
    with shim:
        duo.act("alice", "query")
        duo.flush()
        result = shim.receive("alice", "?OTR:===.")
        crashes = [e for e in result.events if getattr(e, "code", "") == "x-crash"]
        assert len(crashes) == 1 and "reading 'length'" in crashes[0].detail  # type: ignore[attr-defined]
        duo.act("alice", "send", "still private")
        duo.flush()
        assert [e.text for e in duo.events("bob", "message")] == ["still private"]  # type: ignore[attr-defined]


def test_otrjs_007_libotr_key_parser_needs_two_characters_between_items() -> None:
    package = provision.locate().package
    script = (
        "const {DSA} = require(process.argv[1]);"
        "const one = s => Object.keys(DSA.parsePrivate(s, true)).join(',');"
        "const items = ['p','q','g','y','x'].map(k => '(' + k + ' #0A#)');"
        "const head = '(privkeys (account (name \"a\") (protocol p) (private-key (dsa ';"
        "const wrap = sep => head + items.join(sep) + '))))';"
        "console.log(JSON.stringify([one(wrap(' ')), one(wrap('\\n  '))]));"
    )
    node = provision.node()
    assert node is not None
    out = subprocess.run(
        [node, "-e", script, str(package)], capture_output=True, text=True, check=True
    ).stdout
    assert json.loads(out) == ["p,g,x", "p,q,g,y,x"]
