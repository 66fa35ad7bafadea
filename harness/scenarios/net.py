"""The network misbehaves: lost, duplicated, reordered and delayed messages.

OTR "assumes a network model which provides in-order delivery" but says
what to do when the AKE messages repeat (the retransmission rules of
"Receiving a D-H Commit / D-H Key Message") and how a Data Message is
verified ("MAC, keyids, ctr value"): the counter must "monotonically
increase ... for each message sent with the same (sender keyid, recipient
keyid) pair", so a repeated or overtaken Data Message is unreadable, never
shown twice.  Lost AKE messages are recovered by starting again; a lost
Signature Message leaves one side private alone, and the spec's Error
Message (and ERROR_START_AKE) is how the pair recovers.

The last scenario draws faults at random from the cell's seed and then
checks progress: once the network behaves, a fresh query leads to a
private conversation.
"""

from __future__ import annotations

from harness.network import FaultPlan, Packet
from harness.scenarios import scenario
from harness.script import ExpectationFailed, Script


def private(s: Script) -> None:
    s.alice.query()
    s.deliver()
    s.expect_private()


def run_until(s: Script, kind: str, to: str | None = None) -> Packet:
    """Deliver one packet at a time until a ``kind`` packet (to ``to``) is queued; return it."""
    while True:
        for packet in s.net.queue:
            if packet.kind == kind and (to is None or packet.to == to):
                return packet
        if not s.net.queue:
            raise ExpectationFailed(f"the network went quiet before a {kind} was sent")
        s.deliver(1)


def neither_private(s: Script) -> None:
    for actor in (s.alice, s.bob):
        actor.expect_status(msgstate="plaintext")
        actor.sees_no("secure")


def shown_at_most_once(s: Script) -> None:
    """No decrypted text was displayed twice to anyone (a resent copy counts: it contains the original).

    Plaintext is left out: a duplicated plaintext message is rightly shown twice.
    """
    for actor in (s.alice, s.bob):
        shown = [e.to_json() for e in [*actor.seen, *actor.events] if e.type == "message"]
        private = [m["text"] for m in shown if m["encrypted"]]
        for text in set(private):
            copies = [other for other in private if text in other]
            if len(copies) > 1:
                raise ExpectationFailed(f"{actor.name} was shown {text!r} {len(copies)} times: {copies}")


def one_session_each(s: Script) -> None:
    s.expect_private()
    s.alice.sees_no("secure")
    s.bob.sees_no("secure")


def messages_flow(s: Script, tag: str = "") -> None:
    s.alice.send(f"alice after{tag}")
    s.deliver()
    s.bob.sees("message", text=f"alice after{tag}", encrypted=True)
    s.bob.send(f"bob after{tag}")
    s.deliver()
    s.alice.sees("message", text=f"bob after{tag}", encrypted=True)


# ------------------------------------------------------------ lost AKE messages


@scenario("net/drop-dh-commit")
def drop_dh_commit(s: Script) -> None:
    """The D-H Commit is lost: nothing happens; a fresh query completes the AKE."""
    s.alice.query()
    s.net.drop(run_until(s, "dh_commit", to="alice"))
    s.deliver()
    neither_private(s)
    private(s)
    messages_flow(s)


@scenario("net/drop-dh-key")
def drop_dh_key(s: Script) -> None:
    """The D-H Key is lost: no session; a fresh query (a new commit, the same D-H Key resent) completes it."""
    s.alice.query()
    s.net.drop(run_until(s, "dh_key", to="bob"))
    s.deliver()
    neither_private(s)
    private(s)
    messages_flow(s)


@scenario("net/drop-reveal-signature")
def drop_reveal_signature(s: Script) -> None:
    """The Reveal Signature is lost: neither side is private; a fresh query completes the AKE."""
    s.alice.query()
    s.net.drop(run_until(s, "reveal_signature", to="alice"))
    s.deliver()
    neither_private(s)
    private(s)
    messages_flow(s)


@scenario("net/drop-signature", needs=("error_start_ake",))
def drop_signature(s: Script) -> None:
    """The Signature is lost: bob answers alice's next message with an Error Message; the AKE runs again.

    alice is private alone (bob is still AWAITING_SIG); her message is unreadable to bob, who must
    reply with an Error Message; alice (ERROR_START_AKE) answers it with a query.
    """
    s.alice.query()
    s.net.drop(run_until(s, "signature", to="bob"))
    s.deliver()
    s.alice.expect_status(msgstate="encrypted")
    s.bob.expect_status(msgstate="plaintext")
    s.alice.send("lost in the gap")
    s.deliver(1)
    # Spec, "Receiving a Data Message", MSGSTATE_PLAINTEXT: "Inform the user that an unreadable
    # encrypted message was received, and reply with an Error Message."
    s.bob.sees("error", code="unreadable")
    s.bob.sees_no("message", text="lost in the gap")
    s.net.find("error", to="alice")
    s.deliver()
    s.alice.sees("remote_error")
    s.expect_private()
    messages_flow(s)
    shown_at_most_once(s)


# ------------------------------------------------------- repeated AKE messages


