"""Fragmentation: sending under a size limit, and the receiver's reassembly rules.

Spec "Fragmentation": an encoded message longer than the network allows
is sent as fragments ``?OTR|s|r,k,n,piece,`` (v3) or ``?OTR,k,n,piece,``
(v2); the receiver appends fragment k only after fragment k-1 of the same
n, forgets what it stored on anything else, and "if you receive a non-OTR
message, or an unfragmented message, forget any stored fragment".
"""

from __future__ import annotations

from harness.network import Packet
from harness.scenarios import roles, scenario
from harness.script import ExpectationFailed, Script
from implementations.api import Policy

V2_ONLY = Policy(allow_v2=True, allow_v3=False)
V3_ONLY = Policy(allow_v2=False, allow_v3=True)
ENCODED = ("dh_commit", "dh_key", "reveal_signature", "signature", "data", "fragment")
TEN_KIB = "".join(f"line {i:04d}: the quick brown fox jumps over the lazy dog\n" for i in range(200))[:10240]


def expect_within(s: Script, limit: int) -> None:
    """Every encoded OTR message on the network fits the limit, and fragmentation did happen."""
    for packet in s.net.sent:
        if packet.kind in ENCODED and len(packet.wire) > limit:
            size = len(packet.wire)
            raise ExpectationFailed(f"{packet.sender} sent {size} > {limit} characters: {packet.wire[:60]}")
    if not any(p.kind == "fragment" for p in s.net.sent):
        raise ExpectationFailed(f"nothing was fragmented under a {limit}-character limit")


def establish(s: Script, version: int) -> None:
    s.alice.query()
    s.deliver()
    s.expect_private(version=version)


def long_message_in_flight(s: Script, text: str) -> list[Packet]:
    """alice sends ``text``; the fragments are taken off the network and returned, in order."""
    s.alice.send(text)
    fragments = [p for p in s.net.queue if p.kind == "fragment"]
    if len(fragments) < 3:
        raise ExpectationFailed(f"expected at least 3 fragments, alice sent {len(fragments)}")
    return [s.net.take(p) for p in fragments]


def expect_session_works(s: Script) -> None:
    s.alice.send("after the lost one")
    s.deliver()
    s.bob.sees("message", text="after the lost one", encrypted=True)
    s.bob.send("and back")
    s.deliver()
    s.alice.sees("message", text="and back", encrypted=True)


def ten_kib(s: Script, version: int, limit: int) -> None:
    establish(s, version)
    s.alice.send(TEN_KIB)
    s.deliver()
    s.bob.sees("message", text=TEN_KIB, encrypted=True)
    s.bob.send(TEN_KIB[::-1])
    s.deliver()
    s.alice.sees("message", text=TEN_KIB[::-1], encrypted=True)
    expect_within(s, limit)


# ------------------------------------------------------------------ sending


@scenario("frag/v3-150-10k", needs=("v3", "fragmentation"), cast=roles(V3_ONLY, V3_ONLY, mms=(150, 150)))
def v3_150_10k(s: Script) -> None:
    """v3 at 150 characters: a 10 KiB message crosses each way in fragments no longer than 150."""
    ten_kib(s, 3, 150)


@scenario("frag/v3-1000-10k", needs=("v3", "fragmentation"), cast=roles(V3_ONLY, V3_ONLY, mms=(1000, 1000)))
def v3_1000_10k(s: Script) -> None:
    """v3 at 1000 characters: a 10 KiB message crosses each way in fragments no longer than 1000."""
    ten_kib(s, 3, 1000)


@scenario("frag/v2-150-10k", needs=("v2", "fragmentation"), cast=roles(V2_ONLY, V2_ONLY, mms=(150, 150)))
def v2_150_10k(s: Script) -> None:
    """v2 at 150 characters: a 10 KiB message crosses each way in fragments no longer than 150."""
    ten_kib(s, 2, 150)


