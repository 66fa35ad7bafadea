"""A reference model of OTR's authstate, msgstate and smpstate machines, written from the spec.

Written from ``otr-protocol-v3.txt`` ("The protocol state machine", "State
transitions", "The SMP state machine"), independently of the engine: nothing
here imports ``implementations.engine``.  It is used by ``test_model.py`` to
check, step by step, the transitions an engine is *observed* to make.

Three plain tables map (state, input) to a :class:`Row`: the action and the
states it may lead to.  A pair with no row is "ignore the message".  Where the
spec branches on data the row lists every next state and :class:`Model`
chooses, from data it reads off the wire itself (:func:`wire.peek`): the
D-H Commit tie-break compares the two hashed gx values, a D-H Key is checked
for 2 <= gy <= p-2, a Reveal Signature or Signature checks out exactly when
it belongs to the AKE this side is in (the commitment, gy pair it carries,
:class:`Label`) and was not tampered with.

What the spec leaves to the implementation is modelled on the lab's adapter
contract (``implementations/api.py``) and said where it is used:

* "Determine Bob's secret input y" is the user's answer: receiving SMP
  message 1 reports ``ask`` and stays in EXPECT1; ``smp_respond`` sends SMP
  message 2 and moves to EXPECT3 (libotr does the same).
* SMP results reported to the user: ``ask``, ``in_progress`` (SMP message 2
  received), ``success`` / ``failure``, ``abort`` (TLV 6 received),
  ``error`` (a TLV in the wrong state), ``cheated`` (a proof fails).
* SMP restarts: "send a type 6 TLV (SMP abort) to the other party and then
  proceed as if smpstate was SMPSTATE_EXPECT1"; a pending SMP message 1 the
  user has not answered counts as "underway".  Each TLV goes in its own
  Data Message.
* The lab's seeded clocks stand still: no heartbeats.
* The spec's introduction says a failed Reveal Signature or Signature still
  sends authstate to NONE; its transition rules say "Otherwise, ignore the
  message".  The model follows the transition rules.
"""

from __future__ import annotations

import copy
import enum
from dataclasses import dataclass, field

from tests.stateful.wire import IGNORE_UNREADABLE, MIN_INSTANCE_TAG, MODULUS, Peek, peek


class AuthState(enum.Enum):
    NONE = "none"
    AWAITING_DHKEY = "awaiting_dhkey"
    AWAITING_REVEALSIG = "awaiting_revealsig"
    AWAITING_SIG = "awaiting_sig"


class MsgState(enum.Enum):
    PLAINTEXT = "plaintext"
    ENCRYPTED = "encrypted"
    FINISHED = "finished"


class SmpState(enum.Enum):
    EXPECT1 = "expect1"
    EXPECT2 = "expect2"
    EXPECT3 = "expect3"
    EXPECT4 = "expect4"


class AuthInput(enum.Enum):
    START = "start"  # a Query Message or a whitespace tag offering a version we allow
    RECV_DH_COMMIT = "recv_dh_commit"
    RECV_DH_KEY = "recv_dh_key"
    RECV_REVEAL_SIGNATURE = "recv_reveal_signature"
    RECV_SIGNATURE = "recv_signature"


class MsgInput(enum.Enum):
    SEND_TEXT = "send_text"
    SEND_END = "send_end"
    RECV_PLAINTEXT = "recv_plaintext"
    RECV_DATA = "recv_data"
    AKE_SUCCEEDED = "ake_succeeded"


class SmpInput(enum.Enum):
    START = "start"
    RESPOND = "respond"
    ABORT = "abort"
    RECV_SMP1 = "recv_smp1"
    RECV_SMP2 = "recv_smp2"
    RECV_SMP3 = "recv_smp3"
    RECV_SMP4 = "recv_smp4"
    RECV_ABORT = "recv_abort"


@dataclass(frozen=True)
class Row:
    action: str
    next_states: frozenset[enum.Enum]
    spec: str = ""


def _row(action: str, *states: enum.Enum, spec: str = "") -> Row:
    return Row(action, frozenset(states), spec)


