"""A budget small enough for the default test run: the benchmark code runs for real, briefly."""

from __future__ import annotations

import dataclasses

import pytest

from benchmarks.budget import QUICK, Budget


@pytest.fixture(scope="session")
def tiny() -> Budget:
    return dataclasses.replace(
        QUICK,
        ake_reps=1,
        smp_reps=1,
        batches=1,
        oneway=(3, 2, 1),
        roundtrip=(1, 1, 1),
        reassembly_messages=1,
        flood_fragments=50,
        flood_piece=1_000,
        flood_large_pieces=2,
        flood_large_piece=5 * 1024 * 1024,  # above the reassembly cap: the cap path runs too
        session_checkpoint=20,
        session_total=60,
        session_reply_every=7,
        fuzz_runs=10,
        subprocess_timeout=120.0,
    )
