"""What the machines found, pinned: each shrunk program replayed.

Each test states the behaviour the spec (or the adapter contract) asks for and
replays the program Hypothesis shrank.  Bugs of ours that are fixed
(ENGINE-004, ENGINE-005, the libotr adapter's stale SMP question) pass and
stay as regressions.  A deviation of another implementation is a strict xfail
naming its finding, recognised meanwhile by ``machines.KNOWN``; when it is
fixed upstream the test passes, the strict xfail turns the run red, and the
pin and the ``KNOWN`` entry are removed.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from harness import impls
from implementations.api import InitConfig, Policy
from implementations.fixtures import key
from implementations.peer import PeerProcess
from tests.stateful import machines
from tests.stateful.conftest import Workers
from tests.stateful.machines import ALICE, BOB, InvariantViolated, OtrMachine, machine_for, unavailable
from tests.stateful.test_model import ModelChecked

PLAIN = {
    "require_encryption": False,
    "send_whitespace_tag": False,
    "whitespace_start_ake": False,
    "error_start_ake": False,
}
NOT_FORCED = {"r": [], "short_gx": False}


def setup(
    state: OtrMachine, flags: tuple[dict[str, bool], dict[str, bool]] = (PLAIN, PLAIN), smp: bool = False
) -> None:
    state.setup(
        versions=((2, 3), (2, 3)),
        flags=flags,
        keys=("alice", "bob"),
        seeds=(b"\x00\x00", b"\x00\x00"),
        bias=(None, None),
        forced=(NOT_FORCED, NOT_FORCED),
        final={"smp": smp, "secrets": ("apple", "apple")},
    )


def test_engine_004_the_whitespace_tag_is_offered_again_after_msgstate_reenters_plaintext() -> None:
    """Fixed (ENGINE-004).  Spec, "User types a message to be sent": attach the tag if "you have not
    received a plaintext message from this correspondent since last entering MSGSTATE_PLAINTEXT"."""
    state = machine_for("engine-engine", base=ModelChecked, key="pinned findings")()
    setup(state, flags=(PLAIN, {**PLAIN, "send_whitespace_tag": True}))
    state.send_text(side=ALICE)  # bob receives an untagged plaintext: he stops tagging
    state.query(side=ALICE)
    state.flush()  # the AKE; both private
    state.end(side=BOB)  # bob re-enters PLAINTEXT
    state.send_text(side=BOB)  # the spec tags this one (the model checks)
    state.teardown()


def test_engine_005_a_new_ake_while_private_keeps_the_smp_state() -> None:
    """Fixed (ENGINE-005).  Spec, "The SMP state machine": SMP abandons its state when
    MSGSTATE_ENCRYPTED becomes unset, which a new AKE while private does not do."""
    state = machine_for("engine-engine", base=ModelChecked, key="pinned findings")()
    setup(state)
    state.query(side=ALICE)
    state.flush()
    state.smp_start(side=ALICE, secret="apple", question=None)
    state.flush()  # bob is asked
    state.rekey(side=ALICE)
    state.flush()  # the new AKE completes; bob is still asked
    state.teardown()


@pytest.mark.parametrize("pair", ["engine-libotr", "engine-potr"])
def test_engine_005_the_smp_after_a_new_ake_succeeds_against_a_peer_that_kept_its_smp_state(
    pair: str, workers: Workers
) -> None:
    """Fixed (ENGINE-005): the engine, keeping its own SMP state too, restarts with an abort."""
    problem = unavailable(pair)
    if problem:
        pytest.skip(problem)
    state = machine_for(pair, workers, key="pinned findings")()
    setup(state, smp=True)
    state.query(side=ALICE)
    state.flush()
    if pair == "engine-libotr":
        state.smp_start(side=BOB, secret="apple", question=None)  # libotr: EXPECT2, kept
    else:
        state.smp_start(side=ALICE, secret="apple", question=None)
        state.flush()  # potr: asked, kept
    # teardown: alice queries (a new AKE), then starts a fresh SMP, which bob must be asked.
    state.teardown()


