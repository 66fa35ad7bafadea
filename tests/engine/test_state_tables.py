"""The three state machines as tables: every (state, input) pair against what the engine really does.

* AKE (:data:`AKE_TRANSITIONS`): a real :class:`Ake` is driven into each
  authstate by a second real ``Ake``, then fed each input built from real
  messages.  A pair in the table must end in one of the row's next states
  and produce the row's effect (what was sent, what was derived); a pair
  absent from the table must be ignored with a reason and change nothing,
  not even the entropy drawn.
* msgstate (:data:`MSG_TRANSITIONS`): the same through an :class:`Engine`
  session reached by a real conversation.
* SMP (:data:`SMP_TRANSITIONS`): the machine itself is covered state by
  state in ``test_smp.py``; here the table's shape (every state reachable,
  data-dependent rows) and the engine glue (SMP through Data Messages) are.

Spec: "The protocol state machine", "Authenticated Key Exchange", "The SMP
state machine".  The tie-break of simultaneous D-H Commits is forced both
ways through :class:`ScriptedEntropy` (the commit side draws x, then r).
"""

from __future__ import annotations

import copy
import functools
import hashlib
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace

import pytest

from harness.conversation import Duo
from implementations import fixtures
from implementations.api import (
    ErrorRaised,
    MessageReceived,
    Policy,
    Result,
    SessionFinished,
    SessionInsecure,
    SessionSecured,
    SmpUpdated,
)
from implementations.engine import (
    AKE_TRANSITIONS,
    MSG_TRANSITIONS,
    SMP_TRANSITIONS,
    AuthInput,
    AuthState,
    Engine,
    EngineAdapter,
    MsgInput,
    MsgState,
    ScriptedEntropy,
    SeededEntropy,
    SmpInput,
    SmpState,
    _ake,
    _crypto,
    _smp,
    _state,
    _wire,
    private_key,
)
from implementations.engine._ake import Ake, AkeOutcome, AkeResult
from implementations.engine._codec import mpi
from implementations.engine._session import Session
from implementations.engine._tlv import Tlv, TlvType, encode_plaintext
from implementations.engine._wire import (
    DHCommit,
    DHKey,
    EncodedMessage,
    MessageType,
    RevealSignature,
    Signature,
)

S, I = AuthState, AuthInput  # noqa: E741 (the engine's own abbreviations)
M, In = MsgState, MsgInput
E1, E2, E3, E4 = SmpState.EXPECT1, SmpState.EXPECT2, SmpState.EXPECT3, SmpState.EXPECT4
ALICE, BOB = "alice", "bob"
PEER = {ALICE: BOB, BOB: ALICE}
ME_TAG, THEM_TAG = 0x100, 0x101


def dsa(name: str) -> _crypto.DsaPrivate:
    return private_key(fixtures.key(name))


def encoded(messages: Iterable[EncodedMessage]) -> list[str]:
    return [_wire.encode(m) for m in messages]


def only(outcome: AkeOutcome) -> EncodedMessage:
    assert len(outcome.send) == 1 and outcome.ignored is None, outcome
    return outcome.send[0]


# =================================================================== table shapes


def reachable(initial: object, transitions: dict[tuple[object, object], object]) -> set[object]:
    seen, todo = {initial}, deque([initial])
    while todo:
        state = todo.popleft()
        for (source, _), row in transitions.items():
            if source == state:
                for nxt in row.next_states:  # type: ignore[attr-defined]
                    if nxt not in seen:
                        seen.add(nxt)
                        todo.append(nxt)
    return seen


@pytest.mark.parametrize(
    ("table", "initial", "states"),
    [
        (AKE_TRANSITIONS, S.NONE, AuthState),
        (MSG_TRANSITIONS, M.PLAINTEXT, MsgState),
        (SMP_TRANSITIONS, E1, SmpState),
    ],
    ids=["ake", "msg", "smp"],
)
def test_every_state_is_reachable_from_the_initial_one_through_the_table(
    table: dict, initial: object, states: type
) -> None:
    assert reachable(initial, table) == set(states)


@pytest.mark.parametrize(
    ("table", "states", "inputs"),
    [
        (AKE_TRANSITIONS, AuthState, AuthInput),
        (MSG_TRANSITIONS, MsgState, MsgInput),
        (SMP_TRANSITIONS, SmpState, SmpInput),
    ],
    ids=["ake", "msg", "smp"],
)
def test_rows_are_well_formed(table: dict, states: type, inputs: type) -> None:
    for (state, event), row in table.items():
        assert isinstance(state, states) and isinstance(event, inputs)
        assert row.next_states and all(isinstance(s, states) for s in row.next_states)
        assert row.effect.isidentifier()


@pytest.mark.parametrize(
    ("table", "owner"), [(AKE_TRANSITIONS, Ake), (MSG_TRANSITIONS, Session)], ids=["ake", "msg"]
)
def test_every_effect_in_the_table_is_a_method_of_the_machine(table: dict, owner: type) -> None:
    """(SMP: test_smp.test_every_effect_in_the_table_is_implemented_and_tested.)"""
    for row in table.values():
        assert callable(getattr(owner, f"_{row.effect}", None)), row.effect


