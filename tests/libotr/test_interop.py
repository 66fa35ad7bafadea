"""libotr 4.1.1 against itself and against the engine: AKE, data, fragments, SMP, ending, policies, crashes.

Each conversation runs on the in-order network of :class:`~harness.conversation.Duo`
for every ordered pair of :data:`PAIRS` (libotr↔libotr, the engine as alice
with libotr as bob, libotr as alice with the engine as bob), in v3 and in v2
(v2 forced by ``allow_v3=False`` on both sides).  libotr always runs in an
``otrcheck peer libotr`` worker.  libotr's randomness cannot be seeded, so
where an outcome depends on random values (the simultaneous-start tie-break)
the expectation is computed from the transcript of each run.

Where libotr departs from the specification (``otr-protocol-v3.txt``) or
from the engine, the test asserts what libotr does and names the finding
(``docs/findings/libotr.md``).  Where the adapter mis-translates libotr, a
test of its own asserts what the contract asks and is an expected failure
naming the adapter bug; inside a larger test the observed value is pinned
with a comment saying so.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from typing import TypeVar

import pytest

from harness import impls
from harness.conversation import Duo, Wire
from implementations.api import RemoteErrorReceived, SymkeyReceived
from implementations.engine import _wire
from implementations.engine._fragments import Fragment, parse_fragment
from implementations.engine._wire import (
    DataMessage,
    DHCommit,
    DHKey,
    QueryMessage,
    RevealSignature,
    Signature,
)
from implementations.peer import PeerCrashed
from tests.libotr.conftest import (
    ALICE,
    BOB,
    PAIRS,
    TAGS,
    VERSIONS,
    Libotrs,
    assert_secured,
    deliver,
    establish,
    forget_events,
    impl_of,
    other,
    policy,
    seen,
    status,
    version_id,
)

pytestmark = pytest.mark.interop

M = TypeVar("M")

pairs = pytest.mark.parametrize("pair", list(PAIRS))
versions = pytest.mark.parametrize("version", VERSIONS, ids=version_id)

UTF8_TEXT = "Grüße aus Köln — 日本語のテキスト, emoji 🔐🎉👩‍💻 and ✓"
BIG_TEXT = ("10 KiB of text, ünïcødé and 🔐 included. " * 300)[: 10 * 1024]
FRAGMENT_PREFIX = {3: "?OTR|", 2: "?OTR,"}
ENGINE_AND_LIBOTR = ["engine-libotr", "libotr-engine"]


# ----------------------------------------------------------------- helpers


def decoded(wire: str) -> object:
    return _wire.parse(wire)


def sent(duo: Duo, name: str, kind: type[M], since: int = 0) -> list[M]:
    """The messages of class ``kind`` that ``name`` put on the wire (unfragmented transcripts)."""
    return [m for w in duo.transcript[since:] if w.sender == name and isinstance(m := decoded(w.wire), kind)]


def kinds(duo: Duo, name: str) -> list[str]:
    """The class names of what ``name`` sent, in order."""
    return [type(decoded(w.wire)).__name__ for w in duo.transcript if w.sender == name]


def smp(duo: Duo, initiator: str, secret: str, answer: str, question: str | None) -> str:
    """Run a whole SMP; check the events of both sides; return the result they agree on."""
    responder = other(initiator)
    duo.act(initiator, "smp_start", secret, question)
    duo.flush()
    assert seen(duo, responder) == [("smp", "ask", question)]
    assert seen(duo, initiator) == []
    duo.act(responder, "smp_respond", answer)
    duo.flush()
    result = "success" if secret == answer else "failure"
    assert seen(duo, initiator) == [("smp", "in_progress", None), ("smp", result, None)]
    assert seen(duo, responder) == [("smp", result, None)]
    assert status(duo, ALICE).smp == status(duo, BOB).smp == "expect1"
    return result


def simultaneous_start(duo: Duo) -> None:
    """Both sides query before either query is delivered."""
    duo.act(ALICE, "query")
    duo.act(BOB, "query")
    duo.flush()


# ---------------------------------------------------------------------- AKE


@versions
@pairs
def test_query_secures_both_sides_with_one_ssid_true_fingerprints_and_the_version(
    libotrs: Libotrs, pair: str, version: int
) -> None:
    duo = libotrs.duo(pair, version)
    result = duo.act(ALICE, "query")
    (query,) = [decoded(o.wire) for o in result.out]
    assert isinstance(query, QueryMessage)
    assert query.versions == ({2, 3} if version == 3 else {2})
    duo.flush()
    assert_secured(duo, version)
    assert seen(duo, ALICE) == seen(duo, BOB) == []
    assert [(w.sender, type(decoded(w.wire))) for w in duo.transcript] == [
        (ALICE, QueryMessage),
        (BOB, DHCommit),
        (ALICE, DHKey),
        (BOB, RevealSignature),
        (ALICE, Signature),
    ]
    for w in duo.transcript[1:]:
        header = decoded(w.wire).header  # type: ignore[attr-defined]
        assert header.version == version
        if version == 3:
            assert header.sender_tag == TAGS[w.sender]
            assert header.receiver_tag in ((0, TAGS[w.to]) if w is duo.transcript[1] else (TAGS[w.to],))


# ----------------------------------------------------------------- messages


@versions
@pairs
def test_ascii_and_utf8_messages_arrive_once_encrypted_both_ways_while_keys_rotate(
    libotrs: Libotrs, pair: str, version: int
) -> None:
    duo = libotrs.duo(pair, version)
    establish(duo, version)
    rounds = 6
    for i in range(rounds):
        deliver(duo, ALICE, f"Hello, Bob! ({i})")
        deliver(duo, BOB, f"{UTF8_TEXT} #{i}")
    assert not [w for w in duo.transcript if "Hello, Bob" in w.wire or "Grüße" in w.wire]
    for name in (ALICE, BOB):
        data = sent(duo, name, DataMessage)
        assert len(data) == rounds
        assert {m.header.version for m in data} == {version}
        keyids = [m.sender_keyid for m in data]
        assert keyids == sorted(keyids)
        assert keyids[-1] - keyids[0] >= rounds - 1, f"{name}'s keys did not rotate: {keyids}"
        assert any(m.old_mac_keys for m in data), f"{name} never revealed an old MAC key"
    assert status(duo, ALICE).msgstate == status(duo, BOB).msgstate == "encrypted"


@pytest.mark.parametrize("limit", [200, 1000])
@versions
@pairs
def test_10kib_messages_are_fragmented_within_max_message_size_and_arrive_once(
    libotrs: Libotrs, pair: str, version: int, limit: int
) -> None:
    duo = libotrs.duo(pair, version, max_message_size=(limit, limit))
    establish(duo, version)
    for text in (BIG_TEXT, "short"):
        deliver(duo, ALICE, text)
        deliver(duo, BOB, text[::-1])
    # The Query Message is not an encoded message: the spec fragments only those ("Fragmentation"),
    # and libotr's (Debian's) default query text alone is 341 characters.
    query, *encoded = duo.transcript
    assert isinstance(decoded(query.wire), QueryMessage)
    assert max(len(w.wire) for w in encoded) <= limit
    prefix = FRAGMENT_PREFIX[version]
    assert all(w.wire.startswith((prefix, "?OTR:")) for w in encoded)
    fragments = [w for w in encoded if w.wire.startswith(prefix)]
    assert {w.sender for w in fragments} == {ALICE, BOB}
    first_piece: dict[str, str] = {}
    for w in fragments:
        piece = parse_fragment(w.wire)
        assert isinstance(piece, Fragment), piece
        assert piece.version == version
        if piece.k == 1:
            first_piece[w.sender] = piece.piece
        if version == 3:
            # Spec "Instance Tags": a D-H Commit may be addressed to instance 0, and so are its fragments.
            commit = first_piece[w.sender].startswith("?OTR:AAMC")
            assert piece.sender_tag == TAGS[w.sender]
            assert piece.receiver_tag in ((0, TAGS[w.to]) if commit else (TAGS[w.to],))
    assert status(duo, ALICE).msgstate == status(duo, BOB).msgstate == "encrypted"


# ----------------------------------------------------------------------- SMP

SMP_CASES = [
    # (initiator, same secret, question): each side starts, each result, with and without a question
    (ALICE, True, "Where did we first meet? 🌍"),
    (ALICE, False, None),
    (BOB, True, None),
    (BOB, False, "Fruit?"),
]


@versions
@pairs
def test_smp_success_and_failure_are_reported_alike_on_both_sides_whoever_starts(
    libotrs: Libotrs, pair: str, version: int
) -> None:
    duo = libotrs.duo(pair, version)
    establish(duo, version)
    for initiator, same, question in SMP_CASES:
        secret = "the café on Rue Oberkampf"
        answer = secret if same else "the bar on Rue de Lappe"
        assert smp(duo, initiator, secret, answer, question) == ("success" if same else "failure")
    deliver(duo, ALICE, "verified")
    deliver(duo, BOB, "indeed")


def abort_initiator_before_delivery(duo: Duo) -> tuple[str, dict[str, list[tuple[object, ...]]]]:
    duo.act(ALICE, "smp_start", "secret", None)
    duo.act(ALICE, "smp_abort")
    return ALICE, {ALICE: [], BOB: [("smp", "ask", None), ("smp", "abort", None)]}


def abort_responder_instead_of_answering(duo: Duo) -> tuple[str, dict[str, list[tuple[object, ...]]]]:
    duo.act(ALICE, "smp_start", "secret", "Question?")
    duo.flush()
    duo.act(BOB, "smp_abort")
    return BOB, {ALICE: [("smp", "abort", None)], BOB: [("smp", "ask", "Question?")]}


@pytest.mark.parametrize("abort", [abort_initiator_before_delivery, abort_responder_instead_of_answering])
@versions
@pairs
def test_smp_abort_is_reported_to_the_other_side_and_both_start_over(
    libotrs: Libotrs,
    pair: str,
    version: int,
    abort: Callable[[Duo], tuple[str, dict[str, list[tuple[object, ...]]]]],
) -> None:
    duo = libotrs.duo(pair, version)
    establish(duo, version)
    aborter, expected = abort(duo)
    assert [w.sender for w in duo.in_flight][-1:] == [aborter]
    duo.flush()
    assert {name: seen(duo, name) for name in (ALICE, BOB)} == expected
    assert status(duo, ALICE).smp == status(duo, BOB).smp == "expect1"
    assert smp(duo, BOB, "again", "again", None) == "success"


@pytest.mark.parametrize("pair", PAIRS)
def test_an_smp_message_received_out_of_order_is_answered_with_an_smp_abort(
    libotrs: Libotrs, pair: str
) -> None:
    """Spec, SMP message 3 received: "If smpstate is not SMPSTATE_EXPECT3: Set smpstate to
    SMPSTATE_EXPECT1 and send a type 6 TLV (SMP abort)"."""
    duo = libotrs.duo(pair)
    establish(duo, 3)
    duo.act(ALICE, "smp_start", "secret", None)
    duo.flush()
    duo.act(BOB, "smp_respond", "secret")
    duo.act(BOB, "smp_abort")
    duo.deliver_one()  # SMP message 2: alice answers with SMP message 3
    duo.deliver_one()  # bob's abort
    assert [w.sender for w in duo.in_flight] == [ALICE]
    duo.deliver_one()  # SMP message 3 reaches bob in EXPECT1
    assert seen(duo, BOB) == [("smp", "ask", None), ("smp", "error", None)]
    assert [w.sender for w in duo.in_flight] == [BOB]
    assert isinstance(decoded(duo.in_flight[0].wire), DataMessage)


