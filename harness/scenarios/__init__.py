"""The scenario registry.

A scenario is a function of a :class:`~harness.script.Script`, registered
with :func:`scenario` under a slash-path id (``ake/v3-basic``) so that
manifests can name groups with globs.  Its roles say how each actor is set
up; the runner decides which implementation plays side ``a`` (alice and
her instances) and side ``b`` (bob and his).  ``needs`` lists the protocol
versions and features both implementations must have; a pair that lacks
one is UNSUPPORTED, with the reason, before anything runs.

Importing this package imports every scenario module, in a fixed order.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field

from harness.network import FaultPlan
from harness.script import Role, Script
from implementations.api import Policy

TAG_A, TAG_B, TAG_B2 = 0x100, 0x101, 0x102


@dataclass(frozen=True)
class Scenario:
    id: str
    run: Callable[[Script], None]
    doc: str
    needs: frozenset[str]
    roles: tuple[tuple[str, Role], ...]  # (side "a" or "b", role)
    plan: FaultPlan | None = None
    sanity: bool = False

    @property
    def group(self) -> str:
        return self.id.split("/", 1)[0]


REGISTRY: dict[str, Scenario] = {}


DEFAULT_POLICY = Policy()


def roles(
    alice: Policy = DEFAULT_POLICY,
    bob: Policy = DEFAULT_POLICY,
    mms: tuple[int, int] = (0, 0),
    bob2: Policy | None = None,
) -> tuple[tuple[str, Role], ...]:
    """The usual cast: alice (side a) and bob (side b), optionally a second instance of bob."""
    cast = [
        ("a", Role("alice", "alice", "alice", TAG_A, alice, mms[0])),
        ("b", Role("bob", "bob", "bob", TAG_B, bob, mms[1])),
    ]
    if bob2 is not None:
        cast.append(("b", Role("bob2", "bob", "bob", TAG_B2, bob2, mms[1])))
    return tuple(cast)


@dataclass
class _Options:
    needs: tuple[str, ...] = ()
    cast: tuple[tuple[str, Role], ...] = field(default_factory=roles)
    plan: FaultPlan | None = None
    sanity: bool = False


def scenario(
    id: str,
    *,
    needs: tuple[str, ...] = (),
    cast: tuple[tuple[str, Role], ...] | None = None,
    plan: FaultPlan | None = None,
    sanity: bool = False,
) -> Callable[[Callable[[Script], None]], Callable[[Script], None]]:
    """Register ``fn`` as scenario ``id``; its docstring is the scenario's description."""

    def register(fn: Callable[[Script], None]) -> Callable[[Script], None]:
        if id in REGISTRY:
            raise ValueError(f"scenario {id} registered twice")
        doc = (fn.__doc__ or "").strip().splitlines()[0] if fn.__doc__ else ""
        if not doc:
            raise ValueError(f"scenario {id} needs a docstring saying what it checks")
        REGISTRY[id] = Scenario(id, fn, doc, frozenset(needs), cast or roles(), plan, sanity)
        return fn

    return register


MODULES = (
    "sanity",
    "ake",
    "version",
    "start",
    "data",
    "frag",
    "smp",
    "end",
    "symkey",
    "instance",
    "policy",
    "net",
    "robust",
)


def load() -> dict[str, Scenario]:
    for name in MODULES:
        try:
            importlib.import_module(f"harness.scenarios.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"harness.scenarios.{name}":
                raise
    return REGISTRY
