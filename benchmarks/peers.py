"""Who takes part, and the smallest possible network between two of them.

Participants come from the registry (:mod:`harness.impls`) at run time, so
a peer added there (otr.js, otr3) is measured without changing this
package.  Each is used through its in-process adapter where it has one;
an adapter that is itself a peer-protocol client
(:class:`implementations.peer.PeerProcess`) is marked ``pipe``: its figures
include the JSON-lines round trips.

:class:`Link` is deliberately thinner than :class:`harness.conversation.Duo`:
no transcript and no event log that grow with the run, so that the
harness's own bookkeeping weighs the same, and as little as possible, in
every pair.

Invariants: a :class:`Link` delivers everything either side sends, in
order, exactly once, and stops with :class:`Storm` rather than loop; every
adapter a :class:`Link` created is released by :meth:`Link.close`.
"""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Literal

from harness import impls
from implementations.api import Adapter, Event, InitConfig, Policy, Result
from implementations.fixtures import key
from implementations.peer import PeerProcess

from .model import Participant

NAMES = ("alice", "bob")
TAGS = (0x100, 0x101)
MAX_DELIVERIES = 100_000  # per pump: far above any exchange measured here


class Storm(RuntimeError):
    """The two sides kept answering each other."""


@dataclass(frozen=True)
class Available:
    participant: Participant
    make: Callable[[], Adapter]


def release(adapter: Adapter) -> None:
    """Stop an adapter: ``close`` a subprocess peer, ``quit`` an in-process one; never raises."""
    with contextlib.suppress(Exception):
        if isinstance(adapter, PeerProcess):
            adapter.close()
        else:
            adapter.quit()


def discover(only: list[str] | None = None) -> tuple[list[Available], dict[str, str]]:
    """Every implementation of the registry that can run here, and why the others cannot."""
    available: list[Available] = []
    unavailable: dict[str, str] = {}
    for name in impls.names():
        if only and name not in only:
            continue
        try:
            impl = impls.get(name)
            if not impl.available:
                unavailable[name] = impl.unavailable or "unavailable"
                continue

            def make(impl: impls.Implementation = impl) -> Adapter:
                return impl.make(isolated=False)

            probe = make()
            try:
                hello = probe.hello()
                transport: Literal["in-process", "pipe"] = (
                    "pipe" if isinstance(probe, PeerProcess) else "in-process"
                )
            finally:
                release(probe)
        except Exception as exc:
            unavailable[name] = f"{type(exc).__name__}: {exc}"
            continue
        participant = Participant(name, impl.version or hello.version, transport, hello.protocol_versions)
        available.append(Available(participant, make))
    return available, unavailable


def plan(available: list[Available], hub: str = "engine") -> list[tuple[Available, Available]]:
    """Each implementation against itself, then ``hub`` (as alice) against each other one."""
    pairs = [(a, a) for a in available]
    hubs = [a for a in available if a.participant.name == hub]
    for center in hubs:
        pairs.extend((center, other) for other in available if other is not center)
    return pairs


def common_version(a: Participant, b: Participant) -> int | None:
    shared = set(a.protocol_versions) & set(b.protocol_versions) & {2, 3}
    return max(shared) if shared else None


class Link:
    """Alice and Bob, each an adapter, joined by an in-order queue; ``pump`` delivers until quiet."""

    def __init__(self, alice: Adapter, bob: Adapter) -> None:
        self.adapters = {NAMES[0]: alice, NAMES[1]: bob}
        self.events: dict[str, list[Event]] = {NAMES[0]: [], NAMES[1]: []}
        self.keep_events = True

    @classmethod
    def open(
        cls,
        make_alice: Callable[[], Adapter],
        make_bob: Callable[[], Adapter],
        version: int,
        max_message_size: int = 0,
    ) -> Link:
        """Two initialised accounts with the fixture keys, OTR versions up to ``version``, no seed."""
        policy = Policy(allow_v2=True, allow_v3=version >= 3)
        adapters: list[Adapter] = []
        try:
            for i, make in enumerate((make_alice, make_bob)):
                adapter = make()
                adapters.append(adapter)
                adapter.init(
                    InitConfig(
                        account=NAMES[i],
                        protocol="otrcheck",
                        key=key(NAMES[i]),
                        instance_tag=TAGS[i],
                        policy=policy,
                        max_message_size=max_message_size,
                    )
                )
        except BaseException:
            for adapter in adapters:
                release(adapter)
            raise
        return cls(adapters[0], adapters[1])

    @staticmethod
    def other(name: str) -> str:
        return NAMES[1] if name == NAMES[0] else NAMES[0]

    def act(self, name: str, op: str, *args: object) -> int:
        """A user action on side ``name``, then every resulting delivery; returns the deliveries."""
        result: Result = getattr(self.adapters[name], op)(self.other(name), *args)
        return self.pump(name, result)

    def pump(self, name: str, result: Result) -> int:
        queue: deque[tuple[str, str]] = deque()
        self._keep(name, result, queue)
        delivered = 0
        while queue:
            if delivered >= MAX_DELIVERIES:
                raise Storm(f"more than {MAX_DELIVERIES} deliveries without the network going quiet")
            sender, wire = queue.popleft()
            receiver = self.other(sender)
            self._keep(receiver, self.adapters[receiver].receive(sender, wire), queue)
            delivered += 1
        return delivered

    def _keep(self, name: str, result: Result, queue: deque[tuple[str, str]]) -> None:
        if self.keep_events:
            self.events[name].extend(result.events)
        for out in result.out:
            queue.append((name, out.wire))

    def take(self, name: str) -> list[Event]:
        taken, self.events[name] = self.events[name], []
        return taken

    def close(self) -> None:
        for adapter in self.adapters.values():
            release(adapter)


@contextlib.contextmanager
def linked(alice: Available, bob: Available, version: int, max_message_size: int = 0) -> Iterator[Link]:
    link = Link.open(alice.make, bob.make, version, max_message_size)
    try:
        yield link
    finally:
        link.close()
