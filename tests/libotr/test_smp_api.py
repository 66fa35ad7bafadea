"""libotr's SMP API called out of turn (LIBOTR-041), in a child process of its own.

The call crashes the process that makes it, so it runs in a fresh
interpreter: the libotr adapter in-process, a v3 session with the engine,
then ``otrl_message_respond_smp`` with no SMP message 1 received (called
directly, past the adapter's guard; :mod:`implementations.libotr.adapter`
refuses such an answer itself).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from harness import impls

PROGRAM = textwrap.dedent(
    """
    from harness import impls
    from implementations.api import InitConfig, Policy
    from implementations.fixtures import key

    bob = impls.get("libotr").make(isolated=False)
    alice = impls.get("engine").make(isolated=False)
    for name, side, tag in (("alice", alice, 0x100), ("bob", bob, 0x101)):
        side.init(InitConfig(name, "otrcheck", key(name), tag, Policy(), seed=b"pin"))
    pending = [("alice", out) for out in alice.query("bob").out]
    while pending:
        sender, out = pending.pop(0)
        target, other = (bob, "bob") if sender == "alice" else (alice, "alice")
        pending += [(other, o) for o in target.receive(sender, out.wire).out]
    assert bob.status("alice").msgstate == "encrypted"
    result = bob.smp_respond("alice", "apple")  # the adapter refuses: nothing was asked
    print("returned", [e.type for e in result.events])
    # What the adapter's guard prevents: the call itself.
    from ctypes import byref
    context = bob._private_context("alice", "SMP", "smp")
    bob.lib.otrl_message_respond_smp(bob.us, byref(bob._ops), None, context, b"apple", 5)
    print("libotr returned")
    """
)


def test_respond_smp_with_no_smp_in_progress_does_not_crash_the_adapter() -> None:
    """The adapter refuses the answer itself: no question was asked in this userstate."""
    if impls.get("libotr").unavailable:
        pytest.skip(impls.get("libotr").unavailable)
    fixed = PROGRAM[: PROGRAM.index("# What the adapter's guard prevents")]
    run = subprocess.run([sys.executable, "-c", fixed], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert "returned ['smp']" in run.stdout


@pytest.mark.xfail(
    strict=True,
    reason="LIBOTR-041: otrl_message_respond_smp with no SMP message 1 received dereferences NULL",
)
def test_respond_smp_with_no_smp_in_progress_is_refused() -> None:
    if impls.get("libotr").unavailable:
        pytest.skip(impls.get("libotr").unavailable)
    run = subprocess.run([sys.executable, "-c", PROGRAM], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, f"libotr died with signal {-run.returncode}: {run.stderr[-300:]}"