A, Ai = AuthState, AuthInput
AUTH_TABLE: dict[tuple[AuthState, AuthInput], Row] = {
    # "Receiving a Query Message" / whitespace tag: "Send a version 3 D-H Commit Message, and
    # transition authstate to AUTHSTATE_AWAITING_DHKEY" (whatever authstate was).
    **{(s, Ai.START): _row("send_commit", A.AWAITING_DHKEY) for s in AuthState},
    (A.NONE, Ai.RECV_DH_COMMIT): _row(
        "send_dh_key", A.AWAITING_REVEALSIG, spec="Reply with a D-H Key Message"
    ),
    (A.AWAITING_DHKEY, Ai.RECV_DH_COMMIT): _row(
        "tie_break",
        A.AWAITING_DHKEY,
        A.AWAITING_REVEALSIG,
        spec="If yours is the higher hash value: Ignore the incoming D-H Commit message, but resend "
        "your D-H Commit message. Otherwise: Forget your old gx value ... reply with a D-H Key Message",
    ),
    (A.AWAITING_REVEALSIG, Ai.RECV_DH_COMMIT): _row(
        "resend_dh_key",
        A.AWAITING_REVEALSIG,
        spec="Retransmit your D-H Key Message (the same one ...). Forget the old D-H Commit message",
    ),
    (A.AWAITING_SIG, Ai.RECV_DH_COMMIT): _row(
        "send_dh_key", A.AWAITING_REVEALSIG, spec="Reply with a new D-H Key message"
    ),
    (A.AWAITING_DHKEY, Ai.RECV_DH_KEY): _row(
        "send_reveal", A.AWAITING_SIG, A.AWAITING_DHKEY, spec="gy must be legal (2 <= gy <= modulus-2)"
    ),
    (A.AWAITING_SIG, Ai.RECV_DH_KEY): _row(
        "resend_reveal",
        A.AWAITING_SIG,
        spec="If this D-H Key message is the same the one you received earlier: Retransmit your "
        "Reveal Signature Message. Otherwise: Ignore the message.",
    ),
    (A.AWAITING_REVEALSIG, Ai.RECV_REVEAL_SIGNATURE): _row(
        "check_reveal",
        A.NONE,
        A.AWAITING_REVEALSIG,
        spec="If everything checks out: Reply with a Signature Message. Transition authstate to "
        "AUTHSTATE_NONE. Transition msgstate to MSGSTATE_ENCRYPTED. ... Otherwise, ignore the message.",
    ),
    (A.AWAITING_SIG, Ai.RECV_SIGNATURE): _row(
        "check_signature",
        A.NONE,
        A.AWAITING_SIG,
        spec="If everything checks out: Transition authstate to AUTHSTATE_NONE. Transition msgstate "
        "to MSGSTATE_ENCRYPTED. ... Otherwise, ignore the message.",
    ),
}

M, Mi = MsgState, MsgInput
MSG_TABLE: dict[tuple[MsgState, MsgInput], Row] = {
    (M.PLAINTEXT, Mi.SEND_TEXT): _row(
        "send_plaintext",
        M.PLAINTEXT,
        spec="If REQUIRE_ENCRYPTION is set: Store the plaintext message for possible retransmission, "
        "and send a Query Message. Otherwise: ... Send the (possibly modified) message as plaintext.",
    ),
    (M.ENCRYPTED, Mi.SEND_TEXT): _row("send_data", M.ENCRYPTED, spec="Encrypt the message"),
    (M.FINISHED, Mi.SEND_TEXT): _row(
        "refuse", M.FINISHED, spec="Inform the user that the message cannot be sent at this time."
    ),
    (M.PLAINTEXT, Mi.SEND_END): _row("nothing", M.PLAINTEXT, spec="Do nothing."),
    (M.ENCRYPTED, Mi.SEND_END): _row(
        "send_disconnect", M.PLAINTEXT, spec="Send a Data Message ... TLV type 1. Transition to PLAINTEXT"
    ),
    (M.FINISHED, Mi.SEND_END): _row("nothing", M.PLAINTEXT, spec="Transition msgstate to PLAINTEXT."),
    **{
        (s, Mi.RECV_PLAINTEXT): _row(
            "display", s, spec="display the message ... warn him that the message was received unencrypted"
        )
        for s in MsgState
    },
    (M.ENCRYPTED, Mi.RECV_DATA): _row(
        "verify",
        M.ENCRYPTED,
        M.FINISHED,
        spec="If the verification succeeds: Decrypt ... If the received message contains a TLV type 1, "
        "forget all encryption keys ... transition msgstate to MSGSTATE_FINISHED. Otherwise, inform the "
        "user that an unreadable encrypted message was received, and reply with an Error Message.",
    ),
    (M.PLAINTEXT, Mi.RECV_DATA): _row("unreadable", M.PLAINTEXT, spec="reply with an Error Message"),
    (M.FINISHED, Mi.RECV_DATA): _row("unreadable", M.FINISHED, spec="reply with an Error Message"),
    **{(s, Mi.AKE_SUCCEEDED): _row("go_encrypted", M.ENCRYPTED) for s in MsgState},
}