@pytest.mark.parametrize(
    ("table", "initial", "draw", "label"),
    [
        (AKE_TRANSITIONS, S.NONE, _ake.diagram, "name"),
        (MSG_TRANSITIONS, M.PLAINTEXT, _state.diagram, "name"),
        (SMP_TRANSITIONS, E1, _smp.smp_diagram_mermaid, "value"),
    ],
    ids=["ake", "msg", "smp"],
)
def test_the_diagram_has_an_edge_for_every_row_and_no_other(
    table: dict, initial: object, draw: Callable[[], str], label: str
) -> None:
    """One edge per (state, input, next state), no duplicate and no other (test_smp checks SMP's edges
    are present; this adds that nothing else is drawn)."""

    def name(state: object) -> str:
        return str(getattr(state, label))

    lines = draw().splitlines()
    assert lines[:2] == ["stateDiagram-v2", f"    [*] --> {name(initial)}"]
    expected = [
        f"{name(state)} --> {name(nxt)}: {event.name} / {row.effect}"
        for (state, event), row in table.items()
        for nxt in row.next_states
    ]
    assert sorted(line.strip() for line in lines[2:]) == sorted(expected)


@pytest.mark.parametrize(
    ("table", "branching"),
    [
        (AKE_TRANSITIONS, {"tie_break", "reply_reveal_signature", "reply_signature", "complete"}),
        (MSG_TRANSITIONS, {"decrypt"}),
        (SMP_TRANSITIONS, {"send_smp2", "recv_smp2"}),
    ],
    ids=["ake", "msg", "smp"],
)
def test_only_data_dependent_rows_list_several_next_states(table: dict, branching: set[str]) -> None:
    """Where the spec branches on data (hash order, a check that fails, a TLV 1) the effect chooses."""
    assert {row.effect for row in table.values() if len(row.next_states) > 1} == branching


def test_ake_table_leaves_out_exactly_the_pairs_the_spec_ignores() -> None:
    """Spec: a D-H Key in AWAITING_REVEALSIG, a Reveal Signature outside AWAITING_REVEALSIG, a
    Signature outside AWAITING_SIG, and AKE replies in NONE are ignored."""
    absent = {(s, i) for s in AuthState for i in AuthInput} - set(AKE_TRANSITIONS)
    assert absent == {
        (S.NONE, I.RECV_DH_KEY),
        (S.NONE, I.RECV_REVEAL_SIGNATURE),
        (S.NONE, I.RECV_SIGNATURE),
        (S.AWAITING_DHKEY, I.RECV_REVEAL_SIGNATURE),
        (S.AWAITING_DHKEY, I.RECV_SIGNATURE),
        (S.AWAITING_REVEALSIG, I.RECV_DH_KEY),
        (S.AWAITING_REVEALSIG, I.RECV_SIGNATURE),
        (S.AWAITING_SIG, I.RECV_REVEAL_SIGNATURE),
    }


def test_msg_table_defines_every_pair() -> None:
    assert set(MSG_TRANSITIONS) == {(s, i) for s in MsgState for i in MsgInput}


def test_every_smp_tlv_type_is_an_input_of_the_smp_table_and_every_recv_input_has_a_tlv() -> None:
    """TLVs 2-7 reach the machine (7 is SMP message 1 with a question); nothing else does."""
    smp_types = {TlvType.SMP1, TlvType.SMP1Q, TlvType.SMP2, TlvType.SMP3, TlvType.SMP4, TlvType.SMP_ABORT}
    assert set(_smp._RECV_INPUTS) == smp_types
    assert set(_smp._RECV_INPUTS.values()) == {i for i in SmpInput if i.name.startswith("RECV_")}
    for state in SmpState:
        for smp_input in _smp._RECV_INPUTS.values():
            assert (state, smp_input) in SMP_TRANSITIONS, "a received SMP TLV is never refused by the table"


# =================================================================== AKE, state x input


@dataclass
class AkeWorld:
    """``me`` in some authstate, ``them`` the peer of the exchange under way, and what crossed so far."""

    version: int
    me: Ake
    them: Ake
    sent: dict[str, EncodedMessage] = field(default_factory=dict)
    their_result: AkeResult | None = None


def new_ake(name: str, seed: bytes, tag: int, script: list[bytes] | None = None) -> Ake:
    entropy = SeededEntropy(seed)
    return Ake(dsa(name), ScriptedEntropy(entropy, script) if script else entropy, tag)


def ake_world(state: AuthState, version: int) -> AkeWorld:
    """``me`` (Alice's key) reaches ``state`` by a real exchange with ``them`` (Bob's key)."""
    world = AkeWorld(version, new_ake("alice", b"me", ME_TAG), new_ake("bob", b"them", THEM_TAG))
    me, them, sent = world.me, world.them, world.sent
    if state is S.AWAITING_DHKEY:
        sent["my commit"] = only(me.start(version))
    elif state is S.AWAITING_REVEALSIG:
        sent["their commit"] = only(them.start(version))
        sent["my dh key"] = only(me.receive(sent["their commit"]))
    elif state is S.AWAITING_SIG:
        sent["my commit"] = only(me.start(version))
        sent["their dh key"] = only(them.receive(sent["my commit"]))
        sent["my reveal"] = only(me.receive(sent["their dh key"]))
    assert me.state is state
    return world


