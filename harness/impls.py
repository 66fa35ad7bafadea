"""The registry of implementations under test: name -> how to build an adapter, and whether it can.

Only this module knows the concrete adapters; everything else in the
harness speaks :class:`implementations.api.Adapter`.  An implementation
that cannot run here is listed with the reason, never silently dropped.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass

from implementations.api import Adapter


@dataclass(frozen=True)
class Implementation:
    name: str
    description: str
    factory: Callable[[], Adapter] | None
    version: str = ""
    location: str = ""
    unavailable: str = ""

    @property
    def available(self) -> bool:
        return self.factory is not None

    def peer_command(self) -> list[str]:
        """The command that serves this implementation over the peer protocol."""
        return [sys.executable, "-m", "harness.cli", "peer", self.name]


def _engine() -> Implementation:
    from implementations.engine import EngineAdapter

    hello = EngineAdapter().hello()
    return Implementation(
        "engine",
        "otrcheck's own sans-IO engine (Python, gmpy2 + cryptography)",
        EngineAdapter,
        hello.version,
        "implementations/engine",
    )


_PROBES: dict[str, Callable[[], Implementation]] = {"engine": _engine}


def names() -> list[str]:
    return list(_PROBES)


def get(name: str) -> Implementation:
    try:
        probe = _PROBES[name]
    except KeyError:
        raise KeyError(f"unknown implementation {name!r}; known: {', '.join(_PROBES)}") from None
    return probe()


def all_implementations() -> list[Implementation]:
    return [get(name) for name in _PROBES]