@scenario("frag/v2-1000-10k", needs=("v2", "fragmentation"), cast=roles(V2_ONLY, V2_ONLY, mms=(1000, 1000)))
def v2_1000_10k(s: Script) -> None:
    """v2 at 1000 characters: a 10 KiB message crosses each way in fragments no longer than 1000."""
    ten_kib(s, 2, 1000)


@scenario("frag/v3-150-ake", needs=("v3", "fragmentation"), cast=roles(V3_ONLY, V3_ONLY, mms=(150, 150)))
def v3_150_ake(s: Script) -> None:
    """v3 at 150 characters: every AKE message is fragmented, and the AKE completes."""
    establish(s, 3)
    expect_within(s, 150)
    whole = [p.kind for p in s.net.sent if p.kind in ENCODED and p.kind != "fragment"]
    if whole:
        raise ExpectationFailed(f"AKE messages sent unfragmented under a 150-character limit: {whole}")


@scenario("frag/v2-150-ake", needs=("v2", "fragmentation"), cast=roles(V2_ONLY, V2_ONLY, mms=(150, 150)))
def v2_150_ake(s: Script) -> None:
    """v2 at 150 characters: every AKE message is fragmented, and the AKE completes."""
    establish(s, 2)
    expect_within(s, 150)
    whole = [p.kind for p in s.net.sent if p.kind in ENCODED and p.kind != "fragment"]
    if whole:
        raise ExpectationFailed(f"AKE messages sent unfragmented under a 150-character limit: {whole}")


# ---------------------------------------------------------------- receiving


def plain_interrupts(s: Script, version: int) -> None:
    establish(s, version)
    first, *rest = long_message_in_flight(s, TEN_KIB[:1000])
    s.net.put_back(first)
    s.deliver()
    s.net.inject("bob", "a plain interruption", account="alice")
    s.deliver()
    s.bob.sees("message", text="a plain interruption", encrypted=False)
    for fragment in rest:
        s.net.put_back(fragment)
    s.deliver()
    if TEN_KIB[:1000] in s.bob.messages():
        raise ExpectationFailed("bob kept the stored fragment across an unfragmented message")
    expect_session_works(s)


@scenario(
    "frag/v3-plain-interrupts", needs=("v3", "fragmentation"), cast=roles(V3_ONLY, V3_ONLY, mms=(150, 150))
)
def v3_plain_interrupts(s: Script) -> None:
    """v3: a plaintext message between fragments is shown and makes bob forget the partial message."""
    plain_interrupts(s, 3)


@scenario(
    "frag/v2-plain-interrupts", needs=("v2", "fragmentation"), cast=roles(V2_ONLY, V2_ONLY, mms=(150, 150))
)
def v2_plain_interrupts(s: Script) -> None:
    """v2: a plaintext message between fragments is shown and makes bob forget the partial message."""
    plain_interrupts(s, 2)


@scenario("frag/out-of-order", needs=("fragmentation",), cast=roles(mms=(150, 150)))
def out_of_order(s: Script) -> None:
    """Fragments 1 and 2 swapped: the message is lost (never shown garbled); the session still works."""
    s.alice.query()
    s.deliver()
    s.expect_private()
    first, second, *rest = long_message_in_flight(s, TEN_KIB[:1000])
    for fragment in (second, first, *rest):
        s.net.put_back(fragment)
    s.deliver()
    if s.bob.messages():
        raise ExpectationFailed(f"bob was shown {s.bob.messages()[0][:60]!r} from misordered fragments")
    expect_session_works(s)


@scenario("frag/reversed", needs=("fragmentation",), cast=roles(mms=(150, 150)))
def reversed_order(s: Script) -> None:
    """All fragments in reverse order: the message is lost; the session still works."""
    s.alice.query()
    s.deliver()
    s.expect_private()
    for fragment in reversed(long_message_in_flight(s, TEN_KIB[:1000])):
        s.net.put_back(fragment)
    s.deliver()
    if s.bob.messages():
        raise ExpectationFailed(f"bob was shown {s.bob.messages()[0][:60]!r} from reversed fragments")
    expect_session_works(s)