@functools.cache
def bystanders(version: int) -> dict[AuthInput, EncodedMessage]:
    """One real message of each type from an unrelated exchange (Carol and Dave)."""
    carol, dave = new_ake("carol", b"carol", 0x1234), new_ake("dave", b"dave", 0x5678)
    commit = only(carol.start(version))
    dh_key = only(dave.receive(commit))
    reveal = only(carol.receive(dh_key))
    signature = only(dave.receive(reveal))
    return {
        I.RECV_DH_COMMIT: commit,
        I.RECV_DH_KEY: dh_key,
        I.RECV_REVEAL_SIGNATURE: reveal,
        I.RECV_SIGNATURE: signature,
    }


def matching_input(world: AkeWorld, state: AuthState, event: AuthInput) -> EncodedMessage | None:
    """The message a real peer would send for ``event`` in ``state`` (None for SEND_DH_COMMIT)."""
    them, sent, v = world.them, world.sent, world.version
    if event is I.SEND_DH_COMMIT:
        return None
    if event is I.RECV_DH_COMMIT:
        if state is S.AWAITING_REVEALSIG:
            return sent["their commit"]  # a retransmission
        return only(them.start(v))
    if event is I.RECV_DH_KEY and state is S.AWAITING_DHKEY:
        return only(them.receive(sent["my commit"]))
    if event is I.RECV_DH_KEY and state is S.AWAITING_SIG:
        return sent["their dh key"]  # a retransmission
    if event is I.RECV_REVEAL_SIGNATURE and state is S.AWAITING_REVEALSIG:
        return only(them.receive(sent["my dh key"]))
    if event is I.RECV_SIGNATURE and state is S.AWAITING_SIG:
        outcome = them.receive(sent["my reveal"])
        world.their_result = outcome.result
        return only(outcome)
    return bystanders(v)[event]


def feed(world: AkeWorld, event: AuthInput, message: EncodedMessage | None) -> AkeOutcome:
    return world.me.start(world.version) if message is None else world.me.receive(message)


def decrypts_to_commitment(commit: DHCommit, revealed: bytes, gx: int) -> bool:
    gx_mpi = _crypto.aes_ctr(revealed, _crypto.ZERO_CTR, commit.encrypted_gx)
    return gx_mpi == mpi(gx) and _crypto.sha256(gx_mpi) == commit.hashed_gx


def check_ake_effect(
    effect: str, world: AkeWorld, message: EncodedMessage | None, outcome: AkeOutcome
) -> None:
    """What each effect must have sent and derived (spec, "Authenticated Key Exchange")."""
    me, them, sent = world.me, world.them, world.sent
    if effect == "send_commit":
        (commit,) = outcome.send
        assert isinstance(commit, DHCommit) and len(commit.hashed_gx) == 32
        assert commit.header.type is MessageType.DH_COMMIT and commit.header.receiver_tag == me.their_tag
        assert commit.hashed_gx not in {m.hashed_gx for m in sent.values() if isinstance(m, DHCommit)}
        assert me.state is S.AWAITING_DHKEY and outcome.result is None
    elif effect == "reply_dh_key":
        (key,) = outcome.send
        assert isinstance(key, DHKey) and _crypto.is_group_element(key.gy)
        assert key.gy not in {m.gy for m in sent.values() if isinstance(m, DHKey)}, "a fresh y"
        assert key.header.receiver_tag == message.header.sender_tag  # type: ignore[union-attr]
        assert me.state is S.AWAITING_REVEALSIG
    elif effect == "tie_break":
        assert isinstance(message, DHCommit)
        mine = sent["my commit"]
        assert isinstance(mine, DHCommit)
        if int.from_bytes(mine.hashed_gx, "big") > int.from_bytes(message.hashed_gx, "big"):
            (again,) = outcome.send
            assert isinstance(again, DHCommit) and me.state is S.AWAITING_DHKEY
            assert (again.encrypted_gx, again.hashed_gx) == (mine.encrypted_gx, mine.hashed_gx)
        else:
            (key,) = outcome.send
            assert isinstance(key, DHKey) and me.state is S.AWAITING_REVEALSIG
    elif effect == "retransmit_dh_key":
        assert encoded(outcome.send) == encoded([sent["my dh key"]]), "the very same D-H Key"
        assert me.state is S.AWAITING_REVEALSIG
    elif effect == "reply_reveal_signature":
        (reveal,) = outcome.send
        assert isinstance(reveal, RevealSignature) and isinstance(message, DHKey)
        commit = sent["my commit"]
        assert isinstance(commit, DHCommit)
        assert me._our_dh is not None and decrypts_to_commitment(
            commit, reveal.revealed_key, me._our_dh.public
        )
        assert me.state is S.AWAITING_SIG
        signature = them.receive(reveal)
        assert signature.result is not None, "the peer accepts the Reveal Signature"
    elif effect == "retransmit_reveal_signature":
        assert encoded(outcome.send) == encoded([sent["my reveal"]]), "the very same Reveal Signature"
        assert me.state is S.AWAITING_SIG
    elif effect == "reply_signature":
        (signature,) = outcome.send
        assert isinstance(signature, Signature) and outcome.result is not None
        assert outcome.result.their_pubkey == dsa("bob").public and me.state is S.NONE
        theirs = them.receive(signature).result
        assert theirs is not None and theirs.ssid == outcome.result.ssid
        assert theirs.their_pubkey == dsa("alice").public
    elif effect == "complete":
        assert outcome.send == [] and outcome.result is not None and me.state is S.NONE
        assert world.their_result is not None and world.their_result.ssid == outcome.result.ssid
        assert outcome.result.their_pubkey == dsa("bob").public and outcome.result.sent_reveal_signature
    else:
        pytest.fail(f"no check for effect {effect}")