S, Si = SmpState, SmpInput
SMP_TABLE: dict[tuple[SmpState, SmpInput], Row] = {
    (S.EXPECT1, Si.START): _row("send_smp1", S.EXPECT2),
    **{
        (s, Si.START): _row(
            "restart",
            S.EXPECT2,
            spec="If you wish to restart SMP, send a type 6 TLV (SMP abort) to the other party and then "
            "proceed as if smpstate was SMPSTATE_EXPECT1",
        )
        for s in (S.EXPECT2, S.EXPECT3, S.EXPECT4)
    },
    # The user's answer to a pending SMP message 1 (the second half of "Receiving a type 2 TLV").
    (S.EXPECT1, Si.RESPOND): _row("send_smp2", S.EXPECT3, S.EXPECT1),
    **{
        (s, Si.ABORT): _row("send_abort", S.EXPECT1, spec="In all cases, send a type 6 TLV") for s in SmpState
    },
    (S.EXPECT1, Si.RECV_SMP1): _row("ask", S.EXPECT1),
    (S.EXPECT2, Si.RECV_SMP2): _row("send_smp3", S.EXPECT4, S.EXPECT1),
    (S.EXPECT3, Si.RECV_SMP3): _row("send_smp4", S.EXPECT1, spec="as no more messages are expected"),
    (S.EXPECT4, Si.RECV_SMP4): _row("compare", S.EXPECT1, spec="as no more messages are expected"),
    **{(s, Si.RECV_ABORT): _row("aborted", S.EXPECT1) for s in SmpState},
}
# "If smpstate is not SMPSTATE_EXPECTn: Set smpstate to SMPSTATE_EXPECT1 and send a type 6 TLV."
for _input, _state in (
    (Si.RECV_SMP1, S.EXPECT1),
    (Si.RECV_SMP2, S.EXPECT2),
    (Si.RECV_SMP3, S.EXPECT3),
    (Si.RECV_SMP4, S.EXPECT4),
):
    for _s in SmpState:
        if _s is not _state:
            SMP_TABLE[(_s, _input)] = _row("wrong_state", S.EXPECT1)


# The (authstate, msgstate, smpstate) triples the spec's machines allow: SMP leaves EXPECT1 only while
# ENCRYPTED ("If at any point MSGSTATE_ENCRYPTED becomes unset, SMP must abandon its state").
REACHABLE = frozenset(
    (a.value, m.value, s.value)
    for a in AuthState
    for m in MsgState
    for s in SmpState
    if m is MsgState.ENCRYPTED or s is SmpState.EXPECT1
)


# ----------------------------------------------------------------- the model


@dataclass(frozen=True)
class Label:
    """What the model knows about a message it predicted: its kind and what it carries.

    ``sender`` is the side that sent it.  ``ake`` is the AKE a Reveal
    Signature or Signature belongs to: (the committed (encrypted gx, hashed
    gx), gy).  ``session`` names the keys a Data Message was sent with:
    (hashed gx, gy) of the AKE that made them; ``content`` is what it carries
    (text, disconnect, smp1..smp4, smp_abort); ``run`` the SMP run.
    """

    kind: str
    sender: str = ""
    ake: tuple[tuple[bytes, bytes], int] | None = None
    session: tuple[bytes, int] | None = None
    content: str = ""
    text: str = ""
    run: int | None = None


@dataclass(frozen=True)
class Policy:
    versions: frozenset[int]
    require_encryption: bool = False
    send_whitespace_tag: bool = False
    whitespace_start_ake: bool = True
    error_start_ake: bool = True


