"""A fragment flood stays within the documented reassembly cap (docs/engine.md, "Fragment reassembly").

The engine stores at most ``MAX_REASSEMBLED_CHARS`` (4 MiB) of characters per sender instance,
and keeps at most ``MAX_INSTANCES`` (32) instance sessions per correspondent.  These tests feed
the full receive path the largest floods the wire allows (k and n are unsigned shorts: 65,535
fragments) and measure what the reassemblers hold after every single fragment: the buffered
size, not time.
"""

from __future__ import annotations

from implementations.engine import EngineAdapter
from implementations.engine._engine import MAX_INSTANCES
from implementations.engine._fragments import MAX_FRAGMENTS, MAX_REASSEMBLED_CHARS
from vectors.kinds import _capture

PIECE = 8 * 1024  # 65,535 such pieces are 512 MiB, 128 times the cap


def alice() -> EngineAdapter:
    adapter = EngineAdapter()
    _capture.init(adapter, _capture.ALICE)
    return adapter


def buffered(adapter: EngineAdapter) -> tuple[int, int]:
    """(characters held by every reassembler of the correspondent, number of sessions)."""
    sessions = adapter.engine.conversation(_capture.BOB).sessions()
    return sum(s.reassembler.pending[2] for s in sessions), len(sessions)


def test_a_flood_of_65535_fragments_in_order_never_buffers_more_than_the_cap() -> None:
    adapter = alice()
    piece = "A" * PIECE
    peak = 0
    for k in range(1, MAX_FRAGMENTS + 1):
        adapter.receive(_capture.BOB, f"?OTR|101|100,{k},{MAX_FRAGMENTS},{piece},")
        held, _ = buffered(adapter)
        assert held <= MAX_REASSEMBLED_CHARS, f"after fragment {k}: {held} characters"
        peak = max(peak, held)
    assert peak > MAX_REASSEMBLED_CHARS - PIECE, "the flood reached the cap (the test measures something)"
    assert buffered(adapter)[0] < PIECE * 2, "after the cap, the rest of the flood was dropped"


def test_a_flood_that_restarts_at_k_1_never_buffers_more_than_the_cap() -> None:
    adapter = alice()
    piece = "B" * PIECE
    for i in range(4 * 600):
        k = i % 600 + 1  # restarts every 600 fragments, each run passing the cap on the way
        adapter.receive(_capture.BOB, f"?OTR,{k},{MAX_FRAGMENTS},{piece},")
        held, _ = buffered(adapter)
        assert held <= MAX_REASSEMBLED_CHARS, f"after fragment {i}: {held} characters"


def test_pieces_larger_than_the_cap_are_never_stored() -> None:
    adapter = alice()
    huge = "C" * (2 * MAX_REASSEMBLED_CHARS)
    details = []
    for k in (1, 1, 2, 1):
        result = adapter.receive(_capture.BOB, f"?OTR|101|100,{k},2,{huge},")
        assert buffered(adapter)[0] == 0
        details += [getattr(e, "detail", "") for e in result.events]
    assert sum("cap exceeded" in d for d in details) == 3


def test_a_flood_from_invented_instances_holds_at_most_32_reassemblers() -> None:
    adapter = alice()
    piece = "D" * 1024
    for tag in range(0x100, 0x100 + 128 * MAX_INSTANCES):
        adapter.receive(_capture.BOB, f"?OTR|{tag:x}|100,1,2,{piece},")
        held, sessions = buffered(adapter)
        assert sessions <= MAX_INSTANCES + 1, f"after instance {tag:#x}: {sessions} sessions"
        assert held <= MAX_INSTANCES * len(piece)
    assert buffered(adapter)[1] == MAX_INSTANCES + 1
