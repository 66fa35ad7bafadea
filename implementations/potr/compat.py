"""python-potr 1.0.2 on pycryptodome: the pieces its pycrypto backend gets wrong, and its randomness.

potr picks its crypto backend at import: ``potr.compatcrypto`` star-imports
``potr.compatcrypto.pycrypto``, which defines the hashes, ``AESCTR``,
``Counter``, a ``DSAKey`` registered as public-key type 0x0000
(``common.registerkeytype``), ``getrandbits`` and ``randrange``;
``potr.crypt`` then binds ``AESCTR``, ``getrandbits`` and ``randrange`` by
name.  pycryptodome keeps the hashes and HMAC of pycrypto's API but not:

1. DSA signing and verification: ``DsaKey.sign``/``verify`` raise
   ``NotImplementedError``; its replacement (``Crypto.Signature.DSS``)
   truncates the message FIPS-style, while OTR signs the 32-byte M taken
   mod q.  ``DSAKey.generate`` reads pycrypto's ``key.key.y`` (AttributeError).
2. AES-CTR with a callable counter: ``AES.new(..., counter=potr.Counter)``
   raises ``TypeError``.
3. (not a break, a difference) ``DSA.construct`` checks primality and the
   group; pycrypto's checked nothing, so a correspondent's odd key reached
   the signature check instead of raising ``ValueError`` while parsing.

:func:`install` plugs the replacements in through potr's own hooks, without
touching its files: :class:`DsaKey` is registered with
``registerkeytype`` for type 0x0000 (so correspondents' keys parse into it),
and the module-level names potr calls (``AESCTR``, ``randrange``,
``getrandbits``, and ``time`` in ``potr.context``) are rebound.

Randomness and time come from the :class:`Deps` made active with
:func:`active` (a context variable, so each adapter brings its own); with
none active, the system's CSPRNG and clock.  Every random value potr draws
goes through :func:`randrange` or :func:`getrandbits`: D-H exponents, the
AKE's r, SMP exponents, and the DSA nonce of :meth:`DsaKey.sign`.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

import potr.compatcrypto
import potr.compatcrypto.pycrypto
import potr.context
import potr.crypt
from Crypto.Cipher import AES
from Crypto.PublicKey import DSA
from potr.compatcrypto import common

SIG_HALF = 20
"""potr's width of r and of s in SIG (``long_to_bytes(r, 20)``, ``sig[:20]``): len(q) of every OTR key."""


# ------------------------------------------------------------- randomness


class RandomSource(Protocol):
    def getrandbits(self, k: int) -> int: ...

    def randrange(self, start: int, stop: int) -> int: ...


class SystemRandomSource:
    """The operating system's CSPRNG (what ``Crypto.Random.random`` gave potr)."""

    _rng = secrets.SystemRandom()

    def getrandbits(self, k: int) -> int:
        return self._rng.getrandbits(k) if k > 0 else 0

    def randrange(self, start: int, stop: int) -> int:
        return self._rng.randrange(start, stop)