@dataclass
class Side:
    """One side's state as the model tracks it: the three machines and what they remember."""

    name: str
    policy: Policy
    our_tag: int
    peer_tag: int
    auth: AuthState = AuthState.NONE
    msg: MsgState = MsgState.PLAINTEXT
    smp: SmpState = SmpState.EXPECT1
    our_commit: tuple[bytes, bytes] | None = None  # the commit we sent and stand by
    their_commit: tuple[bytes, bytes] | None = None  # the commit we answered with a D-H Key
    sent_gy: int | None = None  # the gy of that D-H Key
    their_gy: int | None = None  # the gy we answered with a Reveal Signature
    reveal: Label | None = None  # the Reveal Signature we sent (retransmitted as is)
    session: tuple[bytes, int] | None = None
    held: list[str] = field(default_factory=list)
    offer_tag: bool = True
    smp_run: int | None = None  # the run whose next message we expect (EXPECT2..4)
    asked: int | None = None  # a verified SMP message 1 awaiting the user's secret
    accepted: set[int] = field(default_factory=set)  # origins of the Data Messages accepted
    newest: dict[tuple[bytes, int], int] = field(default_factory=dict)

    @property
    def triple(self) -> tuple[str, str, str]:
        return (self.auth.value, self.msg.value, self.smp.value)


@dataclass
class SmpRun:
    initiator: str
    x: str
    y: str | None = None


@dataclass
class World:
    """Both sides and the SMP runs between them."""

    sides: dict[str, Side]
    runs: dict[int, SmpRun] = field(default_factory=dict)

    def copy(self) -> World:
        return copy.deepcopy(self)


@dataclass(frozen=True)
class Emit:
    """A message the model expects to be sent: its kind (as :func:`peek` names it) and label.

    ``bind`` says what the sent message fixes or must repeat: ``our_commit`` /
    ``sent_gy`` record a new commitment or gy, ``same_commit`` / ``same_gy``
    require a retransmission to carry exactly the one sent before.
    """

    kind: str
    label: Label
    bind: str = ""
    version: int | None = None


@dataclass
class Prediction:
    """One allowed outcome of an input: the world afterwards, the messages sent and the events.

    ``free`` marks an input the model does not follow (a message for another
    instance): the observed side must not change, but what is sent or shown
    is not predicted.
    """

    world: World
    emits: list[Emit] = field(default_factory=list)
    events: list[tuple[object, ...]] = field(default_factory=list)
    free: bool = False
    note: str = ""


@dataclass(frozen=True)
class Delivery:
    """A message delivered to a side: the wire string and what the network knows about it."""

    wire: str
    label: Label | None
    origin: int  # creation number of the message (copies keep it)
    tampered: bool


