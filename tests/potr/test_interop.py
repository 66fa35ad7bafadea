"""python-potr 1.0.2 talking OTR v2 to itself, to the engine and to libotr, in both directions.

Each pair holds a conversation on the in-order network of
:class:`~harness.conversation.Duo`: the AKE started by a query from either
side, messages both ways (ASCII, UTF-8, 10 KiB fragmented at 200 and 1000
characters), SMP with and without a question from either side, and the
end of the conversation.  The engine and potr are seeded; libotr runs in
its ``otrcheck peer libotr`` worker process, as the registry makes it.
Both sides keep their default policy (v2 and v3 allowed), so every
session is v2 because potr offers and accepts nothing else.

The second half drives ``otrcheck peer potr`` through the peer protocol.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from harness import impls
from harness.conversation import Duo
from implementations.api import (
    Adapter,
    BadRequest,
    ErrorRaised,
    Event,
    InitConfig,
    MessageReceived,
    Policy,
    SessionSecured,
    SmpUpdated,
    Unsupported,
)
from implementations.fixtures import fingerprint, key
from implementations.peer import PeerProcess

POTR = impls.get("potr")
if not POTR.available:
    pytest.fail(f"potr is unavailable: {POTR.unavailable}", pytrace=False)

ALICE, BOB = "alice", "bob"
ASCII_TEXT = "Hello, Bob. Plain ASCII, punctuation: ?!.,;:()[]{}"
UTF8_TEXT = "Grüße aus Köln — 日本語のテキスト, emoji 🔐🎉👩‍💻 and ✓"
TEN_KIB = ("10 KiB of text, ünïcødé included. " * 400)[: 10 * 1024]

# (alice, bob): who plays each account.  potr is on at least one side of every pair.
PAIRS = [
    ("potr", "potr"),
    ("potr", "engine"),
    ("engine", "potr"),
    ("potr", "libotr"),
    ("libotr", "potr"),
]
PAIR_IDS = [f"{a}-{b}" for a, b in PAIRS]


class Makers:
    """Adapter factories by implementation name; closes the worker processes it started."""

    def __init__(self) -> None:
        self.started: list[Adapter] = []

    def factory(self, name: str) -> Callable[[], Adapter]:
        impl = impls.get(name)
        assert impl.available, f"{name} is unavailable: {impl.unavailable}"

        def make() -> Adapter:
            adapter = impl.make()
            self.started.append(adapter)
            return adapter

        return make

    def duo(self, pair: tuple[str, str], **kwargs: object) -> Duo:
        return Duo.create(self.factory(pair[0]), self.factory(pair[1]), **kwargs)  # type: ignore[arg-type]

    def close(self) -> None:
        for adapter in self.started:
            if isinstance(adapter, PeerProcess):
                adapter.close()
            else:
                adapter.quit()


@pytest.fixture
def makers() -> Iterator[Makers]:
    made = Makers()
    yield made
    made.close()


@pytest.fixture(params=PAIRS, ids=PAIR_IDS)
def pair(request: pytest.FixtureRequest) -> tuple[str, str]:
    value: tuple[str, str] = request.param
    return value


# ----------------------------------------------------------------- helpers


def other(name: str) -> str:
    return BOB if name == ALICE else ALICE


def taken(duo: Duo, name: str, type_: str | None = None) -> list[Event]:
    """Events ``name`` reported since the last call (optionally of one type); forgets them all."""
    events = duo.sides[name].take_events()
    return [e for e in events if type_ is None or e.type == type_]


def errors_in(events: list[Event]) -> list[Event]:
    return [e for e in events if isinstance(e, ErrorRaised)]


def secure(duo: Duo, initiator: str = ALICE) -> None:
    duo.act(initiator, "query")
    duo.flush()
    for name in (ALICE, BOB):
        events = taken(duo, name)
        assert errors_in(events) == [], name
        secured = [e for e in events if isinstance(e, SessionSecured)]
        assert len(secured) == 1, (name, events)
        assert secured[0].version == 2
        assert secured[0].peer_fingerprint == fingerprint(other(name))


def say(duo: Duo, sender: str, text: str) -> list[Event]:
    duo.act(sender, "send", text)
    duo.flush()
    assert taken(duo, sender) == []
    return taken(duo, other(sender))


def run_smp(duo: Duo, asker: str, question: str | None, answer_secret: str) -> None:
    answerer = other(asker)
    duo.act(asker, "smp_start", "the shared secret", question)
    duo.flush()
    asked = taken(duo, answerer, "smp")
    assert [(e.result, e.question) for e in asked if isinstance(e, SmpUpdated)] == [("ask", question)]
    duo.act(answerer, "smp_respond", answer_secret)
    duo.flush()


# ------------------------------------------------------------------- AKE


@pytest.mark.interop
@pytest.mark.parametrize("initiator", [ALICE, BOB])
def test_query_from_either_side_secures_a_v2_session_with_one_ssid(
    makers: Makers, pair: tuple[str, str], initiator: str
) -> None:
    duo = makers.duo(pair)
    duo.act(initiator, "query")
    duo.flush()
    secured = {name: taken(duo, name, "secure") for name in (ALICE, BOB)}
    assert all(len(events) == 1 for events in secured.values()), secured
    alice_event, bob_event = secured[ALICE][0], secured[BOB][0]
    assert isinstance(alice_event, SessionSecured) and isinstance(bob_event, SessionSecured)
    assert (alice_event.version, bob_event.version) == (2, 2)
    assert alice_event.ssid == bob_event.ssid
    assert (alice_event.peer_fingerprint, bob_event.peer_fingerprint) == (
        fingerprint(BOB),
        fingerprint(ALICE),
    )
    for name in (ALICE, BOB):
        status = duo.sides[name].adapter.status(other(name))
        assert (status.msgstate, status.version, status.ssid) == ("encrypted", 2, alice_event.ssid)
        assert status.fingerprint == fingerprint(name)
        assert status.peer_fingerprint == fingerprint(other(name))
    # The query that started it all is potr's own, v2 only, whichever side potr is.
    query = duo.transcript[0]
    assert query.sender == initiator
    if pair[0 if initiator == ALICE else 1] == "potr":
        assert query.wire.startswith("?OTRv2?\n")


# -------------------------------------------------------------- messages


@pytest.mark.interop
@pytest.mark.parametrize("text", [ASCII_TEXT, UTF8_TEXT], ids=["ascii", "utf8"])
def test_messages_cross_encrypted_both_ways(makers: Makers, pair: tuple[str, str], text: str) -> None:
    duo = makers.duo(pair)
    secure(duo)
    start = len(duo.transcript)
    for sender in (ALICE, BOB, ALICE, BOB):  # twice each way: the D-H keys rotate in between
        received = say(duo, sender, text)
        assert received == [MessageReceived(sender, text, encrypted=True)]
    data = duo.transcript[start:]
    assert len(data) == 4
    assert all(w.wire.startswith("?OTR:AAID") for w in data)  # v2 Data Messages


@pytest.mark.interop
@pytest.mark.parametrize("size", [200, 1000])
def test_ten_kib_crosses_fragmented_both_ways(makers: Makers, pair: tuple[str, str], size: int) -> None:
    duo = makers.duo(pair, max_message_size=(size, size))
    secure(duo)
    for sender in (ALICE, BOB):
        start = len(duo.transcript)
        received = say(duo, sender, TEN_KIB)
        assert received == [MessageReceived(sender, TEN_KIB, encrypted=True)]
        pieces = [w.wire for w in duo.transcript[start:] if w.sender == sender]
        assert len(pieces) > 1
        assert all(p.startswith("?OTR,") and len(p) <= size for p in pieces), max(map(len, pieces))


# ------------------------------------------------------------------- SMP


@pytest.mark.interop
@pytest.mark.parametrize("question", [None, "Where did we first meet?"], ids=["no-question", "question"])
@pytest.mark.parametrize("asker", [ALICE, BOB])
def test_smp_with_equal_secrets_succeeds_on_both_sides(
    makers: Makers, pair: tuple[str, str], asker: str, question: str | None
) -> None:
    duo = makers.duo(pair)
    secure(duo)
    run_smp(duo, asker, question, "the shared secret")
    for name in (ALICE, BOB):
        events = taken(duo, name)
        assert errors_in(events) == [], name
        results = [e.result for e in events if isinstance(e, SmpUpdated)]
        assert results[-1:] == ["success"], (name, results)
        assert "abort" not in results and "failure" not in results
        assert duo.sides[name].adapter.status(other(name)).smp == "expect1"


@pytest.mark.interop
@pytest.mark.parametrize(
    "pair",
    [("potr", "potr"), ("engine", "potr"), ("libotr", "potr")],
    ids=["potr-potr", "engine-potr", "libotr-potr"],
)
def test_an_smp_message_out_of_order_at_potr_is_an_smp_error_answered_with_an_abort(
    makers: Makers, pair: tuple[str, str]
) -> None:
    """Spec, SMP message 3 received: "If smpstate is not SMPSTATE_EXPECT3: Set smpstate to
    SMPSTATE_EXPECT1 and send a type 6 TLV (SMP abort)"."""
    duo = makers.duo(pair)
    secure(duo)
    duo.act(ALICE, "smp_start", "secret", None)
    duo.flush()
    duo.act(BOB, "smp_respond", "secret")
    duo.act(BOB, "smp_abort")
    duo.deliver_one()  # SMP message 2: alice answers with SMP message 3
    duo.deliver_one()  # bob's abort
    assert [w.sender for w in duo.in_flight] == [ALICE]
    duo.deliver_one()  # SMP message 3 reaches bob in EXPECT1
    assert [(e.result, e.question) for e in taken(duo, BOB, "smp") if isinstance(e, SmpUpdated)] == [
        ("ask", None),
        ("error", None),
    ]
    assert [w.sender for w in duo.in_flight] == [BOB]
    assert duo.in_flight[0].wire.startswith("?OTR:AAID")
    assert duo.b.adapter.status(ALICE).smp == "expect1"


