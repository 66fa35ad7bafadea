"""SMP (spec, "Socialist Millionaires' Protocol (SMP)"): two machines passing TLVs to each other."""

from __future__ import annotations

import copy
import functools
import hashlib
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from implementations.engine._codec import mpi, uint
from implementations.engine._crypto import GENERATOR, MODULUS, SMP_ORDER, powmod
from implementations.engine._deps import ScriptedEntropy, SeededEntropy
from implementations.engine._smp import (
    EXPONENT_BYTES,
    SMP_TRANSITIONS,
    SmpInput,
    SmpMachine,
    SmpOutcome,
    SmpState,
    decode_mpis,
    encode_mpis,
    smp_diagram_mermaid,
    smp_hash,
    smp_secret,
)
from implementations.engine._tlv import Tlv, TlvType

E1, E2, E3, E4 = SmpState.EXPECT1, SmpState.EXPECT2, SmpState.EXPECT3, SmpState.EXPECT4
SECRET = smp_secret(b"A" * 20, b"B" * 20, b"ssid0001", b"the password")
OTHER_SECRET = smp_secret(b"A" * 20, b"B" * 20, b"ssid0001", b"another password")
ABORT = Tlv(TlvType.SMP_ABORT)
P, Q = MODULUS, SMP_ORDER
COUNTS = {1: 6, 2: 11, 3: 8, 4: 3}
# Where the group elements are: g2a g3a / g2b g3b Pb Qb / Pa Qa Ra / Rb.
GROUP_POSITIONS = {1: (0, 3), 2: (0, 3, 6, 7), 3: (0, 1, 5), 4: (0,)}
# Where the D values are: D2 D3 / D2 D3 D5 D6 / D5 D6 D7 / D7.
D_POSITIONS = {1: (2, 5), 2: (2, 5, 9, 10), 3: (3, 4, 7), 4: (2,)}


def pair(seed: bytes = b"") -> tuple[SmpMachine, SmpMachine]:
    return SmpMachine(SeededEntropy(b"alice" + seed)), SmpMachine(SeededEntropy(b"bob" + seed))


def only(outcome: SmpOutcome) -> Tlv:
    assert len(outcome.tlvs) == 1, outcome
    return outcome.tlvs[0]


def types(outcome: SmpOutcome) -> list[int]:
    return [t.type for t in outcome.tlvs]


@dataclass
class Run:
    wire: list[Tlv]
    alice: list[tuple[str, str | None]]
    bob: list[tuple[str, str | None]]


def run_smp(alice: SmpMachine, bob: SmpMachine, x: int, y: int, question: str | None = None) -> Run:
    """Alice starts, Bob answers at once; every TLV is delivered in order."""
    run = Run([], [], [])

    def send(outcome: SmpOutcome, results: list[tuple[str, str | None]]) -> Tlv | None:
        run.wire.extend(outcome.tlvs)
        results.extend(outcome.results)
        return only(outcome) if outcome.tlvs else None

    smp1 = send(alice.start(x, question), run.alice)
    assert smp1 is not None
    assert send(bob.receive(smp1), run.bob) is None
    smp2 = send(bob.respond(y), run.bob)
    assert smp2 is not None
    smp3 = send(alice.receive(smp2), run.alice)
    assert smp3 is not None
    smp4 = send(bob.receive(smp3), run.bob)
    assert smp4 is not None
    assert send(alice.receive(smp4), run.alice) is None
    return run


@dataclass(frozen=True)
class Reference:
    """One honest run, with a copy of a machine in each state and the four messages."""

    machines: dict[str, SmpMachine]
    messages: dict[int, Tlv]

    def machine(self, name: str) -> SmpMachine:
        return copy.deepcopy(self.machines[name])


@functools.cache
def reference() -> Reference:
    alice, bob = pair(b"reference")
    machines = {"expect1": copy.deepcopy(bob)}
    smp1 = only(alice.start(SECRET))
    machines["expect2"] = copy.deepcopy(alice)
    bob.receive(smp1)
    machines["expect1_pending"] = copy.deepcopy(bob)
    smp2 = only(bob.respond(SECRET))
    machines["expect3"] = copy.deepcopy(bob)
    smp3 = only(alice.receive(smp2))
    machines["expect4"] = copy.deepcopy(alice)
    smp4 = only(bob.receive(smp3))
    return Reference(machines, {1: smp1, 2: smp2, 3: smp3, 4: smp4})