def entropy_position(ake: Ake) -> object:
    entropy = ake._entropy
    return (entropy._counter, entropy._buffer) if isinstance(entropy, SeededEntropy) else id(entropy)


@pytest.mark.parametrize("event", list(AuthInput), ids=lambda i: i.name)
@pytest.mark.parametrize("state", list(AuthState), ids=lambda s: s.name)
@pytest.mark.parametrize("version", [2, 3])
def test_every_auth_state_and_input_behaves_as_the_table_says(
    version: int, state: AuthState, event: AuthInput
) -> None:
    world = ake_world(state, version)
    message = matching_input(world, state, event)
    before, drawn = dict(vars(world.me)), entropy_position(world.me)
    outcome = feed(world, event, message)
    row = AKE_TRANSITIONS.get((state, event))
    if row is None:
        assert outcome.ignored and event.name in outcome.ignored and state.name in outcome.ignored
        assert outcome.send == [] and outcome.result is None
        assert vars(world.me) == before and entropy_position(world.me) == drawn, "ignored means untouched"
        return
    assert outcome.ignored is None, outcome.ignored
    assert world.me.state in row.next_states
    check_ake_effect(row.effect, world, message, outcome)


def test_ake_world_reaches_each_state_with_messages_of_the_version_asked() -> None:
    for version in (2, 3):
        for state in AuthState:
            world = ake_world(state, version)
            assert all(m.header.version == version for m in world.sent.values())


# ---------------------------------------------------------- the rows' "otherwise" branches


@pytest.mark.parametrize("gy", [0, 1, _crypto.MODULUS - 1, _crypto.MODULUS, 1 << 1600])
def test_dh_key_with_an_illegal_gy_in_awaiting_dhkey_is_ignored_and_the_commit_kept(gy: int) -> None:
    world = ake_world(S.AWAITING_DHKEY, 3)
    header = only(world.them.receive(world.sent["my commit"])).header
    outcome = world.me.receive(DHKey(header, gy))
    assert outcome.send == [] and outcome.ignored and "gy" in outcome.ignored
    assert world.me.state is S.AWAITING_DHKEY
    reply = world.me.receive(only(world.them.receive(world.sent["my commit"])))
    assert isinstance(only(reply), RevealSignature), "the real D-H Key still works"


def test_a_different_dh_key_in_awaiting_sig_is_ignored_not_answered() -> None:
    world = ake_world(S.AWAITING_SIG, 3)
    other = new_ake("carol", b"other", THEM_TAG)
    different = only(other.receive(world.sent["my commit"]))
    outcome = world.me.receive(different)
    assert outcome.send == [] and outcome.ignored and world.me.state is S.AWAITING_SIG
    again = world.me.receive(world.sent["their dh key"])
    assert encoded(again.send) == encoded([world.sent["my reveal"]])


def flipped(data: bytes) -> bytes:
    return data[:-1] + bytes((data[-1] ^ 1,))


@pytest.mark.parametrize("what", ["mac", "encrypted signature", "revealed key"])
def test_a_damaged_reveal_signature_is_ignored_and_the_real_one_still_completes(what: str) -> None:
    world = ake_world(S.AWAITING_REVEALSIG, 3)
    reveal = only(world.them.receive(world.sent["my dh key"]))
    assert isinstance(reveal, RevealSignature)
    damaged = {
        "mac": RevealSignature(
            reveal.header, reveal.revealed_key, reveal.encrypted_signature, flipped(reveal.mac)
        ),
        "encrypted signature": RevealSignature(
            reveal.header, reveal.revealed_key, flipped(reveal.encrypted_signature), reveal.mac
        ),
        "revealed key": RevealSignature(
            reveal.header, flipped(reveal.revealed_key), reveal.encrypted_signature, reveal.mac
        ),
    }[what]
    outcome = world.me.receive(damaged)
    assert outcome.send == [] and outcome.result is None and outcome.ignored
    assert world.me.state is S.AWAITING_REVEALSIG
    assert only(world.me.receive(reveal)) and world.me.state is S.NONE


@pytest.mark.parametrize("what", ["mac", "encrypted signature"])
def test_a_damaged_signature_is_ignored_and_the_real_one_still_completes(what: str) -> None:
    world = ake_world(S.AWAITING_SIG, 3)
    signature = only(world.them.receive(world.sent["my reveal"]))
    assert isinstance(signature, Signature)
    damaged = (
        Signature(signature.header, signature.encrypted_signature, flipped(signature.mac))
        if what == "mac"
        else Signature(signature.header, flipped(signature.encrypted_signature), signature.mac)
    )
    outcome = world.me.receive(damaged)
    assert outcome.send == [] and outcome.result is None and outcome.ignored
    assert world.me.state is S.AWAITING_SIG
    assert world.me.receive(signature).result is not None and world.me.state is S.NONE


