"""Version negotiation: which protocol version each policy combination and offer leads to.

Spec "Receiving a Query Message" and "Receiving plaintext with the
whitespace tag": the receiver starts a v3 AKE if the offer includes v3 and
ALLOW_V3 is set, otherwise a v2 AKE if the offer includes v2 and ALLOW_V2
is set, otherwise nothing.
"""

from __future__ import annotations

from harness.scenarios import roles, scenario
from harness.script import ExpectationFailed, Script
from implementations.api import Policy

V2_ONLY = Policy(allow_v2=True, allow_v3=False)
V3_ONLY = Policy(allow_v2=False, allow_v3=True)
TAG_BASE = "\x20\x09\x20\x20\x09\x09\x09\x09\x20\x09\x20\x09\x20\x09\x20\x20"
TAG_V2 = "\x20\x20\x09\x09\x20\x20\x09\x20"
AKE_KINDS = ("dh_commit", "dh_key", "reveal_signature", "signature")


def expect_no_ake(s: Script) -> None:
    """No AKE message crossed the network and both sides are still in plaintext."""
    started = [p for p in s.net.sent if p.kind in AKE_KINDS]
    if started:
        first = started[0]
        raise ExpectationFailed(f"{first.sender} started an AKE ({first.kind}) with no common version")
    s.alice.expect_status(msgstate="plaintext")
    s.bob.expect_status(msgstate="plaintext")


@scenario("version/v3-only-both", needs=("v3",), cast=roles(alice=V3_ONLY, bob=V3_ONLY))
def v3_only_both(s: Script) -> None:
    """Two v3-only policies agree on v3."""
    s.alice.query()
    s.deliver()
    s.expect_private(version=3)


@scenario("version/v23-both", needs=("v2", "v3"))
def v23_both(s: Script) -> None:
    """Two v2+v3 policies pick the highest common version, v3."""
    s.alice.query()
    s.deliver()
    s.expect_private(version=3)


@scenario("version/v3-only-vs-v23", needs=("v2", "v3"), cast=roles(alice=V3_ONLY))
def v3_only_vs_v23(s: Script) -> None:
    """A v3-only alice asking a v2+v3 bob gets v3."""
    s.alice.query()
    s.deliver()
    s.expect_private(version=3)


@scenario("version/v2-only-alice-queries", needs=("v2",), cast=roles(alice=V2_ONLY))
def v2_only_alice_queries(s: Script) -> None:
    """A v2-only alice's query makes the v2+v3 bob start a v2 AKE."""
    s.alice.query()
    s.deliver()
    s.expect_private(version=2)


@scenario("version/v2-only-alice-is-queried", needs=("v2",), cast=roles(alice=V2_ONLY))
def v2_only_alice_is_queried(s: Script) -> None:
    """The v2+v3 bob's query offers v3 too, but the v2-only alice answers in v2."""
    s.bob.query()
    s.deliver()
    s.expect_private(version=2)


@scenario("version/v2-only-bob-is-queried", needs=("v2",), cast=roles(bob=V2_ONLY))
def v2_only_bob_is_queried(s: Script) -> None:
    """Mirrored: the v2+v3 alice asks the v2-only bob and gets v2."""
    s.alice.query()
    s.deliver()
    s.expect_private(version=2)


@scenario("version/v2-only-bob-queries", needs=("v2",), cast=roles(bob=V2_ONLY))
def v2_only_bob_queries(s: Script) -> None:
    """Mirrored: the v2-only bob asks the v2+v3 alice and gets v2."""
    s.bob.query()
    s.deliver()
    s.expect_private(version=2)


@scenario("version/v3-only-queries-v2-only", needs=("v2", "v3"), cast=roles(alice=V3_ONLY, bob=V2_ONLY))
def v3_only_queries_v2_only(s: Script) -> None:
    """No common version: the v2-only bob ignores the v3 query; both stay in plaintext and can talk."""
    s.alice.query()
    s.deliver()
    expect_no_ake(s)
    s.alice.send("no common version")
    s.deliver()
    s.bob.sees("message", text="no common version", encrypted=False)


@scenario("version/v2-only-queries-v3-only", needs=("v2", "v3"), cast=roles(alice=V3_ONLY, bob=V2_ONLY))
def v2_only_queries_v3_only(s: Script) -> None:
    """No common version, the other way: the v3-only alice ignores the v2 query."""
    s.bob.query()
    s.deliver()
    expect_no_ake(s)
    s.bob.send("still plaintext")
    s.deliver()
    s.alice.sees("message", text="still plaintext", encrypted=False)


@scenario("version/v2-query-text", needs=("v2", "v3"))
def v2_query_text(s: Script) -> None:
    """A query offering only v2 ("?OTRv2?") makes a v2+v3 bob start a v2 AKE."""
    s.net.inject("bob", "?OTRv2?", account="alice")
    s.deliver()
    s.expect_private(version=2)


@scenario("version/whitespace-tag-v2", needs=("v2", "v3", "whitespace_tag"))
def whitespace_tag_v2(s: Script) -> None:
    """A whitespace tag offering only v2 makes a v2+v3 bob start a v2 AKE."""
    s.net.inject("bob", "shall we talk?" + TAG_BASE + TAG_V2, account="alice")
    s.deliver()
    s.bob.sees("message", text="shall we talk?", encrypted=False)
    s.expect_private(version=2)


@scenario(
    "version/whitespace-tag-v2-only-sender",
    needs=("v2", "whitespace_tag"),
    cast=roles(alice=Policy(allow_v3=False, send_whitespace_tag=True)),
)
def whitespace_tag_v2_only_sender(s: Script) -> None:
    """A v2-only alice's whitespace tag makes the v2+v3 bob start a v2 AKE."""
    s.alice.send("tagged hello")
    s.deliver()
    s.bob.sees("message", text="tagged hello", encrypted=False)
    s.expect_private(version=2)