class Model:
    """Predicts, for one input to one side, every allowed outcome (usually exactly one).

    The spec's rules only: no deviation of any implementation is built in.
    """

    def __init__(self, world: World) -> None:
        self.world = world

    # ------------------------------------------------------------ user inputs

    def send_text(self, name: str, text: str) -> list[Prediction]:
        w = self.world.copy()
        side, out = w.sides[name], Prediction(w)
        row = MSG_TABLE[(side.msg, Mi.SEND_TEXT)]
        if row.action == "send_plaintext":
            if side.policy.require_encryption:
                side.held.append(text)
                out.events.append(("error", "held"))
                out.emits.append(Emit("query", Label("query")))
            else:
                tagged = side.policy.send_whitespace_tag and side.offer_tag
                out.emits.append(Emit("tagged" if tagged else "plaintext", Label("plaintext", text=text)))
        elif row.action == "send_data":
            out.emits.append(self._data(side, "text", text))
        else:
            out.events.append(("error", "not_private"))
        return [out]

    def query(self, name: str) -> list[Prediction]:
        """ "User requests to start an OTR conversation": Send an OTR Query Message."""
        w = self.world.copy()
        return [Prediction(w, [Emit("query", Label("query"))])]

    def end(self, name: str) -> list[Prediction]:
        w = self.world.copy()
        side, out = w.sides[name], Prediction(w)
        row = MSG_TABLE[(side.msg, Mi.SEND_END)]
        if row.action == "send_disconnect":
            out.emits.append(self._data(side, "disconnect"))
            out.events.append(("insecure",))
        (state,) = row.next_states
        assert isinstance(state, MsgState)
        self._set_msg(side, state)
        return [out]

    def smp_start(self, name: str, secret: str) -> list[Prediction]:
        w = self.world.copy()
        side, out = w.sides[name], Prediction(w)
        if side.msg is not MsgState.ENCRYPTED:
            out.events.append(("error", "smp"))
            return [out]
        row = SMP_TABLE[(side.smp, Si.START)]
        run = len(w.runs) + 1
        w.runs[run] = SmpRun(name, secret)
        if row.action == "restart" or side.asked is not None:
            out.emits.append(self._data(side, "smp_abort"))
        out.emits.append(self._data(side, "smp1", run=run))
        side.smp, side.smp_run, side.asked = SmpState.EXPECT2, run, None
        return [out]

    def smp_respond(self, name: str, secret: str) -> list[Prediction]:
        w = self.world.copy()
        side, out = w.sides[name], Prediction(w)
        if side.msg is not MsgState.ENCRYPTED:
            out.events.append(("error", "smp"))
            return [out]
        row = SMP_TABLE.get((side.smp, Si.RESPOND))
        if row is None or side.asked is None:
            out.events.append(("smp", "error"))  # nothing to answer: refused, nothing changes
            if row is not None:
                side.smp = SmpState.EXPECT1
            return [out]
        run = side.asked
        w.runs[run].y = secret
        out.emits.append(self._data(side, "smp2", run=run))
        side.smp, side.smp_run, side.asked = SmpState.EXPECT3, run, None
        return [out]

    def smp_abort(self, name: str) -> list[Prediction]:
        w = self.world.copy()
        side, out = w.sides[name], Prediction(w)
        if side.msg is not MsgState.ENCRYPTED:
            out.events.append(("error", "smp"))
            return [out]
        out.emits.append(self._data(side, "smp_abort"))
        side.smp, side.smp_run, side.asked = SmpState.EXPECT1, None, None
        return [out]

    # -------------------------------------------------------------- receiving

    def receive(self, name: str, delivery: Delivery) -> list[Prediction]:
        w = self.world.copy()
        side, out = w.sides[name], Prediction(w)
        msg = peek(delivery.wire)
        if msg.kind == "malformed":
            return [out]
        if msg.kind == "error":
            out.events.append(("remote_error",))
            if side.policy.error_start_ake:  # "If ERROR_START_AKE is set, reply with a Query Message."
                out.emits.append(Emit("query", Label("query")))
            return [out]
        if msg.kind == "query":
            self._start(side, out, msg.versions)
            return [out]
        if msg.kind in ("plaintext", "tagged"):
            self._display(side, out, msg)
            if msg.kind == "tagged" and side.policy.whitespace_start_ake:
                self._start(side, out, msg.versions)
            return [out]
        if msg.version not in side.policy.versions:
            return [out]  # "If the message is version 2 and ALLOW_V2 is not set, ignore this message."
        if msg.version == 3:
            commit = msg.kind == "dh_commit"
            if msg.sender_tag < MIN_INSTANCE_TAG or msg.receiver_tag not in (
                {side.our_tag, 0} if commit else {side.our_tag}
            ):
                return [out]  # "Instance Tags": discard
            if msg.sender_tag != side.peer_tag:
                out.free, out.note = True, "a message for another instance"
                return [out]
        if msg.kind == "data":
            return self._receive_data(w, side, delivery, msg)
        self._receive_ake(side, out, delivery, msg)
        return [out]

    # ------------------------------------------------------------------ AKE

    def _start(self, side: Side, out: Prediction, offered: frozenset[int]) -> None:
        common = offered & side.policy.versions
        if not common:
            return
        (side.auth,) = AUTH_TABLE[(side.auth, Ai.START)].next_states
        side.their_commit, side.sent_gy, side.their_gy, side.reveal = None, None, None, None
        out.emits.append(Emit("dh_commit", Label("dh_commit"), bind="our_commit", version=max(common)))

    def _receive_ake(self, side: Side, out: Prediction, delivery: Delivery, msg: Peek) -> None:
        inputs = {
            "dh_commit": Ai.RECV_DH_COMMIT,
            "dh_key": Ai.RECV_DH_KEY,
            "reveal_signature": Ai.RECV_REVEAL_SIGNATURE,
            "signature": Ai.RECV_SIGNATURE,
        }
        row = AUTH_TABLE.get((side.auth, inputs[msg.kind]))
        if row is None:
            return  # "Ignore the message."
        action = row.action
        if action == "tie_break":
            assert side.our_commit is not None and msg.commit is not None
            # "considered as 32-byte unsigned big-endian values"
            if int.from_bytes(side.our_commit[1], "big") > int.from_bytes(msg.commit[1], "big"):
                out.emits.append(Emit("dh_commit", Label("dh_commit"), bind="same_commit"))
                return
            action = "send_dh_key"
        if action == "send_dh_key":
            side.their_commit, side.our_commit, side.their_gy, side.reveal = msg.commit, None, None, None
            side.auth = AuthState.AWAITING_REVEALSIG
            out.emits.append(Emit("dh_key", Label("dh_key"), bind="sent_gy"))
        elif action == "resend_dh_key":
            side.their_commit = msg.commit
            out.emits.append(Emit("dh_key", Label("dh_key"), bind="same_gy"))
        elif action == "send_reveal":
            if not 2 <= msg.gy <= MODULUS - 2:
                return
            assert side.our_commit is not None
            side.their_gy, side.auth = msg.gy, AuthState.AWAITING_SIG
            side.reveal = Label("reveal_signature", ake=(side.our_commit, msg.gy))
            out.emits.append(Emit("reveal_signature", side.reveal))
        elif action == "resend_reveal":
            if msg.gy == side.their_gy and side.reveal is not None:
                out.emits.append(Emit("reveal_signature", side.reveal))
        elif action == "check_reveal":
            # r must open the very commitment we hold, and the MACs need our gy.
            assert side.their_commit is not None and side.sent_gy is not None
            ake = (side.their_commit, side.sent_gy)
            if delivery.tampered or delivery.label is None or delivery.label.ake != ake:
                return
            out.emits.append(Emit("signature", Label("signature", ake=ake)))
            self._secured(side, out, (ake[0][1], ake[1]))
        elif action == "check_signature":
            # The Signature depends on gx (named by its hash) and gy only, not on r.
            assert side.our_commit is not None and side.their_gy is not None
            label = delivery.label
            if delivery.tampered or label is None or label.ake is None:
                return
            if (label.ake[0][1], label.ake[1]) != (side.our_commit[1], side.their_gy):
                return
            self._secured(side, out, (side.our_commit[1], side.their_gy))

    def _secured(self, side: Side, out: Prediction, session: tuple[bytes, int]) -> None:
        """The AKE checked out; ``session`` names its keys: (hashed gx, gy)."""
        refreshed = side.msg is MsgState.ENCRYPTED
        side.auth = AuthState.NONE
        side.our_commit = side.their_commit = side.reveal = None
        side.sent_gy = side.their_gy = None
        self._set_msg(side, MsgState.ENCRYPTED)
        side.session = session  # a new AKE while ENCRYPTED keeps the SMP state ("The SMP state machine")
        out.events.append(("secure", refreshed))
        # "If there is a recent stored message, encrypt it and send it as a Data Message."
        held, side.held = side.held, []
        for text in held:
            out.emits.append(self._data(side, "text", text))

    # ----------------------------------------------------------------- data

    def _data(self, side: Side, content: str, text: str = "", run: int | None = None) -> Emit:
        label = Label("data", side.name, session=side.session, content=content, text=text, run=run)
        return Emit("data", label)

    def _set_msg(self, side: Side, state: MsgState) -> None:
        if state is not MsgState.ENCRYPTED:
            # "If at any point MSGSTATE_ENCRYPTED becomes unset, SMP must abandon its state"
            side.smp, side.smp_run, side.asked, side.session = SmpState.EXPECT1, None, None, None
        if state is MsgState.PLAINTEXT and side.msg is not MsgState.PLAINTEXT:
            side.offer_tag = True  # "since last entering MSGSTATE_PLAINTEXT"
        side.msg = state

    def _display(self, side: Side, out: Prediction, msg: Peek) -> None:
        if msg.text:
            out.events.append(("message", msg.text, False))
        if side.msg is not MsgState.PLAINTEXT or side.policy.require_encryption:
            out.events.append(("error", "unencrypted"))
        if msg.kind == "plaintext":
            side.offer_tag = False  # "you have not received a plaintext message ... since"

    def _receive_data(self, w: World, side: Side, delivery: Delivery, msg: Peek) -> list[Prediction]:
        rejected = Prediction(w)
        if not msg.flags & IGNORE_UNREADABLE:
            rejected.emits.append(Emit("error", Label("error")))
        label = delivery.label
        if (
            MSG_TABLE[(side.msg, Mi.RECV_DATA)].action != "verify"
            or delivery.tampered
            or label is None
            or label.session is None
            or label.session != side.session
            or label.sender == side.name  # reflected: our sending keys are not our receiving keys
            or delivery.origin in side.accepted
        ):
            return [rejected]
        accepted = Prediction(w.copy())
        acc_side = accepted.world.sides[side.name]
        acc_side.accepted.add(delivery.origin)
        acc_side.newest[label.session] = max(acc_side.newest.get(label.session, 0), delivery.origin)
        self._open(accepted.world, acc_side, accepted, label)
        if delivery.origin > side.newest.get(label.session, 0):
            # In the order sent, every key it names is still held and its counter is fresh.
            return [accepted]
        return [accepted, rejected]

    def _open(self, w: World, side: Side, out: Prediction, label: Label) -> None:
        if label.content == "text":
            out.events.append(("message", label.text, True))
        elif label.content == "disconnect":
            out.events.append(("finished",))
            self._set_msg(side, MsgState.FINISHED)
        elif label.content in ("smp1", "smp2", "smp3", "smp4", "smp_abort"):
            self._smp_tlv(w, side, out, label)

    def _smp_tlv(self, w: World, side: Side, out: Prediction, label: Label) -> None:
        inputs = {
            "smp1": Si.RECV_SMP1,
            "smp2": Si.RECV_SMP2,
            "smp3": Si.RECV_SMP3,
            "smp4": Si.RECV_SMP4,
            "smp_abort": Si.RECV_ABORT,
        }
        row = SMP_TABLE[(side.smp, inputs[label.content])]

        def fail(result: str) -> None:
            out.emits.append(self._data(side, "smp_abort"))
            out.events.append(("smp", result))
            side.smp, side.smp_run, side.asked = SmpState.EXPECT1, None, None

        if row.action == "wrong_state":
            fail("error")
        elif row.action == "aborted":
            out.events.append(("smp", "abort"))
            side.smp, side.smp_run, side.asked = SmpState.EXPECT1, None, None
        elif row.action == "ask":
            side.asked = label.run
            out.events.append(("smp", "ask"))
        elif label.run != side.smp_run:
            fail("cheated")  # the proofs were made for another exchange's values
        elif row.action == "send_smp3":
            out.emits.append(self._data(side, "smp3", run=label.run))
            out.events.append(("smp", "in_progress"))
            side.smp = SmpState.EXPECT4
        else:
            run = w.runs[label.run] if label.run is not None else None
            equal = run is not None and run.x == run.y
            if row.action == "send_smp4":
                out.emits.append(self._data(side, "smp4", run=label.run))
            out.events.append(("smp", "success" if equal else "failure"))
            side.smp, side.smp_run = SmpState.EXPECT1, None

    # ------------------------------------------------------------- binding

    @staticmethod
    def bind(prediction: Prediction, name: str, sent: list[Peek]) -> str | None:
        """Match what ``name`` sent against the prediction and record the values it fixes.

        Returns why they do not match, or None.
        """
        expected = [e.kind for e in prediction.emits]
        kinds = [p.kind for p in sent]
        if expected != kinds:
            return f"expected to send {expected}, sent {kinds}"
        side = prediction.world.sides[name]
        for emit, msg in zip(prediction.emits, sent, strict=True):
            if emit.version is not None and msg.version != emit.version:
                return f"expected a v{emit.version} {emit.kind}, sent v{msg.version}"
            if emit.kind in ("plaintext", "tagged") and msg.text != emit.label.text:
                return f"expected the text {emit.label.text!r}, sent {msg.text!r}"
            if emit.bind == "our_commit":
                side.our_commit = msg.commit
            elif emit.bind == "same_commit" and msg.commit != side.our_commit:
                return "the D-H Commit resent is not the one sent before"
            elif emit.bind == "sent_gy":
                side.sent_gy = msg.gy
            elif emit.bind == "same_gy" and msg.gy != side.sent_gy:
                return "the D-H Key retransmitted is not the one sent before"
        return None
