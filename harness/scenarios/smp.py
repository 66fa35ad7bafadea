"""SMP: the Socialist Millionaires' Protocol inside a private conversation (spec, "The SMP state machine").

Each scenario starts private (a query from alice, the AKE) and runs SMP as
the users would: one side asks (``smp_start``), the other answers
(``smp_respond``) once it has seen the request (``ask``).  Both sides report
the outcome: "A failed comparison still completes the four messages and
reports failure on both sides"; an abort (TLV 6) or an SMP TLV in the wrong
state returns smpstate to EXPECT1.
"""

from __future__ import annotations

from harness.scenarios import roles, scenario
from harness.script import Actor, ExpectationFailed, Script
from implementations.api import Policy

V2_ONLY = Policy(allow_v2=True, allow_v3=False)


def private(s: Script, version: int | None = None) -> None:
    s.alice.query()
    s.deliver()
    s.expect_private(version)


def run_smp(
    s: Script, asker: Actor, answerer: Actor, secret: str, answer: str, question: str | None = None
) -> None:
    """asker starts SMP, answerer sees the request and answers; everything is delivered."""
    asker.smp_start(secret, question)
    s.deliver()
    answerer.sees("smp", result="ask", question=question)
    answerer.smp_respond(answer)
    s.deliver()


def both_idle(*actors: Actor) -> None:
    for actor in actors:
        actor.expect_status(smp="expect1", msgstate="encrypted")


@scenario("smp/success", needs=("smp",))
def success(s: Script) -> None:
    """Same secret on both sides: both report success and return to EXPECT1."""
    private(s)
    run_smp(s, s.alice, s.bob, "our shared secret", "our shared secret")
    s.alice.sees("smp", result="success")
    s.bob.sees("smp", result="success")
    both_idle(s.alice, s.bob)


@scenario("smp/success-with-question", needs=("smp", "smp_question"))
def success_with_question(s: Script) -> None:
    """SMP message 1Q (TLV 7): the responder is shown the question, then both succeed."""
    private(s)
    run_smp(s, s.alice, s.bob, "blue", "blue", question="Colour of the boat?")
    s.alice.sees("smp", result="success")
    s.bob.sees("smp", result="success")
    both_idle(s.alice, s.bob)


@scenario("smp/failure-different-secrets", needs=("smp",))
def failure_different_secrets(s: Script) -> None:
    """Different secrets: all four messages still cross and BOTH sides report failure (spec, SMP 3 and 4)."""
    private(s)
    run_smp(s, s.alice, s.bob, "apple", "pear")
    s.bob.sees("smp", result="failure")
    s.alice.sees("smp", result="failure")
    for actor in (s.alice, s.bob):
        actor.sees_no("smp", result="success")
        actor.sees_no("smp", result="abort")
    both_idle(s.alice, s.bob)


@scenario("smp/bob-starts", needs=("smp",))
def bob_starts(s: Script) -> None:
    """The side that did not start the AKE can start SMP; both succeed."""
    private(s)
    run_smp(s, s.bob, s.alice, "from bob's side", "from bob's side")
    s.bob.sees("smp", result="success")
    s.alice.sees("smp", result="success")
    both_idle(s.alice, s.bob)


@scenario("smp/retry-after-failure", needs=("smp",))
def retry_after_failure(s: Script) -> None:
    """A failed run leaves nothing behind: a second run with equal secrets succeeds."""
    private(s)
    run_smp(s, s.alice, s.bob, "first guess", "something else")
    s.alice.sees("smp", result="failure")
    s.bob.sees("smp", result="failure")
    run_smp(s, s.alice, s.bob, "agreed", "agreed")
    s.alice.sees("smp", result="success")
    s.bob.sees("smp", result="success")
    both_idle(s.alice, s.bob)


@scenario("smp/abort-by-initiator", needs=("smp",))
def abort_by_initiator(s: Script) -> None:
    """alice aborts after SMP message 1: bob is told (TLV 6), both return to EXPECT1, a new run works."""
    private(s)
    s.alice.smp_start("never mind")
    s.deliver()
    s.bob.sees("smp", result="ask", question=None)
    s.alice.smp_abort()
    s.deliver()
    s.bob.sees("smp", result="abort")
    both_idle(s.alice, s.bob)
    run_smp(s, s.alice, s.bob, "again", "again")
    s.alice.sees("smp", result="success")
    s.bob.sees("smp", result="success")


