"""The x-commit-hash test hook: pinned exponents decide a simultaneous start in advance."""

from __future__ import annotations

import pytest

from harness.conversation import Duo
from implementations.api import BadRequest, InitConfig
from implementations.engine import EngineAdapter
from implementations.engine._ake import TIEBREAK_EXPONENTS
from implementations.engine._codec import mpi
from implementations.engine._crypto import GENERATOR, MODULUS, sha256
from implementations.engine._wire import DHCommit, DHKey, parse
from implementations.fixtures import key


def hashed_gx(x: int) -> bytes:
    return sha256(mpi(pow(GENERATOR, x, MODULUS)))


def test_pinned_exponents_hash_to_the_extremes_and_are_long_enough() -> None:
    assert hashed_gx(TIEBREAK_EXPONENTS["high"])[:2] == b"\xff\xff"
    assert hashed_gx(TIEBREAK_EXPONENTS["low"])[:2] == b"\x00\x00"
    assert all(x.bit_length() >= 320 for x in TIEBREAK_EXPONENTS.values())


class _Biased(EngineAdapter):
    def __init__(self, bias: str) -> None:
        super().__init__()
        self._bias = bias

    def init(self, config: InitConfig) -> object:  # type: ignore[override]
        return super().init(InitConfig(**{**config.__dict__, "extra": {"x-commit-hash": self._bias}}))


@pytest.mark.parametrize(("alice", "bob"), [("high", "low"), ("low", "high")])
def test_the_higher_commit_survives_a_simultaneous_start(alice: str, bob: str) -> None:
    duo = Duo.create(lambda: _Biased(alice), lambda: _Biased(bob))
    duo.act("alice", "query")
    duo.act("bob", "query")
    duo.flush()
    assert duo.a.adapter.status("bob").msgstate == "encrypted"
    assert duo.b.adapter.status("alice").msgstate == "encrypted"
    winner = "alice" if alice == "high" else "bob"
    commits = [w for w in duo.transcript if isinstance(parse(w.wire), DHCommit)]
    keys = [w for w in duo.transcript if isinstance(parse(w.wire), DHKey)]
    assert {w.sender for w in commits} == {"alice", "bob"}
    assert {w.sender for w in keys} == {"alice" if winner == "bob" else "bob"}


def test_an_unknown_bias_is_a_bad_request() -> None:
    config = InitConfig("alice", "p", key("alice"), 0x100, extra={"x-commit-hash": "middle"})
    with pytest.raises(BadRequest):
        EngineAdapter().init(config)
