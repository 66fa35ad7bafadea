"""The simulated network between the accounts of a scenario.

In-order delivery by default.  Faults (drop, duplicate, reorder, delay, bit
flip, inject, replay) are applied either by the scenario, aimed at a kind
of message ("the next D-H Key"), or at random from a seed (:class:`FaultPlan`).

Addressing is by account, as on an IM network: a message to ``bob`` reaches
every actor logged in as ``bob`` (several instances of one account), never
the actor that sent it.

Invariants: every packet is delivered at most once unless duplicated or
replayed on purpose; :meth:`Network.run` stops after
:data:`MAX_DELIVERIES` and reports a storm rather than looping.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from implementations.engine.parsers import message_type

MAX_DELIVERIES = 2_000


class MessageStorm(RuntimeError):
    """The actors kept answering each other past :data:`MAX_DELIVERIES`."""


@dataclass(frozen=True)
class Packet:
    number: int
    sender: str  # the actor that sent it
    account: str  # the sender's account (what the receiver sees as ``peer``)
    to: str  # the destination account
    wire: str
    note: str = ""  # how the network changed it, if it did

    @property
    def kind(self) -> str:
        """The message kind (``dh_commit``, ``data``, ``query``, ``fragment``...), by the engine's parser."""
        return message_type(self.wire)


@dataclass
class FaultPlan:
    """Random faults, drawn from the scenario's seed, applied as packets are posted."""

    drop: float = 0.0
    duplicate: float = 0.0
    reorder: float = 0.0
    flip: float = 0.0

    @property
    def active(self) -> bool:
        return any((self.drop, self.duplicate, self.reorder, self.flip))


@dataclass
class Delivery:
    packet: Packet
    receiver: str


Deliver = Callable[[str, Packet], None]  # (receiving actor, packet) -> the actor receives it


@dataclass
class Network:
    deliver_to: Deliver
    accounts: dict[str, list[str]]  # account -> actor names
    rng: random.Random = field(default_factory=lambda: random.Random(0))
    plan: FaultPlan = field(default_factory=FaultPlan)
    queue: deque[Packet] = field(default_factory=deque)
    log: list[Delivery] = field(default_factory=list)
    sent: list[Packet] = field(default_factory=list)
    _numbers: int = 0

    # -------------------------------------------------------------- posting

    def post(self, sender: str, account: str, to: str, wire: str) -> Packet:
        self._numbers += 1
        packet = Packet(self._numbers, sender, account, to, wire)
        self.sent.append(packet)
        if self.plan.active:
            self._random_faults(packet)
        else:
            self.queue.append(packet)
        return packet

    def _random_faults(self, packet: Packet) -> None:
        plan, rng = self.plan, self.rng
        if rng.random() < plan.drop:
            return
        if rng.random() < plan.flip:
            packet = flip_bit(packet, rng.randrange(8 * max(1, len(packet.wire.encode()))))
        if self.queue and rng.random() < plan.reorder:
            self.queue.insert(rng.randrange(len(self.queue)), packet)
        else:
            self.queue.append(packet)
        if rng.random() < plan.duplicate:
            self.queue.append(replace(packet, note="duplicate"))

    def inject(self, to: str, wire: str, account: str, sender: str = "mallory") -> Packet:
        """Put a packet on the network that no actor sent (``account`` is who it claims to be from)."""
        self._numbers += 1
        packet = Packet(self._numbers, sender, account, to, wire, note="injected")
        self.queue.append(packet)
        return packet

    def replay(self, packet: Packet) -> None:
        self.queue.append(replace(packet, note="replayed"))

    # ------------------------------------------------------------- delivery

    def deliver_next(self) -> Packet:
        packet = self.queue.popleft()
        for actor in self.accounts.get(packet.to, []):
            if actor != packet.sender:
                self.log.append(Delivery(packet, actor))
                self.deliver_to(actor, packet)
        return packet

    def run(self, limit: int = MAX_DELIVERIES) -> int:
        """Deliver until the network is quiet."""
        count = 0
        while self.queue:
            if count >= limit:
                raise MessageStorm(f"more than {limit} deliveries without the network going quiet")
            self.deliver_next()
            count += 1
        return count

    # --------------------------------------------------------- aimed faults

    def find(self, kind: str | None = None, to: str | None = None, index: int = 0) -> Packet:
        """The ``index``-th queued packet of ``kind`` (and destination); AssertionError if none."""
        matches = [p for p in self.queue if (kind is None or p.kind == kind) and (to is None or p.to == to)]
        if len(matches) <= index:
            queued = ", ".join(f"{p.kind}->{p.to}" for p in self.queue) or "nothing"
            raise AssertionError(f"no queued {kind or 'packet'} #{index} (queued: {queued})")
        return matches[index]

    def drop(self, packet: Packet) -> None:
        self.queue.remove(packet)

    def take(self, packet: Packet) -> Packet:
        """Remove a packet to deliver later (a delay), keeping it."""
        self.queue.remove(packet)
        return packet

    def put_back(self, packet: Packet, front: bool = False) -> None:
        if front:
            self.queue.appendleft(packet)
        else:
            self.queue.append(packet)

    def modify(self, packet: Packet, wire: str, note: str) -> Packet:
        changed = replace(packet, wire=wire, note=note)
        index = self.queue.index(packet)
        self.queue[index] = changed
        return changed

    def duplicate(self, packet: Packet) -> None:
        index = self.queue.index(packet)
        self.queue.insert(index + 1, replace(packet, note="duplicate"))

    def swap(self, first: Packet, second: Packet) -> None:
        i, j = self.queue.index(first), self.queue.index(second)
        self.queue[i], self.queue[j] = second, first


def flip_bit(packet: Packet, bit: int) -> Packet:
    """Flip one bit of the wire string's UTF-8 bytes (decoding errors become U+FFFD)."""
    raw = bytearray(packet.wire.encode("utf-8"))
    if not raw:
        return packet
    raw[(bit // 8) % len(raw)] ^= 1 << (bit % 8)
    return replace(packet, wire=raw.decode("utf-8", "replace"), note=f"bit {bit} flipped")
