"""The fuzz targets: plain functions of one input (``bytes``), each checking one invariant.

A target returns when its invariant holds for the input.  It raises
:class:`Broken` when a check fails, and lets anything the implementation
raises escape: that is the crash the fuzzer reports and triage files.
Each target's docstring starts with its invariant; ``fuzz_<name>.py`` wraps
it for atheris, ``tests/fuzz`` replays its corpus through it.

Inputs: text targets read the bytes as UTF-8 (undecodable bytes become
U+FFFD); targets with a state or an entry to choose use the first byte as
the selector (``data[0] % count``) and the rest as the input, so the
fuzzer explores states and input together.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Sequence
from typing import TypeVar

from implementations.api import ERROR_CODES, SMP_RESULTS, ErrorRaised, MessageReceived, Result, SmpUpdated
from implementations.engine import SMP_TRANSITIONS, _wire
from implementations.engine import parsers as engine_parsers
from implementations.engine._fragments import MAX_REASSEMBLED_CHARS, Fragment, Reassembler, parse_fragment
from implementations.engine._smp import _RECV_INPUTS
from implementations.engine._tlv import Tlv, TlvType, decode_plaintext, encode_plaintext
from vectors.kinds import _otrbin
from vectors.kinds import fragment as fragment_vectors
from vectors.kinds import tlv as tlv_vectors

from . import divergences, drivers, states

_T = TypeVar("_T")


class Broken(AssertionError):
    """An invariant of a target does not hold; the message says which, in wire terms."""


def check(condition: object, rule: str, detail: str = "") -> None:
    """Raise :class:`Broken` saying ``rule: detail`` unless ``condition``; the rule (no colon in it)
    names the kind of failure, and is what triage deduplicates by (fuzz/crashes.py)."""
    if not condition:
        raise Broken(f"{rule}: {detail}" if detail else rule)


def text(data: bytes) -> str:
    return data.decode("utf-8", "replace")


def pick(options: Sequence[_T], data: bytes) -> tuple[_T, bytes]:
    """The option the first byte selects, and the rest of the input."""
    return options[data[0] % len(options)], data[1:]


# ------------------------------------------------------------------ engine


def engine_wire(data: bytes) -> None:
    """Invariant: the wire parser never raises, round-trips what it accepts, and agrees with the spec reader.

    Every encoded message or fragment it accepts re-encodes to an equal one; it accepts an encoded
    message exactly when the spec reader (vectors/kinds/_otrbin.py) does, as the same type.
    """
    wire = text(data)
    message = _wire.parse(wire)
    if isinstance(message, _wire.EncodedMessage):
        again = _wire.parse(_wire.encode(message))
        check(again == message, "re-encoding changes an encoded message", f"{message!r} -> {again!r}")
    elif isinstance(message, _wire.FragmentMarker):
        fragment = parse_fragment(wire)
        if isinstance(fragment, Fragment):
            again_fragment = parse_fragment(fragment.encode())
            check(again_fragment == fragment, "re-encoding changes a fragment", f"{again_fragment!r}")
    if isinstance(message, _wire.EncodedMessage | _wire.Malformed) and "?OTR:" in wire:
        encoded = wire[wire.find("?OTR") :]
        if encoded.startswith("?OTR:"):
            reference = _otrbin.decode(encoded)
            ours = "malformed" if isinstance(message, _wire.Malformed) else message.header.type.name.lower()
            spec = "malformed" if reference.reason else reference.message_type
            check(
                ours.replace("_", "") == str(spec).replace("_", ""),
                "the spec reader reads an encoded message otherwise",
                f"the engine reads {ours}, the spec reader {spec} ({reference.reason}: {reference.detail})",
            )


FRAGMENT_CAPS = (MAX_REASSEMBLED_CHARS, 1, 8, 64, 1024)


def engine_fragments(data: bytes) -> None:
    """Invariant: reassembly completes what the spec's steps complete, and never holds more than its cap.

    The input is a sequence of received strings, one per line, after a byte choosing the cap; the
    reference is vectors/kinds/fragment.py spec_reassemble; a Reassembler fed every fragment in turn
    never stores more characters than its cap, nor K > N.
    """
    cap, rest = pick(FRAGMENT_CAPS, data) if data else (MAX_REASSEMBLED_CHARS, b"")
    wires = text(rest).split("\n")
    ours = engine_parsers.reassemble(wires, cap)
    spec = fragment_vectors.spec_reassemble(wires, cap)
    check(
        ours == spec,
        "reassembly differs from the spec's steps",
        f"engine {_short(ours)}, spec {_short(spec)}",
    )
    reassembler = Reassembler(cap)
    for wire in wires:
        fragment = parse_fragment(wire)
        if isinstance(fragment, Fragment):
            reassembler.feed(fragment)
            k, n, stored = reassembler.pending
            check(
                stored <= cap and k <= n,
                "the reassembler passes its cap",
                f"K={k} N={n} {stored} chars, cap {cap}",
            )


def engine_tlv(data: bytes) -> None:
    """Invariant: the TLV reader never raises, reads what the spec reader reads, and round-trips.

    decode_plaintext gives the records and the damage of vectors/kinds/tlv.py records, and
    re-encoding undamaged records gives back the input.
    """
    body = decode_plaintext(data)
    human, nul, rest = data.partition(b"\0")
    check(body.text == human, "the human part is not the text before the NUL")
    reference, damage = tlv_vectors.records(rest)
    ours = [{"type": t.type, "value": t.value.hex()} for t in body.tlvs]
    check(ours == reference, "the spec reader reads other TLVs", f"{_short(ours)} vs {_short(reference)}")
    check((body.damage is None) == (damage is None), "the spec reader sees other damage", f"{body.damage!r}")
    if nul and body.tlvs and body.damage is None:
        check(encode_plaintext(body.text, body.tlvs) == data, "TLVs re-encode to other bytes")


SMP_TLV_TYPES = (TlvType.SMP1, TlvType.SMP2, TlvType.SMP3, TlvType.SMP4, TlvType.SMP_ABORT, TlvType.SMP1Q)
_NEXT_TLV = {TlvType.SMP1: TlvType.SMP2, TlvType.SMP1Q: TlvType.SMP2, TlvType.SMP2: TlvType.SMP3}
_NEXT_TLV[TlvType.SMP3] = TlvType.SMP4


def engine_smp(data: bytes) -> None:
    """Invariant: in every SMP state, any SMP TLV is handled as SMP_TRANSITIONS says, without raising.

    The first byte chooses the state (EXPECT1 fresh or with a message 1 pending, EXPECT2..4), the
    second the TLV type; the machine ends in a state its row allows, answers with nothing, an abort
    or the next SMP message, and reports only SMP_RESULTS.
    """
    if len(data) < 2:
        return
    snapshot, rest = pick(states.smp_machines(), data)
    ttype, value = pick(SMP_TLV_TYPES, rest)
    machine = copy.deepcopy(snapshot.machine)
    before = machine.state
    outcome = machine.receive(Tlv(ttype, value[:0xFFFF]))
    row = SMP_TRANSITIONS[(before, _RECV_INPUTS[ttype])]
    check(
        machine.state in row.next_states, "an SMP TLV moves the machine off its table", f"{before} + {ttype}"
    )
    allowed = {TlvType.SMP_ABORT, _NEXT_TLV.get(ttype)}
    sent = [t.type for t in outcome.tlvs]
    check(
        all(t in allowed for t in sent),
        "an SMP TLV gets an answer out of turn",
        f"{before} + {ttype}: {sent}",
    )
    results = [result for result, _ in outcome.results]
    check(all(r in SMP_RESULTS for r in results), "an undocumented SMP result", f"{results}")


def engine_receive(data: bytes) -> None:
    """Invariant: in every state, receive never raises, reports documented codes, and a session survives.

    The first byte chooses the state (fuzz/states.py: each authstate, a private session, or a
    private session whose peer encrypts the input as a Data Message body); only documented error
    codes and well-formed messages come out, and in a private session the peer's next message
    still decrypts after any one received string.
    """
    if not data:
        return
    state, rest = pick(states.engine_states(), data)
    alice, bob = state.fresh()
    wire = states.seal(bob, rest) if state.sealed else text(rest)
    keys = _key_ids(alice)
    well_behaved(alice.receive(states.BOB, wire))
    # A genuine message of bob's (the corpus holds some: same seeds, same keys) moves the keys on.
    if state.encrypted and not state.sealed and _key_ids(alice) == keys:
        events = alice.receive(states.BOB, states.seal(bob, b"ping")).events
        shown = [e for e in events if isinstance(e, MessageReceived) and e.encrypted]
        check(
            [e.text for e in shown] == ["ping"],
            "a received string breaks the session",
            f"{wire[:40]!r}: {events}",
        )


def _key_ids(alice: object) -> tuple[int, int] | None:
    session = alice.engine.conversation(states.BOB).current()  # type: ignore[attr-defined]
    return None if session.keys is None else (session.keys.our_keyid, session.keys.their_keyid)


def well_behaved(result: Result) -> None:
    """Events with documented codes and results; every message sent parses as what it is."""
    for event in result.events:
        if isinstance(event, ErrorRaised):
            check(event.code in ERROR_CODES, "an undocumented error code", repr(event.code))
        if isinstance(event, SmpUpdated):
            check(event.result in SMP_RESULTS, "an undocumented SMP result", repr(event.result))
    for out in result.out:
        message = _wire.parse(out.wire)
        check(not isinstance(message, _wire.Malformed), "a malformed message sent", repr(out.wire[:60]))
        if isinstance(message, _wire.FragmentMarker):
            fragment = parse_fragment(out.wire)
            check(isinstance(fragment, Fragment), "a malformed fragment sent", repr(out.wire[:60]))


# -------------------------------------------------------------------- potr


def potr_parse(data: bytes) -> None:
    """Invariant: python-potr's Context.parse classifies any string without raising."""
    import potr.context

    drivers.quiet_potr()
    context = potr.context.Context(potr.context.Account("fuzz", "fuzz", 0), "fuzz")
    context.parse(text(data).encode("utf-8"))