@scenario("smp/abort-by-responder", needs=("smp",))
def abort_by_responder(s: Script) -> None:
    """bob aborts instead of answering: alice is told (TLV 6) and both return to EXPECT1."""
    private(s)
    s.alice.smp_start("will you answer?")
    s.deliver()
    s.bob.sees("smp", result="ask", question=None)
    s.bob.smp_abort()
    s.deliver()
    s.alice.sees("smp", result="abort")
    s.alice.sees_no("smp", result="success")
    both_idle(s.alice, s.bob)


@scenario("smp/restart-in-progress", needs=("smp",))
def restart_in_progress(s: Script) -> None:
    """alice starts again before bob answers (spec: abort, then as if EXPECT1): the second run succeeds."""
    private(s)
    s.alice.smp_start("first attempt")
    s.deliver()
    s.bob.sees("smp", result="ask", question=None)
    s.alice.smp_start("second attempt")
    s.deliver()
    s.bob.sees("smp", result="ask", question=None)
    s.bob.smp_respond("second attempt")
    s.deliver()
    s.alice.sees("smp", result="success")
    s.bob.sees("smp", result="success")
    for actor in (s.alice, s.bob):
        actor.sees_no("smp", result="failure")
    both_idle(s.alice, s.bob)


@scenario("smp/simultaneous-start", needs=("smp",))
def simultaneous_start(s: Script) -> None:
    """Both start at once: each gets SMP message 1 in EXPECT2, aborts; both end in EXPECT1, no success."""
    private(s)
    s.alice.smp_start("at once")
    s.bob.smp_start("at once")
    s.deliver()
    for actor in (s.alice, s.bob):
        actor.sees_no("smp", result="success")
        actor.sees_no("smp", result="failure")
    both_idle(s.alice, s.bob)


@scenario("smp/answered-after-messages", needs=("smp",))
def answered_after_messages(s: Script) -> None:
    """Messages cross both ways (keys rotate) between SMP message 1 and the answer; SMP still succeeds."""
    private(s)
    s.alice.smp_start("patience")
    s.deliver()
    s.bob.sees("smp", result="ask", question=None)
    for sender, receiver, text in (
        (s.bob, s.alice, "one moment"),
        (s.alice, s.bob, "take your time"),
        (s.bob, s.alice, "thinking"),
    ):
        sender.send(text)
        s.deliver()
        receiver.sees("message", text=text, encrypted=True)
    s.bob.smp_respond("patience")
    s.deliver()
    s.alice.sees("smp", result="success")
    s.bob.sees("smp", result="success")
    both_idle(s.alice, s.bob)


@scenario("smp/respond-without-request", needs=("smp",))
def respond_without_request(s: Script) -> None:
    """Answering when no SMP message 1 is pending is refused locally: an error, nothing on the wire."""
    private(s)
    before = len(s.net.sent)
    result = s.bob.smp_respond("nobody asked")
    if result.out or len(s.net.sent) != before:
        raise ExpectationFailed(f"bob sent {len(result.out)} message(s) answering an SMP nobody started")
    refused = [
        e
        for e in result.events
        if (e.type == "error" and getattr(e, "code", "") == "smp")
        or (e.type == "smp" and getattr(e, "result", "") == "error")
    ]
    if not refused:
        raise ExpectationFailed(f"bob reported no error: {[e.to_json() for e in result.events]}")
    s.deliver()
    s.alice.sees_no("smp")
    both_idle(s.alice, s.bob)


@scenario("smp/v2-success", needs=("v2", "smp"), cast=roles(alice=V2_ONLY, bob=V2_ONLY))
def v2_success(s: Script) -> None:
    """SMP inside an OTR v2 session: both succeed."""
    private(s, version=2)
    run_smp(s, s.alice, s.bob, "version two", "version two")
    s.alice.sees("smp", result="success")
    s.bob.sees("smp", result="success")
    both_idle(s.alice, s.bob)


@scenario("smp/v2-failure", needs=("v2", "smp"), cast=roles(alice=V2_ONLY, bob=V2_ONLY))
def v2_failure(s: Script) -> None:
    """Different secrets in v2: both sides report failure."""
    private(s, version=2)
    run_smp(s, s.alice, s.bob, "left", "right")
    s.bob.sees("smp", result="failure")
    s.alice.sees("smp", result="failure")
    for actor in (s.alice, s.bob):
        actor.sees_no("smp", result="success")
        actor.sees_no("smp", result="abort")
    both_idle(s.alice, s.bob)
