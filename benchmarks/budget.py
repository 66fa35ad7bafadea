"""How much work each measurement does: the full run, ``--quick``, and whatever a test builds.

Mostly counts: a run does the same work on every machine, so a slow
machine takes longer rather than measuring less.  The one duration,
``figure_seconds``, only trims the repetitions of an implementation so
slow that the counts would take minutes (a subprocess peer in JavaScript):
it then gets fewer repetitions or smaller batches, never fewer than three
samples, and the figure's note says how many.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Budget:
    ake_reps: int  # AKEs per pair (each on two fresh accounts), after one untimed warm-up
    smp_reps: int  # SMP runs per pair, in one session
    batches: int  # repeated batches per data / reassembly figure (the figure is their median rate)
    oneway: tuple[int, int, int]  # messages per batch, per size of model.SIZES
    roundtrip: tuple[int, int, int]  # round trips per batch, per size
    reassembly_messages: int  # 16 KiB messages (pre-fragmented) per reassembly batch
    flood_fragments: int  # fragments of one never-completed message in the flood
    flood_piece: int  # characters per piece in the flood
    flood_large_pieces: int  # further fragments of flood_large_piece characters each
    flood_large_piece: int
    session_checkpoint: int  # long session: memory is read after this many messages ...
    session_total: int  # ... and again after this many
    session_reply_every: int  # bob answers every this many messages, so keys rotate
    fuzz_runs: int  # inputs per fuzz target after its seed corpus (libFuzzer -runs)
    figure_seconds: float  # about this long at most per figure, for very slow implementations
    subprocess_timeout: float  # seconds before a matrix / test run / fuzz target is stopped

    def to_json(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}


FULL = Budget(
    ake_reps=15,
    smp_reps=7,
    batches=5,
    oneway=(200, 100, 20),
    roundtrip=(40, 40, 15),
    reassembly_messages=10,
    flood_fragments=65_535,
    flood_piece=1_000,
    flood_large_pieces=16,
    flood_large_piece=1_048_576,
    session_checkpoint=10_000,
    session_total=100_000,
    session_reply_every=100,
    fuzz_runs=5_000,
    figure_seconds=10.0,
    subprocess_timeout=1_800.0,
)

QUICK = Budget(
    ake_reps=3,
    smp_reps=2,
    batches=2,
    oneway=(20, 10, 3),
    roundtrip=(5, 5, 2),
    reassembly_messages=2,
    flood_fragments=8_000,
    flood_piece=1_000,
    flood_large_pieces=4,
    flood_large_piece=1_048_576,
    session_checkpoint=1_000,
    session_total=5_000,
    session_reply_every=100,
    fuzz_runs=500,
    figure_seconds=3.0,
    subprocess_timeout=600.0,
)
