"""Robustness: tampered, replayed, malformed, misaddressed and forged messages.

Every scenario makes one bad message arrive (built with :mod:`harness.mutators`
from a real one, or injected by "mallory" claiming to be a correspondent) and
checks three things: the receiver does not display it (and reports what the
spec asks for), the receiver does not crash (a dead worker is a CRASH
outcome; an exception escaping an implementation shows as an ``x-crash``
error event), and the private conversation still works afterwards.

Spec rules used here: a Data Message that fails verification is reported as
unreadable and answered with an Error Message, unless its IGNORE_UNREADABLE
flag is set ("Receiving a Data Message", "Data Message"); a v3 message with
a receiver tag not ours, or a sender tag below 0x100, is discarded
("Instance Tags"); gy must satisfy 2 <= gy <= p-2 ("AKE").  The resend
attack (notes, section 3): an Error Message (injected, or provoked by a
replay) must not make the sender deliver an already delivered message again.
"""

from __future__ import annotations

from collections.abc import Callable

from harness import mutators
from harness.network import Packet
from harness.scenarios import TAG_A, TAG_B, roles, scenario
from harness.script import Actor, ExpectationFailed, Script
from implementations.api import Policy
from implementations.engine._crypto import MODULUS

V2_ONLY = Policy(allow_v2=True, allow_v3=False)
UNREADABLE_ERROR = "?OTR Error: You transmitted an unreadable encrypted message."


def private(s: Script, version: int | None = None) -> None:
    s.alice.query()
    s.deliver()
    s.expect_private(version)


def no_crash(*actors: Actor) -> None:
    for actor in actors:
        actor.sees_no("error", code="x-crash")


def sent_by(s: Script, actor: Actor, since: int, kind: str | None = None) -> list[Packet]:
    return [p for p in s.net.sent[since:] if p.sender == actor.name and (kind is None or p.kind == kind)]


def not_displayed(actor: Actor, text: str) -> None:
    if any(text in shown for shown in actor.messages()):
        raise ExpectationFailed(f"{actor.name} displayed {text!r}")


def shown_once(actor: Actor, text: str) -> None:
    """``text`` was displayed exactly once (a resent copy, "[resent] text", counts as a second time)."""
    copies = [shown for shown in actor.messages() if text in shown]
    if len(copies) != 1:
        raise ExpectationFailed(f"{actor.name} was shown {text!r} {len(copies)} times: {copies}")


def still_private(s: Script) -> None:
    """Whatever happened, the conversation goes on: both private, a message crosses each way."""
    s.deliver()
    no_crash(s.alice, s.bob)
    for actor in (s.alice, s.bob):
        actor.expect_status(msgstate="encrypted")
    s.alice.send("still private")
    s.deliver()
    s.bob.sees("message", text="still private", encrypted=True)
    s.bob.send("still here")
    s.deliver()
    s.alice.sees("message", text="still here", encrypted=True)
    no_crash(s.alice, s.bob)


def deliver_mutated(s: Script, text: str, mutate: Callable[[str], str], note: str) -> int:
    """alice sends ``text``; the Data Message is replaced by ``mutate(wire)`` and delivered to bob.

    Returns the index in ``s.net.sent`` from which bob's reaction starts.
    """
    s.alice.send(text)
    packet = s.net.find("data", to="bob")
    s.net.modify(packet, mutate(packet.wire), note)
    mark = len(s.net.sent)
    s.deliver(1)
    return mark


def unreadable_answered(s: Script, mark: int, text: str | None = None) -> None:
    """Spec: "inform the user that an unreadable ... message was received, and reply with an Error"."""
    no_crash(s.bob)
    if text is not None:
        not_displayed(s.bob, text)
    s.bob.sees("error", code="unreadable")
    if not sent_by(s, s.bob, mark, "error"):
        raise ExpectationFailed("bob did not reply to the unreadable Data Message with an Error Message")


def discarded(s: Script, mark: int, text: str) -> None:
    """Not displayed, and nothing sent back: the message was discarded."""
    no_crash(s.bob)
    not_displayed(s.bob, text)
    answered = sent_by(s, s.bob, mark)
    if answered:
        raise ExpectationFailed(f"bob answered a message it must discard: {answered[0].wire[:60]!r}")