def potr_receive(data: bytes) -> None:
    """Invariant: in every state, python-potr's receiveMessage raises only the exceptions it documents.

    The states are the engine target's, v2 only; the documented exceptions are the five its
    clients catch (NotOTRMessage, UnencryptedMessage, ErrorReceived, NotEncryptedError,
    InvalidParameterError).
    """
    import potr.context
    import potr.crypt

    from implementations.potr import compat

    if not data:
        return
    state, rest = pick(drivers.potr_states(), data)
    alice, bob = state.fresh()
    wire = states.seal(bob, rest) if state.sealed else text(rest)
    context = alice.account.getContext(states.BOB)  # type: ignore[attr-defined]
    documented = (
        potr.context.NotOTRMessage,
        potr.context.UnencryptedMessage,
        potr.context.ErrorReceived,
        potr.context.NotEncryptedError,
        potr.crypt.InvalidParameterError,
    )
    with compat.active(alice._deps), contextlib.suppress(*documented):  # type: ignore[attr-defined]
        context.receiveMessage(wire.encode("utf-8"))


# ------------------------------------------------------------------ libotr


LIBOTR_ENTRIES = ("message_type", "message_version", "base64", "tlv", "query_version", "whitespace_version")


def libotr_parse(data: bytes) -> None:
    """Invariant: libotr's parsers return for any input, without a crash or a memory error.

    The first byte chooses the entry: message type, version, base64, TLVs, query or whitespace version.
    """
    if not data:
        return
    entry, rest = pick(LIBOTR_ENTRIES, data)
    drivers.x_parse("libotr", entry, rest.hex() if entry == "tlv" else drivers.cstring(text(rest)))