# The machine that expects SMP message n, in the reference run.
RECEIVER = {1: "expect1", 2: "expect2", 3: "expect3", 4: "expect4"}


def tampered(n: int, position: int, value: int) -> Tlv:
    values = decode_mpis(reference().messages[n].value, COUNTS[n])
    values[position] = value
    return Tlv(reference().messages[n].type, encode_mpis(values))


def receive_at_receiver(n: int, tlv: Tlv) -> tuple[SmpMachine, SmpOutcome]:
    machine = reference().machine(RECEIVER[n])
    return machine, machine.receive(tlv)


def assert_aborted(machine: SmpMachine, outcome: SmpOutcome, result: str) -> None:
    assert outcome.tlvs == [ABORT]
    assert outcome.results == [(result, None)]
    assert machine.state is E1
    assert not machine.awaiting_secret


# ------------------------------------------------------------ whole runs


def test_equal_secrets_succeed_on_both_sides() -> None:
    alice, bob = pair()
    run = run_smp(alice, bob, SECRET, SECRET)
    assert run.alice == [("in_progress", None), ("success", None)]
    assert run.bob == [("ask", None), ("success", None)]
    assert [t.type for t in run.wire] == [TlvType.SMP1, TlvType.SMP2, TlvType.SMP3, TlvType.SMP4]
    assert alice.state is E1 and bob.state is E1


def test_different_secrets_fail_on_both_sides_after_exactly_four_messages() -> None:
    alice, bob = pair()
    run = run_smp(alice, bob, SECRET, OTHER_SECRET)
    assert run.alice == [("in_progress", None), ("failure", None)]
    assert run.bob == [("ask", None), ("failure", None)]
    assert len(run.wire) == 4
    assert alice.state is E1 and bob.state is E1


def test_question_travels_in_tlv_7_and_the_responder_is_asked_it() -> None:
    alice, bob = pair()
    question = "Où avons-nous dîné? 🍜"
    run = run_smp(alice, bob, SECRET, SECRET, question)
    smp1 = run.wire[0]
    assert smp1.type == TlvType.SMP1Q
    assert smp1.value.startswith(question.encode("utf-8") + b"\0")
    assert run.bob == [("ask", question), ("success", None)]
    assert run.alice[-1] == ("success", None)


def test_machines_are_reusable_after_a_run_with_roles_swapped() -> None:
    alice, bob = pair()
    run_smp(alice, bob, SECRET, OTHER_SECRET)
    run = run_smp(bob, alice, SECRET, SECRET)
    assert run.alice[-1] == ("success", None) and run.bob[-1] == ("success", None)


def test_same_seeds_give_identical_tlvs() -> None:
    first = run_smp(*pair(b"det"), SECRET, SECRET, "q").wire
    second = run_smp(*pair(b"det"), SECRET, SECRET, "q").wire
    third = run_smp(*pair(b"other"), SECRET, SECRET, "q").wire
    assert first == second
    assert first != third


def test_secret_is_sha256_of_version_fingerprints_ssid_and_user_secret() -> None:
    expected = hashlib.sha256(b"\x01" + b"I" * 20 + b"R" * 20 + b"12345678" + b"pw").digest()
    assert smp_secret(b"I" * 20, b"R" * 20, b"12345678", b"pw") == int.from_bytes(expected, "big")


@pytest.mark.parametrize(
    ("initiator", "responder", "ssid"),
    [
        (b"I" * 19, b"R" * 20, b"12345678"),
        (b"I" * 20, b"R" * 21, b"12345678"),
        (b"I" * 20, b"R" * 20, b"1234567"),
    ],
)
def test_secret_rejects_wrong_fingerprint_or_ssid_lengths(
    initiator: bytes, responder: bytes, ssid: bytes
) -> None:
    with pytest.raises(ValueError):
        smp_secret(initiator, responder, ssid, b"pw")


def test_hash_is_sha256_of_version_byte_and_one_or_two_mpis() -> None:
    one = hashlib.sha256(b"\x05" + mpi(0x0102)).digest()
    two = hashlib.sha256(b"\x07" + mpi(3) + mpi(0)).digest()
    assert smp_hash(5, 0x0102) == int.from_bytes(one, "big")
    assert smp_hash(7, 3, 0) == int.from_bytes(two, "big")


# ------------------------------------------------------------- aborts


ACTIONS = ("alice starts", "bob receives 1", "bob responds", "alice receives 2", "bob receives 3")