@pytest.mark.parametrize(
    "pair",
    [
        pytest.param("libotr-engine", id="engine-responder"),
        pytest.param("engine-libotr", id="libotr-responder"),
    ],
)
def test_smp_respond_with_nothing_to_answer_is_refused_and_sends_nothing(libotrs: Libotrs, pair: str) -> None:
    duo = libotrs.duo(pair)
    establish(duo, 3)
    result = duo.act(BOB, "smp_respond", "an answer to no question")
    assert seen(duo, BOB) == [("smp", "error", None)]
    assert result.out == []


def test_smp_after_a_stray_respond_between_two_libotr_peers_still_succeeds(libotrs: Libotrs) -> None:
    """Observed: alice reports an SMP error without aborting, bob stays in EXPECT3, and the next
    SMP ends with alice reporting "cheated" and bob an error."""
    duo = libotrs.duo("libotr-libotr")
    establish(duo, 3)
    duo.act(BOB, "smp_respond", "an answer to no question")
    duo.flush()
    forget_events(duo)
    assert smp(duo, ALICE, "secret", "secret", "Question?") == "success"


# ----------------------------------------------------------------- ending


@pytest.mark.parametrize("ender", [ALICE, BOB])
@versions
@pairs
def test_end_leaves_the_other_side_finished_refusing_text_and_sending_nothing(
    libotrs: Libotrs, pair: str, version: int, ender: str
) -> None:
    duo = libotrs.duo(pair, version)
    establish(duo, version)
    peer = other(ender)
    result = duo.act(ender, "end")
    assert [type(decoded(o.wire)) for o in result.out] == [DataMessage]  # carrying TLV 1
    duo.flush()
    assert seen(duo, ender) == [("insecure",)]
    assert seen(duo, peer) == [("finished",)]
    assert status(duo, ender).msgstate == "plaintext"
    assert status(duo, peer).msgstate == "finished"
    result = duo.act(peer, "send", "are you there?")
    assert result.out == []
    assert seen(duo, peer) == [("error", "not_private")]
    assert not duo.in_flight
    assert all("are you there" not in w.wire for w in duo.transcript)
    duo.act(peer, "end")
    assert not duo.in_flight
    assert seen(duo, peer) == []
    assert status(duo, peer).msgstate == "plaintext"