def test_a_new_dh_commit_in_awaiting_revealsig_replaces_the_old_one() -> None:
    """Spec: "Retransmit your D-H Key Message ... Forget the old D-H Commit message, and use this one"."""
    world = ake_world(S.AWAITING_REVEALSIG, 3)
    newcomer = new_ake("bob", b"them again", THEM_TAG)
    outcome = world.me.receive(only(newcomer.start(3)))
    assert encoded(outcome.send) == encoded([world.sent["my dh key"]])
    stale = only(world.them.receive(world.sent["my dh key"]))
    assert world.me.receive(stale).ignored, "the old commit's reveal no longer matches"
    fresh = only(newcomer.receive(world.sent["my dh key"]))
    assert world.me.receive(fresh).result is not None


INPUT_OF = {
    MessageType.DH_COMMIT: I.RECV_DH_COMMIT,
    MessageType.DH_KEY: I.RECV_DH_KEY,
    MessageType.REVEAL_SIGNATURE: I.RECV_REVEAL_SIGNATURE,
    MessageType.SIGNATURE: I.RECV_SIGNATURE,
}


@pytest.mark.parametrize("version", [2, 3])
def test_through_the_engine_each_replayed_ake_message_meets_its_row_or_an_ignored_event(version: int) -> None:
    """After an AKE both sides are in AUTHSTATE_NONE; replaying each of its messages there must do
    what the table says: a D-H Commit gets a D-H Key, the rest are reported as ignored, naming the pair."""
    policy = Policy(allow_v3=version == 3)
    duo = Duo.create(EngineAdapter, policies=(policy, policy))
    duo.act(ALICE, "query")
    duo.flush()
    replays = [w for w in duo.transcript if w.wire.startswith(_wire.ENCODED_PREFIX)]
    assert len(replays) == 4
    for wire in replays:
        copied = copy.deepcopy(duo)
        mtype = _wire.parse(wire.wire).header.type  # type: ignore[union-attr]
        row = AKE_TRANSITIONS.get((S.NONE, INPUT_OF[mtype]))
        result = engine(copied, wire.to).receive(wire.sender, wire.wire)
        if row is None:
            assert result.out == []
            assert result.events == [
                ErrorRaised(wire.sender, "ignored", f"{INPUT_OF[mtype].name} in AUTHSTATE_NONE")
            ]
        else:
            assert row.effect == "reply_dh_key"
            assert [type(_wire.parse(o.wire)) for o in result.out] == [DHKey] and result.events == []
        assert engine(copied, wire.to).status(wire.sender).msgstate == "encrypted"


# =================================================================== the tie-break, forced


def hashed_gx(x: bytes) -> int:
    public = _crypto.DhKeyPair.from_random(x).public
    return int.from_bytes(_crypto.sha256(mpi(public)), "big")


@functools.cache
def exponents_by_hash() -> tuple[bytes, bytes]:
    """Two 40-byte private exponents, the first with the lower hashed g^x, the second with the higher."""
    candidates = [hashlib.sha256(f"x/{i}".encode()).digest() + b"\x01" * 8 for i in range(4)]
    ordered = sorted(candidates, key=hashed_gx)
    return ordered[0], ordered[-1]


R = b"\x42" * _crypto.AKE_R_BYTES


@pytest.mark.parametrize("mine_higher", [True, False], ids=["mine-higher", "mine-lower"])
@pytest.mark.parametrize("version", [2, 3])
def test_tie_break_in_awaiting_dhkey_with_forced_hashes(version: int, mine_higher: bool) -> None:
    low, high = exponents_by_hash()
    mine, theirs = (high, low) if mine_higher else (low, high)
    me = new_ake("alice", b"me", ME_TAG, [mine, R])
    them = new_ake("bob", b"them", THEM_TAG, [theirs, R])
    my_commit, their_commit = only(me.start(version)), only(them.start(version))
    assert isinstance(my_commit, DHCommit) and isinstance(their_commit, DHCommit)
    assert (my_commit.hashed_gx > their_commit.hashed_gx) is mine_higher
    reply = only(me.receive(their_commit))
    if mine_higher:
        assert isinstance(reply, DHCommit) and me.state is S.AWAITING_DHKEY
        assert reply.hashed_gx == my_commit.hashed_gx and reply.encrypted_gx == my_commit.encrypted_gx
    else:
        assert isinstance(reply, DHKey) and me.state is S.AWAITING_REVEALSIG
        assert me._our_commit is None, "the lower side forgets its own commit"


def scripted_duo(version: int, alice_x: bytes, bob_x: bytes) -> Duo:
    policy = Policy(allow_v3=version == 3)
    duo = Duo.create(EngineAdapter, policies=(policy, policy))
    for name, x in ((ALICE, alice_x), (BOB, bob_x)):
        ctx = engine(duo, name).ctx
        ctx.entropy = ScriptedEntropy(ctx.entropy, [x, R])  # the first AKE draws x, then r
    return duo


def engine(duo: Duo, name: str) -> Engine:
    adapter = duo.sides[name].adapter
    assert isinstance(adapter, EngineAdapter)
    return adapter.engine


