"""Shared fixtures: two engines joined by a :class:`~harness.conversation.Duo`, in either transport."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness import impls
from harness.conversation import Duo
from implementations.api import Adapter
from implementations.engine import EngineAdapter
from implementations.peer import PeerProcess

ROOT = Path(__file__).resolve().parents[1]
TRANSPORTS = ("in_process", "peer")


class Engines:
    """Makes duos of two engines: in-process adapters, or two ``otrcheck peer engine`` processes.

    The processes are started once per test and re-``init``-ed for every
    duo, so a new duo replaces the previous one; :meth:`close` ends them.
    """

    def __init__(self, transport: str) -> None:
        self.transport = transport
        self._peers: list[PeerProcess] = []

    @property
    def in_process(self) -> bool:
        return self.transport == "in_process"

    def duo(self, **kwargs: Any) -> Duo:
        """:meth:`Duo.create` with engines (same keyword arguments)."""
        if self.in_process:
            return Duo.create(EngineAdapter, **kwargs)
        for i in range(2):  # both start before either is waited for
            if i == len(self._peers):
                self._peers.append(self._start())
            elif not self._peers[i].running:
                self._peers[i].close()
                self._peers[i] = self._start()
        handed = iter(self._peers)

        def next_peer() -> Adapter:
            return next(handed)

        return Duo.create(next_peer, **kwargs)

    @staticmethod
    def _start() -> PeerProcess:
        return PeerProcess(impls.get("engine").peer_command(), cwd=ROOT, timeout=60)

    def close(self) -> None:
        for peer in self._peers:
            peer.close()


@pytest.fixture(params=TRANSPORTS)
def engines(request: pytest.FixtureRequest) -> Iterator[Engines]:
    """Engine-to-engine duos, in-process and through the peer protocol."""
    made = Engines(request.param)
    yield made
    made.close()
