"""Triage: reproduce a crash, minimize it, deduplicate it by stack, and file it as a regression vector.

For each crash input (a libFuzzer artifact):

1. **reproduce** it in a child process (``python -m fuzz.repro``), so that
   a native crash ends the child, not triage; its signature
   (:mod:`fuzz.crashes`) is the exception and frames, or the sanitizer's
   report;
2. **minimize** it: delta debugging over its bytes, keeping a candidate
   when the child reports the same signature, within a budget of tries;
3. **deduplicate**: a signature already filed for the target
   (``vectors/regression/fuzzed.jsonl``) is a duplicate;
4. **name** it: ``--finding`` or the row of ``fuzz/known_crashes.toml`` it
   matches; a crash with neither is left unfiled (the minimized input is
   kept under ``<workdir>/<target>/unfiled/``) and triage says so;
5. **file** it: one line in ``fuzzed.jsonl`` (fields from
   :func:`fuzz.regressions.record`, the expected behaviour the
   reference's), ``regressions.json`` and the seed corpora (which draw on
   it) regenerated, the new vector replayed against the implementation;
   if that implementation (not the engine) still fails it, an entry in
   ``vectors/divergences/<impl>.toml`` names the finding, so the default test run expects the failure until
   upstream fixes it.  An engine finding gets no divergence: fix the
   engine, the vector fails until then.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fuzz import crashes, registry, regressions
from harness.impls import REPO_ROOT

MAX_TRIES = 3000
TRY_TIMEOUT = 60.0


@dataclass
class Triaged:
    path: Path
    target: str
    status: str
    """filed, duplicate, unfiled, passes (does not reproduce), inexpressible."""
    detail: str = ""
    signature: dict[str, Any] = field(default_factory=dict)
    minimized: bytes = b""
    finding: str | None = None
    tc_id: int | None = None

    def line(self) -> str:
        shown = self.minimized[:80]
        where = f" -> regression/regressions.json#{self.tc_id}" if self.tc_id else ""
        finding = self.finding or "-"
        return f"{self.status:12} {self.target} {self.path.name}: {finding}{where} {shown!r} {self.detail}"


# ------------------------------------------------------------- reproduction


class Reproducer:
    """A child process that runs one target on inputs, restarted whenever a native crash ends it."""

    def __init__(self, target: str) -> None:
        self.target = target
        self._proc: subprocess.Popen[str] | None = None

    def _start(self) -> subprocess.Popen[str]:
        if self._proc is None or self._proc.poll() is not None:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "fuzz.repro", self.target, "--serve"],
                cwd=REPO_ROOT,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                errors="replace",
            )
        return self._proc

    def signature(self, data: bytes) -> dict[str, Any] | None:
        """The crash signature of ``data`` (None: it passes)."""
        proc = self._start()
        assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
        try:
            proc.stdin.write(data.hex() + "\n")
            proc.stdin.flush()
            answer = proc.stdout.readline()
        except BrokenPipeError:
            answer = ""
        if answer:
            reply = json.loads(answer)
            return None if reply["outcome"] == "pass" else dict(reply["signature"], error=reply["error"])
        try:
            report = proc.communicate(timeout=TRY_TIMEOUT)[1]
        except subprocess.TimeoutExpired:
            proc.kill()
            report = proc.communicate()[1]
        self._proc = None
        return crashes.of_native(report, proc.returncode).to_json()

    def close(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            assert self._proc.stdin is not None
            self._proc.stdin.close()
            self._proc.wait(timeout=TRY_TIMEOUT)
        self._proc = None


def minimize(data: bytes, keeps: Callable[[bytes], bool], tries: int = MAX_TRIES) -> bytes:
    """Delta debugging (ddmin) over bytes: the smallest input found for which ``keeps`` holds."""
    n = 2
    while len(data) >= 2 and tries > 0:
        chunk = -(-len(data) // n)
        reduced = False
        for start in range(0, len(data), chunk):
            candidate = data[:start] + data[start + chunk :]
            tries -= 1
            if candidate and keeps(candidate):
                data, n, reduced = candidate, max(n - 1, 2), True
                break
            if tries <= 0:
                break
        if not reduced:
            if n >= len(data):
                break
            n = min(n * 2, len(data))
    return data


# ------------------------------------------------------------------ triage


def implementation_of(target: str, signature: dict[str, Any]) -> str:
    """Where the crash is: the target's implementation, or for the differential the one that disagreed."""
    implementation = registry.TARGETS[target].implementation
    if implementation != "all":
        return implementation
    first = str(signature.get("type", "")).split(" ", 1)[0]
    return first if first in ("libotr", "potr") else "engine"


