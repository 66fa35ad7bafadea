"""libotr's random draws follow the ``init`` seed (implementations/libotr/entropy.py).

Each run is a fresh ``otrcheck peer libotr`` worker, so nothing but the seed
is shared between the runs compared.
"""

from __future__ import annotations

import pytest

from harness import impls
from implementations.api import InitConfig, Policy
from implementations.fixtures import key
from implementations.libotr import entropy


def _first_commit(seed: bytes | None) -> tuple[str, str]:
    """A fresh libotr worker answers a v3 query: its D-H Commit (r and x drawn) and its hello."""
    worker = impls.get("libotr").make()
    try:
        worker.init(InitConfig("bob", "otrcheck", key("bob"), 0x101, Policy(), seed=seed))
        out = worker.receive("alice", "?OTRv3?").out
        commits = [o.wire for o in out if o.wire.startswith("?OTR:AAMC")]
        assert len(commits) == 1, out
        return commits[0], str(worker.hello().extra.get("x-seeded"))
    finally:
        worker.close()


@pytest.fixture(autouse=True)
def _libotr() -> None:
    if impls.get("libotr").unavailable:
        pytest.skip(impls.get("libotr").unavailable)


def test_the_same_seed_gives_the_same_dh_commit_in_a_new_process() -> None:
    first, seeded = _first_commit(b"seed one")
    again, _ = _first_commit(b"seed one")
    assert seeded.startswith("libotr's random draws"), seeded
    assert first == again


def test_another_seed_or_no_seed_gives_another_dh_commit() -> None:
    first, _ = _first_commit(b"seed one")
    assert _first_commit(b"seed two")[0] != first
    assert _first_commit(None)[0] != _first_commit(None)[0]


def test_the_seeded_stream_depends_on_the_seed_only_and_reads_in_order() -> None:
    a, b = entropy.SeededStream(b"x"), entropy.SeededStream(b"x")
    assert a.read(5) + a.read(40) == b.read(45)
    assert entropy.SeededStream(b"y").read(45) != entropy.SeededStream(b"x").read(45)
