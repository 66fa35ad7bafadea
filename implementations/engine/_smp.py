"""The Socialist Millionaires' Protocol of OTR v3, sans-IO (spec, "Socialist Millionaires' Protocol (SMP)").

One :class:`SmpMachine` per encrypted session.  Its state machine is the
data in :data:`SMP_TRANSITIONS`: (smpstate, input) -> (effect, allowed next
states).  :meth:`SmpMachine._dispatch` looks the pair up, runs the named
effect, and checks that the state the effect chose is one the row allows.
The table also draws the diagram (:func:`smp_diagram_mermaid`) and drives
the exhaustive state x input test.

Invariants:

* Bad input from the network never raises.  A message in the wrong state,
  a malformed TLV value, or a failed range or proof check sends an SMP
  abort (TLV 6) and returns to EXPECT1 (spec, "The SMP state machine":
  EXPECT1 "is also reached whenever an error occurs").
* Exceptions are for misuse by the caller only (``ValueError``).
* The stored values always match the state: EXPECT1 holds nothing or a
  verified SMP message 1 awaiting the user's secret, EXPECT2 holds
  :class:`_Smp1Sent`, EXPECT3 :class:`_Smp2Sent`, EXPECT4 :class:`_Smp3Sent`.
* Randomness comes only from the injected :class:`~._deps.Entropy`, in a
  fixed order, so a seeded entropy reproduces every TLV.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field

from ._codec import DecodeError, Reader, mpi, uint
from ._crypto import GENERATOR, MODULUS, SMP_ORDER, invert, is_group_element, powmod, sha256
from ._deps import Entropy
from ._state import declaration_order
from ._tlv import Tlv, TlvType

SMP_VERSION = 1  # the version BYTE that starts the secret's hash input (spec, "Secret information")
EXPONENT_BYTES = 192  # "The random exponents are 1536-bit numbers."
MPI_COUNTS = {TlvType.SMP1: 6, TlvType.SMP2: 11, TlvType.SMP3: 8, TlvType.SMP4: 3}
# The largest SMP message 1 payload: count, six lengths, four values below p, two SHA-256 hashes.
_SMP1_MAX_BYTES = 4 + 6 * 4 + 4 * 192 + 2 * 32
_TLV_MAX_BYTES = 0xFFFF


class SmpState(enum.Enum):
    """smpstate (spec, "Expected Message"); values are the peer protocol's status strings."""

    EXPECT1 = "expect1"
    EXPECT2 = "expect2"
    EXPECT3 = "expect3"
    EXPECT4 = "expect4"


class SmpInput(enum.Enum):
    """The spec's seven actions, with "begin SMP" split into starting and answering (as libotr does)."""

    SEND_START = enum.auto()
    SEND_RESPOND = enum.auto()
    SEND_ABORT = enum.auto()
    RECV_SMP1 = enum.auto()  # TLV 2, or TLV 7 with a question
    RECV_SMP2 = enum.auto()
    RECV_SMP3 = enum.auto()
    RECV_SMP4 = enum.auto()
    RECV_ABORT = enum.auto()


@dataclass(frozen=True)
class Transition:
    """A table row: the effect to run (``SmpMachine._<effect>``) and the states it may end in."""

    effect: str
    next_states: frozenset[SmpState]


def _row(effect: str, *next_states: SmpState) -> Transition:
    return Transition(effect, frozenset(next_states))


_E1, _E2, _E3, _E4 = SmpState.EXPECT1, SmpState.EXPECT2, SmpState.EXPECT3, SmpState.EXPECT4
_I = SmpInput