class SeededRandomSource:
    """A SHA-256 counter stream: block i is SHA-256(seed || i as 8 bytes big-endian).

    For reproducible test runs only.  ``randrange`` samples by rejection, so
    its values are uniform and depend only on the seed and the call sequence.
    """

    def __init__(self, seed: bytes) -> None:
        self._seed = bytes(seed)
        self._counter = 0
        self._buffer = b""

    def read(self, n: int) -> bytes:
        while len(self._buffer) < n:
            block = hashlib.sha256(self._seed + self._counter.to_bytes(8, "big")).digest()
            self._counter += 1
            self._buffer += block
        out, self._buffer = self._buffer[:n], self._buffer[n:]
        return out

    def getrandbits(self, k: int) -> int:
        if k <= 0:
            return 0
        value = int.from_bytes(self.read((k + 7) // 8), "big")
        return value >> (-k % 8)

    def randrange(self, start: int, stop: int) -> int:
        width = stop - start
        if width <= 0:
            raise ValueError(f"empty range for randrange({start}, {stop})")
        bits = width.bit_length()
        while True:
            candidate = self.getrandbits(bits)
            if candidate < width:
                return start + candidate


class Clock(Protocol):
    def now(self) -> float: ...


class SystemClock:
    def now(self) -> float:
        return time.time()


@dataclass
class FrozenClock:
    """A clock that stands still (seeded runs): potr's 60-second heartbeat never fires."""

    at: float = 0.0

    def now(self) -> float:
        return self.at


@dataclass
class Deps:
    """What potr draws on for one account: random values and the time."""

    random: RandomSource = field(default_factory=SystemRandomSource)
    clock: Clock = field(default_factory=SystemClock)

    @classmethod
    def seeded(cls, seed: bytes) -> Deps:
        return cls(SeededRandomSource(seed), FrozenClock())


_SYSTEM = Deps()
_active: contextvars.ContextVar[Deps] = contextvars.ContextVar("otrcheck_potr_deps", default=_SYSTEM)


@contextlib.contextmanager
def active(deps: Deps) -> Iterator[Deps]:
    """Make ``deps`` potr's randomness and clock for the duration of the block."""
    token = _active.set(deps)
    try:
        yield deps
    finally:
        _active.reset(token)


def randrange(start: int, stop: int) -> int:
    """potr's ``randrange(start, stop)``: start <= value < stop, from the active source."""
    return _active.get().random.randrange(start, stop)


def getrandbits(k: int) -> int:
    return _active.get().random.getrandbits(k)


def now() -> float:
    """potr's ``time()`` (``potr.context`` uses it for the heartbeat)."""
    return _active.get().clock.now()


def random_bytes(n: int) -> bytes:
    """``randfunc`` for pycryptodome (key generation), from the active source."""
    return getrandbits(8 * n).to_bytes(n, "big")


# ----------------------------------------------------------------- AES-CTR


class CtrCipher:
    """AES128-CTR over potr's counter: block i uses ``prefix (8 bytes) || val + i (8 bytes)``.

    potr's ``Counter`` is a callable that pycrypto called once per 16-byte
    block, advancing ``val``; this keeps that effect (``val`` moves on by
    the blocks consumed), so a counter reused without ``inc()`` behaves as
    it did under pycrypto.
    """

    def __init__(self, key: bytes, counter: Any) -> None:
        self._counter = counter
        self._start = int(counter.val)
        initial = (int(counter.prefix) << 64) + self._start
        self._cipher = AES.new(key, AES.MODE_CTR, nonce=b"", initial_value=initial)
        self._done = 0

    def _advance(self, n: int) -> None:
        self._done += n
        self._counter.val = self._start + (self._done + 15) // 16

    def encrypt(self, data: bytes) -> bytes:
        out: bytes = self._cipher.encrypt(data)
        self._advance(len(data))
        return out

    def decrypt(self, data: bytes) -> bytes:
        out: bytes = self._cipher.decrypt(data)
        self._advance(len(data))
        return out


def aes_ctr(key: bytes, counter: Any = 0) -> CtrCipher:
    """potr's ``AESCTR(key, counter=0)``: an int is a counter prefix; else a ``potr`` ``Counter``."""
    if isinstance(counter, int):
        counter = potr.compatcrypto.Counter(counter)
    if not isinstance(counter, potr.compatcrypto.Counter):
        raise TypeError(f"AESCTR needs an int or a potr Counter, not {type(counter).__name__}")
    return CtrCipher(key, counter)


# --------------------------------------------------------------------- DSA


def dsa_sign(p: int, q: int, g: int, x: int, message: bytes, k: int) -> tuple[int, int]:
    """DSA over M as an integer taken mod q (OTR spec, "Authenticated Key Exchange": M is signed as is)."""
    h = int.from_bytes(message, "big") % q
    r = pow(g, k, p) % q
    s = pow(k, -1, q) * (h + x * r) % q
    return r, s


def dsa_verify(p: int, q: int, g: int, y: int, message: bytes, r: int, s: int) -> bool:
    """Never raises: a correspondent's q may be composite, so s may have no inverse."""
    if not (0 < r < q and 0 < s < q):
        return False
    h = int.from_bytes(message, "big") % q
    try:
        w = pow(s, -1, q)
    except ValueError:
        return False
    v = pow(g, h * w % q, p) * pow(y, r * w % q, p) % p % q
    return v == r


class DsaKey(potr.compatcrypto.pycrypto.DSAKey):
    """potr's DSA key (public-key type 0x0000) with pycryptodome key objects underneath.

    Construction takes potr's tuples: ``(y, g, p, q)`` or ``(y, g, p, q, x)``
    with ``private=True``.  ``sign`` keeps potr's nonce range (2 <= K < q)
    and fixed-width r and s; ``verify`` keeps potr's reading of SIG (r is
    the first 20 bytes, s everything after) and answers a real ``bool``:
    potr tests the answer with ``is False``.
    """

    keyType = 0x0000

    def __init__(self, key: Any = None, private: bool = False) -> None:
        self.priv = self.pub = None
        if not isinstance(key, tuple):
            raise TypeError("4/5-tuple required for key")
        if len(key) == 5 and private:
            self.priv = DSA.construct(key, consistency_check=False)
            self.pub = self.priv.publickey()
        elif len(key) == 4 and not private:
            self.pub = DSA.construct(key, consistency_check=False)
        else:
            raise TypeError(f"wrong number of arguments for private={private!r}: got {len(key)}")

    @classmethod
    def from_numbers(cls, p: int, q: int, g: int, y: int, x: int | None = None) -> DsaKey:
        """A key from its numbers, checked by pycryptodome (primality, group, y = g^x)."""
        if x is None:
            DSA.construct((y, g, p, q), consistency_check=True)
            return cls((y, g, p, q), private=False)
        DSA.construct((y, g, p, q, x), consistency_check=True)
        return cls((y, g, p, q, x), private=True)

    @classmethod
    def generate(cls) -> DsaKey:
        made = DSA.generate(1024, randfunc=random_bytes)
        return cls((int(made.y), int(made.g), int(made.p), int(made.q), int(made.x)), private=True)

    def sign(self, data: bytes) -> bytes:
        key = self.priv
        if key is None:
            raise TypeError("a public key cannot sign")
        p, q, g, x = int(key.p), int(key.q), int(key.g), int(key.x)
        while True:
            r, s = dsa_sign(p, q, g, x, data, randrange(2, q))
            if r and s:
                return r.to_bytes(SIG_HALF, "big") + s.to_bytes(SIG_HALF, "big")

    def verify(self, data: bytes, sig: bytes) -> bool:
        key = self.pub
        if key is None:
            return False
        r = int.from_bytes(sig[:SIG_HALF], "big")
        s = int.from_bytes(sig[SIG_HALF:], "big")
        return dsa_verify(int(key.p), int(key.q), int(key.g), int(key.y), data, r, s)


# ----------------------------------------------------------------- install

_installed = False


def install() -> None:
    """Plug the replacements into potr (idempotent)."""
    global _installed
    if _installed:
        return
    common.registerkeytype(DsaKey)
    for module in (potr.crypt, potr.compatcrypto, potr.compatcrypto.pycrypto):
        module.AESCTR = aes_ctr
        module.randrange = randrange
        module.getrandbits = getrandbits
    potr.compatcrypto.DSAKey = DsaKey
    potr.context.time = now
    _installed = True
