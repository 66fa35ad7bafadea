"""Real messages for the generators, captured from seeded engine-to-engine runs.

Two :class:`~implementations.engine.EngineAdapter` accounts, ``alice``
(seed ``b"alice"``, fixture key ``alice``, instance tag 0x100) and ``bob``
(``b"bob"``, ``bob``, 0x101), hold one scripted conversation: alice
queries, the AKE runs, each sends two texts, alice runs SMP with a
question, alice ends.  The engine is deterministic when seeded, so the
same run gives the same bytes on every machine; the generators' output is
pinned by a test that regenerates it.

:class:`Link` is the in-order network (a small cousin of
``harness.conversation.Duo``, which vectors may not import).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache

from implementations.api import Adapter, Event, InitConfig, Policy, Result
from implementations.engine import EngineAdapter
from implementations.fixtures import key

ALICE, BOB = "alice", "bob"
TAGS = {ALICE: 0x100, BOB: 0x101}
SEEDS = {ALICE: b"alice", BOB: b"bob"}
MAX_DELIVERIES = 1000


def init(
    adapter: Adapter,
    name: str,
    version: int | None = None,
    seed: bytes | None = None,
    max_message_size: int = 0,
) -> Result:
    """``init`` ``adapter`` as fixture account ``name`` (its key, tag and seed).

    ``version`` 2 allows v2 only; 3 (or None) allows v2 and v3, so v3 is what two such sides speak.
    """
    return adapter.init(
        InitConfig(
            account=name,
            protocol="otrcheck",
            key=key(name),
            instance_tag=TAGS[name],
            policy=Policy(allow_v3=version != 2),
            max_message_size=max_message_size,
            seed=SEEDS[name] if seed is None else seed,
        )
    )


@dataclass(frozen=True)
class Sent:
    sender: str
    wire: str
    label: str


@dataclass
class Link:
    """Two initialised adapters on an in-order network; records every wire and event."""

    adapters: dict[str, Adapter]
    transcript: list[Sent] = field(default_factory=list)
    events: dict[str, list[Event]] = field(default_factory=dict)
    queue: list[Sent] = field(default_factory=list)

    def other(self, name: str) -> str:
        return next(n for n in self.adapters if n != name)

    def _record(self, name: str, result: Result, label: str) -> Result:
        self.events.setdefault(name, []).extend(result.events)
        self.queue.extend(Sent(name, out.wire, label) for out in result.out)
        return result

    def act(self, name: str, op: str, *args: object) -> Result:
        result: Result = getattr(self.adapters[name], op)(self.other(name), *args)
        return self._record(name, result, f"{name} {op}")

    def deliver_one(self) -> Sent:
        sent = self.queue.pop(0)
        self.transcript.append(sent)
        to = self.other(sent.sender)
        self._record(to, self.adapters[to].receive(sent.sender, sent.wire), f"{to} reply")
        return sent

    def flush(self) -> None:
        for _ in range(MAX_DELIVERIES):
            if not self.queue:
                return
            self.deliver_one()
        raise RuntimeError("the two sides kept answering each other")


def engine_link(version: int, max_message_size: int = 0) -> Link:
    adapters: dict[str, Adapter] = {}
    for name in (ALICE, BOB):
        adapters[name] = EngineAdapter()
        init(adapters[name], name, version, max_message_size=max_message_size)
    return Link(adapters)


@cache
def conversation(version: int, max_message_size: int = 0) -> tuple[Sent, ...]:
    """Every wire of the scripted conversation, in order, as delivered."""
    link = engine_link(version, max_message_size)
    link.act(ALICE, "query")
    link.flush()
    for sender, text in ((ALICE, "hello bob"), (BOB, "hi alice"), (ALICE, "how are you?"), (BOB, "fine")):
        link.act(sender, "send", text)
        link.flush()
    link.act(ALICE, "smp_start", "the secret", "what is it?")
    link.flush()
    link.act(BOB, "smp_respond", "the secret")
    link.flush()
    link.act(ALICE, "end")
    link.flush()
    return tuple(link.transcript)


def encoded(version: int) -> list[Sent]:
    """The unfragmented encoded messages of :func:`conversation`."""
    return [s for s in conversation(version) if s.wire.startswith("?OTR:")]