def play(alice: SmpMachine, bob: SmpMachine, done: int) -> None:
    """The first ``done`` ACTIONS of an honest run, each message delivered as soon as it is sent."""
    sent: Tlv | None = None
    for action in ACTIONS[:done]:
        machine = alice if action.startswith("alice") else bob
        if action.endswith("starts"):
            outcome = machine.start(SECRET)
        elif action.endswith("responds"):
            outcome = machine.respond(SECRET)
        else:
            assert sent is not None
            outcome = machine.receive(sent)
        sent = outcome.tlvs[0] if outcome.tlvs else sent


@pytest.mark.parametrize("aborter", ["alice", "bob"])
@pytest.mark.parametrize("done", range(1, len(ACTIONS) + 1), ids=lambda d: ACTIONS[d - 1])
def test_abort_from_either_side_at_each_step_resets_both_and_a_new_run_succeeds(
    done: int, aborter: str
) -> None:
    alice, bob = pair()
    play(alice, bob, done)
    me, peer = (alice, bob) if aborter == "alice" else (bob, alice)
    outcome = me.abort()
    assert outcome.tlvs == [ABORT] and outcome.results == []
    assert me.state is E1
    assert peer.receive(ABORT).results == [("abort", None)]
    assert peer.state is E1 and not peer.awaiting_secret and not me.awaiting_secret
    run = run_smp(alice, bob, SECRET, SECRET)
    assert run.alice[-1] == ("success", None) and run.bob[-1] == ("success", None)


def test_local_abort_in_expect1_still_sends_tlv_6_and_reports_nothing() -> None:
    machine = SmpMachine(SeededEntropy(b"m"))
    outcome = machine.abort()
    assert outcome.tlvs == [ABORT] and outcome.results == []
    assert machine.state is E1


def test_received_abort_is_reported_in_every_state_even_with_a_non_empty_value() -> None:
    for name in ("expect1", "expect1_pending", "expect2", "expect3", "expect4"):
        machine = reference().machine(name)
        outcome = machine.receive(Tlv(TlvType.SMP_ABORT, b"unexpected"))
        assert outcome == SmpOutcome([], [("abort", None)])
        assert machine.state is E1 and not machine.awaiting_secret


# ------------------------------------------------------------ restarts


def test_initiator_restart_while_in_progress_sends_abort_then_smp1_and_the_new_run_succeeds() -> None:
    alice, bob = pair()
    bob.receive(only(alice.start(OTHER_SECRET)))
    bob.respond(SECRET)  # this SMP message 2 is lost
    restart = alice.start(SECRET, "again?")
    assert types(restart) == [TlvType.SMP_ABORT, TlvType.SMP1Q] and restart.results == []
    assert alice.state is E2
    assert bob.receive(restart.tlvs[0]).results == [("abort", None)]
    assert bob.receive(restart.tlvs[1]).results == [("ask", "again?")]
    smp3 = only(alice.receive(only(bob.respond(SECRET))))
    smp4 = only(bob.receive(smp3))
    assert alice.receive(smp4).results == [("success", None)]


def test_responder_restart_from_expect3_reverses_the_roles() -> None:
    alice, bob = pair()
    bob.receive(only(alice.start(SECRET)))
    bob.respond(SECRET)  # lost
    restart = bob.start(SECRET)
    assert types(restart) == [TlvType.SMP_ABORT, TlvType.SMP1]
    assert alice.receive(restart.tlvs[0]).results == [("abort", None)]
    assert alice.receive(restart.tlvs[1]).results == [("ask", None)]
    smp3 = only(bob.receive(only(alice.respond(SECRET))))
    assert alice.receive(smp3).results == [("success", None)]


def test_starting_instead_of_answering_a_pending_smp1_aborts_it_first() -> None:
    machine = reference().machine("expect1_pending")
    outcome = machine.start(SECRET)
    assert types(outcome) == [TlvType.SMP_ABORT, TlvType.SMP1]
    assert machine.state is E2 and not machine.awaiting_secret


def test_stale_smp2_arriving_after_a_restart_fails_its_proof_and_is_reported_as_cheating() -> None:
    alice, bob = pair()
    bob.receive(only(alice.start(SECRET)))
    stale_smp2 = only(bob.respond(SECRET))
    alice.start(SECRET)
    outcome = alice.receive(stale_smp2)
    assert_aborted(alice, outcome, "cheated")
    assert "Pb and Qb" in outcome.detail


