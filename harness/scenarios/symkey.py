"""The extra symmetric key (v3): both ends derive the same key from one TLV 8.

Spec "Extra symmetric key": the sender attaches TLV 8 (4-byte use, then
use-specific data) to a Data Message; the key is h2(0xFF) over the
secbytes of that Data Message's keys, and the receiver computes the same.
"""

from __future__ import annotations

from harness.scenarios import roles, scenario
from harness.script import Actor, ExpectationFailed, Script
from implementations.api import Policy


def establish(s: Script) -> None:
    s.alice.query()
    s.deliver()
    s.expect_private(version=3)


def announce(s: Script, sender: Actor, receiver: Actor, use: int, usedata: bytes) -> str:
    """``sender`` asks for the key; ``receiver`` must report the same key, use and use data."""
    key = sender.symkey(use, usedata).fields.get("key")
    if not isinstance(key, str) or len(key) != 64:
        raise ExpectationFailed(f"{sender.name}'s symkey returned {key!r}, not a 256-bit key")
    s.deliver()
    receiver.sees("symkey", use=use, usedata=usedata.hex(), key=key)
    receiver.sees_no("message")
    return key


@scenario("symkey/alice-uses", needs=("v3", "symkey"))
def alice_uses(s: Script) -> None:
    """The key alice's client gets is the key bob's client reports, with her use and use data."""
    establish(s)
    announce(s, s.alice, s.bob, 1, b"file-transfer:report.pdf")


@scenario("symkey/bob-uses", needs=("v3", "symkey"))
def bob_uses(s: Script) -> None:
    """The same from bob's side."""
    establish(s)
    announce(s, s.bob, s.alice, 1, b"voice")


@scenario("symkey/use-values", needs=("v3", "symkey"))
def use_values(s: Script) -> None:
    """The use field crosses as a 32-bit number: 0, a middle value, and 0xFFFFFFFF; empty use data too."""
    establish(s)
    announce(s, s.alice, s.bob, 0, b"")
    announce(s, s.alice, s.bob, 0x12345678, b"\x00\x01binary\xff")
    announce(s, s.bob, s.alice, 0xFFFFFFFF, b"max")


@scenario("symkey/after-rotation", needs=("v3", "symkey"))
def after_rotation(s: Script) -> None:
    """After the data keys have rotated, both sides still derive the same extra key."""
    establish(s)
    for i in range(5):
        s.alice.send(f"a{i}")
        s.deliver()
        s.bob.sees("message", text=f"a{i}", encrypted=True)
        s.bob.send(f"b{i}")
        s.deliver()
        s.alice.sees("message", text=f"b{i}", encrypted=True)
    announce(s, s.bob, s.alice, 2, b"after rotation")
    announce(s, s.alice, s.bob, 3, b"and back")


@scenario("symkey/not-private", needs=("v3", "symkey"))
def not_private(s: Script) -> None:
    """Without a private conversation there is no extra key: an error, and nothing sent."""
    result = s.alice.symkey(1, b"too early")
    if result.fields.get("key") is not None or s.net.sent:
        raise ExpectationFailed("alice got an extra symmetric key with no private conversation")
    s.alice.sees("error", code="not_private")


@scenario(
    "symkey/not-in-v2", needs=("v2", "symkey"), cast=roles(Policy(allow_v3=False), Policy(allow_v3=False))
)
def not_in_v2(s: Script) -> None:
    """A v2 session has no extra symmetric key: asking for one is refused and sends nothing."""
    s.alice.query()
    s.deliver()
    s.expect_private(version=2)
    before = len(s.net.sent)
    result = s.alice.symkey(1, b"v2 has none")
    if result.fields.get("key") is not None or len(s.net.sent) != before:
        raise ExpectationFailed("alice used an extra symmetric key in a v2 session")
    s.alice.sees("error", code="not_private")
