"""libotr's random draws from a seed: a small interposer library, built on first use.

libotr 4.1.1 chooses its random values (AKE keys r, D-H and SMP exponents)
through three libgcrypt calls.  ``entropy.c`` defines them with libgcrypt's
symbol version; loaded with ``RTLD_GLOBAL`` before libotr, it is what libotr's
references bind to, and while a source is installed it fills every request
from a SHA-256 counter stream of the ``init`` seed.  With no seed the calls go
on to libgcrypt unchanged.

Invariants:

* The interposer only takes effect when it is loaded before libotr in the
  process; :func:`preload` says whether it was (``Injector.active``).
* Seeded, libotr's own choices (and so the AKE's tie-break, every D-H value,
  every MPI length and every control-flow decision) repeat exactly.  The DSA
  nonce is drawn inside libgcrypt and is not covered: signature values, and
  the bytes that carry them, still differ from run to run.
* Building needs a C compiler (``cc``); without one libotr runs unseeded and
  :attr:`Injector.problem` says why.  The build lands in the libotr cache,
  named by a hash of its sources, written whole or not at all.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from . import provision

SOURCES = (Path(__file__).with_name("entropy.c"), Path(__file__).with_name("entropy.map"))
_FILL = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_size_t)


class SeededStream:
    """SHA-256(seed || counter) blocks, read in order: the same seed gives the same bytes."""

    def __init__(self, seed: bytes) -> None:
        self._seed = seed
        self._counter = 0
        self._buffer = b""

    def read(self, n: int) -> bytes:
        while len(self._buffer) < n:
            block = hashlib.sha256(b"otrcheck/libotr/" + self._seed + self._counter.to_bytes(8, "big"))
            self._buffer += block.digest()
            self._counter += 1
        out, self._buffer = self._buffer[:n], self._buffer[n:]
        return out


def build() -> tuple[Path | None, str]:
    """The interposer library (built into the cache if needed), or None and why not."""
    digest = hashlib.sha256(b"".join(path.read_bytes() for path in SOURCES)).hexdigest()[:16]
    target = provision.cache_root() / "entropy" / f"otrcheck-entropy-{digest}.so"
    if target.exists():
        return target, ""
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        return None, "no C compiler (cc) to build the seeding interposer: libotr runs unseeded"
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, partial = tempfile.mkstemp(dir=target.parent, suffix=".so.part")
    os.close(fd)
    source, symbols = SOURCES
    command = [compiler, "-shared", "-fPIC", "-O2", "-o", partial, str(source), "-ldl"]
    command.append(f"-Wl,--version-script={symbols}")
    try:
        subprocess.run(command, check=True, capture_output=True, text=True, timeout=120)
        os.replace(partial, target)
    except (OSError, subprocess.SubprocessError) as exc:
        detail = getattr(exc, "stderr", "") or str(exc)
        return None, f"building the seeding interposer failed: {detail.strip()[-300:]}"
    finally:
        if os.path.exists(partial):
            os.unlink(partial)
    return target, ""


class Injector:
    """The loaded interposer of this process; :meth:`seed` switches libotr's source."""

    def __init__(self, library: ctypes.CDLL | None, active: bool, problem: str) -> None:
        self._library = library
        self.active = active
        self.problem = problem
        self._fill = _FILL(self._read)  # referenced for as long as libotr may call it
        self._stream: SeededStream | None = None

    def seed(self, seed: bytes | None) -> bool:
        """Draw from ``seed`` from now on (None: libgcrypt's randomness); True when it takes effect."""
        if not self.active or self._library is None:
            return False
        self._stream = SeededStream(seed) if seed is not None else None
        self._library.otrcheck_set_random_source(self._fill if seed is not None else _FILL())  # NULL
        return seed is not None

    def _read(self, buffer: int, length: int) -> None:
        assert self._stream is not None
        ctypes.memmove(buffer, self._stream.read(length), length)


_injector: Injector | None = None


def preload(libotr_loaded: bool) -> Injector:
    """Load the interposer into this process, once; it is ``active`` only if libotr was not loaded yet."""
    global _injector
    if _injector is not None:
        return _injector
    if libotr_loaded:
        _injector = Injector(None, False, "libotr was loaded in this process before the interposer")
        return _injector
    path, problem = build()
    if path is None:
        _injector = Injector(None, False, problem)
        return _injector
    library = ctypes.CDLL(str(path), mode=os.RTLD_GLOBAL | os.RTLD_NOW)
    library.otrcheck_set_random_source.restype = None
    library.otrcheck_set_random_source.argtypes = (_FILL,)
    _injector = Injector(library, True, "")
    return _injector
