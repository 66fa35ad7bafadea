"""python-potr 1.0.2's deviations, pinned as observed (docs/findings/potr.md).

Each test asserts what potr *does*, bugs included, so that the matrix
shows them and a change in potr (or in the adapter hiding one) fails
here.  Every test names its finding id; where another implementation
does what the spec says, the test shows that too, as the contrast.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator

import pytest

from harness import impls
from harness.conversation import Duo
from implementations.api import (
    Adapter,
    ErrorRaised,
    Event,
    InitConfig,
    MessageReceived,
    Policy,
    RemoteErrorReceived,
    SmpUpdated,
)
from implementations.engine import EngineAdapter, _wire
from implementations.engine._tlv import Tlv, encode_plaintext
from implementations.engine._wire import MessageType
from implementations.fixtures import key
from implementations.peer import PeerProcess

POTR = impls.get("potr")
if not POTR.available:
    pytest.fail(f"potr is unavailable: {POTR.unavailable}", pytrace=False)

from implementations.potr.adapter import PotrAdapter  # noqa: E402 - after the check naming the fix

ALICE, BOB = "alice", "bob"
TAG_V2 = " \t  \t\t\t\t \t \t \t  " + "  \t\t  \t "  # whitespace tag base + v2


# ----------------------------------------------------------------- helpers


class Started:
    """Adapters made for one test; worker processes are closed afterwards."""

    def __init__(self) -> None:
        self.adapters: list[Adapter] = []

    def maker(self, name: str) -> Callable[[], Adapter]:
        impl = impls.get(name)
        assert impl.available, f"{name} is unavailable: {impl.unavailable}"

        def make() -> Adapter:
            adapter = impl.make()
            self.adapters.append(adapter)
            return adapter

        return make

    def duo(self, alice: str, bob: str, **kwargs: object) -> Duo:
        return Duo.create(self.maker(alice), self.maker(bob), **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def started() -> Iterator[Started]:
    made = Started()
    yield made
    for adapter in made.adapters:
        if isinstance(adapter, PeerProcess):
            adapter.close()


def secured(duo: Duo) -> Duo:
    duo.act(ALICE, "query")
    duo.flush()
    for name in (ALICE, BOB):
        assert [e.type for e in duo.sides[name].take_events()] == ["secure"], name
    return duo


def potr_engine(**kwargs: object) -> Duo:
    """Alice is potr, Bob the engine, both seeded, already private."""
    return secured(Duo.create(PotrAdapter, EngineAdapter, **kwargs))  # type: ignore[arg-type]


def smp_results(events: list[Event]) -> list[str]:
    return [e.result for e in events if isinstance(e, SmpUpdated)]


def codes(events: list[Event]) -> list[str]:
    return [e.code for e in events if isinstance(e, ErrorRaised)]


def mismatched_smp(duo: Duo, asker: str) -> dict[str, list[str]]:
    """SMP with different secrets; what each side reported from the answer on."""
    answerer = BOB if asker == ALICE else ALICE
    duo.act(asker, "smp_start", "apple", None)
    duo.flush()
    assert smp_results(duo.sides[answerer].take_events()) == ["ask"]
    duo.act(answerer, "smp_respond", "orange")
    duo.flush()
    return {name: smp_results(duo.sides[name].take_events()) for name in (ALICE, BOB)}


def engine_data_message(duo: Duo, plaintext: bytes) -> str:
    """A Data Message from the engine (Bob) to Alice, sealed with its real keys, carrying ``plaintext``."""
    engine = duo.b.adapter
    assert isinstance(engine, EngineAdapter)
    session = engine.engine.conversation(ALICE).current()
    assert session.keys is not None
    return _wire.encode(session.keys.seal(session.header(MessageType.DATA), 0, plaintext))


# ------------------------------------------------------------- POTR-001


@pytest.mark.parametrize(
    "wire",
    [
        "?OTR:A!!!",  # the shortest: 9 characters reach the header decode (len > 5 + 4)
        "?OTR:A===",
        "?OTR:AAIDA.",  # a v2 Data Message header, then one base64 character
        "?OTR:AAIDAAAAAAEAAAABAAAAwA",  # a v2 Data Message cut short in transit (no padding, no '.')
    ],
)
def test_potr_001_bad_base64_escapes_receive_as_binascii_error(wire: str) -> None:
    # POTR-001: Context.parse catches TypeError and struct.error around base64.b64decode, but
    # Python 3 raises binascii.Error (a ValueError): the exception leaves receiveMessage.
    alice = PotrAdapter()
    alice.init(InitConfig(ALICE, "xmpp", key(ALICE), 0x100, seed=b"a"))
    result = alice.receive(BOB, wire)
    assert result.out == []
    [event] = result.events
    assert isinstance(event, ErrorRaised) and event.code == "x-crash"
    assert event.extra["x-exception"] == "binascii.Error"
    assert event.detail.startswith("Error(")


@pytest.mark.parametrize("wire", ["?OTR:AAMD!!!.", "?OTR:=.", "?OTR:AAID!!!."])
def test_potr_001_other_bad_encoded_messages_are_shown_to_the_user_as_text(wire: str) -> None:
    # POTR-001 (boundary): where b64decode succeeds (non-alphabet characters are dropped) or the
    # message is too short for potr to look at its header, potr shows the string as plaintext.
    alice = PotrAdapter()
    alice.init(InitConfig(ALICE, "xmpp", key(ALICE), 0x100, seed=b"a"))
    assert alice.receive(BOB, wire).events == [MessageReceived(BOB, wire, encrypted=False)]


def test_potr_001_the_crash_leaves_the_private_session_usable() -> None:
    # POTR-001: the exception is raised before any state changes; the next message decrypts.
    duo = potr_engine()
    result = duo.a.adapter.receive(BOB, "?OTR:AAIDAAAAAAEAAAABAAAAwA")
    assert codes(result.events) == ["x-crash"]
    duo.act(BOB, "send", "still there?")
    duo.flush()
    assert duo.sides[ALICE].take_events() == [MessageReceived(BOB, "still there?", encrypted=True)]
    assert duo.a.adapter.status(BOB).msgstate == "encrypted"


def test_potr_001_through_the_peer_protocol_the_crash_is_an_event_not_a_failed_request() -> None:
    # POTR-001: `otrcheck peer potr` answers ok with the x-crash event and keeps serving.
    with PeerProcess(POTR.peer_command(), cwd=impls.REPO_ROOT, timeout=60, name="potr") as peer:
        peer.init(InitConfig(ALICE, "xmpp", key(ALICE), 0x100, seed=b"a"))
        result = peer.receive(BOB, "?OTR:A!!!")
        assert codes(result.events) == ["x-crash"]
        assert result.events[0].extra["x-exception"] == "binascii.Error"
        assert peer.query(BOB).out[0].wire.startswith("?OTRv2?")


# ------------------------------------------------------------- POTR-002


@pytest.mark.parametrize("other", ["engine", "libotr"])
def test_potr_002_as_smp_responder_with_a_different_secret_potr_aborts_instead_of_sending_smp4(
    started: Started, other: str
) -> None:
    # POTR-002: on SMP message 3 with Pa/Pb != Rab, potr's SMPHandler calls abort() (TLV 6) and
    # returns without SMP message 4.  potr reports failure; the initiator never learns the result
    # and reports an abort.
    duo = secured(started.duo(other, "potr"))
    results = mismatched_smp(duo, asker=ALICE)
    assert results == {ALICE: ["in_progress", "abort"], BOB: ["failure"]}
    assert duo.a.adapter.status(BOB).smp == "expect1"


def test_potr_002_contrast_libotr_with_libotr_reports_failure_on_both_sides(started: Started) -> None:
    # POTR-002 (contrast): SMP message 4 arrives, and both sides report failure, as the spec says.
    duo = secured(started.duo("libotr", "libotr"))
    results = mismatched_smp(duo, asker=ALICE)
    assert results == {ALICE: ["in_progress", "failure"], BOB: ["failure"]}


# ------------------------------------------------------------- POTR-003


@pytest.mark.parametrize("other", ["engine", "libotr"])
def test_potr_003_as_smp_initiator_potr_answers_a_failed_smp4_with_an_abort(
    started: Started, other: str
) -> None:
    # POTR-003: on SMP message 4 with Pa/Pb != Rab potr sends TLV 6, although no message is due;
    # the responder, which already reported failure, reports an abort as well.
    duo = secured(started.duo("potr", other))
    results = mismatched_smp(duo, asker=ALICE)
    assert results == {ALICE: ["in_progress", "failure"], BOB: ["failure", "abort"]}


# ------------------------------------------------------------- POTR-004


def test_potr_004_an_unknown_tlv_type_escapes_receive_and_the_text_is_lost() -> None:
    # POTR-004: proto.TLV.parse raises UnknownTLV for a type it has no class for (here 0x0100,
    # ChatSecure's OTRDATA); receiveMessage lets it escape, so "hi" is never shown.
    duo = potr_engine()
    wire = engine_data_message(duo, encode_plaintext(b"hi", [Tlv(0x0100, b"x")]))
    result = duo.a.adapter.receive(BOB, wire)
    assert [(e.code, e.extra["x-exception"]) for e in result.events if isinstance(e, ErrorRaised)] == [
        ("x-crash", "potr.proto.UnknownTLV")
    ]
    assert not [e for e in result.events if isinstance(e, MessageReceived)]
    duo.act(BOB, "send", "next")
    duo.flush()
    assert duo.sides[ALICE].take_events() == [MessageReceived(BOB, "next", encrypted=True)]


def test_potr_004_a_truncated_tlv_escapes_receive_as_struct_error() -> None:
    # POTR-004: three bytes after the NUL are not a TLV header; struct.error escapes.
    duo = potr_engine()
    wire = engine_data_message(duo, b"hi\x00\x00\x00\x00")
    [event] = duo.a.adapter.receive(BOB, wire).events
    assert isinstance(event, ErrorRaised)
    assert (event.code, event.extra["x-exception"]) == ("x-crash", "struct.error")


def test_potr_004_contrast_the_engine_ignores_the_unknown_type_and_shows_the_text() -> None:
    duo = secured(Duo.create(EngineAdapter, EngineAdapter, policies=(Policy(allow_v3=False), Policy())))
    wire = engine_data_message(duo, encode_plaintext(b"hi", [Tlv(0x0100, b"x")]))
    assert duo.a.adapter.receive(BOB, wire).events == [MessageReceived(BOB, "hi", encrypted=True)]


def test_potr_004_x_parse_tlv_reports_the_same_exception() -> None:
    # POTR-004: potr's own TLV parser, through the x-parse op.
    alice = PotrAdapter()
    answer = alice.extension("x-parse", {"entry": "tlv", "input": "0100000178"})
    assert answer.fields["result"] == {"x-crash": "UnknownTLV(b'x')"}


# ------------------------------------------------------------- POTR-005


def test_potr_005_untagged_plaintext_while_private_is_shown_without_the_unencrypted_warning() -> None:
    # POTR-005: receiveMessage tests isinstance(message, basestring) (str on Python 3) on the
    # bytes it parsed, so UnencryptedMessage is never raised for untagged text: NotOTRMessage.
    duo = potr_engine()
    assert duo.a.adapter.receive(BOB, "psst, in the clear").events == [
        MessageReceived(BOB, "psst, in the clear", encrypted=False)
    ]


def test_potr_005_untagged_plaintext_with_require_encryption_is_shown_without_the_warning() -> None:
    # POTR-005: the same test guards the REQUIRE_ENCRYPTION warning in MSGSTATE_PLAINTEXT.
    alice = PotrAdapter()
    alice.init(InitConfig(ALICE, "xmpp", key(ALICE), 0x100, Policy(require_encryption=True), seed=b"a"))
    assert alice.receive(BOB, "hello").events == [MessageReceived(BOB, "hello", encrypted=False)]


def test_potr_005_contrast_tagged_plaintext_while_private_is_flagged() -> None:
    # POTR-005 (boundary): a whitespace-tagged message is a proto.TaggedPlaintext, which does
    # reach the UnencryptedMessage branch.
    duo = potr_engine()
    events = duo.a.adapter.receive(BOB, "psst" + TAG_V2).events
    assert events[0] == MessageReceived(BOB, "psst", encrypted=False)
    assert codes(events) == ["unencrypted"]


def test_potr_005_contrast_the_engine_warns() -> None:
    duo = secured(Duo.create(EngineAdapter, EngineAdapter))
    assert codes(duo.a.adapter.receive(BOB, "psst, in the clear").events) == ["unencrypted"]


# ------------------------------------------------------------- POTR-006


def _tampered(wire: str) -> str:
    """Flip the last byte of a Data Message's MAC (the message carries no old MAC keys)."""
    raw = bytearray(base64.b64decode(wire[len("?OTR:") : -1]))
    assert raw[-4:] == b"\0\0\0\0"
    raw[-5] ^= 0x01
    return "?OTR:" + base64.b64encode(bytes(raw)).decode() + "."