# ------------------------------------------------------- extra symmetric key


@pytest.mark.parametrize("sender", [ALICE, BOB])
@pairs
def test_symkey_in_v3_is_the_key_the_receiver_is_told_about(libotrs: Libotrs, pair: str, sender: str) -> None:
    duo = libotrs.duo(pair, 3)
    establish(duo, 3)
    for use, usedata in ((1, b"file.txt"), (0xFFFFFFFF, b""), (7, b"\x00\xff")):
        deliver(duo, sender, "rotate first")
        result = duo.act(sender, "symkey", use, usedata)
        key = result.fields["key"]
        assert isinstance(key, str) and len(key) == 64
        assert [type(decoded(o.wire)) for o in result.out] == [DataMessage]
        duo.flush()
        assert seen(duo, sender) == []
        assert duo.sides[other(sender)].take_events() == [SymkeyReceived(sender, use, usedata.hex(), key)]


@pytest.mark.parametrize("sender", [ALICE, BOB])
@pairs
def test_symkey_in_v2_is_sent_by_libotr_and_refused_by_the_engine(
    libotrs: Libotrs, pair: str, sender: str
) -> None:
    duo = libotrs.duo(pair, 2)
    establish(duo, 2)
    result = duo.act(sender, "symkey", 1, b"x")
    if impl_of(pair, sender) == "libotr":
        # finding LIBOTR-002: libotr offers the extra symmetric key in v2 sessions; the spec defines it for v3
        # ("OTR version 3 defines an additional symmetric key").  Either receiver reports it.
        key = result.fields["key"]
        assert isinstance(key, str) and len(key) == 64
        (data,) = [decoded(o.wire) for o in result.out]
        assert isinstance(data, DataMessage) and data.header.version == 2
        duo.flush()
        assert seen(duo, sender) == []
        assert duo.sides[other(sender)].take_events() == [SymkeyReceived(sender, 1, b"x".hex(), key)]
    else:
        assert result.fields.get("key") is None
        assert result.out == []
        assert seen(duo, sender) == [("error", "not_private")]
    deliver(duo, sender, "still private")
    deliver(duo, other(sender), "indeed")