def test_simultaneous_start_both_abort_and_both_end_in_expect1() -> None:
    # Each SMP message 1 arrives in EXPECT2: "If smpstate is not SMPSTATE_EXPECT1:
    # Set smpstate to SMPSTATE_EXPECT1 and send a type 6 TLV (SMP abort)".
    alice, bob = pair()
    from_alice = only(alice.start(SECRET))
    from_bob = only(bob.start(SECRET))
    alice_reply = alice.receive(from_bob)
    bob_reply = bob.receive(from_alice)
    assert_aborted(alice, alice_reply, "error")
    assert_aborted(bob, bob_reply, "error")
    assert alice.receive(bob_reply.tlvs[0]).results == [("abort", None)]
    assert bob.receive(alice_reply.tlvs[0]).results == [("abort", None)]
    assert alice.state is E1 and bob.state is E1


# ------------------------------------------------------ wrong state, misuse


def test_smp2_in_expect1_is_answered_with_abort_and_reported_as_error() -> None:
    machine = reference().machine("expect1")
    assert_aborted(machine, machine.receive(reference().messages[2]), "error")


def test_smp3_in_expect4_drops_the_exchange() -> None:
    machine = reference().machine("expect4")
    assert_aborted(machine, machine.receive(reference().messages[3]), "error")
    assert_aborted(machine, machine.receive(reference().messages[4]), "error")


def test_wrong_state_message_discards_a_pending_smp1() -> None:
    machine = reference().machine("expect1_pending")
    assert_aborted(machine, machine.receive(reference().messages[4]), "error")
    assert machine.respond(SECRET) == SmpOutcome([], [("error", None)], "no SMP message 1 to answer")


def test_respond_without_a_pending_smp1_is_an_error_without_tlvs() -> None:
    machine = SmpMachine(SeededEntropy(b"m"))
    outcome = machine.respond(SECRET)
    assert outcome.tlvs == [] and outcome.results == [("error", None)]
    assert machine.state is E1


def test_reset_abandons_the_exchange() -> None:
    machine = reference().machine("expect4")
    machine.reset()
    assert machine.state is E1
    assert_aborted(machine, machine.receive(reference().messages[4]), "error")


@pytest.mark.parametrize("tlv_type", [0, 1, 8, 9, 0xFFFF])
def test_non_smp_tlvs_are_caller_misuse(tlv_type: int) -> None:
    with pytest.raises(ValueError):
        SmpMachine(SeededEntropy(b"m")).receive(Tlv(tlv_type))


@pytest.mark.parametrize("question", ["nul\0inside", "x" * 65000])
def test_start_refuses_questions_that_cannot_be_sent_and_keeps_its_state(question: str) -> None:
    machine = reference().machine("expect2")
    with pytest.raises(ValueError):
        machine.start(SECRET, question)
    assert machine.state is E2


def test_negative_secrets_are_caller_misuse() -> None:
    machine = SmpMachine(SeededEntropy(b"m"))
    with pytest.raises(ValueError):
        machine.start(-1)
    with pytest.raises(ValueError):
        reference().machine("expect1_pending").respond(-1)


# --------------------------------------------- verification failures


@pytest.mark.parametrize(("n", "position"), [(n, i) for n, count in COUNTS.items() for i in range(count)])
def test_any_tampered_value_in_any_message_is_cheating(n: int, position: int) -> None:
    original = decode_mpis(reference().messages[n].value, COUNTS[n])[position]
    machine, outcome = receive_at_receiver(n, tampered(n, position, original + 1))
    assert_aborted(machine, outcome, "cheated")


@pytest.mark.parametrize("bad", [1, P - 1, 0, P])
@pytest.mark.parametrize(("n", "position"), [(n, i) for n, ps in GROUP_POSITIONS.items() for i in ps])
def test_group_elements_outside_2_to_p_minus_2_are_cheating(n: int, position: int, bad: int) -> None:
    machine, outcome = receive_at_receiver(n, tampered(n, position, bad))
    assert_aborted(machine, outcome, "cheated")
    assert "outside 2..p-2" in outcome.detail


@pytest.mark.parametrize("bad", [0, Q])
@pytest.mark.parametrize(("n", "position"), [(n, i) for n, ps in D_POSITIONS.items() for i in ps])
def test_exponents_outside_1_to_q_minus_1_are_cheating(n: int, position: int, bad: int) -> None:
    machine, outcome = receive_at_receiver(n, tampered(n, position, bad))
    assert_aborted(machine, outcome, "cheated")
    assert "outside 1..q-1" in outcome.detail


