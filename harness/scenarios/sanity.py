"""Sanity: the smallest whole conversation, run first and last for every pair."""

from __future__ import annotations

from harness.scenarios import scenario
from harness.script import Script


@scenario("sanity/query-ake-message", sanity=True)
def query_ake_message(s: Script) -> None:
    """alice asks for OTR, the AKE completes, one message crosses each way."""
    s.alice.query()
    s.deliver()
    s.expect_private()
    s.alice.send("sanity check")
    s.deliver()
    s.bob.sees("message", text="sanity check", encrypted=True)
    s.bob.send("sanity reply")
    s.deliver()
    s.alice.sees("message", text="sanity reply", encrypted=True)