def triage_one(
    path: Path,
    target: str,
    workdir: Path,
    finding: str | None = None,
    write: bool = True,
    tries: int = MAX_TRIES,
) -> Triaged:
    data = path.read_bytes()
    reproducer = Reproducer(target)
    try:
        signature = reproducer.signature(data)
        if signature is None:
            return Triaged(path, target, "passes", "does not reproduce outside the fuzzer", minimized=data)
        key = signature["key"]
        minimized = minimize(data, lambda d: (reproducer.signature(d) or {}).get("key") == key, tries)
    finally:
        reproducer.close()
    implementation = implementation_of(target, signature)
    signature["implementation"] = implementation
    result = Triaged(path, target, "", signature=signature, minimized=minimized)
    for filed in regressions.read():
        if filed.get("fuzz_target") == target and filed.get("signature") == key:
            result.status, result.finding = "duplicate", filed["finding"]
            given = filed.get("wire") or filed.get("input") or filed.get("inputs")
            result.detail = f"of the filed {filed['finding']} input {given!r:.60}"
            return result
    known = crashes.finding_of(crashes.Signature.from_json(signature), implementation)
    name = finding or (known.finding if known else None)
    if name is None:
        keep = workdir / target / "unfiled" / hashlib.sha1(minimized).hexdigest()
        keep.parent.mkdir(parents=True, exist_ok=True)
        keep.write_bytes(minimized)
        result.status = "unfiled"
        result.detail = (
            f"new signature {key}; minimized input in {keep}; file it, then rerun with --finding ID"
        )
        return result
    result.finding = name
    if finding and known is None and write:
        where = crashes.anchor(crashes.Signature.from_json(signature))
        crashes.append_known(
            crashes.Known(
                name,
                implementation,
                signature["kind"],
                signature["type"],
                where,
                signature.get("error", "")[:200],
            )
        )
    try:
        record = regressions.record(target, minimized, name, signature, comment(name, signature, minimized))
    except regressions.NotExpressible as exc:
        result.status, result.detail = "inexpressible", str(exc)
        return result
    record["result"] = result_of(record)
    record["flags"] = ["Fuzzed"] + (["Crash"] if signature["kind"] in ("exception", "native") else [])
    if not write:
        result.status, result.detail = "filed", "(dry run: nothing written)"
        return result
    result.tc_id = file(record)
    result.status = "filed"
    result.detail = settle(record, result.tc_id, implementation)
    return result


def comment(finding: str, signature: dict[str, Any], data: bytes) -> str:
    what = signature["type"] if signature["kind"] != "broken" else signature["type"][:60]
    return f"{finding}: found by fuzzing ({signature['kind']} {what}); must not recur"


def result_of(record: dict[str, Any]) -> str:
    """``invalid`` when the input is malformed (the reference refuses it), else ``valid``."""
    return regressions.result(record)


def file(record: dict[str, Any]) -> int:
    """Append the record, regenerate the regression file (and the seed corpora, which draw on it), and
    return the new test's tcId."""
    from fuzz import corpora
    from vectors import generate

    regressions.append(record)
    generate.write(["regression"])
    corpora.write()
    return 500 + len(regressions.read())


def settle(record: dict[str, Any], tc_id: int, implementation: str) -> str:
    """Replay the new vector on the implementation; a failure there becomes an expected divergence."""
    from fuzz import drivers
    from harness import impls
    from vectors import loader, runner

    drivers.quiet_potr()
    ident = f"regression/regressions.json#{tc_id}"
    vector = next(v for v in loader.load([loader.ROOT / "regression"]) if v.ident == ident)
    impl = impls.get(implementation)
    if not impl.available:
        return f"{implementation} unavailable here: not replayed"
    adapter = impl.make()
    try:
        verdict = runner.replay_one(vector, runner.target_for(implementation, adapter))
    finally:
        closer = getattr(adapter, "close", None)
        if callable(closer):
            closer()
    if verdict.status != "failed":
        return f"{implementation} now passes it ({verdict.status})"
    if implementation == "engine":
        return f"the engine fails it: fix the engine ({verdict.detail[:120]})"
    add_divergence(implementation, record["finding"], tc_id, record["signature"])
    where = f"vectors/divergences/{implementation}.toml"
    return f"{implementation} fails it as expected: {where} names {record['finding']}"


def add_divergence(implementation: str, finding: str, tc_id: int, signature: str) -> None:
    path = REPO_ROOT / "vectors" / "divergences" / f"{implementation}.toml"
    reason = f"found by fuzzing, filed by otrcheck fuzz triage: {signature}"
    reason = reason.replace("\\", "/").replace('"', "'")
    block = (
        f'\n[[disagreement]]\nfinding = "{finding}"\nreason = "{reason}"\n'
        f'file = "regression/regressions.json"\ntcIds = [{tc_id}]\n'
    )
    with path.open("a", encoding="utf-8") as handle:
        handle.write(block)