@pytest.mark.parametrize(("n", "position"), [(n, i) for n, ps in D_POSITIONS.items() for i in ps])
def test_d_plus_q_passes_every_proof_so_only_the_range_check_rejects_it(n: int, position: int) -> None:
    # Every base raised to a D lies in the order-q subgroup generated by g1 = 2,
    # so D + q proves exactly what D proves.
    assert powmod(GENERATOR, Q) == 1
    original = decode_mpis(reference().messages[n].value, COUNTS[n])[position]
    machine, outcome = receive_at_receiver(n, tampered(n, position, original + Q))
    assert_aborted(machine, outcome, "cheated")
    assert "outside 1..q-1" in outcome.detail


def forged_smp1(g2a: int) -> Tlv:
    """An SMP message 1 whose proof for g2a verifies although g2a is outside 2..p-2."""
    honest = decode_mpis(reference().messages[1].value, 6)
    if g2a % P == 0:
        c2, d2 = smp_hash(1, 0), 1  # g1^D2 * 0^c2 = 0
    else:  # 1 or p-1: with c2 even, g2a^c2 = 1 and D2 = r proves it
        r = 1
        while (c2 := smp_hash(1, powmod(GENERATOR, r))) % 2:
            r += 1
        d2 = r
    assert c2 == smp_hash(1, powmod(GENERATOR, d2) * powmod(g2a, c2) % P)
    return Tlv(TlvType.SMP1, encode_mpis([g2a, c2, d2, *honest[3:]]))


@pytest.mark.parametrize("g2a", [1, P - 1, 0, P])
def test_smp1_with_a_valid_proof_but_g2a_out_of_range_is_cheating(g2a: int) -> None:
    machine, outcome = receive_at_receiver(1, forged_smp1(g2a))
    assert_aborted(machine, outcome, "cheated")
    assert "g2a or g3a outside 2..p-2" in outcome.detail


def test_zero_exponent_drawn_from_entropy_is_used_as_is_and_the_peer_calls_it_cheating() -> None:
    entropy = ScriptedEntropy(SeededEntropy(b"scripted"), [b"\0" * EXPONENT_BYTES])  # a2 = 0: g2a = 1
    smp1 = only(SmpMachine(entropy).start(SECRET))
    assert decode_mpis(smp1.value, 6)[0] == 1
    machine, outcome = receive_at_receiver(1, smp1)
    assert_aborted(machine, outcome, "cheated")


# ------------------------------------------------------ malformed values


def malformed_values(n: int) -> dict[str, bytes]:
    good = reference().messages[n].value
    count = COUNTS[n]
    values = decode_mpis(good, count)
    return {
        "empty": b"",
        "truncated count": good[:3],
        "count only": good[:4],
        "truncated MPI": good[:-1],
        "trailing byte": good + b"\0",
        "one MPI too few": encode_mpis(values[:-1]),
        "one MPI too many": encode_mpis([*values, 1]),
        "count larger than the MPIs": uint(count + 1) + good[4:],
        "count 0xFFFFFFFF": uint(0xFFFFFFFF) + good[4:],
        "MPI length 0xFFFFFFFF": uint(count) + uint(0xFFFFFFFF) + good[8:],
    }


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_malformed_values_abort_and_report_error_without_raising(n: int) -> None:
    for name, value in malformed_values(n).items():
        machine, outcome = receive_at_receiver(n, Tlv(reference().messages[n].type, value))
        assert_aborted(machine, outcome, "error")
        assert outcome.detail, name


@pytest.mark.parametrize(
    "value",
    [
        b"no terminator",
        b"\xff\xfe not utf-8\0",
        b"",
        b"question\0",
        b"question\0" + b"\0\0\0\x06",
    ],
)
def test_malformed_smp1q_aborts_and_reports_error(value: bytes) -> None:
    machine = reference().machine("expect1")
    assert_aborted(machine, machine.receive(Tlv(TlvType.SMP1Q, value)), "error")


def test_smp1q_with_an_empty_question_asks_the_empty_string() -> None:
    machine = reference().machine("expect1")
    outcome = machine.receive(Tlv(TlvType.SMP1Q, b"\0" + reference().messages[1].value))
    assert outcome == SmpOutcome([], [("ask", "")])
    assert machine.awaiting_secret