# ----------------------------------------------- Data Messages that do not verify


@scenario("robust/tampered-ciphertext")
def tampered_ciphertext(s: Script) -> None:
    """One bit of the encrypted message flipped: the MAC fails, unreadable, an Error Message goes back."""
    private(s)
    mark = deliver_mutated(s, "tampered text", mutators.tamper_data_ciphertext, "ciphertext bit flipped")
    unreadable_answered(s, mark, "tampered text")
    still_private(s)


@scenario("robust/tampered-mac")
def tampered_mac(s: Script) -> None:
    """One bit of the authenticator flipped: unreadable, an Error Message goes back."""
    private(s)
    mark = deliver_mutated(s, "bad mac", mutators.tamper_data_mac, "MAC bit flipped")
    unreadable_answered(s, mark, "bad mac")
    still_private(s)


@scenario("robust/unknown-keyids")
def unknown_keyids(s: Script) -> None:
    """Keyids naming keys nobody holds (50, 60): unreadable, an Error Message goes back."""
    private(s)
    mark = deliver_mutated(s, "which keys?", lambda w: mutators.set_data_keyids(w, 50, 60), "keyids 50/60")
    unreadable_answered(s, mark, "which keys?")
    still_private(s)


@scenario("robust/zero-keyids")
def zero_keyids(s: Script) -> None:
    """Keyid 0 ("must be strictly greater than 0"): unreadable, an Error Message goes back."""
    private(s)
    mark = deliver_mutated(s, "keyid zero", lambda w: mutators.set_data_keyids(w, 0, 0), "keyids 0/0")
    unreadable_answered(s, mark, "keyid zero")
    still_private(s)


@scenario("robust/counter-zeroed")
def counter_zeroed(s: Script) -> None:
    """The counter set to all zeros ("must not be all 0x00"; the MAC fails too): unreadable."""
    private(s)
    mark = deliver_mutated(s, "counter zero", lambda w: mutators.set_data_counter(w, 0), "ctr 0")
    unreadable_answered(s, mark, "counter zero")
    still_private(s)


@scenario("robust/ignore-unreadable-flag")
def ignore_unreadable_flag(s: Script) -> None:
    """The flags bit flipped to IGNORE_UNREADABLE (so the MAC fails): ignored silently, no Error Message."""
    private(s)

    def set_flag(wire: str) -> str:
        version = 3 if wire.startswith("?OTR:AAM") else 2
        flags_byte = 11 if version == 3 else 3  # after version, type (and the two v3 instance tags)
        return mutators.flip_encoded_bit(wire, 8 * flags_byte)

    mark = deliver_mutated(s, "quietly dropped", set_flag, "IGNORE_UNREADABLE flipped on")
    discarded(s, mark, "quietly dropped")
    s.bob.sees_no("error", code="unreadable")
    still_private(s)


# ------------------------------------------------------ replays and counters


@scenario("robust/replayed-data")
def replayed_data(s: Script) -> None:
    """A delivered Data Message replayed at once: same counter, unreadable; never shown twice."""
    private(s)
    s.alice.send("only once")
    packet = s.net.find("data", to="bob")
    s.deliver()
    mark = len(s.net.sent)
    s.net.replay(packet)
    s.deliver(1)
    s.bob.sees("message", text="only once", encrypted=True)
    unreadable_answered(s, mark)
    still_private(s)
    shown_once(s.bob, "only once")


@scenario("robust/counter-rewound")
def counter_rewound(s: Script) -> None:
    """An older Data Message replayed after a newer one on its key pair: counter not larger, unreadable."""
    private(s)
    s.alice.send("older")
    older = s.net.find("data", to="bob")
    s.alice.send("newer")
    s.deliver()
    mark = len(s.net.sent)
    s.net.replay(older)
    s.deliver(1)
    unreadable_answered(s, mark)
    still_private(s)
    shown_once(s.bob, "older")
    shown_once(s.bob, "newer")