# ---------------------------------------------------------------- whitespace


@versions
@pairs
def test_whitespace_tag_starts_the_ake_and_is_stripped_from_the_displayed_text(
    libotrs: Libotrs, pair: str, version: int
) -> None:
    duo = libotrs.duo(
        pair,
        version,
        policies=(policy(version, send_whitespace_tag=True), policy(version, whitespace_start_ake=True)),
    )
    result = duo.act(ALICE, "send", "hello bob")
    offered = frozenset({2, 3}) if version == 3 else frozenset({2})
    assert [o.wire for o in result.out] == ["hello bob" + _wire.whitespace_tag(offered)]
    duo.flush()
    assert (duo.transcript[1].sender, type(decoded(duo.transcript[1].wire))) == (BOB, DHCommit)
    assert_secured(duo, version)
    assert seen(duo, BOB) == [("message", "hello bob", False)]
    assert seen(duo, ALICE) == []
    deliver(duo, ALICE, "now in private")
    deliver(duo, BOB, "indeed")


# ----------------------------------------------------- REQUIRE_ENCRYPTION

SECRET = "my secret plan: the café at nine"


def require_encryption(libotrs: Libotrs, pair: str, version: int, limits: tuple[int, int]) -> Duo:
    """alice requires encryption and types :data:`SECRET`; it is held and a Query Message goes out."""
    duo = libotrs.duo(
        pair,
        version,
        policies=(policy(version, require_encryption=True), policy(version)),
        max_message_size=limits,
    )
    duo.act(ALICE, "send", SECRET)
    return duo