def senders_of(duo: Duo, mtype: MessageType) -> list[str]:
    out = []
    for wire in duo.transcript:
        parsed = _wire.parse(wire.wire)
        if getattr(getattr(parsed, "header", None), "type", None) is mtype:
            out.append(wire.sender)
    return out


@pytest.mark.parametrize("alice_higher", [True, False], ids=["alice-higher", "bob-higher"])
@pytest.mark.parametrize("version", [2, 3])
def test_simultaneous_start_completes_exactly_one_ake_per_side(version: int, alice_higher: bool) -> None:
    """Both query at once; both commit; the tie-break leaves one AKE, the higher hash initiating it."""
    low, high = exponents_by_hash()
    duo = scripted_duo(version, *((high, low) if alice_higher else (low, high)))
    duo.act(ALICE, "query")
    duo.act(BOB, "query")
    duo.flush()
    winner, loser = (ALICE, BOB) if alice_higher else (BOB, ALICE)
    secured = {name: [e for e in duo.events(name) if isinstance(e, SessionSecured)] for name in (ALICE, BOB)}
    assert [len(secured[ALICE]), len(secured[BOB])] == [1, 1], secured
    assert secured[ALICE][0].ssid == secured[BOB][0].ssid and secured[ALICE][0].version == version
    assert set(senders_of(duo, MessageType.REVEAL_SIGNATURE)) == {winner}
    assert set(senders_of(duo, MessageType.DH_KEY)) == {loser}
    assert set(senders_of(duo, MessageType.SIGNATURE)) == {loser}
    assert sorted(set(senders_of(duo, MessageType.DH_COMMIT))) == [ALICE, BOB]
    for sender, text in ((ALICE, "after the tie"), (BOB, "and back")):
        duo.act(sender, "send", text)
        duo.flush()
        assert duo.events(PEER[sender])[-1] == MessageReceived(sender, text, encrypted=True)


# =================================================================== msgstate through an Engine


@dataclass
class MsgWorld:
    duo: Duo
    held: str  # a Data Message from Bob that Alice has not read
    session: Session  # Alice's session of Bob's instance: his messages and the AKE land there

    def acting(self, event: MsgInput) -> Session:
        """The session ``event`` acts on: user text and plaintext go to the current session (in v3
        PLAINTEXT that is the master), an end to every session, Data Messages and the AKE to Bob's."""
        if event in (In.SEND_TEXT, In.RECV_PLAINTEXT):
            return engine(self.duo, ALICE).conversation(BOB).current()
        return self.session


def msg_world(state: MsgState, policy: Policy, version: int) -> MsgWorld:
    """Alice's session with Bob reaches ``state`` through a real conversation (the v3 instance, or v2's
    only session)."""
    v3 = version == 3
    duo = Duo.create(EngineAdapter, policies=(replace(policy, allow_v3=v3), Policy(allow_v3=v3)))
    duo.act(ALICE, "query")
    duo.flush()
    duo.act(BOB, "send", "held back")
    held = duo.in_flight.pop().wire
    if state is M.PLAINTEXT:
        duo.act(ALICE, "end")
        duo.in_flight.clear()
    elif state is M.FINISHED:
        duo.act(BOB, "end")
        duo.flush()
    duo.a.take_events()
    duo.b.take_events()
    conv = engine(duo, ALICE).conversation(BOB)
    session = conv.instances[0x101] if v3 else conv.master
    assert session.msgstate is state and conv.current().msgstate is state
    return MsgWorld(duo, held, session)


@functools.cache
def frozen_msg_world(state: MsgState, version: int = 3, require_encryption: bool = False) -> MsgWorld:
    return msg_world(state, Policy(require_encryption=require_encryption), version)


def apply_msg_input(world: MsgWorld, event: MsgInput) -> Result:
    alice, duo = engine(world.duo, ALICE), world.duo
    if event is In.SEND_TEXT:
        return alice.send(BOB, "user text")
    if event is In.SEND_END:
        return alice.end(BOB)
    if event is In.RECV_PLAINTEXT:
        return alice.receive(BOB, "plain hello")
    if event is In.RECV_DATA:
        return alice.receive(BOB, world.held)
    duo.act(ALICE, "query")
    duo.flush()
    return Result(events=duo.a.take_events())


def data_messages(result: Result) -> list[_wire.DataMessage]:
    parsed = [_wire.parse(out.wire) for out in result.out]
    return [m for m in parsed if isinstance(m, _wire.DataMessage)]


def bob_reads(world: MsgWorld, result: Result) -> list[object]:
    bob = engine(world.duo, BOB)
    events: list[object] = []
    for out in result.out:
        events += bob.receive(ALICE, out.wire).events
    return events


