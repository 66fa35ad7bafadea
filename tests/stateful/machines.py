"""Rule-based state machines that drive a pair of implementations through a faulty network.

One machine class per ordered pair (alice's implementation, bob's).  Rules:

* user actions: send a text (each text unique, so that "shown once, in
  order" is checkable), send a whitespace-tagged text, query, re-key (query
  while private), end, SMP start / respond / abort with equal or different
  secrets;
* the network, a list of messages in flight: deliver the next one, deliver a
  chosen one, drop, duplicate, tamper (flip one bit of an encoded message
  where a MAC, a signature or a hash must notice), flush;
* injections: an old message from everything ever sent (the ``history``
  bundle; possibly reflected to its sender), an OTR Error Message.

Invariants, after every step: both private and no AKE under way ⇒ one ssid,
and each side holds the other's true fingerprint; no user text leaves in the
clear under REQUIRE_ENCRYPTION; every text shown as encrypted was sent by the
other side, is shown once, in the order typed (up to reordering by the
network), never from a tampered message; a tampered message has no effect
only a verified one may have; SMP succeeds only with equal secrets; no
exception or crash; a bounded number of messages per input.  Progress
(:meth:`OtrMachine.teardown`): once faults stop and delivery is in order, a
query leads to one encrypted session that carries text both ways, and, in
some examples, a fresh SMP ends in a definite result on both sides.

Every implementation is reached through the adapter contract
(:mod:`implementations.api`): the engine in-process (seeded by Hypothesis,
sometimes with forced leading-zero values and a pinned tie-break order),
libotr in a pooled worker process re-``init``-ed per example, potr
in-process.  libotr's randomness cannot be seeded, so no rule is disabled by
what an implementation did (rules with nothing to act on do nothing) and
each step adds exactly one entry to the history: Hypothesis then draws the
same choices when it replays an example.  Deviations recorded in
``docs/findings/``, or found by these machines and pinned in
``test_findings.py``, are recognised precisely (:data:`KNOWN`) and counted,
never skipped wholesale.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
)

from harness import impls
from harness.mutators import flip_encoded_bit
from implementations.api import (
    ERROR_CODES,
    Adapter,
    ErrorRaised,
    Event,
    InitConfig,
    MessageReceived,
    Policy,
    Result,
    SessionFinished,
    SessionInsecure,
    SessionSecured,
    SmpUpdated,
    Status,
    SymkeyReceived,
    Unsupported,
)
from implementations.engine import EngineAdapter, ScriptedEntropy
from implementations.fixtures import fingerprint, key
from tests.stateful.wire import Peek, peek, tag_for

ALICE, BOB = "alice", "bob"
SIDES = (ALICE, BOB)
TAGS = {ALICE: 0x100, BOB: 0x101}
PAIRS: dict[str, tuple[str, str]] = {
    "engine-engine": ("engine", "engine"),
    "engine-libotr": ("engine", "libotr"),
    "libotr-engine": ("libotr", "engine"),
    "engine-potr": ("engine", "potr"),
}
# Not (yet) here: otr3 and otrjs.  otr3 keys part of its behaviour to the wall clock (OTR3-002: queries
# ignored for a minute after an AKE step; heartbeats), so Hypothesis cannot replay or shrink a program
# against it; an exploratory engine x otr3 run met OTR3-003 ("[resent] " with the text wiped) and
# OTR3-004 (a panic on an SMP answer with no request) within 40 examples.  otr.js fails one AKE in 16
# (OTRJS-001) and takes 2.5 s per SMP.  Both pairs run here with ``machine_for`` once those are handled.
SECRETS = ("apple", "pear")
INJECTED_ERROR = "?OTR Error: x"
MAX_OUT_PER_INPUT = 3  # plus the texts a side holds under REQUIRE_ENCRYPTION
MAX_SETTLE = 300  # deliveries for the network to go quiet once faults stop
AKE_KINDS = frozenset({"dh_commit", "dh_key", "reveal_signature", "signature"})
RESULTS = frozenset({"success", "failure"})

# Deviations the machines meet and recognise, by (implementation, what was seen): recorded in
# docs/findings/, or "(proposed)": found by these machines, pinned in test_findings.py.
KNOWN: dict[tuple[str, str], str] = {
    # v2: an Error Message while private makes libotr resend its last text, "[resent] "-prefixed.
    ("libotr", "resent"): "LIBOTR-030",
    # Found by these machines: v2, with ERROR_START_AKE, one replayed Data Message during
    # a re-key starts a loop that never ends: each Error Message makes libotr send a Query (which
    # restarts the peer's AKE) and, once its own AKE completes, resend its last text (LIBOTR-030)
    # under keys the peer never gets; the peer answers with an Error Message, and so on.
    ("libotr", "resend_loop"): "LIBOTR-040",
    # potr as SMP responder with a different secret sends an abort instead of SMP message 4.
    ("potr", "smp_responder_aborts"): "POTR-002",
    # potr as SMP initiator answers a failed SMP message 4 with an abort.
    ("potr", "smp_initiator_aborts"): "POTR-003",
}
RESENT_PREFIX = "[resent] "

# Exponents whose g^x has a leading zero byte (a 191-byte minimal MPI), from
# tests/engine/test_determinism_and_leading_zeros.py, which asserts the property.
SHORT_EXPONENTS = (
    bytes.fromhex("9f0c1d283057acf45745e062282fc30ca890dd967db550d5fbaffd30c90b2026c5b1f2b06399bbb3"),
    bytes.fromhex("4679df3d6d304ebfa85b539fa451e7dae22e0e1aaf946e53b1509be4457c35a422256fcaad541027"),
)
VERSION_CHOICES = (
    ((2, 3), (2, 3)),
    ((3,), (3,)),
    ((2,), (2,)),
    ((2, 3), (3,)),
    ((3,), (2, 3)),
    ((2, 3), (2,)),
    ((2,), (2, 3)),
)


class InvariantViolated(AssertionError):
    """A property the machines check failed; ``name`` says which (the invariant's method name)."""

    def __init__(self, name: str, detail: str) -> None:
        super().__init__(f"{name}: {detail}")
        self.name = name


@dataclass
class Coverage:
    examples: int = 0
    steps: int = 0
    seconds: float = 0.0
    states: set[tuple[str, str, str]] = field(default_factory=set)
    transitions: set[tuple[tuple[str, str, str], str, tuple[str, str, str]]] = field(default_factory=set)
    known: Counter[str] = field(default_factory=Counter)
    unsupported: Counter[str] = field(default_factory=Counter)


COVERAGE: dict[str, Coverage] = {}


@dataclass(frozen=True)
class Packet:
    """One message on the network.  Copies (duplicates, replays) keep the ``origin`` of the first."""

    number: int
    origin: int
    sender: str  # the account it claims to come from
    to: str
    wire: str
    note: str = ""
    original: str = ""  # the wire string as its sender sent it
    label: Any = None  # what the reference model knows about it (test_model)

    @property
    def tampered(self) -> bool:
        """Changed on the way (flipping the same bit twice gives the original back)."""
        return self.wire != self.original

    @property
    def kind(self) -> str:
        return peek(self.wire).kind

    def __repr__(self) -> str:
        extra = f" {self.note}" if self.note else ""
        return f"<#{self.number} {self.sender}->{self.to} {self.kind}{extra}>"


@dataclass(frozen=True)
class Sent:
    """What one step put on the network (possibly nothing): one entry of the history bundle.

    A step adds exactly one entry whatever it sent, so that the bundle's size, which
    Hypothesis draws from, does not depend on libotr's random values.
    """

    packets: tuple[Packet, ...]

    def __repr__(self) -> str:
        return f"Sent{list(self.packets)!r}"


def sent(packets: list[Packet] | tuple[Packet, ...] = ()) -> Sent:
    return Sent(tuple(packets))


@dataclass(frozen=True)
class SmpAction:
    op: int  # the machine's operation counter
    kind: str  # start, respond
    secret: str


@dataclass
class Side:
    name: str
    impl: str
    adapter: Adapter
    policy: Policy
    key: str
    sent: list[str] = field(default_factory=list)
    shown: list[tuple[str, int, bool]] = field(default_factory=list)  # (text, origin, tampered)
    smp_actions: list[SmpAction] = field(default_factory=list)
    smp_results: list[tuple[int, str]] = field(default_factory=list)  # (op, result)
    asked: bool = False
    resent: int = 0  # texts libotr sent again (LIBOTR-030)
    held: int = 0
    events: list[Event] = field(default_factory=list)
    status: Status | None = None

    @property
    def encrypted(self) -> bool:
        return self.status is not None and self.status.msgstate == "encrypted"


class _PerSize:
    """Scripted values per request size (16: the AKE key r; 40: a DH exponent), then the seeded stream."""

    def __init__(self, fallback: Any, scripts: dict[int, list[bytes]]) -> None:
        self._fallback = fallback
        self._scripted = {n: ScriptedEntropy(fallback, list(values)) for n, values in scripts.items()}

    def random_bytes(self, n: int) -> bytes:
        source = self._scripted.get(n, self._fallback)
        return source.random_bytes(n)


def engine_view(adapter: EngineAdapter, peer: str, peer_tag: int) -> tuple[str, str, str]:
    """(authstate, msgstate, smpstate) of the engine's session with the peer's instance.

    In v3 that is the instance session (the spec keeps state per instance);
    before the peer's first message reaches it, the master session.
    """
    conv = adapter.engine.conversation(peer)
    session = conv.instances.get(peer_tag, conv.master)
    return (session.ake.state.value, session.msgstate.value, session.smp.state.value)


SIDE = st.sampled_from(SIDES)
INDEX = st.integers(0, 7)
FLAGS = st.fixed_dictionaries(
    {
        "require_encryption": st.booleans(),
        "send_whitespace_tag": st.booleans(),
        "whitespace_start_ake": st.booleans(),
        "error_start_ake": st.booleans(),
    }
)
# Forced random values of an engine side: AKE keys r with a leading zero byte, and whether its first
# DH exponent is the one (of its own: two equal exponents would make both ends "high") with a short g^x.
FORCED = st.fixed_dictionaries(
    {
        "r": st.lists(st.binary(min_size=15, max_size=15).map(lambda b: b"\0" + b), max_size=2),
        "short_gx": st.booleans(),
    }
)


class OtrMachine(RuleBasedStateMachine):
    """The rules, invariants and progress check; :func:`machine_for` binds it to a pair."""

    impls: ClassVar[tuple[str, str]] = ("engine", "engine")
    workers: ClassVar[Any] = None
    coverage_key: ClassVar[str] = "engine-engine"

    history = Bundle("history")

    def __init__(self) -> None:
        super().__init__()
        self.sides: dict[str, Side] = {}
        self.in_flight: list[Packet] = []
        self.numbers = 0
        self.ops = 0
        self.ready = False
        self.final: dict[str, Any] = {}
        self.leaks: list[str] = []
        self.storms: list[str] = []
        self.tamper_effects: list[str] = []
        self.crashes: list[str] = []
        self.met: set[tuple[str, object]] = set()
        self.coverage = COVERAGE.setdefault(self.coverage_key, Coverage())

    # ---------------------------------------------------------------- setup

    @initialize(
        target=history,
        versions=st.sampled_from(VERSION_CHOICES),
        flags=st.tuples(FLAGS, FLAGS),
        keys=st.tuples(
            st.sampled_from(["alice", "leading-zero-fp"]), st.sampled_from(["bob", "leading-zero-y"])
        ),
        seeds=st.tuples(st.binary(min_size=2, max_size=2), st.binary(min_size=2, max_size=2)),
        bias=st.sampled_from([(None, None), ("high", "low"), ("low", "high")]),
        forced=st.tuples(FORCED, FORCED),
        final=st.fixed_dictionaries(
            {"smp": st.booleans(), "secrets": st.tuples(*[st.sampled_from(SECRETS)] * 2)}
        ),
    )
    def setup(
        self,
        versions: tuple[tuple[int, ...], tuple[int, ...]],
        flags: tuple[dict[str, bool], dict[str, bool]],
        keys: tuple[str, str],
        seeds: tuple[bytes, bytes],
        bias: tuple[str | None, str | None],
        forced: tuple[dict[str, Any], dict[str, Any]],
        final: dict[str, Any],
    ) -> Any:
        allowed = [set(v) for v in versions]
        if "potr" in self.impls:  # potr speaks v2 only: both sides must offer it
            allowed = [
                a | {2} if impl != "potr" else {2} for a, impl in zip(allowed, self.impls, strict=True)
            ]
        for i, name in enumerate(SIDES):
            impl = self.impls[i]
            policy = Policy(allow_v2=2 in allowed[i], allow_v3=3 in allowed[i], **flags[i])
            extra = {"x-commit-hash": bias[i]} if impl == "engine" and bias[i] else {}
            seed = f"otrcheck/{name}/".encode() + seeds[i]  # never the same stream on both sides
            config = InitConfig(name, "otrcheck", key(keys[i]), TAGS[name], policy, 0, seed, extra)
            adapter = self._adapter(i, impl)
            adapter.init(config)
            if isinstance(adapter, EngineAdapter) and (forced[i]["r"] or forced[i]["short_gx"]):
                ctx = adapter.engine.ctx
                x = [SHORT_EXPONENTS[i]] if forced[i]["short_gx"] else []
                ctx.entropy = _PerSize(ctx.entropy, {16: forced[i]["r"], 40: x})
            self.sides[name] = Side(name, impl, adapter, policy, keys[i])
        self.final = final
        self.ready = True
        self.coverage.examples += 1
        self._refresh()
        self.after_setup()
        # The history starts with a plaintext alice sent before this run; so it is never empty
        # (what the rules put in it depends on libotr's random values).
        self.sides[ALICE].sent.append("alice says hello.")
        self.numbers += 1
        hello = "alice says hello."
        return sent([Packet(self.numbers, self.numbers, ALICE, BOB, hello, note="old", original=hello)])

    def _adapter(self, index: int, impl: str) -> Adapter:
        if impls.get(impl).isolated:
            assert self.workers is not None, f"{impl} sides need the worker pool"
            worker: Adapter = self.workers.get(index, impl)
            return worker
        return impls.get(impl).make(isolated=False)

    # -------------------------------------------------------------- helpers

    @staticmethod
    def other(name: str) -> str:
        return BOB if name == ALICE else ALICE

    def known(self, impl: str, what: str, instance: object = None) -> str | None:
        """The recorded finding behind ``what`` seen in ``impl``, if any (counted once per example)."""
        finding = KNOWN.get((impl, what))
        if finding and (finding, instance) not in self.met:
            self.met.add((finding, instance))
            self.coverage.known[finding] += 1
        return finding

    def observe(self, name: str) -> tuple[str, str, str]:
        side = self.sides[name]
        if isinstance(side.adapter, EngineAdapter):
            return engine_view(side.adapter, self.other(name), TAGS[self.other(name)])
        status = side.adapter.status(self.other(name))
        return (str(status.extra.get("x-authstate", "?")), status.msgstate, status.smp)

    def _refresh(self) -> None:
        for name, side in self.sides.items():
            side.status = side.adapter.status(self.other(name))

    def _post(self, sender: str, wire: str, *, origin: int | None = None, **kw: Any) -> Packet:
        self.numbers += 1
        kw.setdefault("original", wire)
        packet = Packet(self.numbers, origin or self.numbers, sender, self.other(sender), wire, **kw)
        self.in_flight.append(packet)
        return packet

    # Hooks for the model-based test: called after setup and around every operation on a side.
    def after_setup(self) -> None:
        pass

    def before_input(self, name: str, op: str, args: tuple[Any, ...], packet: Packet | None) -> None:
        pass

    def after_input(
        self,
        name: str,
        op: str,
        args: tuple[Any, ...],
        packet: Packet | None,
        result: Result,
        sent: list[Packet],
    ) -> list[Packet]:
        return sent

    def _act(self, name: str, op: str, *args: Any) -> list[Packet]:
        """Side ``name`` performs a user action; what it sends goes on the network."""
        side = self.sides[name]
        before = self.observe(name)
        self.before_input(name, op, args, None)
        self.ops += 1
        try:
            result: Result = getattr(side.adapter, op)(self.other(name), *args)
        except Unsupported:
            # The implementation declares it cannot do this (e.g. otr3 has no SMP abort): nothing happens.
            self.coverage.unsupported[f"{side.impl} {op}"] += 1
            self._transition(name, before, op)
            return []
        sent = self._absorb(name, result, None)
        sent = self.after_input(name, op, args, None, result, sent)
        self._transition(name, before, op)
        return sent

    def _deliver(self, packet: Packet) -> list[Packet]:
        name = packet.to
        side = self.sides[name]
        before = self.observe(name)
        self.before_input(name, "receive", (), packet)
        self.ops += 1
        result = side.adapter.receive(packet.sender, packet.wire)
        sent = self._absorb(name, result, packet)
        sent = self.after_input(name, "receive", (), packet, result, sent)
        self._transition(name, before, "recv_" + packet.kind)
        return sent

    def _transition(self, name: str, before: tuple[str, str, str], what: str) -> None:
        side = self.sides[name]
        side.status = side.adapter.status(self.other(name))  # what the next input finds
        after = self.observe(name)
        self.coverage.states.update((before, after))
        self.coverage.transitions.add((before, what, after))

    def _absorb(self, name: str, result: Result, delivered: Packet | None) -> list[Packet]:
        """Record what ``name`` reported and put what it sent on the network."""
        side = self.sides[name]
        side.events.extend(result.events)
        for event in result.events:
            if isinstance(event, MessageReceived) and event.encrypted:
                origin = delivered.origin if delivered else -1
                side.shown.append((event.text, origin, bool(delivered and delivered.tampered)))
            elif isinstance(event, SmpUpdated):
                side.smp_results.append((self.ops, event.result))
                side.asked = event.result == "ask" or (side.asked and event.result == "in_progress")
            elif isinstance(event, SessionSecured):
                # A new AKE while ENCRYPTED keeps the SMP state, so a question stays answerable; judged
                # by the status before this input (libotr reports a refreshed session as a new one).
                if side.status is None or side.status.msgstate != "encrypted":
                    side.asked = False
            elif isinstance(event, SessionFinished | SessionInsecure):
                side.asked = False  # leaving ENCRYPTED abandons the SMP
            elif isinstance(event, ErrorRaised):
                if event.code == "held":
                    side.held += 1
                if event.code == "x-resent" and self.known(side.impl, "resent"):
                    side.resent += 1
                elif event.code not in ERROR_CODES:
                    self.crashes.append(f"{name} ({side.impl}): {event.code} {event.detail}")
            if delivered is not None and delivered.tampered and _authenticated_effect(event):
                self.tamper_effects.append(f"{name} ({side.impl}) got {event!r} from tampered {delivered!r}")
        if len(result.out) > MAX_OUT_PER_INPUT + side.held:
            self.storms.append(f"{name} ({side.impl}) sent {len(result.out)} messages for one input")
        if side.policy.require_encryption:
            for out in result.out:
                leaked = [t for t in side.sent if t in out.wire]
                if leaked:
                    self.leaks.append(f"{name} ({side.impl}) sent {leaked} in the clear: {out.wire[:120]!r}")
        return [self._post(name, out.wire) for out in result.out]

    def settle(self, why: str) -> list[Packet]:
        """Deliver everything in flight, in order, until the network is quiet; what was sent meanwhile.

        A network that does not go quiet is a message storm, unless it is the recorded one.
        """
        out: list[Packet] = []
        resent = {name: side.resent for name, side in self.sides.items()}
        for _ in range(MAX_SETTLE):
            if not self.in_flight:
                return out
            out.extend(self._deliver(self.in_flight.pop(0)))
        looping = [
            n for n, side in self.sides.items() if side.impl == "libotr" and side.resent - resent[n] >= 3
        ]
        if looping and self.known("libotr", "resend_loop"):
            self.in_flight.clear()  # the users give up; what follows must still recover
            return out
        raise InvariantViolated(
            "bounded_messages_per_input", f"{why}: no quiet after {MAX_SETTLE} deliveries"
        )

    # ---------------------------------------------------------- user rules

    @rule(target=history, side=SIDE)
    def send_text(self, side: str) -> Any:
        text = f"{side} says #{self.ops}."
        self.sides[side].sent.append(text)
        return sent(self._act(side, "send", text))

    @rule(target=history, side=SIDE)
    def send_whitespace_tagged_text(self, side: str) -> Any:
        """What a client with SEND_WHITESPACE_TAG sends for a user's text while in plaintext."""
        me = self.sides[side]
        if me.policy.require_encryption or me.status is None or me.status.msgstate != "plaintext":
            return sent()
        text = f"{side} tags #{self.ops}."
        me.sent.append(text)
        self.ops += 1
        return sent([self._post(side, text + tag_for(me.policy.allowed_versions()))])

    @rule(target=history, side=SIDE)
    def query(self, side: str) -> Any:
        return sent(self._act(side, "query"))

    @rule(target=history, side=SIDE)
    def rekey(self, side: str) -> Any:
        """A new AKE while private: the user asks to start OTR again (nothing when not private)."""
        if not self.sides[side].encrypted:
            return sent()
        return sent(self._act(side, "query"))

    @rule(target=history, side=SIDE)
    def end(self, side: str) -> Any:
        return sent(self._act(side, "end"))

    @rule(
        target=history, side=SIDE, secret=st.sampled_from(SECRETS), question=st.sampled_from([None, "fruit?"])
    )
    def smp_start(self, side: str, secret: str, question: str | None) -> Any:
        me = self.sides[side]
        out = self._act(side, "smp_start", secret, question)
        me.smp_actions.append(SmpAction(self.ops, "start", secret))
        me.asked = False
        return sent(out)

    @rule(target=history, side=SIDE, secret=st.sampled_from(SECRETS))
    def smp_respond(self, side: str, secret: str) -> Any:
        """Answer a pending SMP question (with none pending the implementation must refuse)."""
        me = self.sides[side]
        asked, me.asked = me.asked, False
        out = self._act(side, "smp_respond", secret)
        if asked:
            me.smp_actions.append(SmpAction(self.ops, "respond", secret))
        return sent(out)

    @rule(target=history, side=SIDE)
    def smp_abort(self, side: str) -> Any:
        self.sides[side].asked = False
        return sent(self._act(side, "smp_abort"))

    # ------------------------------------------------------- network rules

    # The network rules do nothing on an empty network rather than being disabled: what is in
    # flight depends on libotr's random values, and Hypothesis must draw the same rules each run.

    @rule(target=history)
    def deliver_next(self) -> Any:
        if not self.in_flight:
            return sent()
        return sent(self._deliver(self.in_flight.pop(0)))

    @rule(target=history, index=INDEX)
    def deliver_chosen(self, index: int) -> Any:
        if not self.in_flight:
            return sent()
        return sent(self._deliver(self.in_flight.pop(index % len(self.in_flight))))

    @rule(target=history)
    def flush(self) -> Any:
        return sent(self.settle("flush"))

    @rule(index=INDEX)
    def drop(self, index: int) -> None:
        if self.in_flight:
            self.in_flight.pop(index % len(self.in_flight))

    @rule(index=INDEX)
    def duplicate(self, index: int) -> None:
        if not self.in_flight:
            return
        at = index % len(self.in_flight)
        packet = self.in_flight[at]
        self.numbers += 1
        self.in_flight.insert(
            at + 1, replace(packet, number=self.numbers, note=(packet.note + " dup").strip())
        )

    @rule(index=INDEX, bit=st.integers(0, 1 << 16))
    def tamper(self, index: int, bit: int) -> None:
        """Flip one bit of an encoded message, inside the part an attacker cannot change undetected."""
        encoded = [p for p in self.in_flight if peek(p.wire).encoded]
        if not encoded:
            return
        packet = encoded[index % len(encoded)]
        info: Peek = peek(packet.wire)
        bit %= 8 * info.auth_bytes
        note = (packet.note + f" bit {bit} flipped").strip()
        changed = replace(packet, wire=flip_encoded_bit(packet.wire, bit), note=note)
        self.in_flight[self.in_flight.index(packet)] = changed

    @rule(earlier=history, which=INDEX, reflect=st.booleans())
    def inject_old(self, earlier: Sent, which: int, reflect: bool) -> None:
        """Replay a message sent earlier (possibly dropped since); ``reflect`` sends it back to its sender."""
        if not earlier.packets:
            return
        packet = earlier.packets[which % len(earlier.packets)]
        sender = packet.to if reflect else packet.sender
        note = "reflected" if reflect else "replayed"
        self._post(sender, packet.wire, origin=packet.origin, note=note, label=packet.label)

    @rule(to=SIDE)
    def inject_error(self, to: str) -> None:
        self._post(self.other(to), INJECTED_ERROR, note="injected")

    # ----------------------------------------------------------- invariants

    @invariant()
    def encrypted_sides_know_each_other(self) -> None:
        """Encrypted ⇒ the other's true fingerprint; both encrypted and no AKE under way ⇒ one session.

        Also refreshes the statuses the rules read (every invariant runs after every step).
        """
        if not self.ready:
            return
        self._refresh()
        self.coverage.steps += 1
        statuses = {n: s.status for n, s in self.sides.items()}
        for name, st_ in statuses.items():
            assert st_ is not None
            side, peer = self.sides[name], self.sides[self.other(name)]
            if st_.fingerprint != fingerprint(side.key):
                raise InvariantViolated(
                    "encrypted_sides_know_each_other", f"{name} reports fingerprint {st_}"
                )
            true = fingerprint(peer.key)
            if st_.msgstate == "encrypted" and st_.peer_fingerprint != true:
                raise InvariantViolated(
                    "encrypted_sides_know_each_other",
                    f"{name} ({side.impl}) is encrypted with {st_.peer_fingerprint}, not {true}",
                )
        a, b = statuses[ALICE], statuses[BOB]
        assert a is not None and b is not None
        both = a.msgstate == b.msgstate == "encrypted"
        if both and self._quiet() and (a.ssid != b.ssid or a.version != b.version):
            raise InvariantViolated(
                "encrypted_sides_know_each_other",
                f"both encrypted, no AKE under way, but alice has ssid {a.ssid} v{a.version}, "
                f"bob {b.ssid} v{b.version}",
            )

    def _quiet(self) -> bool:
        if any(p.kind in AKE_KINDS for p in self.in_flight):
            return False
        return all(
            s.status is not None and s.status.extra.get("x-authstate") == "none" for s in self.sides.values()
        )

    @invariant()
    def no_user_text_in_the_clear_under_require_encryption(self) -> None:
        if self.leaks:
            raise InvariantViolated("no_user_text_in_the_clear_under_require_encryption", self.leaks[0])

    @invariant()
    def shown_texts_were_sent_once_in_order_untampered(self) -> None:
        """Every text shown as encrypted: sent by the other side, shown once, never from a tampered message,
        and in the order typed unless the network delivered its messages out of order."""
        name = "shown_texts_were_sent_once_in_order_untampered"
        for receiver in self.sides.values():
            sender = self.sides[self.other(receiver.name)]
            seen: set[str] = set()
            by_origin: list[tuple[int, int]] = []
            for text, origin, tampered in receiver.shown:
                plain = text
                resent = False
                if plain not in sender.sent and plain.startswith(RESENT_PREFIX):
                    # libotr resends its last message, a resent one or an empty one included.
                    again = plain
                    while again.startswith(RESENT_PREFIX):
                        again = again[len(RESENT_PREFIX) :]
                    if (again in sender.sent or not again) and self.known(sender.impl, "resent"):
                        plain, resent = again, True
                if plain not in sender.sent and not resent:
                    raise InvariantViolated(
                        name, f"{receiver.name} shows {text!r}, which {sender.name} never sent"
                    )
                if tampered:
                    raise InvariantViolated(name, f"{receiver.name} shows {text!r} from a tampered message")
                if plain in seen and not resent:
                    raise InvariantViolated(name, f"{receiver.name} shows {text!r} twice")
                seen.add(plain)
                if not resent:
                    by_origin.append((origin, sender.sent.index(plain)))
            order = [index for _, index in sorted(by_origin)]
            if order != sorted(order):
                raise InvariantViolated(
                    name, f"{receiver.name} shows texts out of the order typed: {receiver.shown!r}"
                )

    @invariant()
    def tampered_messages_have_no_authenticated_effect(self) -> None:
        if self.tamper_effects:
            raise InvariantViolated("tampered_messages_have_no_authenticated_effect", self.tamper_effects[0])

    @invariant()
    def smp_succeeds_only_with_equal_secrets(self) -> None:
        for name, side in self.sides.items():
            for op, result in side.smp_results:
                if result == "success" and not self._success_justified(name, op):
                    raise InvariantViolated(
                        "smp_succeeds_only_with_equal_secrets",
                        f"{name} ({side.impl}) reports success; its SMP inputs {side.smp_actions}, "
                        f"{self.other(name)}'s {self.sides[self.other(name)].smp_actions}",
                    )

    def _success_justified(self, name: str, op: int) -> bool:
        mine = [a for a in self.sides[name].smp_actions if a.op < op]
        theirs = self.sides[self.other(name)].smp_actions
        if not mine:
            return False
        last = mine[-1]
        if last.kind == "start":
            return any(
                a.kind == "respond" and a.secret == last.secret and last.op < a.op < op for a in theirs
            )
        return any(a.kind == "start" and a.secret == last.secret and a.op < last.op for a in theirs)

    @invariant()
    def no_exception_or_crash(self) -> None:
        if self.crashes:
            raise InvariantViolated("no_exception_or_crash", self.crashes[0])

    @invariant()
    def bounded_messages_per_input(self) -> None:
        if self.storms:
            raise InvariantViolated("bounded_messages_per_input", self.storms[0])

    def check_invariants_now(self) -> None:
        self._refresh()
        self.encrypted_sides_know_each_other()
        self.no_user_text_in_the_clear_under_require_encryption()
        self.shown_texts_were_sent_once_in_order_untampered()
        self.tampered_messages_have_no_authenticated_effect()
        self.smp_succeeds_only_with_equal_secrets()
        self.no_exception_or_crash()
        self.bounded_messages_per_input()

    # ------------------------------------------------------------ progress

    def teardown(self) -> None:
        """Progress: faults stop, delivery is in order; a query leads to an encrypted session."""
        if not self.ready or sys.exc_info()[0] is not None:
            return
        self.settle("faults stopped")
        self._act(ALICE, "query")
        self.settle("alice queried")
        self._refresh()
        a, b = self.sides[ALICE].status, self.sides[BOB].status
        assert a is not None and b is not None
        if not (a.msgstate == b.msgstate == "encrypted" and a.ssid == b.ssid):
            raise InvariantViolated("progress", f"after a query on a quiet network: alice {a}, bob {b}")
        self.check_invariants_now()
        for name in SIDES:
            peer = self.sides[self.other(name)]
            before = len(peer.shown)
            self.send_text(name)
            self.settle(f"{name} sent a text")
            if [t for t, _, _ in peer.shown[before:]] != [self.sides[name].sent[-1]]:
                raise InvariantViolated(
                    "progress", f"{self.other(name)} shows {peer.shown[before:]!r} after {name}'s text"
                )
        if self.final.get("smp"):
            self._final_smp(*self.final["secrets"])
        self.check_invariants_now()

    def _final_smp(self, secret_a: str, secret_b: str, retry: bool = True) -> None:
        """A fresh SMP on a quiet network ends in a definite result on both sides."""
        alice, bob = self.sides[ALICE], self.sides[BOB]
        marks = {n: len(s.smp_results) for n, s in self.sides.items()}
        self.smp_start(ALICE, secret_a, None)
        self.settle("alice started SMP")
        if not bob.asked:
            results = {n: [r for _, r in s.smp_results[marks[n] :]] for n, s in self.sides.items()}
            if retry and {"abort", "error"} & {r for rs in results.values() for r in rs}:
                # SMP state left from before (kept across a new AKE, as the spec asks) made bob refuse
                # alice's message 1 with an abort; both are back in EXPECT1 and the user tries again.
                self._final_smp(secret_a, secret_b, retry=False)
                return
            raise InvariantViolated("smp_ends_in_a_definite_result", f"bob was not asked: {results}")
        self.smp_respond(BOB, secret_b)
        self.settle("bob answered SMP")
        want = "success" if secret_a == secret_b else "failure"
        for side in (alice, bob):
            results = [r for _, r in side.smp_results[marks[side.name] :]]
            definite = [r for r in results if r in RESULTS]
            if definite[-1:] == [want]:
                continue
            other = self.sides[self.other(side.name)]
            if want == "failure" and results[-1:] == ["abort"] and other.impl == "potr" and not definite:
                finding = self.known(
                    "potr", "smp_responder_aborts" if side is alice else "smp_initiator_aborts"
                )
                if finding:
                    continue
            raise InvariantViolated(
                "smp_ends_in_a_definite_result",
                f"secrets {secret_a!r}/{secret_b!r}: {side.name} ({side.impl}) reported {results}",
            )


def _authenticated_effect(event: Event) -> bool:
    """An effect only a verified AKE or Data Message may have."""
    if isinstance(event, MessageReceived):
        return event.encrypted
    return isinstance(event, SessionSecured | SmpUpdated | SessionFinished | SymkeyReceived)


def machine_for(
    pair: str, workers: Any = None, base: type[OtrMachine] = OtrMachine, key: str | None = None
) -> type[OtrMachine]:
    """The machine class of ``pair`` (``alice-bob`` implementation names, see :data:`PAIRS`).

    ``key`` names the run in the coverage summary (default: the pair, prefixed by ``base``'s name).
    """
    a, b = PAIRS[pair]
    name = f"{base.__name__}_{a}_{b}"
    if key is None:
        key = pair if base is OtrMachine else f"{base.__name__} {pair}"
    attrs = {"impls": (a, b), "workers": workers, "coverage_key": key}
    machine: type[OtrMachine] = type(name, (base,), attrs)
    return machine


def unavailable(pair: str) -> str | None:
    """Why ``pair`` cannot run here, or None."""
    for impl in set(PAIRS[pair]):
        found = impls.get(impl)
        if not found.available:
            return f"{impl}: {found.unavailable}"
    return None


def timed(key: str, seconds: float) -> None:
    COVERAGE.setdefault(key, Coverage()).seconds += seconds


def run_timed(key: str, run: Any) -> None:
    start = time.perf_counter()
    try:
        run()
    finally:
        timed(key, time.perf_counter() - start)