@versions
@pairs
def test_require_encryption_never_puts_the_text_in_clear_and_delivers_it_once_secure(
    libotrs: Libotrs, pair: str, version: int
) -> None:
    duo = require_encryption(libotrs, pair, version, (0, 0))
    assert [type(decoded(w.wire)) for w in duo.in_flight] == [QueryMessage]
    duo.flush()
    assert all(SECRET not in w.wire for w in duo.transcript)
    # libotr keeps the text (may_retransmit = 2) and sends it itself once secure, without the
    # "[resent]" prefix (that is for retransmissions after an Error Message) and without MSG_RESENT.
    assert seen(duo, ALICE) == [("error", "held"), ("secure", version, False)]
    assert seen(duo, BOB) == [("secure", version, False), ("message", SECRET, True)]
    assert [w.sender for w in duo.transcript if isinstance(decoded(w.wire), DataMessage)] == [ALICE]
    assert status(duo, ALICE).msgstate == status(duo, BOB).msgstate == "encrypted"
    deliver(duo, ALICE, "nothing held any more")


@versions
@pairs
def test_require_encryption_when_the_dh_commit_arrives_in_fragments(
    libotrs: Libotrs, pair: str, version: int
) -> None:
    """bob fragments at 200 characters (his D-H Commit is 326-338): every fragment is checked too."""
    duo = require_encryption(libotrs, pair, version, (0, 200))
    duo.flush()
    assert all(SECRET not in w.wire for w in duo.transcript)
    assert any(w.sender == BOB and w.wire.startswith(FRAGMENT_PREFIX[version]) for w in duo.transcript)
    assert seen(duo, ALICE) == [("error", "held"), ("secure", version, False)]
    assert status(duo, ALICE).msgstate == status(duo, BOB).msgstate == "encrypted"
    if impl_of(pair, ALICE) == "libotr" and version == 3:
        # finding LIBOTR-007: the held text is never sent, and alice is not told.  message.c moves it
        # (lastmessage, may_retransmit) from the master context to a new instance context only when
        # the message that created the instance is processed; a fragment creates the instance and
        # returns early (OTRL_FRAGMENT_INCOMPLETE), so by the last fragment context_added is 0.
        assert seen(duo, BOB) == [("secure", 3, False)]
    else:
        assert seen(duo, BOB) == [("secure", version, False), ("message", SECRET, True)]