@scenario("robust/replay-no-resend-v2", needs=("v2",), cast=roles(alice=V2_ONLY, bob=V2_ONLY))
def replay_no_resend_v2(s: Script) -> None:
    """v2: a replay makes bob send an Error Message; alice must not deliver her message a second time."""
    private(s, version=2)
    s.alice.send("said once")
    packet = s.net.find("data", to="bob")
    s.deliver()
    s.net.replay(packet)
    s.deliver()
    no_crash(s.alice, s.bob)
    shown_once(s.bob, "said once")
    still_private(s)
    shown_once(s.bob, "said once")


# ------------------------------------------------------------ malformed input


@scenario("robust/truncated-data")
def truncated_data(s: Script) -> None:
    """A Data Message cut after 40 bytes: not displayed, no crash, the session goes on."""
    private(s)
    deliver_mutated(s, "cut short", lambda w: mutators.truncate_encoded(w, 40), "truncated to 40 bytes")
    no_crash(s.bob)
    not_displayed(s.bob, "cut short")
    still_private(s)


@scenario("robust/bad-base64-in-data")
def bad_base64_in_data(s: Script) -> None:
    """A Data Message with four base64 characters overwritten by ``!*=*``: not displayed, no crash."""
    private(s)
    deliver_mutated(s, "bad encoding", mutators.bad_base64, "base64 corrupted")
    no_crash(s.bob)
    not_displayed(s.bob, "bad encoding")
    still_private(s)


@scenario("robust/degenerate-base64")
def degenerate_base64(s: Script) -> None:
    """``?OTR:===.`` (CVE-2012-3461's input): no crash, nothing decrypted, the session goes on."""
    private(s)
    s.net.inject("bob", "?OTR:===.", account="alice")
    s.deliver()
    no_crash(s.bob)
    s.bob.sees_no("message", encrypted=True)
    still_private(s)


GARBAGE = (
    "?OTR:",
    "?OTR:.",
    "?OTR:AAMD.",
    "?OTR:AAMDAAAAAQ",
    "?OTR:AAMD!!!!.",
    "?OTR:AAIDAAAAAAEAAAABAAAAwA.",
    "?OTR:////////////////.",
    "?OTR:AAMDAAABAAAAAQEAAAAB\x00\xff.",
)


@scenario("robust/garbage-after-prefix")
def garbage_after_prefix(s: Script) -> None:
    """Garbage after ``?OTR:`` (no dot, bad characters, short headers): no crash, nothing decrypted."""
    private(s)
    for text in GARBAGE:
        s.net.inject("bob", text, account="alice")
    s.deliver()
    no_crash(s.bob)
    s.bob.sees_no("message", encrypted=True)
    still_private(s)


@scenario("robust/unknown-version")
def unknown_version(s: Script) -> None:
    """A Data Message claiming protocol version 4: not displayed, no crash, the session goes on."""
    private(s)
    deliver_mutated(s, "from the future", lambda w: mutators.set_version(w, 4), "version 4")
    no_crash(s.bob)
    not_displayed(s.bob, "from the future")
    still_private(s)


# ------------------------------------------------------------- instance tags


@scenario("robust/receiver-tag-not-ours", needs=("v3", "instance_tags"))
def receiver_tag_not_ours(s: Script) -> None:
    """A Data Message for receiver instance 0x1234: bob discards it (nothing shown, nothing sent back)."""
    private(s, version=3)
    mark = deliver_mutated(
        s, "for someone else", lambda w: mutators.set_instance_tags(w, TAG_A, 0x1234), "receiver 0x1234"
    )
    discarded(s, mark, "for someone else")
    still_private(s)


@scenario("robust/receiver-tag-below-minimum", needs=("v3", "instance_tags"))
def receiver_tag_below_minimum(s: Script) -> None:
    """A Data Message for receiver instance 0x42 (1..0xff is invalid): discarded."""
    private(s, version=3)
    mark = deliver_mutated(
        s, "invalid receiver", lambda w: mutators.set_instance_tags(w, TAG_A, 0x42), "receiver 0x42"
    )
    discarded(s, mark, "invalid receiver")
    still_private(s)


@scenario("robust/sender-tag-below-minimum", needs=("v3", "instance_tags"))
def sender_tag_below_minimum(s: Script) -> None:
    """A Data Message from sender instance 0x42 ("should discard"): nothing shown, nothing sent back."""
    private(s, version=3)
    mark = deliver_mutated(
        s, "invalid sender", lambda w: mutators.set_instance_tags(w, 0x42, TAG_B), "sender 0x42"
    )
    discarded(s, mark, "invalid sender")
    still_private(s)