def check_msg_effect(
    effect: str, world: MsgWorld, session: Session, before: MsgState, result: Result
) -> None:
    after, events = session.msgstate, result.events
    if effect == "send_plaintext":
        assert [o.wire for o in result.out] == ["user text"] and events == [] and after is M.PLAINTEXT
    elif effect == "send_data":
        assert len(data_messages(result)) == 1 and len(result.out) == 1 and events == []
        assert bob_reads(world, result) == [MessageReceived(ALICE, "user text", encrypted=True)]
    elif effect == "refuse_text":
        assert result.out == [] and [(e.type, e.code) for e in events] == [("error", "not_private")]
    elif effect in ("nothing", "leave_finished"):
        assert result.out == [] and events == []
    elif effect == "send_disconnect":
        assert len(data_messages(result)) == 1 and events == [SessionInsecure(BOB)]
        assert SessionFinished(ALICE) in bob_reads(world, result)
        assert session.keys is None, "keys are forgotten"
    elif effect == "display_plaintext":
        expected: list[object] = [MessageReceived(BOB, "plain hello", encrypted=False)]
        if before is not M.PLAINTEXT:
            expected.append(ErrorRaised(BOB, "unencrypted", "the message was received unencrypted"))
        assert events == expected and result.out == []
    elif effect == "decrypt":
        assert events == [MessageReceived(BOB, "held back", encrypted=True)] and result.out == []
    elif effect == "unreadable":
        assert [(e.type, e.code) for e in events] == [("error", "unreadable")]
        assert [o.wire.startswith(_wire.ERROR_PREFIX) for o in result.out] == [True]
    elif effect == "go_encrypted":
        secured = [e for e in events if isinstance(e, SessionSecured)]
        assert len(secured) == 1 and secured[0].refreshed is (before is M.ENCRYPTED)
        assert session.keys is not None
    else:
        pytest.fail(f"no check for effect {effect}")
    assert after is not M.ENCRYPTED or session.keys is not None


@pytest.mark.parametrize("event", list(MsgInput), ids=lambda i: i.name)
@pytest.mark.parametrize("state", list(MsgState), ids=lambda s: s.name)
@pytest.mark.parametrize("version", [2, 3])
def test_every_msgstate_and_input_behaves_as_the_table_says(
    version: int, state: MsgState, event: MsgInput
) -> None:
    world = copy.deepcopy(frozen_msg_world(state, version))
    row = MSG_TRANSITIONS[(state, event)]
    session = world.acting(event)
    assert session.msgstate is state
    result = apply_msg_input(world, event)
    assert session.msgstate in row.next_states
    check_msg_effect(row.effect, world, session, state, result)


def test_tlv_1_in_a_data_message_takes_the_other_next_state_of_decrypt() -> None:
    world = copy.deepcopy(frozen_msg_world(M.ENCRYPTED))
    bob = engine(world.duo, BOB)
    result = bob.end(ALICE)
    events = engine(world.duo, ALICE).receive(BOB, result.out[0].wire).events
    assert events == [SessionFinished(BOB)]
    assert world.session.msgstate is M.FINISHED
    assert M.FINISHED in MSG_TRANSITIONS[(M.ENCRYPTED, In.RECV_DATA)].next_states


def test_send_text_in_plaintext_with_require_encryption_holds_it_and_queries() -> None:
    """The row's other branch (spec: "store the plaintext message ... and send a Query Message")."""
    world = copy.deepcopy(frozen_msg_world(M.PLAINTEXT, 3, require_encryption=True))
    result = apply_msg_input(world, In.SEND_TEXT)
    assert [(e.type, e.code) for e in result.events] == [("error", "held")]
    assert [o.wire.startswith("?OTRv") for o in result.out] == [True]
    assert "user text" not in result.out[0].wire
    assert world.session.msgstate is M.PLAINTEXT
    world.duo.record(ALICE, result)
    world.duo.flush()
    assert MessageReceived(ALICE, "user text", encrypted=True) in world.duo.events(BOB)


def test_a_pair_missing_from_the_msg_table_is_ignored_with_a_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    """The dispatcher's promise for absent pairs (there are none today): an event, no state change."""
    world = copy.deepcopy(frozen_msg_world(M.FINISHED))
    monkeypatch.delitem(MSG_TRANSITIONS, (M.FINISHED, In.SEND_TEXT))
    result = apply_msg_input(world, In.SEND_TEXT)
    assert result.events == [ErrorRaised(BOB, "ignored", "SEND_TEXT in MSGSTATE_FINISHED")]
    assert result.out == [] and world.session.msgstate is M.FINISHED


# =================================================================== SMP through the engine


@dataclass
class SmpWorld:
    duo: Duo
    target: str


@functools.cache
def smp_run() -> tuple[dict[str, SmpWorld], dict[SmpInput, tuple[str, str]]]:
    """One real v3 SMP run: a frozen world per reachable smpstate, and each SMP message (receiver, wire)."""
    duo = Duo.create(EngineAdapter)
    duo.act(ALICE, "query")
    duo.flush()
    worlds = {
        "alice expect1": SmpWorld(copy.deepcopy(duo), ALICE),
        "bob expect1": SmpWorld(copy.deepcopy(duo), BOB),
    }
    messages: dict[SmpInput, tuple[str, str]] = {}
    duo.act(ALICE, "smp_start", "the secret", None)
    worlds["alice expect2"] = SmpWorld(copy.deepcopy(duo), ALICE)
    messages[SmpInput.RECV_SMP1] = (BOB, duo.in_flight[0].wire)
    duo.flush()
    worlds["bob expect1 pending"] = SmpWorld(copy.deepcopy(duo), BOB)
    duo.act(BOB, "smp_respond", "the secret")
    worlds["bob expect3"] = SmpWorld(copy.deepcopy(duo), BOB)
    messages[SmpInput.RECV_SMP2] = (ALICE, duo.in_flight[0].wire)
    duo.deliver_one()
    worlds["alice expect4"] = SmpWorld(copy.deepcopy(duo), ALICE)
    messages[SmpInput.RECV_SMP3] = (BOB, duo.in_flight[0].wire)
    duo.deliver_one()
    messages[SmpInput.RECV_SMP4] = (ALICE, duo.in_flight[0].wire)
    for world in worlds.values():
        world.duo.in_flight.clear()
        world.duo.a.take_events()
        world.duo.b.take_events()
    return worlds, messages


