"""Data Messages: what the human-readable part may hold, and keys rotating under traffic.

Spec "Data Message" and "Receiving a Data Message": the receiver decrypts
and displays the human-readable part if it is non-empty, exactly as sent.
"""

from __future__ import annotations

from harness.scenarios import scenario
from harness.script import ExpectationFailed, Script


def establish(s: Script) -> None:
    s.alice.query()
    s.deliver()
    s.expect_private()


def expect_messages(who: str, got: list[str], want: list[str]) -> None:
    if got != want:
        raise ExpectationFailed(f"{who} was shown {got!r}, expected {want!r}")


@scenario("data/ascii")
def ascii_text(s: Script) -> None:
    """Printable ASCII, punctuation included, arrives unchanged both ways."""
    establish(s)
    text = "Hello, Bob! 0123456789 ~`!@#$%^&*()_+-=[]{}|;':\",./<>? the end"
    s.alice.send(text)
    s.deliver()
    s.bob.sees("message", text=text, encrypted=True)
    s.bob.send(text[::-1])
    s.deliver()
    s.alice.sees("message", text=text[::-1], encrypted=True)


@scenario("data/utf8")
def utf8_text(s: Script) -> None:
    """Multi-byte UTF-8, emoji and combining marks arrive byte for byte (no normalization)."""
    establish(s)
    text = "Grüße, naïve café — Ελληνικά, русский, 日本語, עברית; 🔐🙂👩‍💻; e\u0301 a\u0308 o\u0302\u0323"
    s.alice.send(text)
    s.deliver()
    s.bob.sees("message", text=text, encrypted=True)
    s.bob.send("réponse ✓ 🎉")
    s.deliver()
    s.alice.sees("message", text="réponse ✓ 🎉", encrypted=True)


@scenario("data/whitespace-and-newlines")
def whitespace_and_newlines(s: Script) -> None:
    """Newlines, tabs and leading and trailing spaces are part of the text."""
    establish(s)
    text = "  first line\nsecond\tline\r\nthird line  "
    s.alice.send(text)
    s.deliver()
    s.bob.sees("message", text=text, encrypted=True)


@scenario("data/empty")
def empty_message(s: Script) -> None:
    """An empty message is not displayed (an empty human part is a heartbeat); the session goes on."""
    establish(s)
    s.alice.send("")
    s.deliver()
    s.bob.sees_no("message")
    s.alice.send("after the empty one")
    s.deliver()
    s.bob.sees("message", text="after the empty one", encrypted=True)
    expect_messages("bob", s.bob.messages(), ["after the empty one"])


@scenario("data/64k")
def large_message(s: Script) -> None:
    """A 64 KiB message (no size limit on the network) arrives whole."""
    establish(s)
    text = "".join(f"{i:06d} " for i in range(65536 // 7)).ljust(65536, ".")
    s.alice.send(text)
    s.deliver()
    if s.bob.messages() != [text]:
        raise ExpectationFailed(f"bob was shown {[len(m) for m in s.bob.messages()]} characters, not 65536")
    s.bob.sees("message", text=text, encrypted=True)


@scenario("data/html")
def html_text(s: Script) -> None:
    """HTML markup in the human-readable part arrives unchanged."""
    establish(s)
    text = '<b>bold</b> &amp; <i>italic</i> <a href="https://example.org/?a=1&b=2">link</a><br/>'
    s.alice.send(text)
    s.deliver()
    s.bob.sees("message", text=text, encrypted=True)


@scenario("data/otr-markers-inside")
def otr_markers_inside(s: Script) -> None:
    """OTR markers inside an encrypted message are just text: shown, not acted on."""
    establish(s)
    text = "what do ?OTRv23? and ?OTR Error: mean?"
    s.alice.send(text)
    s.deliver()
    s.bob.sees("message", text=text, encrypted=True)
    s.bob.sees_no("remote_error")
    s.alice.sees_no("secure")


@scenario("data/key-rotation")
def key_rotation(s: Script) -> None:
    """Fifty round trips: the D-H keys rotate every exchange and every message still decrypts."""
    establish(s)
    for i in range(50):
        s.alice.send(f"ping {i}")
        s.deliver()
        s.bob.sees("message", text=f"ping {i}", encrypted=True)
        s.bob.send(f"pong {i}")
        s.deliver()
        s.alice.sees("message", text=f"pong {i}", encrypted=True)
    s.alice.expect_status(msgstate="encrypted")


@scenario("data/one-way-burst")
def one_way_burst(s: Script) -> None:
    """Twenty messages sent one way before any is delivered all arrive, in order."""
    establish(s)
    texts = [f"burst {i}" for i in range(20)]
    for text in texts:
        s.alice.send(text)
    s.deliver()
    expect_messages("bob", s.bob.messages(), texts)
    s.bob.send("got them all")
    s.deliver()
    s.alice.sees("message", text="got them all", encrypted=True)


@scenario("data/interleaved")
def interleaved(s: Script) -> None:
    """Both sides send before anything is delivered; every message arrives, in order per direction."""
    establish(s)
    s.alice.send("a1")
    s.bob.send("b1")
    s.alice.send("a2")
    s.bob.send("b2")
    s.deliver()
    expect_messages("bob", s.bob.messages(), ["a1", "a2"])
    expect_messages("alice", s.alice.messages(), ["b1", "b2"])
    s.alice.send("a3")
    s.bob.send("b3")
    s.deliver()
    expect_messages("bob", s.bob.messages(), ["a1", "a2", "a3"])
    expect_messages("alice", s.alice.messages(), ["b1", "b2", "b3"])
