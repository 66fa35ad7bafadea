"""Per-implementation expectation manifests (``harness/manifests/NAME.toml``).

Like BoGo's shim config and tlsfuzzer's expected failures: every scenario an
implementation is known to fail, or cannot run, is listed with the reason
and, for a failure, the finding that explains it.  Format::

    implementation = "libotr"

    [[expected_failure]]
    scenarios = ["ake/simultaneous-start*"]   # globs over scenario ids
    when = "both"          # "any" (default): this implementation plays either side;
                           # "a" / "b": it plays that side; "both": it plays both sides
    with = ["libotr"]      # optional: only against these implementations (on the other side)
    finding = "LIBOTR-001"
    reason = "the master context always concedes the tie-break"

    [[unsupported]]
    scenarios = ["symkey/*"]
    reason = "the extra symmetric key is an OTR v3 feature"

A cell matches an entry of implementation X's manifest when X takes part as
``when`` says, the other side is in ``with`` (if given), and a glob matches.
"""

from __future__ import annotations

import fnmatch
import tomllib
from dataclasses import dataclass
from pathlib import Path

MANIFEST_DIR = Path(__file__).resolve().parent / "manifests"
WHEN = ("any", "a", "b", "both")


@dataclass(frozen=True)
class Entry:
    implementation: str
    kind: str  # "expected_failure" or "unsupported"
    scenarios: tuple[str, ...]
    reason: str
    finding: str | None = None
    when: str = "any"
    with_: tuple[str, ...] = ()

    def applies(self, scenario_id: str, side_a: str, side_b: str) -> bool:
        me = self.implementation
        plays = {"any": me in (side_a, side_b), "a": side_a == me, "b": side_b == me}
        plays["both"] = side_a == me and side_b == me
        if not plays[self.when]:
            return False
        if self.with_:
            others = {side_b} if side_a == me and self.when != "b" else set()
            if side_b == me and self.when != "a":
                others.add(side_a)
            if not others & set(self.with_):
                return False
        return any(fnmatch.fnmatchcase(scenario_id, pattern) for pattern in self.scenarios)


class ManifestError(ValueError):
    pass


def load(directory: Path = MANIFEST_DIR) -> list[Entry]:
    entries: list[Entry] = []
    for path in sorted(directory.glob("*.toml")):
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        name = data.get("implementation")
        if name != path.stem:
            raise ManifestError(f"{path.name}: implementation = {name!r}, expected {path.stem!r}")
        for kind in ("expected_failure", "unsupported"):
            for i, raw in enumerate(data.get(kind, [])):
                where = f"{path.name} {kind}[{i}]"
                unknown = set(raw) - {"scenarios", "reason", "finding", "when", "with"}
                if unknown:
                    raise ManifestError(f"{where}: unknown keys {sorted(unknown)}")
                if not raw.get("reason") or not raw.get("scenarios"):
                    raise ManifestError(f"{where}: needs scenarios and a reason")
                if kind == "expected_failure" and not raw.get("finding"):
                    raise ManifestError(f"{where}: an expected failure needs a finding id")
                when = raw.get("when", "any")
                if when not in WHEN:
                    raise ManifestError(f"{where}: when must be one of {WHEN}")
                entries.append(
                    Entry(
                        name,
                        kind,
                        tuple(raw["scenarios"]),
                        raw["reason"],
                        raw.get("finding"),
                        when,
                        tuple(raw.get("with", ())),
                    )
                )
    return entries


def lookup(entries: list[Entry], kind: str, scenario_id: str, side_a: str, side_b: str) -> Entry | None:
    for entry in entries:
        if entry.kind == kind and entry.applies(scenario_id, side_a, side_b):
            return entry
    return None