@settings(max_examples=60, deadline=None)
@given(
    name=st.sampled_from(["expect1", "expect1_pending", "expect2", "expect3", "expect4"]),
    tlv_type=st.sampled_from([2, 3, 4, 5, 6, 7]),
    value=st.binary(max_size=300),
)
def test_arbitrary_smp_tlv_values_never_raise_and_end_in_expect1(
    name: str, tlv_type: int, value: bytes
) -> None:
    machine = reference().machine(name)
    outcome = machine.receive(Tlv(tlv_type, value))
    assert machine.state is E1
    assert outcome.tlvs in ([], [ABORT])
    assert len(outcome.results) == 1 and outcome.results[0][0] in ("ask", "abort", "error", "cheated")


# ------------------------------------------------------------ the table


SETUPS = ("expect1", "expect1_pending", "expect2", "expect3", "expect4")
STATE_OF = {"expect1": E1, "expect1_pending": E1, "expect2": E2, "expect3": E3, "expect4": E4}

# What each effect must do: (TLV types sent, results, state after).
EXPECTED_EFFECTS: dict[str, tuple[list[int], list[tuple[str, str | None]], SmpState]] = {
    "send_smp1": ([TlvType.SMP1], [], E2),
    "restart": ([TlvType.SMP_ABORT, TlvType.SMP1], [], E2),
    "send_smp2": ([TlvType.SMP2], [], E3),
    "send_abort": ([TlvType.SMP_ABORT], [], E1),
    "recv_smp1": ([], [("ask", None)], E1),
    "wrong_state": ([TlvType.SMP_ABORT], [("error", None)], E1),
    "recv_smp2": ([TlvType.SMP3], [("in_progress", None)], E4),
    "recv_smp3": ([TlvType.SMP4], [("success", None)], E1),
    "recv_smp4": ([], [("success", None)], E1),
    "recv_abort": ([], [("abort", None)], E1),
}


def apply(machine: SmpMachine, smp_input: SmpInput) -> SmpOutcome:
    messages = reference().messages
    match smp_input:
        case SmpInput.SEND_START:
            return machine.start(SECRET)
        case SmpInput.SEND_RESPOND:
            return machine.respond(SECRET)
        case SmpInput.SEND_ABORT:
            return machine.abort()
        case SmpInput.RECV_SMP1:
            return machine.receive(messages[1])
        case SmpInput.RECV_SMP2:
            return machine.receive(messages[2])
        case SmpInput.RECV_SMP3:
            return machine.receive(messages[3])
        case SmpInput.RECV_SMP4:
            return machine.receive(messages[4])
        case SmpInput.RECV_ABORT:
            return machine.receive(ABORT)


def test_table_covers_every_pair_but_respond_outside_expect1() -> None:
    missing = {(s, i) for s in SmpState for i in SmpInput} - set(SMP_TRANSITIONS)
    assert missing == {(s, SmpInput.SEND_RESPOND) for s in (E2, E3, E4)}


def test_every_effect_in_the_table_is_implemented_and_tested() -> None:
    effects = {t.effect for t in SMP_TRANSITIONS.values()}
    assert effects == set(EXPECTED_EFFECTS)
    for effect in effects:
        assert callable(getattr(SmpMachine, f"_{effect}"))


@pytest.mark.parametrize("smp_input", list(SmpInput), ids=lambda i: i.name)
@pytest.mark.parametrize("setup", SETUPS)
def test_every_state_and_input_behaves_as_the_table_says(setup: str, smp_input: SmpInput) -> None:
    machine = reference().machine(setup)
    before = machine.state
    assert before is STATE_OF[setup]
    transition = SMP_TRANSITIONS.get((before, smp_input))
    outcome = apply(machine, smp_input)
    if transition is None:  # refused: nothing sent, nothing changed
        assert outcome.tlvs == [] and outcome.results == [("error", None)]
        assert machine.state is before
        return
    assert machine.state in transition.next_states
    tlv_types, results, after = EXPECTED_EFFECTS[transition.effect]
    if transition.effect == "send_smp1" and setup == "expect1_pending":
        tlv_types = [TlvType.SMP_ABORT, *tlv_types]
    if transition.effect == "send_smp2" and setup == "expect1":
        tlv_types, results, after = [], [("error", None)], E1
    assert types(outcome) == tlv_types
    assert outcome.results == results
    assert machine.state is after


def test_mermaid_diagram_has_an_edge_for_every_row() -> None:
    diagram = smp_diagram_mermaid()
    assert diagram.startswith("stateDiagram-v2\n")
    for (state, smp_input), transition in SMP_TRANSITIONS.items():
        for next_state in transition.next_states:
            edge = f"{state.value} --> {next_state.value}: {smp_input.name} / {transition.effect}"
            assert edge in diagram