@versions
@pytest.mark.parametrize("pair", ["libotr-libotr", "libotr-engine"])
def test_require_encryption_query_is_fragmented_by_libotr_with_commas_in_the_pieces(
    libotrs: Libotrs, pair: str, version: int
) -> None:
    """finding LIBOTR-008: at max_message_size 200 libotr fragments its (340-341 character) Query
    Message, an unencoded message (spec, "Fragmentation": "you can fragment an encoded OTR
    message"), in the v2 format whatever the policy, and the pieces contain the comma of
    Debian's query text, which the fragment format "?OTR,%hu,%hu,%s," uses as its separator.
    Another libotr reassembles it; the engine drops both pieces as malformed and no AKE starts."""
    duo = require_encryption(libotrs, pair, version, (200, 200))
    pieces = [w.wire for w in duo.in_flight]
    assert [w[:17] for w in pieces] == ["?OTR,00001,00002,", "?OTR,00002,00002,"]
    assert all(len(w) <= 200 for w in pieces)
    assert any("," in w[17:-1] for w in pieces)
    assert isinstance(decoded("".join(w[17:-1] for w in pieces)), QueryMessage)
    duo.flush()
    assert all(SECRET not in w.wire for w in duo.transcript)
    if impl_of(pair, BOB) == "libotr":
        assert_secured(duo, version)
        # (and in v3 the held text is lost: finding LIBOTR-007, the D-H Commit came in fragments)
        held = [] if version == 3 else [("message", SECRET, True)]
        assert seen(duo, BOB) == held
    else:
        assert seen(duo, BOB) == [("error", "malformed"), ("error", "malformed")]
        assert len(duo.transcript) == 2
        assert status(duo, ALICE).msgstate == status(duo, BOB).msgstate == "plaintext"
    assert seen(duo, ALICE)[:1] == [("error", "held")]


@versions
@pairs
def test_require_encryption_with_two_held_texts_delivers_what_the_sender_keeps(
    libotrs: Libotrs, pair: str, version: int
) -> None:
    duo = libotrs.duo(pair, version, policies=(policy(version, require_encryption=True), policy(version)))
    texts = ["first held text", "second held text"]
    for text in texts:
        result = duo.act(ALICE, "send", text)
        assert [type(decoded(o.wire)) for o in result.out] == [QueryMessage]
    duo.flush()
    assert all(text not in w.wire for w in duo.transcript for text in texts)
    assert [e for e in seen(duo, ALICE) if e[0] != "secure"][:2] == [("error", "held")] * 2
    shown = [e for e in seen(duo, BOB) if e[0] == "message"]
    if impl_of(pair, ALICE) == "libotr":
        # finding LIBOTR-003: libotr keeps one held text (context_priv->lastmessage is overwritten by
        # each send), so the first is never sent although the user was told it was held.
        assert shown == [("message", texts[1], True)]
    else:
        assert shown == [("message", text, True) for text in texts]
    assert status(duo, ALICE).msgstate == status(duo, BOB).msgstate == "encrypted"


# ------------------------------------------------------- simultaneous start

LIBOTR_001 = (
    "finding LIBOTR-001: libotr's master context always concedes the D-H Commit tie-break "
    "(auth.c: if (!is_master && memcmp(...) > 0)), and in v3 a crossed commit lands in a fresh "
    "instance context, so two libotr clients that start at once both answer and the AKE stalls"
)


@pytest.mark.xfail(strict=True, reason=LIBOTR_001)
@versions
@pytest.mark.parametrize("pair", ["libotr-libotr"])
def test_simultaneous_start_between_two_libotr_clients_completes(
    libotrs: Libotrs, pair: str, version: int
) -> None:
    duo = libotrs.duo(pair, version)
    simultaneous_start(duo)
    assert status(duo, ALICE).msgstate == status(duo, BOB).msgstate == "encrypted"


@versions
@pytest.mark.parametrize("pair", ["libotr-libotr"])
def test_simultaneous_start_between_two_libotr_clients_stalls_after_both_concede(
    libotrs: Libotrs, pair: str, version: int
) -> None:
    """finding LIBOTR-001, as observed: both answer the crossed commits; in v3 both go on to send
    Reveal Signatures, which each ignores in AWAITING_SIG.  Nobody is told anything."""
    stalled = ["QueryMessage", "DHCommit", "DHKey"] + (["RevealSignature"] if version == 3 else [])
    for _ in range(3):  # independent of which hashed gx is higher
        duo = libotrs.duo(pair, version)
        simultaneous_start(duo)
        for name in (ALICE, BOB):
            assert kinds(duo, name) == stalled
            st = status(duo, name)
            assert st.msgstate == "plaintext"
            assert st.extra["x-authstate"] == ("awaiting_sig" if version == 3 else "awaiting_revealsig")
        assert seen(duo, ALICE) == seen(duo, BOB) == []


