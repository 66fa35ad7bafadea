"""``otrcheck converse``: one whole engine-to-engine conversation, printed.

Each side runs in its own ``otrcheck peer engine`` process (or in-process
with ``--in-process``), so the conversation also exercises the peer
protocol end to end.  Every step states what each side must observe; the
command exits non-zero if any expectation fails.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import TextIO

from harness import impls
from harness.conversation import Duo
from implementations.api import Adapter, Event, Policy, Result, SmpUpdated, SymkeyReceived


def _abbrev(wire: str, width: int = 72) -> str:
    wire = wire.replace("\n", "\\n").replace("\t", "\\t")
    return wire if len(wire) <= width else wire[: width - 3] + "..."


@contextlib.contextmanager
def _factory(in_process: bool) -> Iterator[Callable[[], Adapter]]:
    engine = impls.get("engine")
    assert engine.in_process is not None
    if in_process:
        yield engine.in_process
        return
    from implementations.peer import PeerProcess

    processes: list[PeerProcess] = []

    def make() -> Adapter:
        proc = PeerProcess(engine.peer_command(), timeout=60)
        processes.append(proc)
        return proc

    try:
        yield make
    finally:
        for proc in processes:
            proc.close()


def run(seed: str, version: int, max_message_size: int, in_process: bool, out: TextIO) -> int:
    policy = Policy(allow_v2=True, allow_v3=version == 3)
    failures: list[str] = []

    def check(ok: bool, what: str) -> None:
        out.write(f"    {'ok  ' if ok else 'FAIL'} {what}\n")
        if not ok:
            failures.append(what)

    seeds = (f"{seed}/alice".encode(), f"{seed}/bob".encode()) if seed else (None, None)
    with _factory(in_process) as make:
        duo = Duo.create(
            make, policies=(policy, policy), max_message_size=(max_message_size,) * 2, seeds=seeds
        )
        shown = 0

        def step(title: str, name: str, op: str, *args: object) -> Result:
            nonlocal shown
            out.write(f"\n== {title}: {name}.{op}{args!r}\n")
            result = duo.act(name, op, *args)
            duo.flush()
            for wire in duo.transcript[shown:]:
                out.write(f"  {wire.sender:>5} -> {wire.to:<5} {_abbrev(wire.wire)}\n")
            shown = len(duo.transcript)
            for side in (duo.a, duo.b):
                seen[side.name] = side.take_events()
                for event in seen[side.name]:
                    out.write(f"  {side.name:>5} sees {event.to_json()}\n")
            return result

        seen: dict[str, list[Event]] = {"alice": [], "bob": []}

        def smp_results(name: str) -> list[str]:
            return [e.result for e in seen[name] if isinstance(e, SmpUpdated)]

        step("request OTR", "alice", "query")
        a_status, b_status = duo.a.adapter.status("bob"), duo.b.adapter.status("alice")
        check(a_status.msgstate == b_status.msgstate == "encrypted", "both sides encrypted")
        check(a_status.version == b_status.version == version, f"protocol version {version}")
        check(a_status.ssid == b_status.ssid is not None, f"same ssid {a_status.ssid}")
        check(a_status.peer_fingerprint == b_status.fingerprint, "alice holds bob's true fingerprint")
        check(b_status.peer_fingerprint == a_status.fingerprint, "bob holds alice's true fingerprint")

        step("message", "alice", "send", "Hello Bob")
        step("reply (UTF-8)", "bob", "send", "Hi Alice \u2713 \u00e9\u00e8 \U0001f510")
        for i in range(3):
            step(f"round trip {i + 1} (key rotation)", "alice", "send", f"ping {i}")
            step(f"round trip {i + 1}", "bob", "send", f"pong {i}")
        step("large message", "alice", "send", "x" * 10_000)

        duo.sides["alice"].events.clear()
        duo.sides["bob"].events.clear()
        duo.act("alice", "smp_start", "our secret", "What is our secret?")
        duo.flush()
        asks = [e for e in duo.b.events if isinstance(e, SmpUpdated) and e.result == "ask"]
        check(bool(asks) and asks[0].question == "What is our secret?", "bob is asked the question")
        step("SMP answer (same secret)", "bob", "smp_respond", "our secret")
        check("success" in smp_results("alice"), "alice: SMP success")
        check("success" in smp_results("bob"), "bob: SMP success")
        step("SMP with different secrets", "alice", "smp_start", "apple", None)
        step("SMP answer (different secret)", "bob", "smp_respond", "orange")
        check("failure" in smp_results("alice"), "alice: SMP failure")
        check("failure" in smp_results("bob"), "bob: SMP failure")
        if version == 3:  # the extra symmetric key is a v3 feature
            key = step("extra symmetric key", "alice", "symkey", 1, b"file.txt").fields.get("key")
            got = [e for e in seen["bob"] if isinstance(e, SymkeyReceived)]
            check(bool(got) and got[0].key == key is not None, "extra symmetric key equal on both sides")
        step("end", "alice", "end")
        check(duo.b.adapter.status("alice").msgstate == "finished", "bob is finished after alice ended")
        check(duo.a.adapter.status("bob").msgstate == "plaintext", "alice is back to plaintext")

    out.write(
        f"\n{len(failures)} failed\n" if failures else "\nconversation complete: every expectation met\n"
    )
    return 1 if failures else 0