def test_potr_006_an_unreadable_data_message_while_private_gets_no_error_message() -> None:
    # POTR-006: the MAC check raises InvalidParameterError; potr sends nothing back.
    duo = potr_engine()
    duo.act(BOB, "send", "to be tampered with")
    wire = duo.in_flight.popleft().wire
    result = duo.a.adapter.receive(BOB, _tampered(wire))
    assert codes(result.events) == ["unreadable"]
    assert result.out == []


def test_potr_006_contrast_the_engine_replies_with_an_error_message() -> None:
    duo = secured(Duo.create(EngineAdapter, EngineAdapter, policies=(Policy(allow_v3=False), Policy())))
    duo.act(BOB, "send", "to be tampered with")
    result = duo.a.adapter.receive(BOB, _tampered(duo.in_flight.popleft().wire))
    assert codes(result.events) == ["unreadable"]
    assert [o.wire.startswith("?OTR Error:") for o in result.out] == [True]


# ------------------------------------------------------------- POTR-007


def test_potr_007_a_whitespace_tag_starts_the_ake_although_whitespace_start_ake_is_off() -> None:
    # POTR-007: receiveMessage hands every TaggedPlaintext to handleQuery; WHITESPACE_START_AKE is
    # never read.
    alice = PotrAdapter()
    alice.init(InitConfig(ALICE, "xmpp", key(ALICE), 0x100, Policy(whitespace_start_ake=False), seed=b"a"))
    result = alice.receive(BOB, "hello" + TAG_V2)
    assert result.events == [MessageReceived(BOB, "hello", encrypted=False)]
    assert [o.wire[:9] for o in result.out] == ["?OTR:AAIC"]  # a v2 D-H Commit


