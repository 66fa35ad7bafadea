"""Expected disagreements per implementation (``vectors/divergences/<impl>.toml``).

Like the harness's manifests (``harness/manifests``): every vector an
implementation is known to disagree with is listed with the finding that
explains it.  Format::

    implementation = "libotr"

    [[disagreement]]
    finding = "LIBOTR-006"            # an id of docs/findings/README.md
    reason = "the base64 decoder skips characters outside the alphabet"
    vectors = ["base64/otr_base64.json#*"]      # globs over vector idents, and/or
    file = "parse/otr_parse.json"               # one file and
    tcIds = [12, 13]                            # test ids in it

    [[disagreement]]
    finding = "POTR-040"
    proposed = true                   # a new finding, not yet written up
    reason = "..."
    vectors = ["parse/otr_parse.json#150"]

A failed vector matched by an entry is *expected* and does not fail a run;
a vector matched by an entry that passes is *unexpectedly agreeing* and
fails it (like an XPASS), so that entries are dropped once fixed.
"""

from __future__ import annotations

import fnmatch
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

DIVERGENCE_DIR = Path(__file__).resolve().parent / "divergences"
_KEYS = frozenset({"finding", "reason", "vectors", "file", "tcIds", "proposed"})
_FINDING = re.compile(r"^[A-Z][A-Z0-9]*-\d{3}$")


class DivergenceError(ValueError):
    pass


@dataclass(frozen=True)
class Disagreement:
    implementation: str
    finding: str
    reason: str
    patterns: tuple[str, ...]
    proposed: bool = False

    def matches(self, ident: str) -> bool:
        return any(fnmatch.fnmatchcase(ident, pattern) for pattern in self.patterns)


def load(directory: Path = DIVERGENCE_DIR) -> list[Disagreement]:
    entries: list[Disagreement] = []
    for path in sorted(directory.glob("*.toml")):
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise DivergenceError(f"{path.name}: {exc}") from exc
        name = data.get("implementation")
        if name != path.stem:
            raise DivergenceError(f"{path.name}: implementation = {name!r}, expected {path.stem!r}")
        unknown_top = set(data) - {"implementation", "disagreement"}
        if unknown_top:
            raise DivergenceError(f"{path.name}: unknown keys {sorted(unknown_top)}")
        for i, raw in enumerate(data.get("disagreement", [])):
            where = f"{path.name} disagreement[{i}]"
            unknown = set(raw) - _KEYS
            if unknown:
                raise DivergenceError(f"{where}: unknown keys {sorted(unknown)}")
            finding, reason = raw.get("finding"), raw.get("reason")
            if not isinstance(finding, str) or not _FINDING.match(finding):
                raise DivergenceError(f"{where}: finding must be an id like LIBOTR-006, not {finding!r}")
            if not isinstance(reason, str) or not reason.strip():
                raise DivergenceError(f"{where}: needs a reason")
            patterns = list(raw.get("vectors", []))
            if "file" in raw or "tcIds" in raw:
                file, ids = raw.get("file"), raw.get("tcIds")
                if not isinstance(file, str) or not isinstance(ids, list) or not ids:
                    raise DivergenceError(f"{where}: `file` and a non-empty `tcIds` list go together")
                if not all(isinstance(i, int) and not isinstance(i, bool) and i > 0 for i in ids):
                    raise DivergenceError(f"{where}: tcIds must be positive integers")
                patterns.extend(f"{file}#{i}" for i in ids)
            if not patterns or not all(isinstance(p, str) and "#" in p for p in patterns):
                raise DivergenceError(f"{where}: needs vectors (idents like 'parse/otr_parse.json#12')")
            proposed = raw.get("proposed", False)
            if not isinstance(proposed, bool):
                raise DivergenceError(f"{where}: proposed is a boolean")
            entries.append(Disagreement(name, finding, reason, tuple(patterns), proposed))
    return entries


def lookup(entries: list[Disagreement], implementation: str, ident: str) -> Disagreement | None:
    for entry in entries:
        if entry.implementation == implementation and entry.matches(ident):
            return entry
    return None


def finding_ids(index: Path) -> frozenset[str]:
    """The finding ids listed in a findings index (docs/findings/README.md)."""
    text = index.read_text(encoding="utf-8")
    return frozenset(re.findall(r"\[([A-Z][A-Z0-9]*-\d{3})\]", text))