@pytest.mark.parametrize("side", [ALICE, BOB])
def test_smp_respond_with_nothing_to_answer_is_an_smp_error_and_sends_nothing(
    makers: Makers, side: str
) -> None:
    duo = makers.duo(("potr", "potr"))
    secure(duo)
    result = duo.act(side, "smp_respond", "an answer to no question")
    assert [e.result for e in taken(duo, side) if isinstance(e, SmpUpdated)] == ["error"]
    assert result.out == []


def test_smp_without_a_private_session_is_an_smp_error_event(makers: Makers) -> None:
    duo = makers.duo(("potr", "potr"))
    for op, args in (("smp_start", ("s", None)), ("smp_respond", ("s",)), ("smp_abort", ())):
        result = duo.act(ALICE, op, *args)
        assert result.out == []
        assert [(e.type, getattr(e, "code", None)) for e in taken(duo, ALICE)] == [("error", "smp")], op


# ------------------------------------------------------------------- end


@pytest.mark.interop
@pytest.mark.parametrize("ender", [ALICE, BOB])
def test_end_makes_the_ender_plaintext_and_the_other_finished(
    makers: Makers, pair: tuple[str, str], ender: str
) -> None:
    duo = makers.duo(pair)
    secure(duo)
    duo.act(ender, "end")
    duo.flush()
    assert [e.type for e in taken(duo, ender)] == ["insecure"]
    assert [e.type for e in taken(duo, other(ender))] == ["finished"]
    assert duo.sides[ender].adapter.status(other(ender)).msgstate == "plaintext"
    assert duo.sides[other(ender)].adapter.status(ender).msgstate == "finished"
    # The finished side refuses to send in the clear.
    duo.act(other(ender), "send", "are you there?")
    assert not duo.in_flight
    assert [(e.type, getattr(e, "code", None)) for e in taken(duo, other(ender))] == [
        ("error", "not_private")
    ]


