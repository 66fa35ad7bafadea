"""Run a target on inputs outside the fuzzer and say what happened (triage runs this in a child process).

``python -m fuzz.repro TARGET FILE...`` runs each file and prints one JSON
line per file; ``python -m fuzz.repro TARGET --seeds`` runs the target's
whole generated seed corpus and prints the seeds that crash other than as
a known finding (``fuzz/known_crashes.toml``), exit status 1 if any;
``python -m fuzz.repro TARGET --serve`` reads inputs as hex lines on
standard input and answers each with a JSON line, so a minimizer
can try thousands of candidates without starting Python each time.  An
answer is ``{"outcome": "pass"}`` or ``{"outcome": "crash", "signature":
{...}, "error": "..."}``.  A native crash ends the process instead; the
caller reads the sanitizer's report from standard error
(:func:`fuzz.crashes.of_native`).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from . import crashes, registry


def outcome(target: str, data: bytes) -> dict[str, Any]:
    function = registry.TARGETS[target].function
    try:
        function(data)
    except Exception as exc:
        signature = crashes.of_exception(exc, registry.TARGETS[target].implementation)
        return {"outcome": "crash", "signature": signature.to_json(), "error": repr(exc)[:1000]}
    return {"outcome": "pass"}


def replay_seeds(target: str) -> int:
    from . import corpora

    implementation = registry.TARGETS[target].implementation
    unknown = known = 0
    seeds = corpora.seeds(target)
    for seed in seeds:
        answer = outcome(target, seed)
        if answer["outcome"] == "pass":
            continue
        signature = crashes.Signature.from_json(answer["signature"])
        row = crashes.finding_of(signature, implementation)
        if row is None:
            unknown += 1
            print(json.dumps({"seed": seed.hex(), **answer}), flush=True)
        else:
            known += 1
    print(json.dumps({"target": target, "seeds": len(seeds), "known": known, "unknown": unknown}))
    return 1 if unknown else 0


def main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[0] not in registry.TARGETS:
        print(
            f"usage: python -m fuzz.repro TARGET (FILE... | --serve); targets: {', '.join(registry.TARGETS)}"
        )
        return 2
    target, rest = argv[0], argv[1:]
    if rest == ["--seeds"]:
        return replay_seeds(target)
    if rest == ["--serve"]:
        for line in sys.stdin:
            print(json.dumps(outcome(target, bytes.fromhex(line.strip()))), flush=True)
        return 0
    status = 0
    for name in rest:
        answer = outcome(target, Path(name).read_bytes())
        print(json.dumps({"file": name, **answer}), flush=True)
        status |= answer["outcome"] != "pass"
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
