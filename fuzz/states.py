"""Live protocol states for the receive targets, built once with fixed seeds and copied per input.

The receiver is always the fixture account ``alice`` (key ``alice``,
instance tag 0x100, seed ``alice``, the default policy: v2 and v3) and the
sender the seeded engine ``bob``, as in the regression vectors' ``receive``
and ``session`` modes (``vectors/kinds/regression.py``), so that an input
found here replays there unchanged:

* every authstate is reached by a fresh ``alice`` receiving ``prefix``
  (strings ``bob`` sent) in order; the engine is deterministic when seeded,
  so replaying the prefix rebuilds the state exactly;
* a private session is reached by ``alice`` querying ``bob`` and the AKE
  running to its end, as the ``session`` mode does;
* a *sealed* state hands the fuzz input to ``bob`` as a plaintext, and
  ``bob`` encrypts and MACs it with the live session keys, so that mutated
  bodies get past the MAC into decryption, TLV and SMP code.

The implementation playing ``alice`` is the engine (:func:`engine_states`)
or any adapter (:func:`receiver_states`; python-potr's in
``fuzz/drivers.py``).

Invariant: :meth:`State.fresh` returns new copies each call, so no input
sees what an earlier one did.
"""

from __future__ import annotations

import copy
import functools
import gc
import sys
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from implementations.api import Adapter
from implementations.engine import EngineAdapter, SeededEntropy, SmpState, _wire
from implementations.engine._smp import SmpMachine
from implementations.engine._tlv import Tlv
from vectors.kinds import _capture

ALICE, BOB = _capture.ALICE, _capture.BOB
QUERIES = {3: "?OTRv3?", 2: "?OTRv2?"}


@dataclass(frozen=True)
class State:
    """A named state of ``alice`` (and ``bob``'s side of it), and how the regression vectors rebuild it.

    ``prefix`` is set for the authstates: a fresh ``alice`` (policy v2 and
    v3) receiving it reaches the state (``receive`` mode).  Private states
    have no prefix: ``alice`` (policy of ``version``) queries ``bob`` and the
    AKE runs to the end (``session`` mode).
    """

    name: str
    version: int
    prefix: tuple[str, ...] | None
    sealed: bool
    world: tuple[Adapter, EngineAdapter]
    shared: tuple[object, ...] = ()

    @property
    def encrypted(self) -> bool:
        return self.prefix is None

    def fresh(self) -> tuple[Adapter, EngineAdapter]:
        """Deep copies of (alice, bob), one input's private world; objects in ``shared`` are not copied."""
        memo: dict[int, Any] = {id(obj): obj for obj in self.shared}
        alice, bob = copy.deepcopy(self.world, memo)
        return alice, bob


Make = Callable[[int | None], Adapter]
"""Builds an initialised ``alice`` for a policy version (None: v2 and v3)."""


def _engine(name: str, version: int | None = None) -> EngineAdapter:
    adapter = EngineAdapter()
    _capture.init(adapter, name, version)
    return adapter


def _reply(adapter: Adapter, peer: str, wire: str, what: str) -> str:
    wires = [o.wire for o in adapter.receive(peer, wire).out]
    if len(wires) != 1:
        raise RuntimeError(f"building the fuzz states: {what} sent {len(wires)} messages, not 1")
    return wires[0]


def seal(bob: EngineAdapter, plaintext: bytes, flags: int = 0) -> str:
    """A Data Message from ``bob`` to ``alice`` carrying ``plaintext``, encrypted and MACed correctly."""
    session = bob.engine.conversation(ALICE).current()
    if session.keys is None:
        raise RuntimeError("bob has no private session with alice")
    return _wire.encode(session.keys.seal(session.header(_wire.MessageType.DATA), flags, plaintext))


@functools.cache
def prefixes(version: int) -> dict[str, tuple[str, ...]]:
    """The strings from ``bob`` that bring a fresh ``alice`` to each authstate of a v``version`` AKE.

    Computed with two seeded engines; what ``bob`` sends does not depend on
    what ``alice`` sent before (a D-H Key carries only g^y), so the same
    prefixes work for any implementation playing ``alice``.
    """
    query = QUERIES[version]
    alice, bob = _engine(ALICE), _engine(BOB)
    key = _reply(bob, ALICE, _reply(alice, BOB, query, "alice answering the query"), "bob's D-H Key")
    their_commit = _reply(_engine(BOB), ALICE, query, "bob answering the query")
    return {
        "none": (),
        "awaiting_dhkey": (query,),
        "awaiting_revealsig": (their_commit,),
        "awaiting_sig": (query, key),
    }


