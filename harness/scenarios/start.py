"""Starting OTR: query spellings, the whitespace tag, and Error Messages.

Spec "OTR Query Messages", "Tagged plaintext messages", "OTR Error
Messages" and "State transitions".  Queries are injected as if alice sent
them; bob answers with a D-H Commit, which alice accepts in AUTHSTATE_NONE
whether or not she asked.
"""

from __future__ import annotations

from harness.scenarios import roles, scenario
from harness.script import ExpectationFailed, Script
from implementations.api import Policy

TAG_BASE = "\x20\x09\x20\x20\x09\x09\x09\x09\x20\x09\x20\x09\x20\x09\x20\x20"
AKE_KINDS = ("dh_commit", "dh_key", "reveal_signature", "signature")


def query_from_alice(s: Script, wire: str) -> None:
    s.net.inject("bob", wire, account="alice")
    s.deliver()


def expect_no_ake(s: Script) -> None:
    started = [p for p in s.net.sent if p.kind in AKE_KINDS]
    if started:
        raise ExpectationFailed(f"{started[0].sender} started an AKE ({started[0].kind})")
    s.alice.expect_status(msgstate="plaintext")
    s.bob.expect_status(msgstate="plaintext")


def tagged(wire: str) -> bool:
    return TAG_BASE in wire


# ---------------------------------------------------------- query spellings


@scenario("start/query-v3", needs=("v3",))
def query_v3(s: Script) -> None:
    """The query "?OTRv3?" starts a v3 AKE."""
    query_from_alice(s, "?OTRv3?")
    s.expect_private(version=3)


@scenario("start/query-v23", needs=("v3",))
def query_v23(s: Script) -> None:
    """The query "?OTRv23?" starts a v3 AKE (the highest common version)."""
    query_from_alice(s, "?OTRv23?")
    s.expect_private(version=3)


@scenario("start/query-v32", needs=("v3",))
def query_v32(s: Script) -> None:
    """The query "?OTRv32?" starts a v3 AKE: the order of the version digits does not matter."""
    query_from_alice(s, "?OTRv32?")
    s.expect_private(version=3)


@scenario("start/query-v1-v2", needs=("v2",))
def query_v1_v2(s: Script) -> None:
    """The query "?OTR?v2?" (versions 1 and 2) starts a v2 AKE."""
    query_from_alice(s, "?OTR?v2?")
    s.expect_private(version=2)


@scenario("start/query-v1-v23", needs=("v3",))
def query_v1_v23(s: Script) -> None:
    """The query "?OTR?v23?" (versions 1, 2 and 3) starts a v3 AKE."""
    query_from_alice(s, "?OTR?v23?")
    s.expect_private(version=3)


@scenario("start/query-future-versions", needs=("v2",))
def query_future_versions(s: Script) -> None:
    """The query "?OTRv24x?" starts a v2 AKE: unknown version identifiers are skipped."""
    query_from_alice(s, "?OTRv24x?")
    s.expect_private(version=2)


@scenario("start/query-with-explanation", needs=("v3",))
def query_with_explanation(s: Script) -> None:
    """A query followed by an explanatory text still starts the AKE."""
    query_from_alice(s, "?OTRv23?\nalice has requested an Off-the-Record private conversation.")
    s.expect_private(version=3)


@scenario("start/query-inside-html", needs=("v3",))
def query_inside_html(s: Script) -> None:
    """The query string may be hidden in an HTML attribute; any message containing it is a query."""
    query_from_alice(s, '<span title="?OTRv23?">alice would like to talk privately.</span>')
    s.expect_private(version=3)


@scenario("start/query-v1-only")
def query_v1_only(s: Script) -> None:
    """The query "?OTR?" offers only version 1, which nobody allows: no AKE."""
    query_from_alice(s, "?OTR?")
    expect_no_ake(s)


@scenario("start/query-no-version")
def query_no_version(s: Script) -> None:
    """The query "?OTRv?" offers no version at all: no AKE."""
    query_from_alice(s, "?OTRv?")
    expect_no_ake(s)


# ----------------------------------------------------------- whitespace tag