# Every (state, input) pair the spec defines.  The only pairs missing are
# SEND_RESPOND outside EXPECT1: there is no SMP message 1 to answer, so the
# dispatcher refuses them (result "error", no TLV, state unchanged).
SMP_TRANSITIONS: dict[tuple[SmpState, SmpInput], Transition] = {
    (_E1, _I.SEND_START): _row("send_smp1", _E2),
    # "If you wish to restart SMP, send a type 6 TLV (SMP abort) to the other
    # party and then proceed as if smpstate was SMPSTATE_EXPECT1."
    (_E2, _I.SEND_START): _row("restart", _E2),
    (_E3, _I.SEND_START): _row("restart", _E2),
    (_E4, _I.SEND_START): _row("restart", _E2),
    # The second half of "Receiving a type 2 TLV": EXPECT3 once answered,
    # EXPECT1 (result "error") when no verified SMP message 1 is pending.
    (_E1, _I.SEND_RESPOND): _row("send_smp2", _E3, _E1),
    # "In all cases, send a type 6 TLV (SMP abort) to the correspondent and
    # set smpstate to SMPSTATE_EXPECT1."
    (_E1, _I.SEND_ABORT): _row("send_abort", _E1),
    (_E2, _I.SEND_ABORT): _row("send_abort", _E1),
    (_E3, _I.SEND_ABORT): _row("send_abort", _E1),
    (_E4, _I.SEND_ABORT): _row("send_abort", _E1),
    # Verified and stored; smpstate stays EXPECT1 until the user answers (libotr).
    (_E1, _I.RECV_SMP1): _row("recv_smp1", _E1),
    # "If smpstate is not SMPSTATE_EXPECT1: Set smpstate to SMPSTATE_EXPECT1
    # and send a type 6 TLV (SMP abort) to Alice."  Likewise for messages 2-4.
    (_E2, _I.RECV_SMP1): _row("wrong_state", _E1),
    (_E3, _I.RECV_SMP1): _row("wrong_state", _E1),
    (_E4, _I.RECV_SMP1): _row("wrong_state", _E1),
    (_E1, _I.RECV_SMP2): _row("wrong_state", _E1),
    (_E2, _I.RECV_SMP2): _row("recv_smp2", _E4, _E1),  # EXPECT1 when a check fails
    (_E3, _I.RECV_SMP2): _row("wrong_state", _E1),
    (_E4, _I.RECV_SMP2): _row("wrong_state", _E1),
    (_E1, _I.RECV_SMP3): _row("wrong_state", _E1),
    (_E2, _I.RECV_SMP3): _row("wrong_state", _E1),
    (_E3, _I.RECV_SMP3): _row("recv_smp3", _E1),  # "as no more messages are expected"
    (_E4, _I.RECV_SMP3): _row("wrong_state", _E1),
    (_E1, _I.RECV_SMP4): _row("wrong_state", _E1),
    (_E2, _I.RECV_SMP4): _row("wrong_state", _E1),
    (_E3, _I.RECV_SMP4): _row("wrong_state", _E1),
    (_E4, _I.RECV_SMP4): _row("recv_smp4", _E1),
    # TLV 6: "If you receive a TLV of this type, you should change the SMP
    # state to SMP_EXPECT1."
    (_E1, _I.RECV_ABORT): _row("recv_abort", _E1),
    (_E2, _I.RECV_ABORT): _row("recv_abort", _E1),
    (_E3, _I.RECV_ABORT): _row("recv_abort", _E1),
    (_E4, _I.RECV_ABORT): _row("recv_abort", _E1),
}

_RECV_INPUTS = {
    TlvType.SMP1: SmpInput.RECV_SMP1,
    TlvType.SMP1Q: SmpInput.RECV_SMP1,
    TlvType.SMP2: SmpInput.RECV_SMP2,
    TlvType.SMP3: SmpInput.RECV_SMP3,
    TlvType.SMP4: SmpInput.RECV_SMP4,
    TlvType.SMP_ABORT: SmpInput.RECV_ABORT,
}