def libotr_receive(data: bytes) -> None:
    """Invariant: otrl_message_receiving returns in every state, without a crash or a memory error.

    The states are the engine target's; a private session is kept between inputs (libotr's state
    cannot be copied) and rebuilt when it ends.  The adapter reports only documented codes.
    """
    if not data:
        return
    state, rest = pick(states.engine_states(), data)
    alice, bob = drivers.libotr_alice().at(state)
    if state.sealed:
        assert bob is not None
        wire = states.seal(bob, rest)
    else:
        wire = drivers.cstring(text(rest))
    result = alice.receive(states.BOB, wire)
    for event in result.events:
        if isinstance(event, ErrorRaised):
            check(
                event.code in ERROR_CODES or event.code.startswith("x-"),
                "an undocumented error code",
                event.code,
            )


# ------------------------------------------------------------ differential


DIFFERENTIAL_ENTRIES = LIBOTR_ENTRIES


def differential(data: bytes) -> None:
    """Invariant: engine, libotr and potr parse alike, except where a documented divergence explains it.

    The first byte chooses the x-parse entry; the documented divergences are fuzz/divergences.py's
    rules, each citing a finding of vectors/divergences or an equivalence of the parse vectors.
    """
    if not data:
        return
    entry, rest = pick(DIFFERENTIAL_ENTRIES, data)
    given = rest.hex() if entry == "tlv" else drivers.cstring(text(rest))
    reference = drivers.x_parse("engine", entry, given)
    for implementation in ("libotr", "potr"):
        try:
            answer = drivers.x_parse(implementation, entry, given)
        except drivers.Unsupported:
            continue
        if answer != reference:
            explained = divergences.explain(implementation, entry, given, reference, answer)
            check(
                explained is not None,
                f"{implementation} {entry} of {_kind(entry, given)} input answered {_shape(answer)}",
                f"{given[:60]!r}: {_short(answer)}, the engine {_short(reference)}",
            )


def _kind(entry: str, given: str) -> str:
    return "TLV" if entry == "tlv" else engine_parsers.message_type(given)


def _shape(answer: object) -> str:
    """An answer reduced to its kind, for deduplication: a classification, a number, or its keys."""
    if isinstance(answer, str | int):
        return str(answer)
    if isinstance(answer, dict):
        return "+".join(sorted(answer)) if "x-crash" not in answer else "a crash"
    return f"{type(answer).__name__}"


def _short(value: object, limit: int = 160) -> str:
    shown = repr(value)
    return shown if len(shown) <= limit else shown[: limit - 3] + "..."