@scenario("net/duplicate-dh-commit")
def duplicate_dh_commit(s: Script) -> None:
    """A repeated D-H Commit gets the same D-H Key again (AWAITING_REVEALSIG): one session results."""
    s.alice.query()
    s.net.duplicate(run_until(s, "dh_commit", to="alice"))
    s.deliver()
    one_session_each(s)
    messages_flow(s)


@scenario("net/duplicate-dh-key")
def duplicate_dh_key(s: Script) -> None:
    """A repeated D-H Key in AWAITING_SIG makes bob retransmit his Reveal Signature: one session results."""
    s.alice.query()
    s.net.duplicate(run_until(s, "dh_key", to="bob"))
    s.deliver()
    one_session_each(s)
    messages_flow(s)


@scenario("net/duplicate-reveal-signature")
def duplicate_reveal_signature(s: Script) -> None:
    """A repeated Reveal Signature arrives in AUTHSTATE_NONE and is ignored: one session results."""
    s.alice.query()
    s.net.duplicate(run_until(s, "reveal_signature", to="alice"))
    s.deliver()
    one_session_each(s)
    messages_flow(s)


@scenario("net/duplicate-signature")
def duplicate_signature(s: Script) -> None:
    """A repeated Signature arrives in AUTHSTATE_NONE and is ignored: one session results."""
    s.alice.query()
    s.net.duplicate(run_until(s, "signature", to="bob"))
    s.deliver()
    one_session_each(s)
    messages_flow(s)


# ------------------------------------------------------------ Data Messages


@scenario("net/duplicate-data")
def duplicate_data(s: Script) -> None:
    """A Data Message delivered twice is shown once: the copy's counter is not larger, so it is unreadable."""
    private(s)
    s.alice.send("exactly once")
    s.net.duplicate(s.net.find("data", to="bob"))
    s.deliver(2)
    s.bob.sees("message", text="exactly once", encrypted=True)
    s.bob.sees_no("message", text="exactly once")
    s.bob.sees("error", code="unreadable")
    s.deliver()
    messages_flow(s)
    shown_at_most_once(s)


@scenario("net/reorder-data")
def reorder_data(s: Script) -> None:
    """Two Data Messages on one key pair arrive swapped: the later is shown, the earlier is unreadable.

    The earlier one's counter is not larger than the last one seen for its key pair, so it fails
    verification ("ctr value"); nothing is shown twice, nothing crashes, the session goes on.
    """
    private(s)
    s.alice.send("first")
    s.alice.send("second")
    first, second = s.net.find("data", to="bob", index=0), s.net.find("data", to="bob", index=1)
    s.net.swap(first, second)
    s.deliver(2)
    s.bob.sees("message", text="second", encrypted=True)
    s.bob.sees_no("message", text="first")
    s.bob.sees("error", code="unreadable")
    s.deliver()
    messages_flow(s)
    shown_at_most_once(s)


@scenario("net/delayed-data-across-rotation")
def delayed_data_across_rotation(s: Script) -> None:
    """A Data Message delayed while keys rotate is still readable: bob holds the previous keys.

    bob keeps alice's previous D-H key and his own previous one ("Key Management"), and the
    delayed message's counter is the next one for that key pair.
    """
    private(s)
    s.alice.send("before the delay")
    s.deliver()
    s.bob.sees("message", text="before the delay", encrypted=True)
    s.alice.send("delayed")
    late = s.net.take(s.net.find("data", to="bob"))
    s.bob.send("reply that rotates alice's keys")
    s.deliver()
    s.alice.sees("message", text="reply that rotates alice's keys", encrypted=True)
    s.net.put_back(late)
    s.deliver()
    s.bob.sees("message", text="delayed", encrypted=True)
    s.bob.sees_no("error", code="unreadable")
    messages_flow(s)
    shown_at_most_once(s)


# ---------------------------------------------------------------- random faults


@scenario("net/random-faults-then-progress", plan=FaultPlan(drop=0.1, duplicate=0.1, reorder=0.1))
def random_faults_then_progress(s: Script) -> None:
    """Seeded drops, duplicates and reorders; once the network behaves, a fresh query makes it private.

    The faults hit an AKE and a conversation; afterwards a query leads to a private conversation
    and messages cross both ways (the progress property).
    """
    s.alice.query()
    s.deliver()
    for i in range(4):
        s.alice.send(f"alice during faults {i}")
        s.bob.send(f"bob during faults {i}")
        s.deliver()
    s.net.plan = FaultPlan()
    s.deliver()
    s.alice.query()
    s.deliver()
    for actor in (s.alice, s.bob):
        actor.expect_status(msgstate="encrypted")
    messages_flow(s)
    shown_at_most_once(s)


@scenario("net/random-faults-in-ake-then-progress", plan=FaultPlan(drop=0.25, duplicate=0.25, reorder=0.25))
def random_faults_in_ake_then_progress(s: Script) -> None:
    """Heavy seeded faults while both sides query repeatedly; then a clean query completes the AKE."""
    for _ in range(3):
        s.alice.query()
        s.deliver()
        s.bob.query()
        s.deliver()
    s.net.plan = FaultPlan()
    s.deliver()
    s.alice.query()
    s.deliver()
    for actor in (s.alice, s.bob):
        actor.expect_status(msgstate="encrypted")
    messages_flow(s)