def smp_diagram_mermaid(transitions: dict[tuple[SmpState, SmpInput], Transition] = SMP_TRANSITIONS) -> str:
    """A Mermaid ``stateDiagram-v2`` with one edge per (state, input, next state) of the table."""
    lines = ["stateDiagram-v2", f"    [*] --> {_E1.value}"]
    rows = sorted(transitions.items(), key=lambda kv: declaration_order(kv[0]))
    for (state, smp_input), transition in rows:
        for next_state in sorted(transition.next_states, key=lambda s: s.value):
            lines.append(f"    {state.value} --> {next_state.value}: {smp_input.name} / {transition.effect}")
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------ values


def smp_secret(initiator_fp: bytes, responder_fp: bytes, ssid: bytes, user_secret: bytes) -> int:
    """x or y: SHA-256(0x01 || initiator fp || responder fp || ssid || user secret), as an integer.

    Spec, "Secret information": the fingerprints are the ones each party uses
    in this conversation, the initiator's first; the ssid is the AKE's 8 bytes.
    """
    if len(initiator_fp) != 20 or len(responder_fp) != 20:
        raise ValueError("fingerprints are 20 bytes")
    if len(ssid) != 8:
        raise ValueError("the secure session id is 8 bytes")
    digest = sha256(bytes((SMP_VERSION,)) + initiator_fp + responder_fp + ssid + user_secret)
    return int.from_bytes(digest, "big")


def smp_hash(version: int, first: int, second: int | None = None) -> int:
    """SHA256(version BYTE || MPI(first) [|| MPI(second)]) as an integer (spec, "SMP Hash function")."""
    body = bytes((version,)) + mpi(first) + (b"" if second is None else mpi(second))
    return int.from_bytes(sha256(body), "big")


def encode_mpis(values: list[int]) -> bytes:
    """An SMP TLV value: INT count, then that many MPIs."""
    return uint(len(values)) + b"".join(mpi(v) for v in values)


def decode_mpis(value: bytes, count: int) -> list[int]:
    """The inverse of :func:`encode_mpis`.

    A count other than ``count``, a truncated MPI or trailing bytes raise DecodeError.
    """
    reader = Reader(value)
    found = reader.uint("MPI count")
    if found != count:
        raise DecodeError(f"MPI count {found}, expected {count}")
    values = [reader.mpi(f"MPI {i}") for i in range(count)]
    reader.finish("SMP message")
    return values


def _div(a: int, b: int) -> int:
    return a * invert(b) % MODULUS


def _is_exponent(value: int) -> bool:
    """The range of a D value, as libotr checks it: 1 <= D <= q - 1 (D is computed mod q)."""
    return 1 <= value < SMP_ORDER


def _prove_log(version: int, r: int, exponent: int) -> tuple[int, int]:
    """c = SHA256(version, g1^r), D = r - exponent*c mod q: knowledge of log_g1 of g1^exponent."""
    c = smp_hash(version, powmod(GENERATOR, r))
    return c, (r - exponent * c) % SMP_ORDER


def _check_log(version: int, c: int, d: int, value: int) -> bool:
    return c == smp_hash(version, powmod(GENERATOR, d) * powmod(value, c) % MODULUS)


def _prove_coords(
    version: int, g2: int, g3: int, r4: int, secret: int, r5: int, r6: int
) -> tuple[int, int, int]:
    """cP = SHA256(version, g3^r5, g1^r5 g2^r6), D5 = r5 - r4 cP, D6 = r6 - secret cP (mod q)."""
    c = smp_hash(version, powmod(g3, r5), powmod(GENERATOR, r5) * powmod(g2, r6) % MODULUS)
    return c, (r5 - r4 * c) % SMP_ORDER, (r6 - secret * c) % SMP_ORDER


def _check_coords(version: int, c: int, d5: int, d6: int, p: int, q: int, g2: int, g3: int) -> bool:
    """cP = SHA256(version, g3^D5 P^cP, g1^D5 g2^D6 Q^cP)."""
    first = powmod(g3, d5) * powmod(p, c) % MODULUS
    second = powmod(GENERATOR, d5) * powmod(g2, d6) % MODULUS * powmod(q, c) % MODULUS
    return c == smp_hash(version, first, second)