# ------------------------------------------------------- resend, reflection, forgery


def injected_error_no_resend(s: Script, version: int) -> None:
    private(s, version=version)
    s.alice.send("delivered before the error")
    s.deliver()
    s.bob.sees("message", text="delivered before the error", encrypted=True)
    mark = len(s.net.sent)
    s.net.inject("alice", UNREADABLE_ERROR, account="bob")
    s.deliver(1)
    # Spec, "Receiving an Error Message": "Display the message to the user.  If ERROR_START_AKE
    # is set, reply with a Query Message."
    s.alice.sees("remote_error")
    if not sent_by(s, s.alice, mark, "query"):
        raise ExpectationFailed("alice (ERROR_START_AKE) did not answer the Error Message with a query")
    s.deliver()
    s.expect_private(version)
    no_crash(s.alice, s.bob)
    shown_once(s.bob, "delivered before the error")
    still_private(s)
    shown_once(s.bob, "delivered before the error")


@scenario("robust/injected-error-no-resend", needs=("v3", "error_start_ake"))
def injected_error_no_resend_v3(s: Script) -> None:
    """An injected Error Message while private: alice re-runs the AKE but resends nothing delivered."""
    injected_error_no_resend(s, 3)


@scenario(
    "robust/injected-error-no-resend-v2",
    needs=("v2", "error_start_ake"),
    cast=roles(alice=V2_ONLY, bob=V2_ONLY),
)
def injected_error_no_resend_v2(s: Script) -> None:
    """The resend attack in v2: after an injected Error and the new AKE, nothing is delivered twice."""
    injected_error_no_resend(s, 2)


@scenario("robust/reflected-data")
def reflected_data(s: Script) -> None:
    """alice's own Data Message delivered back to her (as if from bob): she does not display it."""
    private(s)
    s.alice.send("mirror, mirror")
    packet = s.net.find("data", to="bob")
    s.deliver()
    s.bob.sees("message", text="mirror, mirror", encrypted=True)
    s.net.inject("alice", packet.wire, account="bob")
    s.deliver()
    no_crash(s.alice)
    not_displayed(s.alice, "mirror, mirror")
    still_private(s)


@scenario("robust/reflected-data-v2", needs=("v2",), cast=roles(alice=V2_ONLY, bob=V2_ONLY))
def reflected_data_v2(s: Script) -> None:
    """v2 (no instance tags to tell): alice's reflected Data Message fails verification, not shown."""
    private(s, version=2)
    s.alice.send("mirror, mirror")
    packet = s.net.find("data", to="bob")
    s.deliver()
    s.net.inject("alice", packet.wire, account="bob")
    s.deliver()
    no_crash(s.alice)
    not_displayed(s.alice, "mirror, mirror")
    still_private(s)


def forged_dh_key(s: Script, gy: int) -> None:
    s.alice.query()
    while not any(p.kind == "dh_key" and p.to == "bob" for p in s.net.queue):
        if not s.net.queue:
            raise ExpectationFailed("the network went quiet before alice sent a D-H Key")
        s.deliver(1)
    real = s.net.take(s.net.find("dh_key", to="bob"))
    s.net.inject("bob", mutators.set_dh_key_gy(real.wire, gy), account="alice")
    s.net.put_back(real)
    s.deliver()
    no_crash(s.alice, s.bob)
    s.expect_private()
    s.alice.send("keys are sound")
    s.deliver()
    s.bob.sees("message", text="keys are sound", encrypted=True)


@scenario("robust/forged-dh-key-gy-one")
def forged_dh_key_gy_one(s: Script) -> None:
    """A forged D-H Key with gy = 1 before the real one: ignored (2 <= gy <= p-2), the AKE completes."""
    forged_dh_key(s, 1)


@scenario("robust/forged-dh-key-gy-p-minus-one")
def forged_dh_key_gy_p_minus_one(s: Script) -> None:
    """A forged D-H Key with gy = p-1 (order 2) before the real one: ignored, the AKE completes."""
    forged_dh_key(s, MODULUS - 1)