def test_potr_007_contrast_the_engine_does_not_start_the_ake() -> None:
    bob = EngineAdapter()
    bob.init(InitConfig(BOB, "xmpp", key(BOB), 0x101, Policy(whitespace_start_ake=False), seed=b"b"))
    assert bob.receive(ALICE, "hello" + TAG_V2).out == []


# ------------------------------------------------------------- POTR-008


def test_potr_008_an_error_message_gets_no_query_although_error_start_ake_is_on() -> None:
    # POTR-008: ErrorReceived is raised for every Error Message; ERROR_START_AKE is never read.
    alice = PotrAdapter()
    alice.init(InitConfig(ALICE, "xmpp", key(ALICE), 0x100, Policy(error_start_ake=True), seed=b"a"))
    result = alice.receive(BOB, "?OTR Error: You sent encrypted data I wasn't expecting.")
    assert result.events == [RemoteErrorReceived(BOB, " You sent encrypted data I wasn't expecting.")]
    assert result.out == []


def test_potr_008_contrast_the_engine_replies_with_a_query() -> None:
    bob = EngineAdapter()
    bob.init(InitConfig(BOB, "xmpp", key(BOB), 0x101, Policy(error_start_ake=True), seed=b"b"))
    result = bob.receive(ALICE, "?OTR Error: You sent encrypted data I wasn't expecting.")
    assert [o.wire.startswith("?OTRv") for o in result.out] == [True]


