"""How one input of a target becomes a regression test (vectors/kinds/regression.py), and the file of them.

Triage files every crash it names as one line of ``vectors/regression/fuzzed.jsonl``;
the regression kind's generator turns each line into a test of
``regressions.json`` (group "fuzzed", ids from 501), so ``otrcheck vectors
lint``, the generator check and the default test run treat them like every
other regression.

:func:`test_fields` expresses an input in one of the regression kind's
replay modes, so that it reaches the implementation exactly as it did in
the target:

* parser targets: ``x-parse`` with the entry and the input;
* receive targets in an authstate: ``receive``, the state's prefix then
  the input; in a private session: ``session`` with the input as the wire
  (``wire``) or, for sealed states, as the plaintext (``plaintext_hex``).

The expected behaviour is the reference's: the spec readers of the vectors
(``_otrbin``, ``tlv.records``, ``spec_reassemble``) for the engine's own
parser targets, the engine for everything else, observed by replaying the
test against the engine before it is written.  ``replay_on`` names the
implementation where the crash happened and the engine.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from implementations.engine import EngineAdapter, _wire
from implementations.engine import parsers as engine_parsers
from implementations.engine._fragments import FragmentError, parse_fragment
from vectors import loader, runner
from vectors.kinds import _otrbin, parse, regression
from vectors.kinds import fragment as fragment_vectors
from vectors.kinds import tlv as tlv_vectors
from vectors.model import Vector

from . import drivers, registry, states, targets

RECORDS = loader.ROOT / "regression" / "fuzzed.jsonl"
VERSIONS = {"engine": "0.1.0", "libotr": "4.1.1", "potr": "1.0.2"}
IMPLEMENTATION_NAMES = {"engine": "engine", "libotr": "libotr", "potr": "python-potr"}


class NotExpressible(Exception):
    """The input has no regression mode that replays it faithfully (the message says why)."""


def read(path: Path = RECORDS) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def append(record: dict[str, Any], path: Path = RECORDS) -> None:
    with path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(record, ensure_ascii=True, sort_keys=True) + "\n")


# ------------------------------------------------------------------- fields


def _selector(options: tuple[Any, ...], data: bytes) -> tuple[Any, bytes]:
    if not data:
        raise NotExpressible("an empty input selects nothing")
    return targets.pick(options, data)


def test_fields(target: str, data: bytes) -> dict[str, Any]:
    """The mode fields (and the expected answers of ``x-parse`` tests) that replay ``data`` of ``target``."""
    if target in ("engine_wire", "potr_parse"):
        return _parse_fields("message_type", targets.text(data), reference_is_engine=target != "engine_wire")
    if target in ("libotr_parse", "differential"):
        entry, rest = _selector(targets.DIFFERENTIAL_ENTRIES, data)
        given = rest.hex() if entry == "tlv" else drivers.cstring(targets.text(rest))
        return _parse_fields(entry, given, reference_is_engine=True)
    if target == "engine_tlv":
        _, nul, rest = data.partition(b"\0")
        if not nul:
            raise NotExpressible("no NUL: the input holds no TLVs, only text")
        records, _ = tlv_vectors.records(rest)
        return {"mode": "x-parse", "entry": "tlv", "input": rest.hex(), "expected": {"answers": [records]}}
    if target == "engine_fragments":
        cap, rest = targets.pick(targets.FRAGMENT_CAPS, data) if data else (targets.FRAGMENT_CAPS[0], b"")
        wires = targets.text(rest).split("\n")
        given = json.dumps({"fragments": wires, "max_chars": cap})
        answer = fragment_vectors.spec_reassemble(wires, cap)
        return {"mode": "x-parse", "entry": "reassemble", "input": given, "expected": {"answers": [answer]}}
    if target in ("engine_receive", "potr_receive", "libotr_receive"):
        all_states = drivers.potr_states() if target == "potr_receive" else states.engine_states()
        state, rest = _selector(all_states, data)
        return _receive_fields(state, rest)
    raise NotExpressible(f"{target}: no regression mode replays its inputs (SMP states need a live exchange)")


def _parse_fields(entry: str, given: str, reference_is_engine: bool) -> dict[str, Any]:
    if reference_is_engine:
        answer = engine_parsers.parse(entry, given)
        answers = [answer]
        if entry == "message_type" and answer in ("malformed", "fragment"):
            answers.append("unknown")
            if answer == "malformed" and "?OTR:" in given:
                answers.append(parse.prefix_classification(given)[0])
    elif given[given.find("?OTR") :].startswith("?OTR:"):
        decoded = _otrbin.decode(given[given.find("?OTR") :])
        answers = ["malformed" if decoded.reason else decoded.message_type]
    else:
        answers = [engine_parsers.parse(entry, given)]
    unique = [a for i, a in enumerate(answers) if a not in answers[:i]]
    return {"mode": "x-parse", "entry": entry, "input": given, "expected": {"answers": unique}}


def _receive_fields(state: states.State, rest: bytes) -> dict[str, Any]:
    if state.prefix is not None:
        return {"mode": "receive", "inputs": [*state.prefix, targets.text(rest)]}
    fields: dict[str, Any] = {"mode": "session", "otr_version": state.version}
    if state.sealed:
        fields["plaintext_hex"] = rest.hex()
    else:
        fields["wire"] = targets.text(rest)
    return fields


# ----------------------------------------------------------------- expected


def observe_on_engine(test: dict[str, Any]) -> dict[str, Any]:
    """What the engine does with ``test`` (a receive or session test): its events and sends."""
    probe = {**test, "tcId": 1, "comment": "", "flags": [], "result": "invalid", "replay_on": ["engine"]}
    probe["expected"] = {"outcomes": [regression.outcome()]}
    vector = Vector("regression", "fuzzed", 1, "", (), "invalid", probe)
    verdict = regression.replay(vector, runner.target_for("engine", EngineAdapter()))
    observed = verdict.observed
    if not isinstance(observed, dict) or "events" not in observed:
        raise NotExpressible(f"the engine cannot replay it: {verdict.detail}")
    return observed


def expected_outcome(observed: dict[str, Any]) -> dict[str, Any]:
    """The outcome that holds for what the engine did, widened to every equivalent refusal."""
    events, sends = list(observed["events"]), list(observed["sends"])
    refusing = [e for e in events if e in regression.MALFORMED]
    allowed = [e for e in events if e not in regression.MALFORMED]
    shown = [e for e in events if e.startswith(("message:", "encrypted message:"))]
    out_types = sends + (regression.ERROR_REPLY if "error" in sends else [])
    return regression.outcome(
        events=list(dict.fromkeys(allowed + (regression.MALFORMED if refusing else []))),
        require=list(dict.fromkeys(shown)),
        sends=list(dict.fromkeys(out_types)),
        require_any=regression.MALFORMED if refusing else None,
    )


def result(test: dict[str, Any]) -> str:
    """The vector's result: ``invalid`` when the reference refuses the input as malformed, else ``valid``."""
    expected = test.get("expected", {})
    if test.get("mode") != "x-parse":
        outcomes = expected.get("outcomes", [])
        return "invalid" if outcomes and all(o["require_any"] for o in outcomes) else "valid"
    entry, given = test["entry"], test["input"]
    if entry == "base64":
        return "invalid" if {"ok": False, "data": None} in expected["answers"] else "valid"
    if entry == "tlv":
        return "invalid" if tlv_vectors.records(bytes.fromhex(given))[1] is not None else "valid"
    if entry == "reassemble":
        return "valid"
    if "malformed" in expected["answers"]:  # the reference (for the engine's targets, the spec reader)
        return "invalid"
    message = _wire.parse(given)
    if isinstance(message, _wire.FragmentMarker):
        return "invalid" if isinstance(parse_fragment(given), FragmentError) else "valid"
    return "invalid" if isinstance(message, _wire.Malformed) else "valid"


def record(target: str, data: bytes, finding: str, signature: dict[str, Any], comment: str) -> dict[str, Any]:
    """The regression test for ``data`` of ``target``, with its expected behaviour filled in."""
    implementation = registry.TARGETS[target].implementation
    fields = test_fields(target, data)
    if fields["mode"] in ("receive", "session"):
        observed = observe_on_engine(fields)
        fields["expected"] = {"outcomes": [expected_outcome(observed)]}
        if fields["mode"] == "session" and "finished" not in observed["events"]:
            fields["then"] = "still there?"
    where = "all" if implementation == "all" else implementation
    crashed_in = where if where != "all" else signature.get("implementation", "engine")
    replay_on = [crashed_in] + (["engine"] if crashed_in != "engine" else [])
    return {
        "comment": comment,
        "finding": finding,
        "implementation": IMPLEMENTATION_NAMES[crashed_in],
        "version": VERSIONS[crashed_in],
        "fuzz_target": target,
        "fuzz_input_hex": data.hex(),
        "signature": signature["key"],
        "replay_on": replay_on,
        **fields,
    }