SMP_STATE_OF = {
    "alice expect1": E1,
    "bob expect1": E1,
    "alice expect2": E2,
    "bob expect1 pending": E1,
    "bob expect3": E3,
    "alice expect4": E4,
}
TLV_OF = {
    SmpInput.RECV_SMP1: TlvType.SMP1,
    SmpInput.RECV_SMP2: TlvType.SMP2,
    SmpInput.RECV_SMP3: TlvType.SMP3,
    SmpInput.RECV_SMP4: TlvType.SMP4,
    SmpInput.RECV_ABORT: TlvType.SMP_ABORT,
}


def smp_state(duo: Duo, name: str) -> SmpState:
    return SmpState(engine(duo, name).status(PEER[name]).smp)


def sealed_tlv(duo: Duo, sender: str, tlv: Tlv) -> str:
    """A Data Message carrying ``tlv`` from ``sender``, sealed with its real keys."""
    session = engine(duo, sender).conversation(PEER[sender]).current()
    assert session.keys is not None
    message = session.keys.seal(
        session.header(MessageType.DATA), _wire.IGNORE_UNREADABLE, encode_plaintext(b"", [tlv])
    )
    return _wire.encode(message)


# The state in which each real SMP message of the run arrived.
REAL_MESSAGE_AT = {
    SmpInput.RECV_SMP1: "bob expect1",
    SmpInput.RECV_SMP2: "alice expect2",
    SmpInput.RECV_SMP3: "bob expect3",
    SmpInput.RECV_SMP4: "alice expect4",
}


def apply_smp_input(
    name: str, world: SmpWorld, event: SmpInput, messages: dict[SmpInput, tuple[str, str]]
) -> Result:
    """The engine-level form of ``event``; a received TLV is the run's real one where the run had it."""
    target, duo = world.target, world.duo
    e = engine(duo, target)
    if event is SmpInput.SEND_START:
        return e.smp_start(PEER[target], "the secret", None)
    if event is SmpInput.SEND_RESPOND:
        return e.smp_respond(PEER[target], "the secret")
    if event is SmpInput.SEND_ABORT:
        return e.smp_abort(PEER[target])
    if REAL_MESSAGE_AT.get(event) == name:
        receiver, wire = messages[event]
        assert receiver == target
    else:  # the peer seals a TLV of that type (an empty value: malformed where it is parsed)
        wire = sealed_tlv(duo, PEER[target], Tlv(TLV_OF[event], b""))
    return e.receive(PEER[target], wire)


SENDS_TLVS = {"send_smp1", "restart", "send_abort", "wrong_state"}


@pytest.mark.parametrize("event", list(SmpInput), ids=lambda i: i.name)
@pytest.mark.parametrize("name", list(SMP_STATE_OF))
def test_smp_through_the_engine_follows_the_table(name: str, event: SmpInput) -> None:
    worlds, messages = smp_run()
    world = copy.deepcopy(worlds[name])
    before = smp_state(world.duo, world.target)
    assert before is SMP_STATE_OF[name]
    result = apply_smp_input(name, world, event, messages)
    after = smp_state(world.duo, world.target)
    row = SMP_TRANSITIONS.get((before, event))
    smp_events = [e for e in result.events if isinstance(e, SmpUpdated)]
    if row is None:
        assert after is before and result.out == []
        assert [e.result for e in smp_events] == ["error"]
        return
    assert after in row.next_states
    assert all(e.code in {"ignored"} for e in result.events if isinstance(e, ErrorRaised)), result.events
    if row.effect in SENDS_TLVS:
        sent = data_messages(result)
        assert sent and len(sent) == len(result.out), "SMP TLVs travel in Data Messages"
        assert all(m.flags & _wire.IGNORE_UNREADABLE for m in sent)
    if row.effect == "recv_abort":
        assert result.out == [] and [e.result for e in smp_events] == ["abort"]
    assert engine(world.duo, world.target).status(PEER[world.target]).msgstate == "encrypted"


def test_smp_run_through_the_engine_succeeds_with_the_real_messages() -> None:
    worlds, messages = smp_run()
    results = []
    for name, event in (
        ("bob expect1", SmpInput.RECV_SMP1),
        ("alice expect2", SmpInput.RECV_SMP2),
        ("bob expect3", SmpInput.RECV_SMP3),
        ("alice expect4", SmpInput.RECV_SMP4),
    ):
        world = copy.deepcopy(worlds[name])
        result = apply_smp_input(name, world, event, messages)
        results.append([e.result for e in result.events if isinstance(e, SmpUpdated)])
    assert results == [["ask"], ["in_progress"], ["success"], ["success"]]