def receiver_states(make: Make, versions: tuple[int, ...], share: tuple[type, ...] = ()) -> tuple[State, ...]:
    """Every authstate, then a private session (raw and sealed), for each of ``versions``."""
    states: list[State] = []
    for version in versions:
        for name, prefix in prefixes(version).items():
            alice = make(None)
            for wire in prefix:
                alice.receive(BOB, wire)
            states.append(_state(f"v{version}/{name}", version, prefix, False, alice, _engine(BOB), share))
        alice, bob = make(version), _engine(BOB, version)
        link = _capture.Link({ALICE: alice, BOB: bob})
        link.act(ALICE, "query")
        link.flush()
        if alice.status(BOB).msgstate != "encrypted" or bob.status(ALICE).msgstate != "encrypted":
            raise RuntimeError(f"building the fuzz states: the v{version} AKE did not complete")
        for sealed in (False, True):
            name = f"v{version}/{'sealed' if sealed else 'encrypted'}"
            states.append(_state(name, version, None, sealed, alice, bob, share))
    return tuple(states)


def _state(
    name: str,
    version: int,
    prefix: tuple[str, ...] | None,
    sealed: bool,
    alice: Adapter,
    bob: EngineAdapter,
    share: tuple[type, ...],
) -> State:
    shared = tuple(_instances((alice, bob), share))
    memo: dict[int, Any] = {id(obj): obj for obj in shared}
    world = copy.deepcopy((alice, bob), memo)
    return State(name, version, prefix, sealed, world, shared)


def _instances(root: object, kinds: tuple[type, ...]) -> Iterator[object]:
    """Objects reachable from ``root`` that cannot be deep-copied: those of ``kinds`` (pycryptodome's
    DSA keys refuse to be pickled) and native objects that raise when copied (cipher and MAC contexts).
    Protocol code only reads them or copies them before use, so copies of a state may share them."""
    seen: set[int] = set()
    stack = [root]
    while stack:
        obj = stack.pop()
        if id(obj) in seen or isinstance(obj, _OPAQUE):
            continue
        seen.add(id(obj))
        if isinstance(obj, kinds) or (_native(obj) and not _copyable(obj)):
            yield obj
        else:
            stack.extend(gc.get_referents(obj))


_OPAQUE = (type, types.ModuleType, types.FunctionType, types.BuiltinFunctionType, types.MethodType)
_PLAIN = (int, float, str, bytes, bool, type(None), tuple, list, dict, set, frozenset, bytearray)


def _native(obj: object) -> bool:
    if isinstance(obj, _PLAIN):
        return False
    module = sys.modules.get(type(obj).__module__)
    return not str(getattr(module, "__file__", "") or "").endswith(".py")


def _copyable(obj: object) -> bool:
    try:
        copy.deepcopy(obj)
    except Exception:
        return False
    return True


@functools.cache
def engine_states() -> tuple[State, ...]:
    return receiver_states(lambda version: _engine(ALICE, version), (3, 2))


# ---------------------------------------------------------------- SMP


@dataclass(frozen=True)
class SmpSnapshot:
    name: str
    machine: SmpMachine
    tlvs: tuple[Tlv, ...]  # every TLV of the exchange that built it, as seeds


SMP_SECRET = 0x5EC2E7


@functools.cache
def smp_machines() -> tuple[SmpSnapshot, ...]:
    """A machine in each SMP state (EXPECT1 fresh and with a message 1 pending, EXPECT2..4)."""
    alice = SmpMachine(SeededEntropy(b"fuzz smp alice"))
    bob = SmpMachine(SeededEntropy(b"fuzz smp bob"))
    fresh = copy.deepcopy(alice)
    smp1 = alice.start(SMP_SECRET, "what is it?").tlvs[-1]
    expect2 = copy.deepcopy(alice)
    bob.receive(smp1)
    pending = copy.deepcopy(bob)
    smp2 = bob.respond(SMP_SECRET).tlvs[-1]
    expect3 = copy.deepcopy(bob)
    smp3 = alice.receive(smp2).tlvs[-1]
    expect4 = copy.deepcopy(alice)
    smp4 = bob.receive(smp3).tlvs[-1]
    exchange = (smp1, smp2, smp3, smp4)
    machines = (
        ("expect1", fresh, SmpState.EXPECT1),
        ("expect1-pending", pending, SmpState.EXPECT1),
        ("expect2", expect2, SmpState.EXPECT2),
        ("expect3", expect3, SmpState.EXPECT3),
        ("expect4", expect4, SmpState.EXPECT4),
    )
    for name, machine, state in machines:
        if machine.state is not state:
            raise RuntimeError(f"building the fuzz SMP machines: {name} is in {machine.state}")
    return tuple(SmpSnapshot(name, machine, exchange) for name, machine, _ in machines)