# ------------------------------------------------- API notes, not findings


def test_note_potrs_smp_got_secret_with_nothing_to_answer_starts_a_new_smp() -> None:
    # Not a protocol deviation: potr's Context.smpGotSecret in SMP state 1 sends SMP message 1.
    duo = potr_engine()
    adapter = duo.a.adapter
    assert isinstance(adapter, PotrAdapter)
    result = adapter._run(BOB, lambda ctx: ctx.smpGotSecret(b"secret"))
    duo.record(ALICE, result)
    duo.flush()
    assert smp_results(duo.sides[BOB].take_events()) == ["ask"]


def test_note_so_the_adapter_refuses_smp_respond_with_nothing_to_answer() -> None:
    # The peer protocol's smp_respond answers a pending request; without one it is an SMP error.
    duo = potr_engine()
    result = duo.act(ALICE, "smp_respond", "an answer to no question")
    assert smp_results(duo.sides[ALICE].take_events()) == ["error"]
    assert result.out == []


def test_note_a_message_held_for_require_encryption_is_never_sent() -> None:
    # Not a protocol deviation (the spec stores it "for possible retransmission"): potr keeps it in
    # Context.lastMessage and never sends it once the session is private.
    duo = Duo.create(PotrAdapter, EngineAdapter, policies=(Policy(require_encryption=True), Policy()))
    duo.act(ALICE, "send", "held text")
    assert codes(duo.sides[ALICE].take_events()) == ["held"]
    duo.flush()
    assert [e.type for e in duo.sides[BOB].take_events()] == ["secure"]
    assert not [w for w in duo.transcript if w.sender == ALICE and w.wire.startswith("?OTR:AAID")]