@scenario(
    "start/whitespace-tag",
    needs=("v3", "whitespace_tag"),
    cast=roles(alice=Policy(send_whitespace_tag=True), bob=Policy(whitespace_start_ake=True)),
)
def whitespace_tag(s: Script) -> None:
    """A tagged plaintext is shown without its tag and makes bob start the AKE."""
    s.alice.send("hello, care for OTR")
    if not tagged(s.net.find(to="bob").wire):
        raise ExpectationFailed("alice (SEND_WHITESPACE_TAG) sent her first message without the tag")
    s.deliver()
    s.bob.sees("message", text="hello, care for OTR", encrypted=False)
    s.expect_private(version=3)


@scenario(
    "start/whitespace-tag-ignored",
    needs=("whitespace_tag",),
    cast=roles(alice=Policy(send_whitespace_tag=True), bob=Policy(whitespace_start_ake=False)),
)
def whitespace_tag_ignored(s: Script) -> None:
    """Without WHITESPACE_START_AKE bob strips the tag and shows the text, but starts no AKE."""
    s.alice.send("tagged but ignored")
    s.deliver()
    s.bob.sees("message", text="tagged but ignored", encrypted=False)
    expect_no_ake(s)


@scenario(
    "start/whitespace-tag-repeats",
    needs=("whitespace_tag",),
    cast=roles(alice=Policy(send_whitespace_tag=True), bob=Policy(whitespace_start_ake=False)),
)
def whitespace_tag_repeats(s: Script) -> None:
    """Until bob answers in plaintext, each of alice's plaintext messages carries the tag."""
    s.alice.send("first")
    s.alice.send("second")
    if not all(tagged(p.wire) for p in s.net.sent):
        raise ExpectationFailed("alice stopped sending the tag before any plaintext from bob")
    s.deliver()
    s.bob.sees("message", text="first", encrypted=False)
    s.bob.sees("message", text="second", encrypted=False)


@scenario(
    "start/whitespace-tag-stops",
    needs=("whitespace_tag",),
    cast=roles(alice=Policy(send_whitespace_tag=True), bob=Policy(whitespace_start_ake=False)),
)
def whitespace_tag_stops(s: Script) -> None:
    """Once bob answers in plaintext (not with an AKE), alice stops sending the tag."""
    s.alice.send("tagged offer")
    s.deliver()
    s.bob.send("plain answer")
    s.deliver()
    s.alice.sees("message", text="plain answer", encrypted=False)
    s.alice.send("no tag now")
    if tagged(s.net.find(to="bob").wire):
        raise ExpectationFailed("alice kept sending the whitespace tag after bob's plaintext answer")
    s.deliver()
    s.bob.sees("message", text="no tag now", encrypted=False)


# ------------------------------------------------------------ Error Message


@scenario("start/error-starts-ake", needs=("error_start_ake",), cast=roles(bob=Policy(error_start_ake=True)))
def error_starts_ake(s: Script) -> None:
    """With ERROR_START_AKE an Error Message is shown and answered with a query, which leads to a session."""
    s.net.inject("bob", "?OTR Error: x", account="alice")
    s.deliver(1)
    s.bob.sees("remote_error")
    s.net.find("query", to="alice")
    s.deliver()
    s.expect_private()


@scenario("start/error-no-ake", needs=("error_start_ake",), cast=roles(bob=Policy(error_start_ake=False)))
def error_no_ake(s: Script) -> None:
    """Without ERROR_START_AKE an Error Message is shown and nothing is sent."""
    s.net.inject("bob", "?OTR Error: x", account="alice")
    s.deliver(1)
    s.bob.sees("remote_error")
    if s.net.queue:
        raise ExpectationFailed(f"bob answered the Error Message with {s.net.queue[0].kind}")
    s.bob.expect_status(msgstate="plaintext")


@scenario("start/error-without-space")
def error_without_space(s: Script) -> None:
    """Any message containing "?OTR Error:" is an Error Message, with or without a space after the colon."""
    s.net.inject("bob", "?OTR Error:no space here", account="alice")
    s.deliver(1)
    s.bob.sees("remote_error")
    s.bob.sees_no("message")