# --------------------------------------------------- the peer protocol


def _config(name: str, policy: Policy | None = None) -> InitConfig:
    return InitConfig(name, "xmpp", key(name), 0x100, policy or Policy(), 0, name.encode())


@pytest.fixture
def peer() -> Iterator[PeerProcess]:
    with PeerProcess(POTR.peer_command(), cwd=impls.REPO_ROOT, timeout=60, name="potr") as process:
        yield process


def test_peer_says_hello_as_potr_1_0_2_speaking_only_v2(peer: PeerProcess) -> None:
    hello = peer.hello()
    assert (hello.impl, hello.version, hello.protocol_versions) == ("potr", "1.0.2", (2,))
    assert hello.deterministic is True
    assert "v3" not in hello.features and "symkey" not in hello.features
    assert {"v2", "smp", "smp_question", "fragmentation", "x-parse"} <= set(hello.features)


def test_peer_refuses_a_v3_only_policy_as_unsupported(peer: PeerProcess) -> None:
    with pytest.raises(Unsupported, match="v2 only"):
        peer.request("init", _config(ALICE, Policy(allow_v2=False)).to_json())


def test_peer_answers_symkey_unsupported_even_in_a_private_session(peer: PeerProcess) -> None:
    peer.init(_config(ALICE))
    bob = POTR.make()
    bob.init(_config(BOB))
    wires = [o.wire for o in peer.query(BOB).out]
    senders = [(peer, ALICE), (bob, BOB)]
    turn = 1
    while wires:
        adapter, _ = senders[turn]
        sender = senders[1 - turn][1]
        wires = [o.wire for wire in wires for o in adapter.receive(sender, wire).out]
        turn = 1 - turn
    assert peer.status(BOB).msgstate == "encrypted"
    with pytest.raises(Unsupported, match="v3"):
        peer.request("symkey", {"peer": BOB, "use": 1, "usedata": "6669"})


