"""The language scenarios are written in: actors, the network, and expectations.

A scenario reads like the conversation it tests::

    def run(s: Script) -> None:
        s.alice.query()
        s.deliver()
        s.expect_private(version=3)
        s.alice.send("hello")
        s.deliver()
        s.bob.sees("message", text="hello", encrypted=True)

Each actor is one account of one implementation behind the adapter
contract.  Every user action queues what the implementation sent on the
:class:`~harness.network.Network`; ``deliver`` runs it.  Each actor keeps
the events its implementation reported; ``sees`` consumes the first
matching one (and fails the scenario if there is none), ``sees_no`` fails
if a matching one is pending.

A failed expectation raises :class:`ExpectationFailed`; an adapter that
cannot do what was asked raises :class:`implementations.api.Unsupported`.
The runner turns those into FAIL and UNSUPPORTED.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from harness.network import FaultPlan, Network, Packet
from implementations.api import Adapter, Event, InitConfig, Outgoing, Policy, Result, Status
from implementations.fixtures import key


class ExpectationFailed(AssertionError):
    """What a scenario expected did not happen; the message says what, in protocol terms."""


@dataclass
class Actor:
    """One account of one implementation in a scenario."""

    name: str
    account: str
    adapter: Adapter
    script: Script
    events: list[Event] = field(default_factory=list)
    seen: list[Event] = field(default_factory=list)
    peer_account: str = ""

    # -------------------------------------------------------- user actions

    def _act(self, op: str, *args: Any) -> Result:
        result: Result = getattr(self.adapter, op)(self.peer_account, *args)
        self.script.record(self, result)
        return result

    def send(self, text: str) -> Result:
        return self._act("send", text)

    def query(self) -> Result:
        return self._act("query")

    def end(self) -> Result:
        return self._act("end")

    def smp_start(self, secret: str, question: str | None = None) -> Result:
        return self._act("smp_start", secret, question)

    def smp_respond(self, secret: str) -> Result:
        return self._act("smp_respond", secret)

    def smp_abort(self) -> Result:
        return self._act("smp_abort")

    def symkey(self, use: int, usedata: bytes) -> Result:
        return self._act("symkey", use, usedata)

    def status(self) -> Status:
        return self.adapter.status(self.peer_account)

    # -------------------------------------------------------- expectations

    def _matches(self, event: Event, type_: str, fields: dict[str, Any]) -> bool:
        if event.type != type_:
            return False
        data = event.to_json()
        return all(data.get(k) == v for k, v in fields.items())

    def sees(self, type_: str, **fields: Any) -> Event:
        """Consume the first pending event of ``type_`` whose fields equal ``fields``; fail if none."""
        for i, event in enumerate(self.events):
            if self._matches(event, type_, fields):
                del self.events[i]
                self.seen.append(event)
                return event
        pending = [e.to_json() for e in self.events]
        want = {"type": type_, **fields}
        raise ExpectationFailed(f"{self.name} should see {want}; pending events: {pending}")

    def sees_no(self, type_: str, **fields: Any) -> None:
        for event in self.events:
            if self._matches(event, type_, fields):
                raise ExpectationFailed(f"{self.name} should not see {event.to_json()}")

    def messages(self) -> list[str]:
        """Texts of every message event received so far (pending or seen), in order."""
        return [e.text for e in [*self.seen, *self.events] if e.type == "message"]  # type: ignore[attr-defined]

    def forget_events(self) -> None:
        self.seen.extend(self.events)
        self.events.clear()

    def expect_status(self, **fields: Any) -> Status:
        status = self.status()
        data = status.to_json()
        wrong = {k: (data.get(k), v) for k, v in fields.items() if data.get(k) != v}
        if wrong:
            detail = ", ".join(f"{k} is {got!r}, expected {want!r}" for k, (got, want) in wrong.items())
            raise ExpectationFailed(f"{self.name}: {detail}")
        return status


@dataclass(frozen=True)
class Role:
    """How one actor of a scenario is set up (its implementation is chosen by the runner)."""

    name: str
    account: str
    key: str
    instance_tag: int
    policy: Policy = field(default_factory=Policy)
    max_message_size: int = 0
    hooks: tuple[tuple[str, str], ...] = ()  # x- init fields; implementations without them ignore them


class Script:
    """One run of one scenario: the actors, the network, and the checks."""

    def __init__(self, seed: int, plan: FaultPlan | None = None) -> None:
        self.seed = seed
        self.rng = random.Random(seed)
        self.actors: dict[str, Actor] = {}
        self.net = Network(self._deliver, {}, random.Random(seed ^ 0x5EED), plan or FaultPlan())

    def add(self, role: Role, adapter: Adapter, peer_account: str) -> Actor:
        adapter.init(
            InitConfig(
                account=role.account,
                protocol="otrcheck",
                key=key(role.key),
                instance_tag=role.instance_tag,
                policy=role.policy,
                max_message_size=role.max_message_size,
                seed=f"{self.seed}/{role.name}".encode(),
                extra=dict(role.hooks),
            )
        )
        actor = Actor(role.name, role.account, adapter, self, peer_account=peer_account)
        self.actors[role.name] = actor
        self.net.accounts.setdefault(role.account, []).append(role.name)
        return actor

    def __getattr__(self, name: str) -> Actor:
        actors = self.__dict__.get("actors", {})
        if name in actors:
            return actors[name]  # type: ignore[no-any-return]
        raise AttributeError(name)

    def record(self, actor: Actor, result: Result) -> None:
        actor.events.extend(result.events)
        for out in result.out:
            self._post(actor, out)

    def _post(self, actor: Actor, out: Outgoing) -> None:
        self.net.post(actor.name, actor.account, out.to, out.wire)

    def _deliver(self, receiver: str, packet: Packet) -> None:
        actor = self.actors[receiver]
        self.record(actor, actor.adapter.receive(packet.account, packet.wire))

    # -------------------------------------------------------------- network

    def deliver(self, count: int | None = None) -> None:
        """Deliver everything until quiet, or just the next ``count`` packets."""
        if count is None:
            self.net.run()
            return
        for _ in range(count):
            if not self.net.queue:
                raise ExpectationFailed(f"expected {count} packets in flight, the network is quiet")
            self.net.deliver_next()

    def in_flight(self) -> Iterator[Packet]:
        return iter(list(self.net.queue))

    # --------------------------------------------------------- expectations

    def expect_private(self, version: int | None = None, a: str = "alice", b: str = "bob") -> str:
        """Both actors encrypted with each other: same ssid and version, each other's true fingerprint."""
        first, second = self.actors[a], self.actors[b]
        s1, s2 = first.status(), second.status()
        if s1.msgstate != "encrypted" or s2.msgstate != "encrypted":
            raise ExpectationFailed(f"expected both private: {a} is {s1.msgstate}, {b} is {s2.msgstate}")
        if s1.ssid != s2.ssid:
            raise ExpectationFailed(f"ssid differs: {a} {s1.ssid}, {b} {s2.ssid}")
        if s1.version != s2.version or (version is not None and s1.version != version):
            raise ExpectationFailed(f"versions {s1.version}/{s2.version}, expected {version}")
        if s1.peer_fingerprint != s2.fingerprint or s2.peer_fingerprint != s1.fingerprint:
            raise ExpectationFailed("the sides do not hold each other's true fingerprints")
        first.sees("secure")
        second.sees("secure")
        assert s1.ssid is not None
        return s1.ssid

    def expect_never_in_clear(self, text: str) -> None:
        """``text`` never crossed the network in the clear (REQUIRE_ENCRYPTION)."""
        for packet in self.net.sent:
            if text in packet.wire:
                raise ExpectationFailed(f"{packet.sender} sent {text!r} in the clear: {packet.wire[:80]!r}")
