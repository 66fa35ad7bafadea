"""Policies: REQUIRE_ENCRYPTION, unencrypted warnings, and OTR switched off.

Spec "Policies", "User types a message to be sent" (PLAINTEXT with
REQUIRE_ENCRYPTION: store the message and send a Query Message; "if there
is a recent stored message, encrypt it and send it" once secure) and
"Receiving plaintext without the whitespace tag" (warn when it arrives
unencrypted in ENCRYPTED or FINISHED, or under REQUIRE_ENCRYPTION).
"""

from __future__ import annotations

from harness.scenarios import roles, scenario
from harness.script import ExpectationFailed, Script
from implementations.api import Policy

REQUIRE = Policy(require_encryption=True)
OTR_OFF = Policy(allow_v2=False, allow_v3=False, whitespace_start_ake=False, error_start_ake=False)
AKE_KINDS = ("dh_commit", "dh_key", "reveal_signature", "signature")


@scenario("policy/require-encryption-holds", needs=("require_encryption",), cast=roles(alice=REQUIRE))
def require_encryption_holds(s: Script) -> None:
    """alice's text typed before the session is held, a query goes out, and it arrives encrypted once."""
    s.alice.send("for your eyes only")
    s.alice.sees("error", code="held")
    s.net.find("query", to="bob")
    s.deliver()
    s.expect_private()
    s.bob.sees("message", text="for your eyes only", encrypted=True)
    if s.bob.messages() != ["for your eyes only"]:
        raise ExpectationFailed(f"bob was shown {s.bob.messages()!r}, expected the held text once")
    s.expect_never_in_clear("for your eyes only")


@scenario("policy/require-encryption-both", needs=("require_encryption",), cast=roles(REQUIRE, REQUIRE))
def require_encryption_both(s: Script) -> None:
    """Both require encryption: alice's first text starts the AKE and arrives encrypted; bob answers."""
    s.alice.send("first words")
    s.deliver()
    s.expect_private()
    s.bob.sees("message", text="first words", encrypted=True)
    s.bob.send("reply")
    s.deliver()
    s.alice.sees("message", text="reply", encrypted=True)
    s.expect_never_in_clear("first words")


@scenario(
    "policy/require-encryption-peer-without-otr",
    needs=("require_encryption",),
    cast=roles(alice=REQUIRE, bob=OTR_OFF),
)
def require_encryption_peer_without_otr(s: Script) -> None:
    """Against a peer with OTR off, alice's text never leaves in the clear; only queries are sent."""
    s.alice.send("never in clear")
    s.alice.sees("error", code="held")
    s.deliver()
    s.alice.expect_status(msgstate="plaintext")
    s.expect_never_in_clear("never in clear")
    kinds = {p.kind for p in s.net.sent if p.sender == "alice"}
    if kinds != {"query"}:
        raise ExpectationFailed(f"alice sent {sorted(kinds)}, expected only queries")


@scenario(
    "policy/require-encryption-plaintext-received", needs=("require_encryption",), cast=roles(alice=REQUIRE)
)
def require_encryption_plaintext_received(s: Script) -> None:
    """Under REQUIRE_ENCRYPTION, plaintext received is shown with an unencrypted warning."""
    s.bob.send("hello in the clear")
    s.deliver()
    s.alice.sees("message", text="hello in the clear", encrypted=False)
    s.alice.sees("error", code="unencrypted")


@scenario("policy/plaintext-while-private")
def plaintext_while_private(s: Script) -> None:
    """Plaintext arriving in a private conversation is shown, marked unencrypted, and the session stays."""
    s.alice.query()
    s.deliver()
    s.expect_private()
    s.net.inject("bob", "sneaky plaintext", account="alice")
    s.deliver()
    s.bob.sees("message", text="sneaky plaintext", encrypted=False)
    s.bob.sees("error", code="unencrypted")
    s.bob.expect_status(msgstate="encrypted")
    s.alice.send("still private")
    s.deliver()
    s.bob.sees("message", text="still private", encrypted=True)


@scenario("policy/plaintext-no-warning")
def plaintext_no_warning(s: Script) -> None:
    """Plaintext between two plaintext sessions without REQUIRE_ENCRYPTION carries no warning."""
    s.alice.send("just chatting")
    s.deliver()
    s.bob.sees("message", text="just chatting", encrypted=False)
    s.bob.sees_no("error", code="unencrypted")


@scenario("policy/otr-off", cast=roles(alice=OTR_OFF))
def otr_off(s: Script) -> None:
    """With no version allowed OTR is off: a query is just text to alice, and no AKE starts."""
    s.bob.query()
    query = s.net.find("query", to="alice").wire
    s.deliver()
    s.alice.sees("message", text=query, encrypted=False)
    if any(p.kind in AKE_KINDS for p in s.net.sent):
        raise ExpectationFailed("an AKE started although alice has OTR switched off")
    s.alice.expect_status(msgstate="plaintext")