@pytest.fixture
def without_libotr_040(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    known = {k: v for k, v in machines.KNOWN.items() if k != ("libotr", "resend_loop")}
    monkeypatch.setattr(machines, "KNOWN", known)
    yield


@pytest.mark.parametrize("pair", ["engine-libotr", "libotr-engine"])
@pytest.mark.xfail(
    strict=True,
    raises=InvariantViolated,
    reason="LIBOTR-040: v2, ERROR_START_AKE: one replayed Data Message during a re-key "
    "starts an Error / Query / resend loop that never ends",
)
def test_libotr_040_a_replayed_data_message_during_a_rekey_does_not_start_an_endless_loop(
    pair: str, workers: Workers, without_libotr_040: None
) -> None:
    problem = unavailable(pair)
    if problem:
        pytest.skip(problem)
    libotr = BOB if pair == "engine-libotr" else ALICE
    flags = {side: {**PLAIN, "error_start_ake": side == libotr} for side in (ALICE, BOB)}
    state = machine_for(pair, workers, key="pinned findings")()
    state.setup(
        versions=((2,), (2,)),
        flags=(flags[ALICE], flags[BOB]),
        keys=("alice", "bob"),
        seeds=(b"\x00\x00", b"\x00\x00"),
        bias=(None, None),
        forced=(NOT_FORCED, NOT_FORCED),
        final={"smp": False, "secrets": ("apple", "apple")},
    )
    other = ALICE if libotr == BOB else BOB
    state.query(side=other)
    state.flush()  # private, v2
    state.query(side=libotr)  # libotr starts a new AKE ...
    text = state.send_text(side=libotr)  # ... and sends a text meanwhile
    state.inject_old(earlier=text, which=0, reflect=False)  # which an attacker replays
    state.flush()  # the replay's Error Message starts the loop
    state.teardown()


def test_libotr_smp_respond_after_a_new_init_is_refused_not_a_crash() -> None:
    """Fixed (an adapter bug): the adapter's record of asked questions outlived ``init``, so it let
    ``smp_respond`` through to ``otrl_message_respond_smp`` with no SMP message 1 in the new
    userstate, where libotr dereferences NULL (LIBOTR-041) and the worker died."""
    if impls.get("libotr").unavailable:
        pytest.skip(impls.get("libotr").unavailable)
    worker = impls.get("libotr").make()
    assert isinstance(worker, PeerProcess)
    try:
        for round_ in ("asked, never answered", "after a new init"):
            bob = worker
            alice = impls.get("engine").make()
            for name, adapter, tag in ((ALICE, alice, 0x100), (BOB, bob, 0x101)):
                adapter.init(InitConfig(name, "otrcheck", key(name), tag, Policy(), seed=b"pin"))
            pending = list(alice.query(BOB).out)
            while pending:
                out = pending.pop(0)
                target, origin = (bob, ALICE) if out.to == BOB else (alice, BOB)
                pending.extend(_deliver(target, origin, out.wire))
            if round_ == "asked, never answered":
                for out in alice.smp_start(BOB, "apple", None).out:
                    assert any(e.type == "smp" for e in bob.receive(ALICE, out.wire).events)
            else:
                result = bob.smp_respond(ALICE, "apple")  # nothing to answer in this session
                assert [e.type for e in result.events] == ["smp"]
    finally:
        worker.close()


def _deliver(adapter: Any, sender: str, wire: str) -> list[Any]:
    return list(adapter.receive(sender, wire).out)


def test_libotr_an_answer_to_a_question_asked_before_an_end_is_refused_not_a_crash(workers: Workers) -> None:
    """Fixed (an adapter bug, found by the ``thorough`` profile): the adapter kept a question asked
    before the session ended and let the answer through in the next session, where libotr's SMP
    state is gone and ``otrl_message_respond_smp`` dereferences NULL (LIBOTR-041)."""
    problem = unavailable("libotr-engine")
    if problem:
        pytest.skip(problem)
    state = machine_for("libotr-engine", workers, key="pinned findings")()
    setup(state)
    state.query(side=ALICE)
    state.flush()
    state.smp_start(side=BOB, secret="apple", question=None)
    state.flush()  # alice (libotr) is asked
    state.end(side=ALICE)
    state.query(side=ALICE)
    state.flush()  # a new session: libotr's SMP state was abandoned with the old one
    state.smp_respond(side=ALICE, secret="apple")
    state.teardown()