@pytest.mark.parametrize(
    ("entry", "text", "expected"),
    [
        ("message_type", "hello", "plaintext"),
        ("message_type", "?OTRv2?", "query"),
        ("message_type", "?OTR Error: bad", "error"),
        ("message_type", "hi \t  \t\t\t\t \t \t \t    \t\t  \t ", "tagged_plaintext"),
        ("query_version", "?OTRv23? hello", 2),
        ("query_version", "?OTRv3?", 0),
        ("whitespace_version", "hi \t  \t\t\t\t \t \t \t    \t\t  \t ", {"version": 2, "stripped": "hi"}),
        ("whitespace_version", "no tag", {"version": 0, "stripped": None}),
        ("tlv", "00010000" + "0000000161", [{"type": 1, "value": ""}, {"type": 0, "value": "61"}]),
    ],
)
def test_peer_x_parse_answers_from_potrs_own_parsers(
    peer: PeerProcess, entry: str, text: str, expected: object
) -> None:
    answer = peer.request("x-parse", {"entry": entry, "input": text})
    assert answer["ok"] is True, answer
    assert answer["result"] == expected


@pytest.mark.parametrize(
    "fields",
    [{"entry": ["tlv"], "input": "00"}, {"entry": "tlv", "input": "zz"}, {"entry": "nope", "input": ""}],
    ids=["list-entry", "tlv-not-hex", "unknown-entry"],
)
def test_peer_x_parse_refuses_bad_requests_and_carries_on(
    peer: PeerProcess, fields: dict[str, object]
) -> None:
    with pytest.raises(BadRequest):
        peer.request("x-parse", fields)
    assert peer.request("x-parse", {"entry": "query_version", "input": "?OTRv2?"})["result"] == 2


@pytest.mark.parametrize("entry", ["message_version", "base64"])
def test_peer_x_parse_entries_without_a_potr_parser_are_unsupported(peer: PeerProcess, entry: str) -> None:
    with pytest.raises(Unsupported, match=entry):
        peer.request("x-parse", {"entry": entry, "input": "?OTR:AAID."})


def test_cli_serves_potr_for_a_hello_request() -> None:
    import json
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "harness.cli", "peer", "potr"],
        input='{"id":1,"op":"hello"}\n',
        capture_output=True,
        text=True,
        cwd=impls.REPO_ROOT,
        timeout=60,
        check=True,
    )
    answer = json.loads(done.stdout)
    assert (answer["id"], answer["ok"], answer["impl"], answer["version"]) == (1, True, "potr", "1.0.2")