def _prove_equal_logs(version: int, qab: int, exponent: int, r7: int) -> tuple[int, int]:
    """cR = SHA256(version, g1^r7, (Qa/Qb)^r7), D7 = r7 - exponent cR mod q."""
    c = smp_hash(version, powmod(GENERATOR, r7), powmod(qab, r7))
    return c, (r7 - exponent * c) % SMP_ORDER


def _check_equal_logs(version: int, c: int, d7: int, g3_other: int, qab: int, r: int) -> bool:
    """cR = SHA256(version, g1^D7 g3o^cR, (Qa/Qb)^D7 R^cR), g3o being the peer's half of g3."""
    first = powmod(GENERATOR, d7) * powmod(g3_other, c) % MODULUS
    second = powmod(qab, d7) * powmod(r, c) % MODULUS
    return c == smp_hash(version, first, second)


# ------------------------------------------------------------- the machine


@dataclass(frozen=True)
class SmpOutcome:
    """What one call produced: TLVs to send in a Data Message, and (result, question) pairs for the user.

    ``result`` is one of ``api.SMP_RESULTS``; ``detail`` says why, in wire terms, when something was refused.
    """

    tlvs: list[Tlv] = field(default_factory=list)
    results: list[tuple[str, str | None]] = field(default_factory=list)
    detail: str = ""


@dataclass(frozen=True)
class _Smp1Received:
    """A verified SMP message 1 waiting for the user's secret (state EXPECT1)."""

    g2a: int
    g3a: int
    question: str | None


@dataclass(frozen=True)
class _Smp1Sent:
    """State EXPECT2: "Store the values of x, a2 and a3"."""

    x: int
    a2: int
    a3: int


@dataclass(frozen=True)
class _Smp2Sent:
    """State EXPECT3: "Store the values of g3a, g2, g3, b3, Pb and Qb"."""

    g3a: int
    g2: int
    g3: int
    b3: int
    pb: int
    qb: int


@dataclass(frozen=True)
class _Smp3Sent:
    """State EXPECT4: "Store the values of g3b, (Pa / Pb), (Qa / Qb) and a3"."""

    g3b: int
    pab: int
    qab: int
    a3: int


_Data = _Smp1Received | _Smp1Sent | _Smp2Sent | _Smp3Sent | None


@dataclass(frozen=True)
class _Request:
    """The arguments of the public call that caused the input; each effect reads what it needs."""

    secret: int = 0
    question: str | None = None
    tlv: Tlv | None = None


@dataclass(frozen=True)
class _Step:
    state: SmpState
    data: _Data
    outcome: SmpOutcome


_ABORT = Tlv(TlvType.SMP_ABORT)


