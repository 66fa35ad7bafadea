"""The registry of implementations under test: name -> how to build an adapter, and whether it can.

Only this module knows the concrete adapters; everything else in the
harness speaks :class:`implementations.api.Adapter`.  An implementation
that cannot run here is listed with the reason, never silently dropped.

A native implementation (libotr) runs *isolated*: the harness talks to an
``otrcheck peer NAME`` worker subprocess through the peer protocol, so a
crash inside it becomes a :class:`~implementations.peer.PeerCrashed`
outcome instead of killing the harness.  ``otrcheck peer NAME`` itself
serves the in-process adapter.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from implementations.api import Adapter

REPO_ROOT = Path(__file__).resolve().parents[1]
PEER_TIMEOUT = 60.0  # seconds for one peer-protocol request (an SMP in potr takes ~0.5 s)


@dataclass(frozen=True)
class Implementation:
    name: str
    description: str
    in_process: Callable[[], Adapter] | None
    version: str = ""
    location: str = ""
    unavailable: str = ""
    isolated: bool = False
    shim: tuple[str, ...] = ()  # a program in another language that speaks the peer protocol itself

    @property
    def available(self) -> bool:
        return self.in_process is not None

    def peer_command(self) -> list[str]:
        """The command that serves this implementation over the peer protocol."""
        if self.shim:
            return list(self.shim)
        return [sys.executable, "-m", "harness.cli", "peer", self.name]

    def make(self, isolated: bool | None = None) -> Adapter:
        """An adapter for one account: in this process, or in a worker when ``isolated``."""
        if self.in_process is None:
            raise RuntimeError(f"{self.name} is unavailable: {self.unavailable}")
        if not (self.isolated if isolated is None else isolated):
            return self.in_process()
        from implementations.peer import PeerProcess

        return PeerProcess(self.peer_command(), cwd=REPO_ROOT, timeout=PEER_TIMEOUT, name=self.name)


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


def _libotr() -> Implementation:
    from implementations.libotr import provision

    description = "libotr, the C reference implementation, through ctypes"
    location = provision.locate()
    if location.path is None:
        return Implementation("libotr", description, None, unavailable=location.problem or "not found")

    def make() -> Adapter:
        from implementations.libotr.adapter import LibotrAdapter

        return LibotrAdapter(location.path)

    return Implementation(
        "libotr",
        description,
        make,
        location.version or "",
        f"{location.path} ({location.source})",
        isolated=True,
    )


def _potr() -> Implementation:
    from implementations.potr import INSTALL_HINT

    description = "python-potr, the pure-Python library of Gajim's and WeeChat's OTR plugins (v2 only)"
    try:
        from implementations.potr.adapter import PotrAdapter, potr_version
    except ImportError as exc:
        return Implementation("potr", description, None, unavailable=f"{INSTALL_HINT} ({exc})")
    import potr

    # Pure Python: an exception inside potr is caught by the adapter and reported as an event,
    # so it runs in-process like the engine.
    return Implementation("potr", description, PotrAdapter, potr_version(), str(Path(potr.__file__).parent))


def _shim(
    name: str, description: str, command: tuple[str, ...] | None, version: str, where: str, problem: str
) -> Implementation:
    """An implementation served by a shim program (its own process: a crash there is a PeerCrashed)."""
    if command is None:
        return Implementation(name, description, None, version, unavailable=problem or "not found")

    def make() -> Adapter:
        from implementations.peer import PeerProcess

        return PeerProcess(list(command), cwd=REPO_ROOT, timeout=PEER_TIMEOUT, name=name)

    return Implementation(name, description, make, version, where, isolated=True, shim=command)


def _otrjs() -> Implementation:
    from implementations.otrjs import provision

    found = provision.locate()
    description = "otr.js (npm otr), the JavaScript library of Cryptocat-era web clients, as a Node.js shim"
    where = f"{found.package} ({found.source})"
    return _shim("otrjs", description, found.command, found.version or "", where, found.problem or "")


def _otr3() -> Implementation:
    from implementations.otr3 import provision

    found = provision.locate()
    description = "coyim/otr3 (Go), the library of the CoyIM client, as a Go shim"
    where = f"{found.package} ({found.source})"
    return _shim("otr3", description, found.command, found.version or "", where, found.problem or "")


_PROBES: dict[str, Callable[[], Implementation]] = {
    "engine": _engine,
    "libotr": _libotr,
    "potr": _potr,
    "otrjs": _otrjs,
    "otr3": _otr3,
}


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