def seeds(i: int) -> tuple[bytes, bytes]:
    return f"alice/{i}".encode(), f"bob/{i}".encode()


@pytest.mark.parametrize("pair", ENGINE_AND_LIBOTR)
def test_simultaneous_start_between_the_engine_and_libotr_completes_in_v3(
    libotrs: Libotrs, pair: str
) -> None:
    for i in range(6):
        duo = libotrs.duo(pair, 3, seeds=seeds(i))
        simultaneous_start(duo)
        assert_secured(duo, 3)


def first_hashed_gx(duo: Duo, name: str) -> int:
    commits = sent(duo, name, DHCommit)
    assert commits, f"{name} sent no D-H Commit"
    return int.from_bytes(commits[0].hashed_gx, "big")


@pytest.mark.parametrize("pair", ENGINE_AND_LIBOTR)
def test_simultaneous_start_between_the_engine_and_libotr_in_v2_completes_iff_the_engine_hash_is_higher(
    libotrs: Libotrs, pair: str
) -> None:
    """finding LIBOTR-001 in v2: libotr always concedes, the engine runs the spec's tie-break.

    Engine higher: the engine keeps its commit, libotr concedes, the AKE completes.  Engine
    lower: both concede (each answers with a D-H Key, which the other ignores), and it stalls.
    Runs until both cases were seen (each run is a coin toss: libotr's gx is random).
    """
    engine = ALICE if impl_of(pair, ALICE) == "engine" else BOB
    libotr = other(engine)
    outcomes: set[bool] = set()
    for i in range(40):
        duo = libotrs.duo(pair, 2, seeds=seeds(i))
        simultaneous_start(duo)
        engine_higher = first_hashed_gx(duo, engine) > first_hashed_gx(duo, libotr)
        if engine_higher:
            assert_secured(duo, 2)
            assert not sent(duo, engine, DHKey)
            assert not sent(duo, libotr, RevealSignature)
            assert len({c.hashed_gx for c in sent(duo, engine, DHCommit)}) == 1
        else:
            for name in (ALICE, BOB):
                assert kinds(duo, name) == ["QueryMessage", "DHCommit", "DHKey"]
                assert status(duo, name).msgstate == "plaintext"
        outcomes.add(engine_higher)
        if i >= 5 and len(outcomes) == 2:
            break
    assert outcomes == {True, False}


# ---------------------------------------------------------------- errors


@versions
@pairs
def test_an_error_message_with_error_start_ake_is_reported_and_answered_with_a_query(
    libotrs: Libotrs, pair: str, version: int
) -> None:
    duo = libotrs.duo(pair, version, policies=(policy(version, error_start_ake=True), policy(version)))
    duo.in_flight.append(Wire(BOB, ALICE, "?OTR Error: something broke"))
    duo.deliver_one()
    errors = [(e.peer, e.text) for e in duo.a.events if isinstance(e, RemoteErrorReceived)]
    # libotr hands handle_msg_event the text less one space (message.c skips it); the adapter
    # reports what follows "?OTR Error:" in full, as the contract says and the engine does.
    assert errors == [(BOB, " something broke")]
    assert seen(duo, ALICE) == [("remote_error",)]
    (reply,) = duo.in_flight
    query = decoded(reply.wire)
    assert reply.sender == ALICE and isinstance(query, QueryMessage)
    assert query.versions == ({2, 3} if version == 3 else {2})
    duo.flush()
    assert_secured(duo, version)


MENTIONS_OTR = [
    # (text, what libotr shows and does); the engine shows every one of them as plaintext
    pytest.param("Do you use ?OTR at all?", [("error", "ignored")], [], id="unknown-marker"),
    pytest.param("a ?OTR, b", [], [], id="v2-fragment-marker"),
    pytest.param("?OTRv2 rocks", [], [DHCommit], id="unterminated-query"),
]


