"""Injected randomness and time.

Protocol code never calls ``os.urandom`` or ``time.time``; it asks an
:class:`Entropy` and a :class:`Clock` it was given.  A seed makes a whole
engine reproducible: :class:`SeededEntropy` is a SHA-256 counter-mode
stream, so the same seed and the same sequence of requests give the same
bytes on every machine.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections import deque
from typing import Protocol


class Entropy(Protocol):
    def random_bytes(self, n: int) -> bytes: ...


class Clock(Protocol):
    def now(self) -> float: ...


class SystemEntropy:
    """The operating system's CSPRNG."""

    def random_bytes(self, n: int) -> bytes:
        return os.urandom(n)


class SeededEntropy:
    """Deterministic bytes: block i is SHA-256(seed || i as 8 bytes), concatenated.

    Not for production secrets; for reproducible test runs only.
    """

    def __init__(self, seed: bytes) -> None:
        self._seed = bytes(seed)
        self._counter = 0
        self._buffer = b""

    def random_bytes(self, n: int) -> bytes:
        while len(self._buffer) < n:
            block = hashlib.sha256(self._seed + self._counter.to_bytes(8, "big")).digest()
            self._counter += 1
            self._buffer += block
        out, self._buffer = self._buffer[:n], self._buffer[n:]
        return out


class ScriptedEntropy:
    """Hands out queued byte strings first (each request must match its length), then falls back.

    Used by tests to force chosen values: leading-zero AKE keys, tie-break
    orders, SMP exponents.
    """

    def __init__(self, fallback: Entropy, script: list[bytes] | None = None) -> None:
        self._fallback = fallback
        self._script: deque[bytes] = deque(script or [])

    def push(self, value: bytes) -> None:
        self._script.append(value)

    def random_bytes(self, n: int) -> bytes:
        if self._script:
            value = self._script.popleft()
            if len(value) != n:
                raise ValueError(f"scripted entropy of {len(value)} bytes where {n} were asked")
            return value
        return self._fallback.random_bytes(n)


class SystemClock:
    def now(self) -> float:
        return time.monotonic()


class ManualClock:
    """A clock that moves only when told to (deterministic runs)."""

    def __init__(self, start: float = 0.0) -> None:
        self._now = start

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        self._now += seconds
