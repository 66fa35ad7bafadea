"""What a crash is, for deduplication and naming: a stack signature, and the table of known crashes.

A :class:`Signature` is the kind of failure and the innermost frames of
the code that failed (the implementation's, or ours for a broken
invariant), without line numbers, so that one bug keeps one signature
across small edits:

* a Python exception: its type and the innermost three frames of the
  implementation under test (``potr/context.py:Context.parse``), or, if
  none, outside the standard library and the fuzz wrappers;
* a broken invariant (:class:`fuzz.targets.Broken`): the target and its
  check's own words up to the first colon;
* a native crash (libotr): the sanitizer's bug type, or the signal, and
  the innermost three frames of its stack report that name a function.

``known_crashes.toml`` names the findings crashes belong to, by exception
type and the implementation file it escaped from (or the native bug type
and function).  A run with ``OTRCHECK_FUZZ_SKIP_KNOWN=1`` ignores inputs
whose crash matches a row there, so a campaign can look past findings that
are already filed; triage uses it to name what it files.
"""

from __future__ import annotations

import re
import sysconfig
import tomllib
import traceback
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

KNOWN_FILE = Path(__file__).resolve().parent / "known_crashes.toml"
SKIP_KNOWN = "OTRCHECK_FUZZ_SKIP_KNOWN"
FRAMES = 3
_STDLIB = Path(sysconfig.get_paths()["stdlib"]).resolve()
_WRAPPERS = frozenset({"_atheris.py", "repro.py"})
_HELPERS = frozenset({"check"})  # fuzz/targets.py's assertion helper: the target that called it counts
_KEYS = frozenset({"finding", "implementation", "kind", "type", "where", "reason"})


@dataclass(frozen=True)
class Signature:
    kind: str
    """exception, broken or native."""
    type: str
    """The exception's qualified name, the invariant's words, or the sanitizer bug type / signal."""
    frames: tuple[str, ...]
    """Innermost first: ``file:function`` (Python) or ``function`` (native)."""

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.type}@{'<'.join(self.frames)}"

    def to_json(self) -> dict[str, object]:
        return {"kind": self.kind, "type": self.type, "frames": list(self.frames), "key": self.key}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Signature:
        return cls(str(data["kind"]), str(data["type"]), tuple(str(f) for f in data.get("frames", ())))


def _short_path(filename: str) -> str:
    path = Path(filename)
    parts = path.parts
    for anchor in ("site-packages", "main"):
        if anchor in parts:
            return "/".join(parts[parts.index(anchor) + 1 :])
    return "/".join(parts[-2:])


def _interesting(filename: str) -> bool:
    if filename.startswith("<"):
        return False
    path = Path(filename).resolve()
    return path.name not in _WRAPPERS and ("site-packages" in path.parts or not path.is_relative_to(_STDLIB))


PREFERRED = {
    "engine": ("implementations/engine/",),
    "potr": ("potr/",),
    "libotr": ("implementations/libotr/",),
    "all": ("fuzz/",),
}
"""Where an implementation's own frames are: a crash deep inside a library it calls (pycryptodome,
the standard library) is named by the implementation's frames that called it."""


def of_exception(exc: BaseException, implementation: str | None = None) -> Signature:
    frames = [
        f"{_short_path(frame.f_code.co_filename)}:{frame.f_code.co_qualname}"
        for frame, _ in traceback.walk_tb(exc.__traceback__)
        if _interesting(frame.f_code.co_filename) and frame.f_code.co_qualname not in _HELPERS
    ]
    own = [f for f in frames if f.startswith(PREFERRED.get(implementation or "", ()))]
    named = tuple(reversed((own or frames)[-FRAMES:]))
    if type(exc).__name__ == "Broken":
        return Signature("broken", str(exc).split(": ", 1)[0][:120], named[:1])
    kind = type(exc)
    return Signature("exception", f"{kind.__module__}.{kind.__qualname__}", named)


_SANITIZER = re.compile(r"ERROR: (\w+Sanitizer): ([\w-]+)")
_DEADLY = re.compile(r"==\d+== ?ERROR: libFuzzer: (deadly signal|out-of-memory|timeout)")
_FRAME = re.compile(r"^\s*#\d+ 0x[0-9a-f]+ in (\S+)")


def of_native(report: str, returncode: int | None = None) -> Signature:
    """The signature of a native crash from its sanitizer or libFuzzer report (stderr)."""
    match = _SANITIZER.search(report) or _DEADLY.search(report)
    if match is not None:
        bug = match.group(2) if match.re is _SANITIZER else match.group(1).replace(" ", "-")
    elif returncode is not None and returncode < 0:
        bug = f"signal-{-returncode}"
    else:
        bug = f"exit-{returncode}"
    frames: list[str] = []
    for line in report.splitlines():
        frame = _FRAME.match(line)
        if frame is None:
            continue
        name = frame.group(1)
        if name.startswith(("__sanitizer", "__asan", "__interceptor", "fuzzer::", "_Py", "Py")):
            continue
        frames.append(name)
        if len(frames) == FRAMES:
            break
    return Signature("native", bug, tuple(frames))


# ------------------------------------------------------------------- known


@dataclass(frozen=True)
class Known:
    finding: str
    implementation: str
    kind: str
    type: str
    where: str
    """A substring of one of the signature's frames (Python: ``potr/context.py``; native: a function)."""
    reason: str

    def matches(self, signature: Signature) -> bool:
        return (
            signature.kind == self.kind
            and signature.type == self.type
            and any(self.where in frame for frame in signature.frames)
        )


def known(path: Path = KNOWN_FILE) -> list[Known]:
    if not path.is_file():
        return []
    rows = tomllib.loads(path.read_text(encoding="utf-8")).get("crash", [])
    out = []
    for row in rows:
        if set(row) != _KEYS:
            raise ValueError(f"{path}: a [[crash]] has keys {sorted(row)}, needs {sorted(_KEYS)}")
        out.append(Known(**row))
    return out


def finding_of(signature: Signature, implementation: str, table: list[Known] | None = None) -> Known | None:
    for row in known() if table is None else table:
        if row.implementation in (implementation, "all") and row.matches(signature):
            return row
    return None


def anchor(signature: Signature) -> str:
    """The frame a new known row matches on: the innermost one that is not a generic helper (a
    ``utils`` module's unpacking, say, fails for every caller alike)."""
    specific = [frame for frame in signature.frames if "utils.py:" not in frame]
    return (specific or list(signature.frames) or [""])[0]


def append_known(row: Known, path: Path = KNOWN_FILE) -> None:
    """Add a row (triage's ``--finding`` for a new signature); the file stays human-edited TOML."""

    def quoted(value: str) -> str:
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'

    block = "\n[[crash]]\n" + "".join(
        f"{key} = {quoted(getattr(row, key))}\n"
        for key in ("finding", "implementation", "kind", "type", "where", "reason")
    )
    with path.open("a", encoding="utf-8") as handle:
        handle.write(block)
