"""The shapes every vector kind shares (Wycheproof-style files, one replayer per kind).

A vector file is a JSON document::

    {"algorithm": "OTR-parse", "schema": "parse.schema.json", "generatorVersion": "...",
     "numberOfTests": N, "header": ["..."], "notes": {"FLAG": {"bugType": "...", "description": "..."}},
     "testGroups": [{"type": "...", ..., "tests": [{"tcId": 1, "comment": "...", "flags": [...],
                                                     "result": "valid" | "invalid" | "acceptable", ...}]}]}

``tcId`` values are unique and stable within a file: a test keeps its id for good; new tests get
new ids.  ``result``: ``valid`` (an implementation must accept / produce it), ``invalid`` (must
reject it), ``acceptable`` (lenient behaviour the spec allows either way; both answers pass).

A kind is a module in :mod:`vectors.kinds` with ``KIND`` (its name), ``generate() -> dict`` (the
document, deterministic) and ``replay(vector, target) -> Verdict``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from implementations.api import Adapter

RESULTS = ("valid", "invalid", "acceptable")
Status = Literal["passed", "failed", "skipped"]


@dataclass(frozen=True)
class Vector:
    """One test of one file, with its group's fields merged under ``group``."""

    kind: str
    file: str
    tc_id: int
    comment: str
    flags: tuple[str, ...]
    result: str
    test: dict[str, Any]
    group: dict[str, Any] = field(default_factory=dict)

    @property
    def ident(self) -> str:
        """A stable name for reports: ``parse/otr_parse.json#17``."""
        return f"{self.kind}/{self.file}#{self.tc_id}"


@dataclass(frozen=True)
class Verdict:
    status: Status
    detail: str = ""
    observed: Any = None  # what the implementation answered, for the differential summary


@dataclass
class Target:
    """An implementation a vector is replayed against."""

    name: str
    adapter: Adapter  # also an ExtensionAdapter where the implementation serves x-parse
    deterministic: bool
    features: frozenset[str] = frozenset()
    protocol_versions: frozenset[int] = frozenset()
