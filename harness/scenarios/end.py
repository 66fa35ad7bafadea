"""Ending a private conversation: TLV 1, MSGSTATE_FINISHED, and starting again.

Spec "User requests to end an OTR conversation" (ENCRYPTED: send TLV 1
and go to PLAINTEXT; FINISHED: go to PLAINTEXT; PLAINTEXT: do nothing),
"Receiving a Data Message" (TLV 1: go to FINISHED) and "User types a
message to be sent" (FINISHED: inform the user, send nothing).
"""

from __future__ import annotations

from harness.scenarios import roles, scenario
from harness.script import ExpectationFailed, Script
from implementations.api import Policy


def establish(s: Script) -> str:
    s.alice.query()
    s.deliver()
    return s.expect_private()


def expect_nothing_sent(s: Script, before: int, who: str) -> None:
    if len(s.net.sent) != before:
        packet = s.net.sent[before]
        raise ExpectationFailed(f"{who} should have sent nothing, sent {packet.kind}: {packet.wire[:60]!r}")


def alice_ends(s: Script) -> None:
    establish(s)
    s.alice.end()
    s.alice.sees("insecure")
    s.alice.expect_status(msgstate="plaintext")
    s.deliver()
    s.bob.sees("finished")
    s.bob.expect_status(msgstate="finished")


@scenario("end/alice-ends")
def alice_ends_session(s: Script) -> None:
    """alice ends: she is in plaintext at once, and bob is told and goes to FINISHED."""
    alice_ends(s)
    s.bob.sees_no("message")


@scenario("end/bob-ends")
def bob_ends_session(s: Script) -> None:
    """bob ends: he is in plaintext, and alice is told and goes to FINISHED."""
    establish(s)
    s.bob.end()
    s.bob.sees("insecure")
    s.bob.expect_status(msgstate="plaintext")
    s.deliver()
    s.alice.sees("finished")
    s.alice.expect_status(msgstate="finished")


@scenario("end/finished-refuses-text")
def finished_refuses_text(s: Script) -> None:
    """In FINISHED, bob's text is refused (not_private) and nothing goes on the network."""
    alice_ends(s)
    before = len(s.net.sent)
    s.bob.send("are you still there?")
    s.bob.sees("error", code="not_private")
    expect_nothing_sent(s, before, "bob (FINISHED)")
    s.bob.expect_status(msgstate="finished")


@scenario("end/finished-then-end")
def finished_then_end(s: Script) -> None:
    """bob ends from FINISHED: plaintext, nothing sent; his next text goes in the clear."""
    alice_ends(s)
    before = len(s.net.sent)
    s.bob.end()
    s.bob.expect_status(msgstate="plaintext")
    expect_nothing_sent(s, before, "bob (ending from FINISHED)")
    s.bob.send("plain again")
    s.deliver()
    s.alice.sees("message", text="plain again", encrypted=False)


@scenario("end/plaintext-while-finished")
def plaintext_while_finished(s: Script) -> None:
    """Plaintext reaching bob in FINISHED is shown with an unencrypted warning."""
    alice_ends(s)
    s.alice.send("back to plaintext")
    s.deliver()
    s.bob.sees("message", text="back to plaintext", encrypted=False)
    s.bob.sees("error", code="unencrypted")


@scenario("end/requery-after-end")
def requery_after_end(s: Script) -> None:
    """After an end on both sides, a new query gives a new private session with a new ssid."""
    first = establish(s)
    s.alice.end()
    s.deliver()
    s.bob.end()
    second = establish(s)
    if first == second:
        raise ExpectationFailed("the new session has the ssid of the ended one")
    s.alice.send("private again")
    s.deliver()
    s.bob.sees("message", text="private again", encrypted=True)


@scenario("end/requery-from-finished")
def requery_from_finished(s: Script) -> None:
    """bob, in FINISHED, asks for OTR again: the AKE takes both sides back to ENCRYPTED."""
    alice_ends(s)
    s.bob.query()
    s.deliver()
    s.expect_private()
    s.bob.send("private again")
    s.deliver()
    s.alice.sees("message", text="private again", encrypted=True)


@scenario("end/in-plaintext")
def end_in_plaintext(s: Script) -> None:
    """Ending when no private conversation exists does nothing."""
    s.alice.end()
    s.alice.expect_status(msgstate="plaintext")
    if s.net.sent:
        raise ExpectationFailed(f"alice sent {s.net.sent[0].kind} when ending in plaintext")
    s.alice.sees_no("insecure")


@scenario("end/message-crossing-end", cast=roles(alice=Policy(error_start_ake=False)))
def message_crossing_end(s: Script) -> None:
    """alice's message reaches bob after he ended: unreadable for him, and an Error Message goes back."""
    establish(s)
    s.alice.send("crossing the end")
    s.bob.end()
    s.deliver()
    s.bob.sees("error", code="unreadable")
    if "crossing the end" in s.bob.messages():
        raise ExpectationFailed("bob read a Data Message after forgetting the keys")
    s.alice.sees("finished")
    s.alice.sees("remote_error")
