"""Two accounts, each behind any adapter, joined by an in-order network.

This is the smallest useful harness: every message an implementation puts
on the network is queued, and :meth:`Duo.flush` delivers the queue in order
(each delivery may queue replies) until it is empty or a bound is hit.
It records the transcript (who sent what to whom) and every event each
side reported, so tests and the ``otrcheck converse`` command can assert
on, or print, what happened.

Invariant: nothing is delivered that an implementation did not send, and
everything sent is delivered exactly once, in order, unless a caller takes
it out of :attr:`Duo.in_flight` itself.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from implementations.api import Adapter, Event, InitConfig, Outgoing, Policy, Result
from implementations.fixtures import key

MAX_DELIVERIES = 10_000  # per flush: far above any legitimate exchange, low enough to stop a storm


class MessageStorm(RuntimeError):
    """The two sides kept answering each other past :data:`MAX_DELIVERIES`."""


@dataclass(frozen=True)
class Wire:
    sender: str
    to: str
    wire: str


@dataclass
class Side:
    name: str
    adapter: Adapter
    events: list[Event] = field(default_factory=list)

    def take_events(self) -> list[Event]:
        taken, self.events = self.events, []
        return taken


class Duo:
    """Alice and Bob (any two account names), each an adapter, on one in-order network."""

    def __init__(self, a: Side, b: Side) -> None:
        self.sides = {a.name: a, b.name: b}
        self.a, self.b = a, b
        self.in_flight: deque[Wire] = deque()
        self.transcript: list[Wire] = []
        self.on_deliver: Callable[[Wire], str | None] | None = None

    @classmethod
    def create(
        cls,
        make_adapter: Callable[[], Adapter],
        make_other: Callable[[], Adapter] | None = None,
        *,
        names: tuple[str, str] = ("alice", "bob"),
        tags: tuple[int, int] = (0x100, 0x101),
        policies: tuple[Policy, Policy] = (Policy(), Policy()),
        max_message_size: tuple[int, int] = (0, 0),
        seeds: tuple[bytes | None, bytes | None] = (b"alice", b"bob"),
        keys: tuple[str, str] = ("alice", "bob"),
    ) -> Duo:
        """Create and ``init`` both sides with fixture keys; the second factory defaults to the first."""
        sides = []
        for i, factory in enumerate((make_adapter, make_other or make_adapter)):
            adapter = factory()
            adapter.init(
                InitConfig(
                    account=names[i],
                    protocol="otrcheck",
                    key=key(keys[i]),
                    instance_tag=tags[i],
                    policy=policies[i],
                    max_message_size=max_message_size[i],
                    seed=seeds[i],
                )
            )
            sides.append(Side(names[i], adapter))
        return cls(sides[0], sides[1])

    def other(self, name: str) -> Side:
        return self.b if name == self.a.name else self.a

    def record(self, name: str, result: Result) -> Result:
        """Queue what ``name`` sent and keep what it reported."""
        side = self.sides[name]
        side.events.extend(result.events)
        for out in result.out:
            self._queue(name, out)
        return result

    def _queue(self, sender: str, out: Outgoing) -> None:
        self.in_flight.append(Wire(sender, out.to, out.wire))

    def act(self, name: str, op: str, *args: object) -> Result:
        """Perform a user action (``send``, ``query``, ``smp_start`` ...) on side ``name``."""
        result: Result = getattr(self.sides[name].adapter, op)(self.other(name).name, *args)
        return self.record(name, result)

    def deliver_one(self) -> Wire:
        wire = self.in_flight.popleft()
        text = wire.wire
        if self.on_deliver is not None:
            replaced = self.on_deliver(wire)
            if replaced is None:
                return wire
            text = replaced
        self.transcript.append(Wire(wire.sender, wire.to, text))
        receiver = self.sides[wire.to]
        self.record(receiver.name, receiver.adapter.receive(wire.sender, text))
        return wire

    def flush(self, limit: int = MAX_DELIVERIES) -> int:
        delivered = 0
        while self.in_flight:
            if delivered >= limit:
                raise MessageStorm(f"more than {limit} deliveries without the network going quiet")
            self.deliver_one()
            delivered += 1
        return delivered

    def events(self, name: str, type_: str | None = None) -> list[Event]:
        return [e for e in self.sides[name].events if type_ is None or e.type == type_]
