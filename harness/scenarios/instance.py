"""Instance tags: one account logged in twice (spec, "Instance Tags").

bob and bob2 are two instances of the account bob (tags 0x101 and 0x102),
played by the same implementation; the network relays every message for
bob to both, as IM networks do.  Each instance answers alice's query with
its own D-H Commit, so alice ends up with one private session per
instance.  A v3 message names its receiver instance; an instance that is
not the receiver must discard it ("If a client receives a message that
lists a destination instance tag different from its own, the client should
discard the message"), and send nothing back.
"""

from __future__ import annotations

from harness.network import Packet
from harness.scenarios import TAG_B, TAG_B2, roles, scenario
from harness.script import Actor, ExpectationFailed, Script
from implementations.api import Policy

NEEDS = ("v3", "instance_tags")
TWO_BOBS = roles(bob2=Policy())


def both_instances_private(s: Script) -> dict[int, Actor]:
    """alice's query makes both instances private with her, each in its own session; by instance tag."""
    s.alice.query()
    s.deliver()
    return check_both_private(s)


def check_both_private(s: Script) -> dict[int, Actor]:
    """Each bob instance is private with alice in a session of its own, and alice secured both."""
    alice_fp = s.alice.status().fingerprint
    ssids = {}
    for bob in (s.bob, s.bob2):
        status = bob.expect_status(msgstate="encrypted", version=3, peer_fingerprint=alice_fp)
        if status.peer_instance_tag != s.alice.status().instance_tag:
            raise ExpectationFailed(f"{bob.name} is private with instance {status.peer_instance_tag}")
        bob.sees("secure")
        ssids[bob.name] = status.ssid
    if ssids["bob"] == ssids["bob2"]:
        raise ExpectationFailed("the two instances share one session (same ssid)")
    secured = {s.alice.sees("secure").ssid, s.alice.sees("secure").ssid}  # type: ignore[attr-defined]
    if secured != set(ssids.values()):
        raise ExpectationFailed(f"alice secured sessions {secured}, the instances hold {ssids}")
    current = s.alice.expect_status(msgstate="encrypted", version=3)
    if current.peer_instance_tag not in (TAG_B, TAG_B2):
        raise ExpectationFailed(f"alice's current instance is {current.peer_instance_tag}")
    return {TAG_B: s.bob, TAG_B2: s.bob2}


def sent_by(s: Script, actor: Actor, since: int) -> list[Packet]:
    return [p for p in s.net.sent[since:] if p.sender == actor.name]


@scenario("instance/query-answered-by-both", needs=NEEDS, cast=TWO_BOBS)
def query_answered_by_both(s: Script) -> None:
    """Both bob instances answer alice's query with a D-H Commit; alice gets a session with each."""
    s.alice.query()
    s.deliver(1)
    commits = [p for p in s.net.queue if p.kind == "dh_commit" and p.to == "alice"]
    if {p.sender for p in commits} != {"bob", "bob2"}:
        raise ExpectationFailed(f"D-H Commits from {[p.sender for p in commits]}, expected bob and bob2")
    s.deliver()
    check_both_private(s)


@scenario("instance/message-to-current-instance", needs=NEEDS, cast=TWO_BOBS)
def message_to_current_instance(s: Script) -> None:
    """alice's message goes to her current instance only; the other instance discards it silently."""
    by_tag = both_instances_private(s)
    current = s.alice.status().peer_instance_tag
    assert current is not None
    target = by_tag[current]
    other = s.bob2 if target is s.bob else s.bob
    mark = len(s.net.sent)
    s.alice.send("for one instance only")
    s.deliver()
    target.sees("message", text="for one instance only", encrypted=True)
    other.sees_no("message")
    if "for one instance only" in other.messages():
        raise ExpectationFailed(f"{other.name} displayed a message addressed to {target.name}")
    answered = sent_by(s, other, mark)
    if answered:
        raise ExpectationFailed(
            f"{other.name} answered a message for another instance: {answered[0].wire[:60]!r}"
        )
    other.expect_status(msgstate="encrypted")


@scenario("instance/message-from-each-instance", needs=NEEDS, cast=TWO_BOBS)
def message_from_each_instance(s: Script) -> None:
    """Messages from bob and from bob2 both reach alice, each decrypted in its own session."""
    both_instances_private(s)
    s.bob2.send("hello from the second instance")
    s.deliver()
    s.alice.sees("message", text="hello from the second instance", encrypted=True)
    s.bob.send("hello from the first instance")
    s.deliver()
    s.alice.sees("message", text="hello from the first instance", encrypted=True)
    for bob in (s.bob, s.bob2):
        bob.sees_no("error", code="unreadable")
    s.alice.sees_no("error", code="unreadable")


@scenario("instance/end-reaches-both", needs=NEEDS, cast=TWO_BOBS)
def end_reaches_both(s: Script) -> None:
    """alice ends the private conversation: both instances are told (TLV 1) and go to FINISHED."""
    both_instances_private(s)
    s.alice.end()
    s.deliver()
    for bob in (s.bob, s.bob2):
        bob.sees("finished")
        bob.expect_status(msgstate="finished")
    s.alice.expect_status(msgstate="plaintext")


@scenario(
    "instance/interleaved-fragments", needs=(*NEEDS, "fragmentation"), cast=roles(bob2=Policy(), mms=(0, 160))
)
def interleaved_fragments(s: Script) -> None:
    """Fragments from bob and bob2 arrive interleaved; alice reassembles each per sender instance."""
    both_instances_private(s)
    s.bob.send("the first instance says something long enough to need several fragments")
    s.bob2.send("the second instance says something long enough to need several fragments too")
    queued = [s.net.take(p) for p in list(s.net.queue)]
    first = [p for p in queued if p.sender == "bob"]
    second = [p for p in queued if p.sender == "bob2"]
    if len(first) < 2 or len(second) < 2 or any(p.kind != "fragment" for p in queued):
        raise ExpectationFailed(
            f"expected fragments from both instances, got {[(p.sender, p.kind) for p in queued]}"
        )
    for i in range(max(len(first), len(second))):
        for pieces in (first, second):
            if i < len(pieces):
                s.net.put_back(pieces[i])
    s.deliver()
    s.alice.sees(
        "message",
        text="the first instance says something long enough to need several fragments",
        encrypted=True,
    )
    s.alice.sees(
        "message",
        text="the second instance says something long enough to need several fragments too",
        encrypted=True,
    )
