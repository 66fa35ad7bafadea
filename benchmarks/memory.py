"""The engine's memory: under a fragment flood, and over a long session (tracemalloc).

* Flood: one engine account receives fragments of a message that never
  completes: ``flood_fragments`` fragments (k = 1, 2, ... of n = 65535) of
  ``flood_piece`` characters, then ``flood_large_pieces`` fragments of
  ``flood_large_piece`` characters.  Reported: the peak of traced memory
  above the baseline while the flood lasts (transient copies of the input
  included) and what stays allocated after it, beside the reassembler's
  documented cap (``_fragments.MAX_REASSEMBLED_CHARS``).
* Long session: two engine accounts in one v3 session exchange
  ``session_total`` 100-byte messages (alice sends, bob answers every
  ``session_reply_every`` messages so that keys rotate and MAC keys are
  revealed).  Traced memory is read (after a full collection) every
  ``session_checkpoint`` messages; the session is *flat* when memory at the
  end exceeds memory at the first checkpoint by at most
  :data:`FLAT_TOLERANCE` bytes.

Only the engine is measured: tracemalloc sees Python allocations, so the
same figure for libotr (C) would be meaningless.
"""

from __future__ import annotations

import gc
import time
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager

from implementations.api import Adapter, MessageReceived
from implementations.engine import EngineAdapter
from implementations.engine._fragments import MAX_REASSEMBLED_CHARS

from .budget import Budget
from .figures import text_of
from .model import Section
from .peers import NAMES, TAGS, Link, release

FLAT_TOLERANCE = 64 * 1024  # bytes: allocator and interning noise, far below one byte per message
MIB = 1024 * 1024


@contextmanager
def _traced() -> Iterator[None]:
    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    try:
        yield
    finally:
        if not was_tracing:
            tracemalloc.stop()


def _current() -> int:
    gc.collect()
    return tracemalloc.get_traced_memory()[0]


def _fragment(k: int, piece: str) -> str:
    return f"?OTR|{TAGS[0]:08x}|{TAGS[1]:08x},{k:05d},{0xFFFF:05d},{piece},"


def fragment_flood(budget: Budget) -> Section:
    link = Link.open(EngineAdapter, EngineAdapter, 3)
    receiver: Adapter = link.adapters[NAMES[1]]
    try:
        small, large = "A" * budget.flood_piece, "B" * budget.flood_large_piece
        with _traced():
            base = _current()
            tracemalloc.reset_peak()
            start = time.perf_counter()
            fed = 0
            for k in range(1, budget.flood_fragments + 1):
                receiver.receive(NAMES[0], _fragment(k, small))
                fed += 1
            for k in range(1, budget.flood_large_pieces + 1):
                receiver.receive(NAMES[0], _fragment(k, large))
                fed += 1
            elapsed = time.perf_counter() - start
            peak = tracemalloc.get_traced_memory()[1] - base
            retained = _current() - base
    finally:
        link.close()
    fed_chars = (
        budget.flood_fragments * budget.flood_piece + budget.flood_large_pieces * budget.flood_large_piece
    )
    return Section(
        "ok",
        f"{fed} fragments ({fed_chars / MIB:.1f} MiB of pieces) into one engine account",
        {
            "fragments": fed,
            "fed_mib": round(fed_chars / MIB, 2),
            "peak_mib": round(peak / MIB, 2),
            "retained_mib": round(retained / MIB, 2),
            "cap_mib": round(MAX_REASSEMBLED_CHARS / MIB, 2),
            "seconds": round(elapsed, 2),
        },
    )


def long_session(budget: Budget) -> Section:
    link = Link.open(EngineAdapter, EngineAdapter, 3)
    link.keep_events = False
    alice, bob = link.adapters[NAMES[0]], link.adapters[NAMES[1]]
    text = text_of(100)
    readings: list[tuple[int, int]] = []
    received = 0
    try:
        link.act(NAMES[0], "query")
        with _traced():
            base = _current()
            start = time.perf_counter()
            for i in range(1, budget.session_total + 1):
                if i % budget.session_reply_every == 0:
                    sender, receiver, peer, to = bob, alice, NAMES[1], NAMES[0]
                else:
                    sender, receiver, peer, to = alice, bob, NAMES[0], NAMES[1]
                for out in sender.send(to, text).out:
                    for event in receiver.receive(peer, out.wire).events:
                        if isinstance(event, MessageReceived) and event.encrypted and event.text == text:
                            received += 1
                if i % budget.session_checkpoint == 0:
                    readings.append((i, _current() - base))
            elapsed = time.perf_counter() - start
    finally:
        for adapter in (alice, bob):
            release(adapter)
    if received != budget.session_total:
        return Section("error", f"{received} of {budget.session_total} messages arrived intact")
    if not readings:
        return Section("error", "no checkpoint reached")
    first, last = readings[0], readings[-1]
    growth = last[1] - first[1]
    return Section(
        "ok",
        f"{budget.session_total} messages of 100 B in one engine-engine v3 session, "
        f"bob answering every {budget.session_reply_every}",
        {
            "messages": budget.session_total,
            "readings": [{"messages": n, "traced_kib": round(b / 1024, 1)} for n, b in readings],
            "growth_bytes": growth,
            "growth_from": first[0],
            "flat": growth <= FLAT_TOLERANCE,
            "flat_tolerance_bytes": FLAT_TOLERANCE,
            "seconds": round(elapsed, 2),
        },
    )
