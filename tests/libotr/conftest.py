"""libotr conversations: a pool of ``otrcheck peer libotr`` workers, and the helpers the interop tests share.

Every libotr side runs isolated, in its own worker process (:mod:`harness.impls`),
so that a crash inside libotr fails one test instead of the run.  A worker
costs about 0.3 s to start, so the :func:`libotrs` fixture keeps two per
test module and re-``init``-s them for every duo (``init`` frees libotr's
userstate and builds a new one: nothing carries over).  A worker found dead
is replaced.  The engine side is the in-process :class:`EngineAdapter`.

The helpers are copies of the small ones in ``tests/engine/test_conversation.py``,
adapted to sides that are not all seeded.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from harness import impls
from harness.conversation import Duo
from implementations.api import (
    Adapter,
    ErrorRaised,
    Event,
    MessageReceived,
    Policy,
    SessionSecured,
    SmpUpdated,
    Status,
)
from implementations.fixtures import fingerprint
from implementations.peer import PeerProcess

ALICE, BOB = "alice", "bob"
TAGS = {ALICE: 0x100, BOB: 0x101}  # Duo.create's default instance tags

# Who plays alice and bob.  alice is the one who starts (queries, sends first).
PAIRS = {
    "libotr-libotr": ("libotr", "libotr"),
    "engine-libotr": ("engine", "libotr"),
    "libotr-engine": ("libotr", "engine"),
}
VERSIONS = (3, 2)


def policy(version: int, **flags: bool) -> Policy:
    """The policy of one side: v2 is forced by ``allow_v3=False`` (both sides get it)."""
    return Policy(allow_v3=version == 3, **flags)


def version_id(version: int) -> str:
    return f"v{version}"


class Libotrs:
    """Makes duos of any pair: libotr sides from a small pool of worker processes, engine sides in-process."""

    def __init__(self) -> None:
        self._workers: list[PeerProcess] = []

    def worker(self, index: int) -> PeerProcess:
        """Pooled worker ``index`` (0 or 1), started on first use and replaced if it died."""
        while len(self._workers) <= index:
            self._workers.append(self.start())
        if not self._workers[index].running:
            self._workers[index].close()
            self._workers[index] = self.start()
        return self._workers[index]

    @staticmethod
    def start() -> PeerProcess:
        """A new worker outside the pool (the caller closes it)."""
        worker = impls.get("libotr").make()
        assert isinstance(worker, PeerProcess), "libotr must run isolated"
        return worker

    def duo(self, pair: str, version: int = 3, **kwargs: Any) -> Duo:
        """:meth:`Duo.create` for ``pair``; both sides get ``policy(version)`` unless ``policies`` says."""
        kwargs.setdefault("policies", (policy(version), policy(version)))
        adapters: list[Adapter] = [
            self.worker(i) if name == "libotr" else impls.get("engine").make()
            for i, name in enumerate(PAIRS[pair])
        ]
        handed = iter(adapters)
        return Duo.create(lambda: next(handed), **kwargs)

    def close(self) -> None:
        for worker in self._workers:
            worker.close()


@pytest.fixture(scope="module")
def libotrs() -> Iterator[Libotrs]:
    made = Libotrs()
    yield made
    made.close()


# ----------------------------------------------------------------- helpers


def other(name: str) -> str:
    return BOB if name == ALICE else ALICE


def impl_of(pair: str, name: str) -> str:
    """``"engine"`` or ``"libotr"``: who plays ``name`` in ``pair``."""
    return PAIRS[pair][0 if name == ALICE else 1]


def status(duo: Duo, name: str) -> Status:
    return duo.sides[name].adapter.status(other(name))


def summary(event: Event) -> tuple[object, ...]:
    """An event reduced to what the tests compare (the same for every implementation)."""
    if isinstance(event, MessageReceived):
        return ("message", event.text, event.encrypted)
    if isinstance(event, ErrorRaised):
        return ("error", event.code)
    if isinstance(event, SmpUpdated):
        return ("smp", event.result, event.question)
    if isinstance(event, SessionSecured):
        return ("secure", event.version, event.refreshed)
    return (event.type,)


def seen(duo: Duo, name: str) -> list[tuple[object, ...]]:
    """What ``name`` was shown since the last call, summarized; forgets it."""
    return [summary(e) for e in duo.sides[name].take_events()]


def forget_events(duo: Duo) -> None:
    seen(duo, ALICE)
    seen(duo, BOB)


def assert_secured(duo: Duo, version: int, refreshed: bool = False) -> str:
    """Both sides: encrypted at ``version``, same ssid, the other's true fingerprint, one secure event.

    The secure events are taken (forgotten) from both sides; other events stay.
    """
    statuses = {name: status(duo, name) for name in (ALICE, BOB)}
    ssid = statuses[ALICE].ssid
    assert ssid is not None and len(ssid) == 16
    for name, st in statuses.items():
        assert st.msgstate == "encrypted", f"{name}: {st}"
        assert st.version == version
        assert st.ssid == ssid
        assert st.fingerprint == fingerprint(name)
        assert st.peer_fingerprint == fingerprint(other(name))
        assert st.peer_instance_tag == (TAGS[other(name)] if version == 3 else None)
        side = duo.sides[name]
        secured = [e for e in side.events if isinstance(e, SessionSecured)]
        side.events = [e for e in side.events if not isinstance(e, SessionSecured)]
        assert [(e.peer, e.version, e.ssid, e.peer_fingerprint, e.refreshed) for e in secured] == [
            (other(name), version, ssid, fingerprint(other(name)), refreshed)
        ]
    return ssid


def establish(duo: Duo, version: int, starter: str = ALICE) -> str:
    """``starter`` queries, the AKE completes (checked with :func:`assert_secured`); events are forgotten."""
    duo.act(starter, "query")
    duo.flush()
    ssid = assert_secured(duo, version)
    forget_events(duo)
    return ssid


def deliver(duo: Duo, sender: str, text: str) -> None:
    """``sender`` sends ``text``; the other side is shown it exactly once, encrypted, and nothing else."""
    duo.act(sender, "send", text)
    duo.flush()
    assert seen(duo, other(sender)) == [("message", text, True)]
    assert seen(duo, sender) == []
