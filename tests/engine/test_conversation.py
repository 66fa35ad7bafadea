"""Engine-to-engine conversations: AKE, data exchange, policies, SMP, ending, errors.

Each test holds a conversation between two engines on the in-order network
of :class:`~harness.conversation.Duo`, once with in-process adapters and
once with each engine in its own ``otrcheck peer engine`` process (the
``engines`` fixture), and checks what crossed the wire and what each side
was shown.  Both engines are seeded, so every run is the same run.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

import pytest

from harness.conversation import Duo, Wire
from implementations.api import (
    ErrorRaised,
    Event,
    MessageReceived,
    Policy,
    RemoteErrorReceived,
    SessionSecured,
    SmpUpdated,
    Status,
    SymkeyReceived,
)
from implementations.engine import EngineAdapter, ManualClock, _wire
from implementations.engine._fragments import Fragment, parse_fragment
from implementations.engine._wire import DataMessage, DHCommit, DHKey, RevealSignature
from implementations.fixtures import fingerprint

if TYPE_CHECKING:
    from tests.conftest import Engines

ALICE, BOB = "alice", "bob"
TAGS = {ALICE: 0x100, BOB: 0x101}  # Duo.create's default instance tags
BOTH = Policy()
V2_ONLY = Policy(allow_v3=False)
V3_ONLY = Policy(allow_v2=False)
UTF8_TEXT = "Grüße aus Köln — 日本語のテキスト, emoji 🔐🎉👩‍💻 and ✓"
BIG_TEXT = ("64 KiB of text, ünïcødé included. " * 2000)[: 64 * 1024]
UNREADABLE_REPLY = "?OTR Error:"

M = TypeVar("M")


# ----------------------------------------------------------------- helpers


def other(name: str) -> str:
    return BOB if name == ALICE else ALICE


def status(duo: Duo, name: str) -> Status:
    return duo.sides[name].adapter.status(other(name))


def summary(event: Event) -> tuple[object, ...]:
    """An event reduced to what the tests compare (same for both transports)."""
    if isinstance(event, MessageReceived):
        return ("message", event.text, event.encrypted)
    if isinstance(event, ErrorRaised):
        return ("error", event.code)
    if isinstance(event, SmpUpdated):
        return ("smp", event.result, event.question)
    if isinstance(event, SessionSecured):
        return ("secure", event.version, event.refreshed)
    return (event.type,)


def seen(duo: Duo, name: str) -> list[tuple[object, ...]]:
    """What ``name`` was shown since the last call, summarized; forgets it."""
    return [summary(e) for e in duo.sides[name].take_events()]


def forget_events(duo: Duo) -> None:
    seen(duo, ALICE)
    seen(duo, BOB)


def decoded(wire: str) -> object:
    return _wire.parse(wire)


def sent(duo: Duo, name: str, kind: type[M], since: int = 0) -> list[M]:
    """The messages of class ``kind`` that ``name`` put on the wire (unfragmented transcripts)."""
    return [m for w in duo.transcript[since:] if w.sender == name and isinstance(m := decoded(w.wire), kind)]


def establish(duo: Duo, starter: str = ALICE) -> str:
    """``starter`` queries; the AKE completes; returns the ssid.  Events are forgotten."""
    duo.act(starter, "query")
    duo.flush()
    a, b = status(duo, ALICE), status(duo, BOB)
    assert a.msgstate == b.msgstate == "encrypted"
    assert a.ssid is not None and a.ssid == b.ssid
    forget_events(duo)
    return a.ssid


def assert_secured(duo: Duo, version: int, refreshed: bool = False) -> str:
    """Both sides: encrypted at ``version``, same ssid, the other's true fingerprint, one secure event.

    The secure events are taken (forgotten) from both sides; other events stay.
    """
    statuses = {name: status(duo, name) for name in (ALICE, BOB)}
    ssid = statuses[ALICE].ssid
    assert ssid is not None and len(ssid) == 16
    for name, st in statuses.items():
        assert st.msgstate == "encrypted"
        assert st.version == version
        assert st.ssid == ssid
        assert st.fingerprint == fingerprint(name)
        assert st.peer_fingerprint == fingerprint(other(name))
        assert st.peer_instance_tag == (TAGS[other(name)] if version == 3 else None)
        side = duo.sides[name]
        secured = [e for e in side.events if isinstance(e, SessionSecured)]
        side.events = [e for e in side.events if not isinstance(e, SessionSecured)]
        assert [(e.peer, e.version, e.ssid, e.peer_fingerprint, e.refreshed) for e in secured] == [
            (other(name), version, ssid, fingerprint(other(name)), refreshed)
        ]
    return ssid


def deliver(duo: Duo, sender: str, text: str) -> None:
    """``sender`` sends ``text``; the other side is shown it exactly once, encrypted, and nothing else."""
    duo.act(sender, "send", text)
    duo.flush()
    assert seen(duo, other(sender)) == [("message", text, True)]
    assert seen(duo, sender) == []


def data_messages(duo: Duo, name: str, since: int = 0) -> list[DataMessage]:
    return sent(duo, name, DataMessage, since)


# ---------------------------------------------------------------------- AKE


@pytest.mark.parametrize("starter", [ALICE, BOB])
def test_v3_query_from_either_side_secures_both_with_same_ssid_and_true_fingerprints(
    engines: Engines, starter: str
) -> None:
    duo = engines.duo()
    result = duo.act(starter, "query")
    assert [type(decoded(o.wire)) for o in result.out] == [_wire.QueryMessage]
    duo.flush()
    assert_secured(duo, 3)
    assert seen(duo, ALICE) == seen(duo, BOB) == []
    kinds = [(w.sender, type(decoded(w.wire))) for w in duo.transcript]
    responder = other(starter)
    assert kinds == [
        (starter, _wire.QueryMessage),
        (responder, DHCommit),
        (starter, DHKey),
        (responder, RevealSignature),
        (starter, _wire.Signature),
    ]


@pytest.mark.parametrize(
    ("alice_policy", "bob_policy", "version"),
    [
        pytest.param(V2_ONLY, BOTH, 2, id="alice-v2-only"),
        pytest.param(BOTH, V2_ONLY, 2, id="bob-v2-only"),
        pytest.param(V2_ONLY, V2_ONLY, 2, id="both-v2-only"),
        pytest.param(BOTH, BOTH, 3, id="both-v2-v3"),
        pytest.param(V3_ONLY, BOTH, 3, id="alice-v3-only"),
    ],
)
def test_ake_negotiates_the_highest_common_version_whoever_starts(
    engines: Engines, alice_policy: Policy, bob_policy: Policy, version: int
) -> None:
    for starter in (ALICE, BOB):
        duo = engines.duo(policies=(alice_policy, bob_policy))
        duo.act(starter, "query")
        duo.flush()
        assert_secured(duo, version)
        encoded = [m for w in duo.transcript if isinstance(m := decoded(w.wire), _wire.EncodedMessage)]
        assert {m.header.version for m in encoded} == {version}
        deliver(duo, ALICE, f"v{version} from alice")
        deliver(duo, BOB, f"v{version} from bob")


def test_query_offering_no_common_version_is_ignored_and_starts_no_ake(engines: Engines) -> None:
    for starter in (ALICE, BOB):
        duo = engines.duo(policies=(V2_ONLY, V3_ONLY))
        duo.act(starter, "query")
        duo.flush()
        assert len(duo.transcript) == 1
        assert seen(duo, other(starter)) == [("error", "ignored")]
        assert seen(duo, starter) == []
        assert status(duo, ALICE).msgstate == status(duo, BOB).msgstate == "plaintext"


def first_commit(duo: Duo, name: str) -> DHCommit:
    commits = sent(duo, name, DHCommit)
    assert commits, f"{name} sent no D-H Commit"
    commit: DHCommit = commits[0]
    return commit


@pytest.mark.parametrize("first", [ALICE, BOB])
@pytest.mark.parametrize(("policy", "version"), [(BOTH, 3), (V2_ONLY, 2)], ids=["v3", "v2"])
def test_simultaneous_queries_cross_commits_and_the_higher_hashed_gx_wins(
    engines: Engines, policy: Policy, version: int, first: str
) -> None:
    """Spec "AUTHSTATE_AWAITING_DHKEY", D-H Commit received: the higher hash resends its commit.

    Over the seeds each side has the higher hash at least once, so both branches run.
    """
    winners = set()
    for i in range(6):
        duo = engines.duo(policies=(policy, policy), seeds=(f"alice/{i}".encode(), f"bob/{i}".encode()))
        duo.act(first, "query")
        duo.act(other(first), "query")
        duo.flush()
        commits = {name: first_commit(duo, name) for name in (ALICE, BOB)}
        high = max(commits, key=lambda name: int.from_bytes(commits[name].hashed_gx, "big"))
        low = other(high)
        assert sent(duo, low, DHKey) and not sent(duo, high, DHKey)
        assert sent(duo, high, RevealSignature) and not sent(duo, low, RevealSignature)
        assert all(c.hashed_gx == commits[high].hashed_gx for c in sent(duo, high, DHCommit))
        assert_secured(duo, version)
        winners.add(high)
    assert winners == {ALICE, BOB}


def ake_values(duo: Duo, since: int, until: int | None = None) -> set[tuple[str, object]]:
    """Every commitment, D-H public value and revealed key in the transcript slice."""
    values: set[tuple[str, object]] = set()
    for w in duo.transcript[since:until]:
        m = decoded(w.wire)
        if isinstance(m, DHCommit):
            values |= {("hashed gx", m.hashed_gx), ("encrypted gx", m.encrypted_gx)}
        elif isinstance(m, DHKey):
            values.add(("gy", m.gy))
        elif isinstance(m, RevealSignature):
            values.add(("r", m.revealed_key))
    return values


@pytest.mark.parametrize(
    "rekeyer",
    [
        ALICE,
        BOB,
    ],
)
def test_second_ake_never_reuses_commitments_or_dh_values_of_the_first(
    engines: Engines, rekeyer: str
) -> None:
    """Spec: each D-H Commit picks fresh r and x; in AUTHSTATE_NONE a D-H Commit gets a fresh D-H Key."""
    for i in range(4):
        duo = engines.duo(seeds=(f"alice/{i}".encode(), f"bob/{i}".encode()))
        establish(duo, ALICE)
        before = len(duo.transcript)
        duo.act(rekeyer, "query")
        duo.flush()
        assert_secured(duo, 3, refreshed=True)
        reused = ake_values(duo, 0, before) & ake_values(duo, before)
        assert not reused, f"seed {i}: {sorted(kind for kind, _ in reused)} reused"


# ----------------------------------------------------------------- messages


def test_ascii_utf8_and_64k_messages_arrive_once_encrypted_both_ways(engines: Engines) -> None:
    duo = engines.duo()
    establish(duo)
    for text in ("Hello, Bob!", UTF8_TEXT, BIG_TEXT):
        deliver(duo, ALICE, text)
        deliver(duo, BOB, text[::-1])
    assert all(text not in w.wire for w in duo.transcript for text in ("Hello, Bob!", "Grüße"))


def test_empty_message_is_sent_encrypted_but_not_displayed_and_the_session_goes_on(engines: Engines) -> None:
    duo = engines.duo()
    establish(duo)
    before = len(duo.transcript)
    result = duo.act(ALICE, "send", "")
    assert [type(decoded(o.wire)) for o in result.out] == [DataMessage]
    duo.flush()
    assert seen(duo, BOB) == []
    assert seen(duo, ALICE) == []
    assert [w.sender for w in duo.transcript[before:]] == [ALICE]
    assert status(duo, BOB).msgstate == "encrypted"
    deliver(duo, ALICE, "after the empty one")
    deliver(duo, BOB, "still private")


def test_twenty_round_trips_rotate_keys_and_reveal_old_mac_keys(engines: Engines) -> None:
    duo = engines.duo()
    establish(duo)
    for i in range(20):
        deliver(duo, ALICE, f"ping {i}")
        deliver(duo, BOB, f"pong {i}")
    for name in (ALICE, BOB):
        keyids = [m.sender_keyid for m in data_messages(duo, name)]
        assert keyids == sorted(keyids)
        assert keyids[-1] - keyids[0] >= 19, f"{name}'s keys did not rotate: {keyids}"
        assert any(m.old_mac_keys for m in data_messages(duo, name))
    assert status(duo, ALICE).msgstate == status(duo, BOB).msgstate == "encrypted"


def test_ten_messages_one_way_without_replies_arrive_in_order(engines: Engines) -> None:
    duo = engines.duo()
    establish(duo)
    texts = [f"message {i} of 10" for i in range(10)]
    for text in texts:
        duo.act(ALICE, "send", text)
    duo.flush()
    assert seen(duo, BOB) == [("message", text, True) for text in texts]
    assert seen(duo, ALICE) == []
    sent_data = data_messages(duo, ALICE)
    assert len({(m.sender_keyid, m.recipient_keyid) for m in sent_data}) == 1
    counters = [int.from_bytes(m.ctr, "big") for m in sent_data]
    assert counters == sorted(set(counters))
    deliver(duo, BOB, "got all ten")


@pytest.mark.parametrize("limit", [150, 1000])
@pytest.mark.parametrize("version", [3, 2])
def test_fragments_fit_max_message_size_and_reassemble_exactly(
    engines: Engines, version: int, limit: int
) -> None:
    policy = BOTH if version == 3 else V2_ONLY
    duo = engines.duo(policies=(policy, policy), max_message_size=(limit, limit))
    establish(duo)
    texts = ["short", UTF8_TEXT, "y" * 1000]
    if limit == 1000:
        texts += ["z" * 10 * 1024, BIG_TEXT]
    for text in texts:
        deliver(duo, ALICE, text)
        deliver(duo, BOB, text.upper())
    assert status(duo, ALICE).version == version
    assert max(len(w.wire) for w in duo.transcript) <= limit
    prefix, wrong = ("?OTR|", "?OTR,") if version == 3 else ("?OTR,", "?OTR|")
    fragments = [w for w in duo.transcript if w.wire.startswith(prefix)]
    assert not [w for w in duo.transcript if w.wire.startswith(wrong)]
    assert len(fragments) > len(texts)
    for w in fragments:
        piece = parse_fragment(w.wire)
        assert isinstance(piece, Fragment)
        assert piece.version == version
        if version == 3:
            assert piece.sender_tag == TAGS[w.sender]
            assert piece.receiver_tag in (0, TAGS[w.to])
    unfragmented = [w for w in duo.transcript if w.wire.startswith("?OTR:")]
    assert all(len(w.wire) <= limit for w in unfragmented)


# ---------------------------------------------------------------- whitespace


def test_whitespace_tagged_plaintext_is_shown_without_the_tag_and_starts_the_ake(engines: Engines) -> None:
    duo = engines.duo(policies=(Policy(send_whitespace_tag=True), Policy(whitespace_start_ake=True)))
    result = duo.act(ALICE, "send", "hello bob")
    assert [o.wire for o in result.out] == ["hello bob" + _wire.whitespace_tag(frozenset({2, 3}))]
    duo.flush()
    assert_secured(duo, 3)
    assert [e for e in duo.b.events if isinstance(e, MessageReceived)] == [
        MessageReceived(ALICE, "hello bob", encrypted=False)
    ]
    assert seen(duo, BOB) == [("message", "hello bob", False)]
    assert seen(duo, ALICE) == []
    assert (BOB, DHCommit) == (duo.transcript[1].sender, type(decoded(duo.transcript[1].wire)))


def test_whitespace_tag_without_whitespace_start_ake_only_shows_the_text(engines: Engines) -> None:
    duo = engines.duo(policies=(Policy(send_whitespace_tag=True), Policy(whitespace_start_ake=False)))
    duo.act(ALICE, "send", "hello bob")
    duo.flush()
    assert seen(duo, BOB) == [("message", "hello bob", False)]
    assert len(duo.transcript) == 1
    assert status(duo, BOB).msgstate == "plaintext"


def test_whitespace_tag_stops_once_an_untagged_plaintext_arrives(engines: Engines) -> None:
    duo = engines.duo(policies=(Policy(send_whitespace_tag=True), Policy(whitespace_start_ake=False)))
    tag = _wire.TAG_BASE
    duo.act(ALICE, "send", "first")
    duo.act(ALICE, "send", "second")
    duo.flush()
    assert all(w.wire.endswith(tag + _wire.TAG_VERSIONS[2] + _wire.TAG_VERSIONS[3]) for w in duo.transcript)
    duo.act(BOB, "send", "untagged reply")
    duo.flush()
    assert seen(duo, ALICE) == [("message", "untagged reply", False)]
    result = duo.act(ALICE, "send", "third")
    assert [o.wire for o in result.out] == ["third"]
    duo.flush()
    assert seen(duo, BOB) == [("message", t, False) for t in ("first", "second", "third")]


# ---------------------------------------------------------------- error start


def test_error_message_is_reported_and_starts_the_ake_with_error_start_ake(engines: Engines) -> None:
    duo = engines.duo(policies=(Policy(error_start_ake=True), BOTH))
    duo.in_flight.append(Wire(BOB, ALICE, "?OTR Error: something broke"))
    duo.deliver_one()
    assert [(e.peer, e.text) for e in duo.a.events if isinstance(e, RemoteErrorReceived)] == [
        (BOB, " something broke")
    ]
    assert [type(decoded(w.wire)) for w in duo.in_flight] == [_wire.QueryMessage]
    duo.flush()
    assert_secured(duo, 3)


def test_error_message_without_error_start_ake_is_only_reported(engines: Engines) -> None:
    duo = engines.duo(policies=(Policy(error_start_ake=False), BOTH))
    duo.in_flight.append(Wire(BOB, ALICE, "?OTR Error: something broke"))
    duo.flush()
    assert seen(duo, ALICE) == [("remote_error",)]
    assert len(duo.transcript) == 1
    assert status(duo, ALICE).msgstate == "plaintext"


# ----------------------------------------------------------------------- SMP


def smp(duo: Duo, initiator: str, secret: str, answer: str, question: str | None) -> str:
    """Run a whole SMP; check the events of both sides; return the result they agree on."""
    responder = other(initiator)
    duo.act(initiator, "smp_start", secret, question)
    duo.flush()
    assert seen(duo, responder) == [("smp", "ask", question)]
    duo.act(responder, "smp_respond", answer)
    duo.flush()
    result = "success" if secret == answer else "failure"
    assert seen(duo, initiator) == [("smp", "in_progress", None), ("smp", result, None)]
    assert seen(duo, responder) == [("smp", result, None)]
    assert status(duo, ALICE).smp == status(duo, BOB).smp == "expect1"
    return result


@pytest.mark.parametrize("question", [None, "Where did we first meet? 🌍"], ids=["no-question", "question"])
@pytest.mark.parametrize("initiator", [ALICE, BOB])
def test_smp_with_equal_secrets_succeeds_on_both_sides(
    engines: Engines, initiator: str, question: str | None
) -> None:
    duo = engines.duo()
    establish(duo)
    secret = "the café on Rue Oberkampf"
    assert smp(duo, initiator, secret, secret, question) == "success"
    deliver(duo, initiator, "verified")


@pytest.mark.parametrize("initiator", [ALICE, BOB])
def test_smp_with_different_secrets_fails_on_both_sides(engines: Engines, initiator: str) -> None:
    duo = engines.duo()
    establish(duo)
    assert smp(duo, initiator, "apple", "orange", "Fruit?") == "failure"
    assert smp(duo, initiator, "apple", "apple", None) == "success"


def abort_initiator_before_delivery(duo: Duo) -> str:
    duo.act(ALICE, "smp_start", "secret", None)
    duo.act(ALICE, "smp_abort")
    return ALICE


def abort_responder_instead_of_answering(duo: Duo) -> str:
    duo.act(ALICE, "smp_start", "secret", "Question?")
    duo.flush()
    duo.act(BOB, "smp_abort")
    return BOB


def abort_responder_after_answering(duo: Duo) -> str:
    duo.act(ALICE, "smp_start", "secret", None)
    duo.flush()
    duo.act(BOB, "smp_respond", "secret")
    duo.act(BOB, "smp_abort")
    return BOB


def abort_initiator_after_message_3_was_lost(duo: Duo) -> str:
    duo.act(ALICE, "smp_start", "secret", None)
    duo.flush()
    duo.act(BOB, "smp_respond", "secret")
    duo.deliver_one()
    lost = duo.in_flight.popleft()
    assert lost.sender == ALICE and not duo.in_flight
    duo.act(ALICE, "smp_abort")
    return ALICE


@pytest.mark.parametrize(
    "abort",
    [
        abort_initiator_before_delivery,
        abort_responder_instead_of_answering,
        abort_responder_after_answering,
        abort_initiator_after_message_3_was_lost,
    ],
)
def test_smp_abort_at_any_step_reports_abort_to_the_other_side_and_resets(
    engines: Engines, abort: Callable[[Duo], str]
) -> None:
    duo = engines.duo()
    establish(duo)
    aborter = abort(duo)
    duo.flush()
    shown = {name: seen(duo, name) for name in (ALICE, BOB)}
    assert ("smp", "abort", None) in shown[other(aborter)]
    for events in shown.values():
        assert not {("smp", "success", None), ("smp", "failure", None)} & set(events)
    assert status(duo, ALICE).smp == status(duo, BOB).smp == "expect1"
    assert smp(duo, BOB, "again", "again", None) == "success"


def test_smp_without_an_encrypted_session_is_refused_and_sends_nothing(engines: Engines) -> None:
    duo = engines.duo()
    for op, args in (("smp_start", ("secret", "Q?")), ("smp_respond", ("secret",)), ("smp_abort", ())):
        result = duo.act(ALICE, op, *args)
        assert result.out == []
        assert [summary(e) for e in result.events] == [("error", "smp")]
    assert not duo.in_flight
    assert status(duo, ALICE).smp == "expect1"


def test_smp_respond_with_nothing_to_answer_reports_an_smp_error_and_sends_nothing(engines: Engines) -> None:
    duo = engines.duo()
    establish(duo)
    result = duo.act(BOB, "smp_respond", "an answer to no question")
    assert result.out == []
    assert [summary(e) for e in result.events] == [("smp", "error", None)]


# ----------------------------------------------------------------- ending


def test_end_leaves_the_peer_finished_and_refusing_text_until_it_ends_too(engines: Engines) -> None:
    duo = engines.duo()
    establish(duo)
    result = duo.act(ALICE, "end")
    assert [summary(e) for e in result.events] == [("insecure",)]
    duo.flush()
    assert seen(duo, BOB) == [("finished",)]
    assert status(duo, ALICE).msgstate == "plaintext"
    assert status(duo, BOB).msgstate == "finished"
    result = duo.act(BOB, "send", "are you there?")
    assert result.out == []
    assert [summary(e) for e in result.events] == [("error", "not_private")]
    assert not duo.in_flight
    duo.act(BOB, "end")
    assert not duo.in_flight
    assert status(duo, BOB).msgstate == "plaintext"
    assert all("are you there" not in w.wire for w in duo.transcript)


@pytest.mark.parametrize("starter", [ALICE, BOB])
def test_query_after_end_establishes_a_new_session_not_a_refresh(engines: Engines, starter: str) -> None:
    duo = engines.duo()
    old = establish(duo)
    duo.act(ALICE, "end")
    duo.flush()
    duo.act(BOB, "end")
    forget_events(duo)
    duo.act(starter, "query")
    duo.flush()
    assert assert_secured(duo, 3, refreshed=False) != old
    deliver(duo, ALICE, "private again")
    deliver(duo, BOB, "indeed")


@pytest.mark.parametrize("starter", [ALICE, BOB])
def test_query_while_encrypted_refreshes_keys_with_a_new_ssid(engines: Engines, starter: str) -> None:
    duo = engines.duo()
    old = establish(duo)
    deliver(duo, ALICE, "before the refresh")
    duo.act(starter, "query")
    duo.flush()
    assert assert_secured(duo, 3, refreshed=True) != old
    forget_events(duo)
    deliver(duo, ALICE, "after the refresh")
    deliver(duo, BOB, "received")


# ------------------------------------------------------- extra symmetric key


def test_symkey_returns_the_key_the_receiver_is_told_about(engines: Engines) -> None:
    duo = engines.duo()
    establish(duo)
    for sender, use, usedata in ((ALICE, 1, b"file.txt"), (BOB, 0xFFFFFFFF, b""), (ALICE, 7, b"\x00\xff")):
        deliver(duo, sender, "rotate first")
        result = duo.act(sender, "symkey", use, usedata)
        key = result.fields["key"]
        assert isinstance(key, str) and len(key) == 64
        assert [type(decoded(o.wire)) for o in result.out] == [DataMessage]
        duo.flush()
        assert seen(duo, sender) == []
        got = duo.sides[other(sender)].take_events()
        assert got == [SymkeyReceived(sender, use, usedata.hex(), key)]


def test_symkey_in_a_v2_session_returns_no_key_and_an_error(engines: Engines) -> None:
    duo = engines.duo(policies=(V2_ONLY, BOTH))
    establish(duo)
    result = duo.act(ALICE, "symkey", 1, b"x")
    assert result.fields.get("key") is None
    assert result.out == []
    assert [summary(e) for e in result.events] == [("error", "not_private")]
    forget_events(duo)
    deliver(duo, ALICE, "still fine")


# ----------------------------------------------------- REQUIRE_ENCRYPTION


def test_require_encryption_holds_text_sends_only_a_query_and_delivers_it_once_secure(
    engines: Engines,
) -> None:
    duo = engines.duo(policies=(Policy(require_encryption=True), BOTH))
    secrets = ["my secret plan", "and a second one"]
    for text in secrets:
        result = duo.act(ALICE, "send", text)
        assert [type(decoded(o.wire)) for o in result.out] == [_wire.QueryMessage]
        assert all(text not in o.wire for o in result.out)
        assert [summary(e) for e in result.events] == [("error", "held")]
    duo.flush()
    assert all(text not in w.wire for w in duo.transcript for text in secrets)
    shown = [summary(e) for e in duo.b.events]
    assert_secured(duo, 3)
    assert [s for s in shown if s[0] == "message"] == [("message", text, True) for text in secrets]
    assert shown.index(("message", secrets[0], True)) > shown.index(("secure", 3, False))
    forget_events(duo)
    deliver(duo, ALICE, "nothing held any more")


def test_require_encryption_shows_received_plaintext_with_an_unencrypted_warning(engines: Engines) -> None:
    duo = engines.duo(policies=(Policy(require_encryption=True), BOTH))
    duo.act(BOB, "send", "hi in the clear")
    duo.flush()
    assert seen(duo, ALICE) == [("message", "hi in the clear", False), ("error", "unencrypted")]


def test_plaintext_received_while_encrypted_is_shown_with_an_unencrypted_warning(engines: Engines) -> None:
    duo = engines.duo()
    establish(duo)
    duo.in_flight.append(Wire(ALICE, BOB, "sent in the clear"))
    duo.flush()
    assert seen(duo, BOB) == [("message", "sent in the clear", False), ("error", "unencrypted")]
    assert status(duo, BOB).msgstate == "encrypted"
    deliver(duo, ALICE, "back to private")


# ----------------------------------------------------- unreadable messages


def end_both(duo: Duo) -> None:
    duo.act(ALICE, "end")
    duo.flush()
    duo.act(BOB, "end")
    duo.flush()
    forget_events(duo)
    assert status(duo, ALICE).msgstate == status(duo, BOB).msgstate == "plaintext"


def test_data_message_in_plaintext_is_unreadable_and_answered_with_an_error(engines: Engines) -> None:
    duo = engines.duo()
    establish(duo)
    duo.act(ALICE, "send", "before the end")
    old = duo.in_flight[0]
    duo.flush()
    end_both(duo)
    duo.in_flight.append(old)
    duo.deliver_one()
    assert seen(duo, BOB) == [("error", "unreadable")]
    assert [(w.sender, w.wire.startswith(UNREADABLE_REPLY)) for w in duo.in_flight] == [(BOB, True)]
    duo.deliver_one()
    assert [e.type for e in duo.a.events][:1] == ["remote_error"]


def test_ignore_unreadable_data_message_after_end_is_ignored_and_unanswered(engines: Engines) -> None:
    duo = engines.duo()
    establish(duo)
    duo.act(ALICE, "smp_start", "secret", None)
    smp1 = duo.in_flight[0]
    message = decoded(smp1.wire)
    assert isinstance(message, DataMessage) and message.flags & _wire.IGNORE_UNREADABLE
    duo.flush()
    end_both(duo)
    duo.in_flight.append(smp1)
    duo.deliver_one()
    assert seen(duo, BOB) == [("error", "ignored")]
    assert not duo.in_flight


def test_replayed_data_message_is_rejected_and_shown_once(engines: Engines) -> None:
    duo = engines.duo()
    establish(duo)
    duo.act(ALICE, "send", "say it once")
    original = duo.in_flight[0]
    duo.flush()
    duo.in_flight.append(original)
    duo.deliver_one()
    shown = seen(duo, BOB)
    assert ("message", "say it once", True) in shown
    assert shown.count(("message", "say it once", True)) == 1
    assert shown[-1] in (("error", "unreadable"), ("error", "ignored"))
    duo.flush()
    assert ("message", "say it once", True) not in seen(duo, BOB)
    forget_events(duo)
    deliver(duo, ALICE, "a new one")


# ----------------------------------------------------------------- heartbeat


def test_heartbeat_follows_a_received_message_after_60_silent_seconds_and_is_not_shown() -> None:
    """In-process only: the peer protocol has no way to move an engine's clock."""
    duo = Duo.create(EngineAdapter)
    establish(duo)
    bob = duo.b.adapter
    assert isinstance(bob, EngineAdapter) and isinstance(bob.clock, ManualClock)
    before = len(duo.transcript)
    deliver(duo, ALICE, "within a minute")
    assert [w.sender for w in duo.transcript[before:]] == [ALICE]
    bob.clock.advance(61)
    before = len(duo.transcript)
    deliver(duo, ALICE, "after a quiet minute")
    assert [w.sender for w in duo.transcript[before:]] == [ALICE, BOB]
    (heartbeat,) = data_messages(duo, BOB, before)
    assert heartbeat.flags & _wire.IGNORE_UNREADABLE
    before = len(duo.transcript)
    deliver(duo, ALICE, "right after the heartbeat")
    assert [w.sender for w in duo.transcript[before:]] == [ALICE]