@pytest.mark.parametrize(("text", "libotr_shows", "libotr_sends"), MENTIONS_OTR)
def test_plaintext_that_merely_mentions_otr(
    libotrs: Libotrs, text: str, libotr_shows: list[tuple[object, ...]], libotr_sends: list[type]
) -> None:
    """Spec, "Receiving plaintext without the whitespace tag": "Simply display the message to the user".

    finding LIBOTR-004: libotr classifies any text containing "?OTR" not followed by a known marker as
    an unrecognised OTR message, and any text containing "?OTR," as a fragment: either is never shown.
    finding LIBOTR-005: "?OTRv" without the closing "?" the spec's grammar requires is taken as a
    Query Message: the text is not shown and an AKE starts.
    """
    duo = libotrs.duo("engine-libotr")
    duo.in_flight.append(Wire(BOB, ALICE, text))  # to the engine
    duo.deliver_one()
    assert seen(duo, ALICE) == [("message", text, False)]
    assert not duo.in_flight
    duo.in_flight.append(Wire(ALICE, BOB, text))  # to libotr
    duo.deliver_one()
    assert seen(duo, BOB) == libotr_shows
    assert [type(decoded(w.wire)) for w in duo.in_flight] == libotr_sends
    assert all(w.sender == BOB for w in duo.in_flight)


# ----------------------------------------------------------- worker isolation


def test_a_crash_inside_libotr_is_reported_and_the_harness_carries_on(libotrs: Libotrs) -> None:
    engine = impls.get("engine").make()
    worker = libotrs.start()
    fresh = None
    try:
        duo = Duo.create(lambda: engine, lambda: worker)
        establish(duo, 3)
        deliver(duo, ALICE, "before the crash")
        with pytest.raises(PeerCrashed) as caught:
            worker.extension("x-fault", {})
        crash = caught.value
        assert crash.signal == signal.SIGSEGV
        assert crash.returncode == -signal.SIGSEGV
        assert crash.reason == "exited"
        assert crash.request is not None and crash.request["op"] == "x-fault"
        assert not worker.running
        # The engine, in this process, is unaffected.
        assert engine.status(BOB).msgstate == "encrypted"
        assert [type(decoded(o.wire)) for o in engine.send(BOB, "still here").out] == [DataMessage]
        fresh = libotrs.start()
        duo = Duo.create(lambda: engine, lambda: fresh)
        establish(duo, 3)
        deliver(duo, ALICE, "after the crash")
        deliver(duo, BOB, "a new worker")
        assert smp(duo, BOB, "secret", "secret", None) == "success"
    finally:
        worker.close()
        if fresh is not None:
            fresh.close()


def test_a_crash_during_receive_is_reported_as_peer_crashed_on_the_next_call_not_a_hang(
    libotrs: Libotrs,
) -> None:
    """Two ways for a worker to die: x-fault first, then a receive; or a SIGSEGV between two calls.

    Either way the receive raises PeerCrashed at once (a hang would end as reason "timeout").
    """
    faulted, killed = libotrs.start(), libotrs.start()
    try:
        for worker in (faulted, killed):
            duo = Duo.create(lambda: impls.get("engine").make(), lambda w=worker: w)
            establish(duo, 3)
            if worker is faulted:
                with pytest.raises(PeerCrashed):
                    worker.extension("x-fault", {})
                reason = "stopped"
            else:
                os.kill(worker.pid, signal.SIGSEGV)  # a worker this test started
                while worker.returncode is None:
                    time.sleep(0.001)
                reason = "exited"
            duo.act(ALICE, "send", "are you there?")
            with pytest.raises(PeerCrashed) as caught:
                duo.flush()
            crash = caught.value
            assert crash.reason == reason
            assert crash.signal == signal.SIGSEGV
            assert crash.request is not None
            assert (crash.request["op"], crash.request["peer"]) == ("receive", ALICE)
    finally:
        faulted.close()
        killed.close()
