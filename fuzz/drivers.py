"""How the targets reach each implementation: parsers, receivers, and libotr's long-lived session.

* :func:`x_parse` puts one input to one implementation's ``x-parse``
  parser (the same functions the adapters serve, docs/peer-protocol.md
  "Extension ops"), in this process, so that coverage reaches native code.
* :func:`potr_states` / :class:`LibotrAlice`: ``alice`` as potr or libotr in
  every state of :mod:`fuzz.states`.  potr's state is copied per input like
  the engine's; libotr's lives in C and cannot be copied, so each input
  starts from a forgotten context and the state's prefix, except in a
  private session, which is kept (and rebuilt when it ends) because an AKE
  per input would cost more than the input.

Nothing here catches what an implementation raises: that is the crash a
target reports.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

from implementations.api import Adapter, Unsupported
from implementations.engine import EngineAdapter
from implementations.engine import parsers as engine_parsers
from vectors.kinds import _capture

from . import states
from .states import ALICE, BOB, State

IMPLEMENTATIONS = ("engine", "libotr", "potr")


def cstring(text: str) -> str:
    """``text`` as a C caller sees it: up to the first NUL (libotr's entries take ``char *``)."""
    return text.split("\0", 1)[0]


# ------------------------------------------------------------------ x-parse


def x_parse(implementation: str, entry: str, data: str) -> Any:
    """One ``x-parse`` answer; :class:`Unsupported` when the implementation has no such entry."""
    if implementation == "engine":
        return engine_parsers.parse(entry, data)
    if implementation == "libotr":
        from implementations.libotr import parsers

        return parsers.parse(libotr(), entry, data)
    if implementation == "potr":
        from implementations.potr import adapter

        return adapter.parse(entry, data)
    raise ValueError(f"unknown implementation {implementation!r}")


# --------------------------------------------------------------------- potr


def quiet_potr() -> None:
    """potr logs a traceback for every message it cannot parse; a fuzzer sends little else."""
    logging.getLogger("potr").setLevel(logging.CRITICAL + 1)


def _potr_alice(version: int | None) -> Adapter:
    from implementations.potr.adapter import PotrAdapter

    adapter = PotrAdapter()
    _capture.init(adapter, ALICE, version)
    return adapter


@functools.cache
def potr_states() -> tuple[State, ...]:
    """``alice`` as python-potr (v2 only) in every state.

    Copies share potr's DSA keys (pycryptodome refuses to copy them) and the
    message objects its AKE keeps (their ``__getattr__`` recurses on a copy
    made without ``__init__``); neither is changed once made.
    """
    import potr.proto
    from Crypto.PublicKey.DSA import DsaKey

    quiet_potr()
    return states.receiver_states(_potr_alice, (2,), share=(DsaKey, potr.proto.OTRMessage))


# ------------------------------------------------------------------- libotr


@functools.cache
def libotr() -> Any:
    """libotr loaded into this process (``OTRCHECK_LIBOTR`` names an instrumented build)."""
    from implementations.libotr import _lib, provision

    location = provision.locate()
    if location.path is None:
        raise Unsupported(f"libotr is unavailable: {location.problem}")
    return _lib.load(location.path)


class LibotrAlice:
    """``alice`` as libotr 4.1.1, in process, talking to a seeded engine ``bob``."""

    def __init__(self) -> None:
        from implementations.libotr.adapter import LibotrAdapter

        self._make = lambda: LibotrAdapter(libotr().path)
        self.adapter = self._make()
        _capture.init(self.adapter, ALICE)
        self._private: dict[int, tuple[Adapter, EngineAdapter]] = {}

    def forget(self) -> None:
        """Drop every context (and so every AKE, fragment and session state) of ``alice``'s account."""
        self.adapter.lib.otrl_context_forget_all(self.adapter.us)

    def at(self, state: State) -> tuple[Adapter, EngineAdapter | None]:
        """``alice`` in ``state`` (and ``bob`` for private states), ready for one input."""
        if not state.encrypted:
            self.forget()
            assert state.prefix is not None
            for wire in state.prefix:
                self.adapter.receive(BOB, wire)
            return self.adapter, None
        pair = self._private.get(state.version)
        if pair is None or not all(_private(a, b) for a, b in ((pair[0], BOB), (pair[1], ALICE))):
            pair = self._private[state.version] = self._secure(state.version)
        return pair

    def _secure(self, version: int) -> tuple[Adapter, EngineAdapter]:
        old = self._private.pop(version, None)
        if old is not None:
            old[0].quit()
        alice = self._make()
        bob = EngineAdapter()
        _capture.init(alice, ALICE, version)
        _capture.init(bob, BOB, version)
        link = _capture.Link({ALICE: alice, BOB: bob})
        link.act(ALICE, "query")
        link.flush()
        if not (_private(alice, BOB) and _private(bob, ALICE)):
            raise RuntimeError(f"libotr and the engine did not complete a v{version} AKE")
        return alice, bob


def _private(adapter: Adapter, peer: str) -> bool:
    return adapter.status(peer).msgstate == "encrypted"


@functools.cache
def libotr_alice() -> LibotrAlice:
    return LibotrAlice()