class SmpMachine:
    """SMP for one encrypted session.  Each public method returns an :class:`SmpOutcome`.

    Design points where the spec is silent:

    * An SMP message 1 is verified on receipt and reported as ("ask", question);
      smpstate stays EXPECT1 until :meth:`respond` (libotr does the same).  A
      pending message 1 counts as an exchange "underway": :meth:`start` then
      sends an abort before its own message 1, as the spec's Bob (already in
      EXPECT3 there) would.
    * A local :meth:`start`, :meth:`respond` or :meth:`abort` reports nothing
      unless refused; results come from the peer's messages.
    * A received abort is reported as ("abort", None) in every state (libotr).
    * A message in the wrong state sends an abort and reports ("error", None);
      a malformed value (bad count, truncation, trailing bytes, bad question)
      does too; a failed range or proof check reports ("cheated", None).
    * Random exponents are used exactly as drawn (192 bytes each), so a
      scripted entropy can force degenerate values in tests.
    """

    def __init__(self, entropy: Entropy) -> None:
        self._entropy = entropy
        self._state = SmpState.EXPECT1
        self._data: _Data = None

    @property
    def state(self) -> SmpState:
        return self._state

    @property
    def awaiting_secret(self) -> bool:
        """True when a verified SMP message 1 waits for :meth:`respond`."""
        return isinstance(self._data, _Smp1Received)

    # ---------------------------------------------------------- user actions

    def start(self, secret: int, question: str | None = None) -> SmpOutcome:
        """Begin SMP with our secret (spec, "User requests to begin SMP"): TLV 2, or TLV 7 with a question."""
        _check_secret(secret)
        if question is not None:
            encoded = question.encode("utf-8")
            if b"\0" in encoded:
                raise ValueError("the question cannot contain NUL")
            if len(encoded) + 1 + _SMP1_MAX_BYTES > _TLV_MAX_BYTES:
                raise ValueError("the question does not fit in a TLV")
        return self._dispatch(SmpInput.SEND_START, _Request(secret=secret, question=question))

    def respond(self, secret: int) -> SmpOutcome:
        """Answer the pending SMP message 1 with our secret: SMP message 2."""
        _check_secret(secret)
        return self._dispatch(SmpInput.SEND_RESPOND, _Request(secret=secret))

    def abort(self) -> SmpOutcome:
        """Send TLV 6 and return to EXPECT1 (spec, "User requests to abort SMP"); nothing is reported."""
        return self._dispatch(SmpInput.SEND_ABORT, _Request())

    def receive(self, tlv: Tlv) -> SmpOutcome:
        """Handle one SMP TLV (types 2-7) from a Data Message; never raises for what the peer sent."""
        try:
            smp_input = _RECV_INPUTS[TlvType(tlv.type)]
        except (ValueError, KeyError):
            raise ValueError(f"TLV type {tlv.type} is not an SMP TLV") from None
        return self._dispatch(smp_input, _Request(tlv=tlv))

    def reset(self) -> None:
        """Abandon all SMP state: msgstate left ENCRYPTED (spec, "The SMP state machine")."""
        self._state = SmpState.EXPECT1
        self._data = None

    # ------------------------------------------------------------- dispatch

    def _dispatch(self, smp_input: SmpInput, request: _Request) -> SmpOutcome:
        transition = SMP_TRANSITIONS.get((self._state, smp_input))
        if transition is None:
            detail = f"{smp_input.name} is not possible in {self._state.name}"
            return SmpOutcome(results=[("error", None)], detail=detail)
        effect: Callable[[_Request], _Step] = getattr(self, f"_{transition.effect}")
        step = effect(request)
        if step.state not in transition.next_states:
            raise AssertionError(f"{transition.effect} chose {step.state}, not allowed by the table")
        self._state, self._data = step.state, step.data
        return step.outcome

    def _exponent(self) -> int:
        return int.from_bytes(self._entropy.random_bytes(EXPONENT_BYTES), "big")

    @staticmethod
    def _fail(result: str, detail: str) -> _Step:
        """Abort and return to EXPECT1, telling the user ``result``."""
        return _Step(_E1, None, SmpOutcome([_ABORT], [(result, None)], detail))

    # -------------------------------------------------------------- effects

    def _send_smp1(self, request: _Request) -> _Step:
        a2, a3, r2, r3 = (self._exponent() for _ in range(4))
        c2, d2 = _prove_log(1, r2, a2)
        c3, d3 = _prove_log(2, r3, a3)
        payload = encode_mpis([powmod(GENERATOR, a2), c2, d2, powmod(GENERATOR, a3), c3, d3])
        if request.question is None:
            smp1 = Tlv(TlvType.SMP1, payload)
        else:
            smp1 = Tlv(TlvType.SMP1Q, request.question.encode("utf-8") + b"\0" + payload)
        tlvs = [_ABORT, smp1] if self.awaiting_secret else [smp1]
        return _Step(_E2, _Smp1Sent(request.secret, a2, a3), SmpOutcome(tlvs))

    def _restart(self, request: _Request) -> _Step:
        step = self._send_smp1(request)
        return _Step(step.state, step.data, SmpOutcome([_ABORT, *step.outcome.tlvs]))

    def _send_smp2(self, request: _Request) -> _Step:
        pending = self._data
        if not isinstance(pending, _Smp1Received):
            return _Step(_E1, None, SmpOutcome([], [("error", None)], "no SMP message 1 to answer"))
        y = request.secret
        b2, b3, r2, r3, r4, r5, r6 = (self._exponent() for _ in range(7))
        c2, d2 = _prove_log(3, r2, b2)
        c3, d3 = _prove_log(4, r3, b3)
        g2 = powmod(pending.g2a, b2)
        g3 = powmod(pending.g3a, b3)
        pb = powmod(g3, r4)
        qb = powmod(GENERATOR, r4) * powmod(g2, y) % MODULUS
        cp, d5, d6 = _prove_coords(5, g2, g3, r4, y, r5, r6)
        values = [powmod(GENERATOR, b2), c2, d2, powmod(GENERATOR, b3), c3, d3, pb, qb, cp, d5, d6]
        data = _Smp2Sent(pending.g3a, g2, g3, b3, pb, qb)
        return _Step(_E3, data, SmpOutcome([Tlv(TlvType.SMP2, encode_mpis(values))]))

    def _send_abort(self, request: _Request) -> _Step:
        return _Step(_E1, None, SmpOutcome([_ABORT]))

    def _wrong_state(self, request: _Request) -> _Step:
        assert request.tlv is not None
        return self._fail("error", f"TLV type {request.tlv.type} received in {self._state.name}")

    def _recv_abort(self, request: _Request) -> _Step:
        return _Step(_E1, None, SmpOutcome([], [("abort", None)]))

    def _recv_smp1(self, request: _Request) -> _Step:
        assert request.tlv is not None
        value, question = request.tlv.value, None
        if request.tlv.type == TlvType.SMP1Q:
            text, nul, value = value.partition(b"\0")
            if not nul:
                return self._fail("error", "SMP message 1Q: question is not NUL-terminated")
            try:
                question = text.decode("utf-8")
            except UnicodeDecodeError:
                return self._fail("error", "SMP message 1Q: question is not UTF-8")
        try:
            g2a, c2, d2, g3a, c3, d3 = decode_mpis(value, 6)
        except DecodeError as exc:
            return self._fail("error", f"SMP message 1: {exc}")
        if not (is_group_element(g2a) and is_group_element(g3a)):
            return self._fail("cheated", "SMP message 1: g2a or g3a outside 2..p-2")
        if not (_is_exponent(d2) and _is_exponent(d3)):
            return self._fail("cheated", "SMP message 1: D2 or D3 outside 1..q-1")
        if not (_check_log(1, c2, d2, g2a) and _check_log(2, c3, d3, g3a)):
            return self._fail("cheated", "SMP message 1: proof of knowledge of a2 or a3 fails")
        return _Step(_E1, _Smp1Received(g2a, g3a, question), SmpOutcome([], [("ask", question)]))

    def _recv_smp2(self, request: _Request) -> _Step:
        assert request.tlv is not None
        mine = self._data
        assert isinstance(mine, _Smp1Sent)
        try:
            g2b, c2, d2, g3b, c3, d3, pb, qb, cp, d5, d6 = decode_mpis(request.tlv.value, 11)
        except DecodeError as exc:
            return self._fail("error", f"SMP message 2: {exc}")
        if not all(is_group_element(v) for v in (g2b, g3b, pb, qb)):
            return self._fail("cheated", "SMP message 2: g2b, g3b, Pb or Qb outside 2..p-2")
        if not all(_is_exponent(v) for v in (d2, d3, d5, d6)):
            return self._fail("cheated", "SMP message 2: D2, D3, D5 or D6 outside 1..q-1")
        if not (_check_log(3, c2, d2, g2b) and _check_log(4, c3, d3, g3b)):
            return self._fail("cheated", "SMP message 2: proof of knowledge of b2 or b3 fails")
        g2 = powmod(g2b, mine.a2)
        g3 = powmod(g3b, mine.a3)
        if not _check_coords(5, cp, d5, d6, pb, qb, g2, g3):
            return self._fail("cheated", "SMP message 2: proof for Pb and Qb fails")
        r4, r5, r6, r7 = (self._exponent() for _ in range(4))
        pa = powmod(g3, r4)
        qa = powmod(GENERATOR, r4) * powmod(g2, mine.x) % MODULUS
        cp_a, d5_a, d6_a = _prove_coords(6, g2, g3, r4, mine.x, r5, r6)
        qab = _div(qa, qb)
        ra = powmod(qab, mine.a3)
        cr, d7 = _prove_equal_logs(7, qab, mine.a3, r7)
        smp3 = Tlv(TlvType.SMP3, encode_mpis([pa, qa, cp_a, d5_a, d6_a, ra, cr, d7]))
        data = _Smp3Sent(g3b, _div(pa, pb), qab, mine.a3)
        return _Step(_E4, data, SmpOutcome([smp3], [("in_progress", None)]))

    def _recv_smp3(self, request: _Request) -> _Step:
        assert request.tlv is not None
        mine = self._data
        assert isinstance(mine, _Smp2Sent)
        try:
            pa, qa, cp, d5, d6, ra, cr, d7 = decode_mpis(request.tlv.value, 8)
        except DecodeError as exc:
            return self._fail("error", f"SMP message 3: {exc}")
        if not all(is_group_element(v) for v in (pa, qa, ra)):
            return self._fail("cheated", "SMP message 3: Pa, Qa or Ra outside 2..p-2")
        if not all(_is_exponent(v) for v in (d5, d6, d7)):
            return self._fail("cheated", "SMP message 3: D5, D6 or D7 outside 1..q-1")
        if not _check_coords(6, cp, d5, d6, pa, qa, mine.g2, mine.g3):
            return self._fail("cheated", "SMP message 3: proof for Pa and Qa fails")
        qab = _div(qa, mine.qb)
        if not _check_equal_logs(7, cr, d7, mine.g3a, qab, ra):
            return self._fail("cheated", "SMP message 3: proof for Ra fails")
        r7 = self._exponent()
        rb = powmod(qab, mine.b3)
        cr_b, d7_b = _prove_equal_logs(8, qab, mine.b3, r7)
        smp4 = Tlv(TlvType.SMP4, encode_mpis([rb, cr_b, d7_b]))
        equal = secrets_match(_div(pa, mine.pb), powmod(ra, mine.b3))
        return _Step(_E1, None, SmpOutcome([smp4], [("success" if equal else "failure", None)]))

    def _recv_smp4(self, request: _Request) -> _Step:
        assert request.tlv is not None
        mine = self._data
        assert isinstance(mine, _Smp3Sent)
        try:
            rb, cr, d7 = decode_mpis(request.tlv.value, 3)
        except DecodeError as exc:
            return self._fail("error", f"SMP message 4: {exc}")
        if not is_group_element(rb):
            return self._fail("cheated", "SMP message 4: Rb outside 2..p-2")
        if not _is_exponent(d7):
            return self._fail("cheated", "SMP message 4: D7 outside 1..q-1")
        if not _check_equal_logs(8, cr, d7, mine.g3b, mine.qab, rb):
            return self._fail("cheated", "SMP message 4: proof for Rb fails")
        equal = secrets_match(mine.pab, powmod(rb, mine.a3))
        return _Step(_E1, None, SmpOutcome([], [("success" if equal else "failure", None)]))


def secrets_match(pa_over_pb: int, r_to_the_3: int) -> bool:
    """The SMP's final check: Pa/Pb == (Qa/Qb)^(a3 b3) holds exactly when the secrets are equal."""
    return pa_over_pb == r_to_the_3


def _check_secret(secret: int) -> None:
    if secret < 0:
        raise ValueError("the SMP secret is a non-negative integer (see smp_secret)")
