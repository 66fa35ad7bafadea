"""``regression`` vectors: inputs that once crashed or misled an implementation.

Each test names the ``implementation`` and ``version`` where the problem
was found, its ``finding`` (docs/findings), the implementations it is
replayed against (``replay_on``), and ``expected``: what *every*
implementation must do now.  It is replayed in one of six ways
(``mode``):

``x-parse``
    one parser entry (``entry``, ``input``); ``expected.answers`` lists the
    answers that pass (an exception reported as ``x-crash`` never does).
``receive``
    a fresh account (fixture key ``alice``, instance tag 0x100, the
    default policy, seed ``alice``) receives ``inputs`` from ``bob``.
``session``
    the target (as ``alice``) and a seeded engine (``bob``) complete an
    AKE in OTR ``version``; the engine then seals ``plaintext_hex`` into a
    correctly encrypted and MACed Data Message (and applies ``craft`` to
    it, if given) and the target receives it, or the target receives
    ``wire`` as it is; with ``then``, the engine next sends that text,
    which the target must show (the session survived).
``forge``
    the engine (``alice``) sends a D-H Commit; the target (``bob``) answers
    with a D-H Key; the engine answers with a Reveal Signature that is
    correctly encrypted and MACed with the AKE's keys but whose signed part
    is ``signed_part_hex``; the target receives it.  Any correspondent can
    send this: it knows c and m2 from its own half of the AKE.
``steps``
    recorded wires, replayed against a seeded engine in-process: each step
    receives ``receive`` and must put exactly ``out`` on the network and
    report ``events`` (the engine is deterministic when seeded, so its
    answers are part of the vector).
``conversation``
    the target and a seeded engine follow ``script`` (``target query``,
    ``peer query``, ``deliver N``, ``drop N``, ``flush``); then
    ``expected.checks`` hold: ``secure`` (both sides report a completed AKE
    after the last query), ``fresh_ake_values`` (no D-H Commit, D-H Key or
    revealed r appears in two different AKEs).

Tests found by fuzzing (group "fuzzed", from 501) are one line each of
``vectors/regression/fuzzed.jsonl``, written by ``otrcheck fuzz triage``
(``fuzz/regressions.py``): the line holds the test's fields, including the
``fuzz_target`` that found the input, the input as that target took it
(``fuzz_input_hex``: ``python -m fuzz.repro TARGET FILE`` runs it) and the
crash ``signature`` it was deduplicated by.

For ``receive``, ``session`` and ``forge``, ``expected.outcomes`` lists the
acceptable outcomes (one for ``valid`` / ``invalid``, several for
``acceptable``).  An outcome holds when every event the target reported has
a signature in ``events``, ``require`` or ``require_any``, every signature in
``require`` and at least one in ``require_any`` (if any) was reported, and
every message it sent is of a type in ``sends``.  Event
signatures: ``message:<text>`` (plaintext), ``encrypted message:<text>``,
``error:<code>``, ``remote_error``, ``secure``, ``insecure``,
``finished``, ``smp:<result>``, ``symkey``.  An ``error:x-crash`` (an
exception escaping the library) is never in any list.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from implementations.api import Adapter, ErrorRaised, Event, MessageReceived, Result
from implementations.engine import EngineAdapter, _crypto, _wire
from implementations.engine._codec import data as data_field
from implementations.engine._codec import uint
from implementations.engine._crypto import DsaPublic
from implementations.engine._tlv import Tlv, encode_plaintext

from ..model import Target, Vector, Verdict
from . import _capture, _otrbin
from ._common import Group, NotServed, crashed, document, guarded, note, show, version_skip, x_parse

KIND = "regression"
FILENAME = "regressions.json"
IMPLEMENTATIONS = ("engine", "libotr", "potr")

NOTES = {
    "Crash": note("Crash", "The input made the implementation raise or crash."),
    "Misclassified": note("Functionality", "The input was classified as something it is not."),
    "Lenient": note("EdgeCase", "The implementation accepted input the spec does not define."),
    "CVE": note("CVE", "The input class of a published vulnerability."),
    "Session": note("Functionality", "Needs a private session: replayed after a live AKE with the engine."),
    "Recorded": note(
        "Functionality",
        "Recorded wires replayed against a seeded engine; its exact answers are part of the vector.",
    ),
    "StateMachine": note("Functionality", "A sequence of messages that once left an AKE unable to complete."),
    "Fuzzed": note(
        "Functionality",
        "Found by a fuzz target (fuzz/), minimized and filed by `otrcheck fuzz triage` "
        "(vectors/regression/fuzzed.jsonl).",
    ),
}
FUZZED = Path(__file__).resolve().parents[1] / "regression" / "fuzzed.jsonl"
"""The tests triage filed: one JSON object per line, the fields of one test each."""

MALFORMED = ["error:malformed", "error:ignored", "error:unreadable"]
"""What an implementation may report for a message it cannot use."""
ERROR_REPLY = ["error", "query"]
"""What it may send back: an Error Message, or (ERROR_START_AKE on the other side) nothing else."""


# ---------------------------------------------------------------- signatures


def signature(event: Event) -> str:
    if isinstance(event, MessageReceived):
        return f"{'encrypted message' if event.encrypted else 'message'}:{event.text}"
    if isinstance(event, ErrorRaised):
        return f"error:{event.code}"
    result = getattr(event, "result", None)
    return f"{event.type}:{result}" if event.type == "smp" else event.type


def wire_type(wire: str) -> str:
    """What a sent string is: query, error, plaintext, fragment or an encoded type (the engine's reading)."""
    message = _wire.parse(wire)
    if isinstance(message, _wire.QueryMessage):
        return "query"
    if isinstance(message, _wire.ErrorMessage):
        return "error"
    if isinstance(message, _wire.PlainText):
        return "plaintext"
    if isinstance(message, _wire.FragmentMarker):
        return "fragment"
    if isinstance(message, _wire.Malformed):
        return "malformed"
    return _otrbin.TYPES[int(message.header.type)]


def outcome(
    events: list[str] | None = None,
    require: list[str] | None = None,
    sends: list[str] | None = None,
    require_any: list[str] | None = None,
) -> dict[str, Any]:
    return {
        "events": events or [],
        "require": require or [],
        "require_any": require_any or [],
        "sends": sends or [],
    }


def refused() -> dict[str, Any]:
    """The outcome for unusable input: reported as malformed, ignored or unreadable; nothing else."""
    return outcome(require_any=MALFORMED, sends=ERROR_REPLY)


def matches(out: dict[str, Any], events: list[str], sent: list[str]) -> str | None:
    """Why the observation does not fit outcome ``out``, or None when it does."""
    allowed = set(out["events"]) | set(out["require"]) | set(out["require_any"])
    extra = [e for e in events if e not in allowed]
    missing = [r for r in out["require"] if r not in events]
    wrong_sends = [s for s in sent if s not in out["sends"]]
    problems = []
    if extra:
        problems.append(f"reported {extra}")
    if missing:
        problems.append(f"did not report {missing}")
    if out["require_any"] and not set(out["require_any"]) & set(events):
        problems.append(f"reported none of {out['require_any']}")
    if wrong_sends:
        problems.append(f"sent {wrong_sends}")
    return "; ".join(problems) or None


def judge(vector: Vector, results: list[Result]) -> Verdict:
    events = [signature(e) for r in results for e in r.events]
    sent = [wire_type(o.wire) for r in results for o in r.out]
    observed = {"events": events, "sends": sent}
    outcomes = vector.test["expected"]["outcomes"]
    reasons = [matches(o, events, sent) for o in outcomes]
    if any(reason is None for reason in reasons):
        return Verdict("passed", "", observed)
    return Verdict("failed", " / ".join(r for r in reasons if r), observed)


# ------------------------------------------------------------------ helpers


def _fresh(target: Target, name: str, version: int | None = None) -> Adapter:
    adapter = target.adapter
    _capture.init(adapter, name, version)
    return adapter


def _engine(name: str, version: int | None = None, seed: bytes | None = None) -> EngineAdapter:
    adapter = EngineAdapter()
    _capture.init(adapter, name, version, seed)
    return adapter


def _secured(link: _capture.Link) -> str | None:
    for name in link.adapters:
        if not any(e.type == "secure" for e in link.events.get(name, [])):
            return f"setup: {name} reported no completed AKE"
    return None


def _seal(engine: EngineAdapter, peer: str, plaintext: bytes) -> _wire.DataMessage:
    session = engine.engine.conversation(peer).current()
    assert session.keys is not None
    return session.keys.seal(session.header(_wire.MessageType.DATA), 0, plaintext)


def _craft(message: _wire.DataMessage, craft: str | None) -> str:
    wire = _wire.encode(message)
    if craft is None:
        return wire
    if craft == "encrypted_length_0xffffffff":
        raw = _otrbin.b64decode(wire[5:-1])
        at = len(message.authenticated_part()) - len(message.encrypted_message) - 4
        raw = raw[:at] + uint(0xFFFFFFFF) + raw[at + 4 :]
        return "?OTR:" + _otrbin.b64encode(raw) + "."
    raise ValueError(f"unknown craft {craft!r}")


# ------------------------------------------------------------------- replay


def replay(vector: Vector, target: Target) -> Verdict:
    test = vector.test
    if target.name not in test["replay_on"]:
        return Verdict("skipped", f"this regression is replayed on {', '.join(test['replay_on'])} only")
    skip = version_skip(target, test.get("otr_version"))
    if skip is not None:
        return skip
    runner: Callable[[Vector, Target], Verdict] = _MODES[test["mode"]]
    return guarded(lambda: runner(vector, target), f"{target.name} {test['mode']}")


def _replay_x_parse(vector: Vector, target: Target) -> Verdict:
    test = vector.test
    try:
        answer = x_parse(target, test["entry"], test["input"])
    except NotServed as exc:
        return Verdict("skipped", f"x-parse {test['entry']}: {exc}")
    if crashed(answer) is not None:
        return Verdict("failed", f"raised {crashed(answer)}", answer)
    if answer in test["expected"]["answers"]:
        return Verdict("passed", "", answer)
    return Verdict("failed", f"{show(answer)}, expected one of {show(test['expected']['answers'])}", answer)


def _replay_receive(vector: Vector, target: Target) -> Verdict:
    adapter = _fresh(target, _capture.ALICE)
    results = [adapter.receive(_capture.BOB, wire) for wire in vector.test["inputs"]]
    return judge(vector, results)


def _replay_session(vector: Vector, target: Target) -> Verdict:
    test = vector.test
    version = test["otr_version"]
    link = _capture.Link(
        {
            _capture.ALICE: _fresh(target, _capture.ALICE, version),
            _capture.BOB: _engine(_capture.BOB, version),
        }
    )
    link.act(_capture.ALICE, "query")
    link.flush()
    problem = _secured(link)
    if problem is not None:
        return Verdict("failed", problem)
    bob = link.adapters[_capture.BOB]
    assert isinstance(bob, EngineAdapter)
    if "wire" in test:
        wire = test["wire"]
    else:
        wire = _craft(_seal(bob, _capture.ALICE, bytes.fromhex(test["plaintext_hex"])), test.get("craft"))
    verdict = judge(vector, [link.adapters[_capture.ALICE].receive(_capture.BOB, wire)])
    then = test.get("then")
    if verdict.status == "passed" and then is not None:
        link.events[_capture.ALICE] = []
        link.act(_capture.BOB, "send", then)
        link.flush()
        shown = [signature(e) for e in link.events.get(_capture.ALICE, [])]
        if shown != [f"encrypted message:{then}"]:
            return Verdict(
                "failed", f"afterwards the session is broken: {shown} for {then!r}", verdict.observed
            )
    return verdict


def _replay_forge(vector: Vector, target: Target) -> Verdict:
    test = vector.test
    version = test["otr_version"]
    forger = _engine(_capture.ALICE, version)
    victim = _fresh(target, _capture.BOB, version)
    commits = forger.receive(_capture.BOB, f"?OTRv{version}?").out
    if [wire_type(o.wire) for o in commits] != ["dh_commit"]:
        return Verdict("failed", "setup: the engine sent no D-H Commit")
    keys = victim.receive(_capture.ALICE, commits[0].wire).out
    if [wire_type(o.wire) for o in keys] != ["dh_key"]:
        return Verdict(
            "failed", f"setup: {target.name} answered the D-H Commit with {[o.wire[:12] for o in keys]}"
        )
    reveal = forger.receive(_capture.BOB, keys[0].wire).out
    if [wire_type(o.wire) for o in reveal] != ["reveal_signature"]:
        return Verdict("failed", "setup: the engine sent no Reveal Signature")
    forged = forge_reveal(forger, reveal[0].wire, bytes.fromhex(test["signed_part_hex"]))
    return judge(vector, [victim.receive(_capture.ALICE, forged)])


def forge_reveal(forger: EngineAdapter, wire: str, signed: bytes) -> str:
    """``wire`` (the forger's Reveal Signature) with ``signed`` as X_B, encrypted and MACed correctly."""
    message = _wire.parse(wire)
    assert isinstance(message, _wire.RevealSignature)
    conv = forger.engine.conversation(_capture.BOB)
    ake = next(s.ake for s in conv.sessions() if s.ake._keys is not None)
    keys = ake._keys
    assert keys is not None
    encrypted = _crypto.aes_ctr(keys.c, _crypto.ZERO_CTR, signed)
    mac = _crypto.hmac_sha256_160(keys.m2, data_field(encrypted))
    return _wire.encode(replace(message, encrypted_signature=encrypted, mac=mac))


def _replay_steps(vector: Vector, target: Target) -> Verdict:
    if not isinstance(target.adapter, EngineAdapter):
        return Verdict("skipped", "recorded engine answers: replayed on the in-process engine only")
    test = vector.test
    adapter = _fresh(target, test["account"], test.get("otr_version"))
    for i, step in enumerate(test["steps"], 1):
        result = adapter.receive(test["peer"], step["receive"])
        out = [o.wire for o in result.out]
        events = [signature(e) for e in result.events]
        if out != step["out"] or events != step["events"]:
            return Verdict(
                "failed",
                f"step {i}: sent {[w[:16] for w in out]}, reported {events}; expected "
                f"{[w[:16] for w in step['out']]}, {step['events']}",
                {"events": events},
            )
    return Verdict("passed", "", {"steps": len(test["steps"])})


def _replay_conversation(vector: Vector, target: Target) -> Verdict:
    test = vector.test
    version = test["otr_version"]
    seed = test.get("seed", "")
    target_name, peer_name = test["target_plays"], test["peer_plays"]
    link = _capture.Link({})
    link.adapters[target_name] = target.adapter
    _capture.init(target.adapter, target_name, version, f"{target_name}{seed}".encode())
    link.adapters[peer_name] = _engine(peer_name, version, f"{peer_name}{seed}".encode())
    names = {"target": target_name, "peer": peer_name}
    ake_starts: list[int] = []
    for step in test["script"]:
        verb, _, arg = step.partition(" ")
        if verb in names:
            ake_starts.append(len(link.transcript))
            for name in link.adapters:
                link.events[name] = []
            link.act(names[verb], arg)
        elif verb == "deliver":
            for _ in range(int(arg)):
                link.deliver_one()
        elif verb == "drop":
            del link.queue[: int(arg)]
        elif verb == "flush":
            link.flush()
        else:
            raise ValueError(f"unknown script step {step!r}")
    problems = []
    checks = test["expected"]["checks"]
    if "secure" in checks:
        problem = _secured(link)
        if problem is not None:
            problems.append(problem.replace("setup: ", "after the last query, "))
    if "fresh_ake_values" in checks:
        problems += _reused(link.transcript, ake_starts)
    observed = {name: [signature(e) for e in events] for name, events in link.events.items()}
    return Verdict("failed", "; ".join(problems), observed) if problems else Verdict("passed", "", observed)


def _reused(transcript: list[_capture.Sent], starts: list[int]) -> list[str]:
    """AKE values (hashed gx, gy, r) that appear in more than one AKE of the transcript."""
    seen: dict[tuple[str, str], int] = {}
    problems = []
    for index, sent in enumerate(transcript):
        if not sent.wire.startswith("?OTR:"):
            continue
        ake = sum(1 for start in starts if start <= index)
        decoded = _otrbin.decode(sent.wire)
        for field in ("hashed_gx", "gy", "revealed_key"):
            value = (decoded.fields or {}).get(field)
            if value is None:
                continue
            first = seen.setdefault((field, value), ake)
            if first != ake:
                problems.append(f"{field} of AKE {first} sent again in AKE {ake} by {sent.sender}")
    return problems


_MODES: dict[str, Callable[[Vector, Target], Verdict]] = {
    "x-parse": _replay_x_parse,
    "receive": _replay_receive,
    "session": _replay_session,
    "forge": _replay_forge,
    "steps": _replay_steps,
    "conversation": _replay_conversation,
}


# ----------------------------------------------------------------- generate


COMPOSITE_Q_SIGNED_PART = DsaPublic(p=23, q=4, g=2, y=3).encode() + uint(1) + b"\x01\x02"
"""X = PUBKEY(p=23, q=4, g=2, y=3) || keyid 1 || sig r=1, s=2: s has no inverse mod the composite q."""


def _recorded_composite_q(version: int) -> list[dict[str, Any]]:
    """ENGINE-002 as recorded wires: bob (seeded engine) gets alice's D-H Commit, then the forged reveal."""
    forger = _engine(_capture.ALICE, version)
    victim = _engine(_capture.BOB, version)
    commit = forger.receive(_capture.BOB, f"?OTRv{version}?").out[0].wire
    key = victim.receive(_capture.ALICE, commit)
    reveal = forger.receive(_capture.BOB, key.out[0].wire).out[0].wire
    forged = forge_reveal(forger, reveal, COMPOSITE_Q_SIGNED_PART)
    answer = victim.receive(_capture.ALICE, forged)
    return [
        {"receive": commit, "out": [o.wire for o in key.out], "events": [signature(e) for e in key.events]},
        {
            "receive": forged,
            "out": [o.wire for o in answer.out],
            "events": [signature(e) for e in answer.events],
        },
    ]


def _regression(
    g: Group,
    comment: str,
    result: str,
    flags: list[str],
    *,
    implementation: str,
    version: str,
    finding: str,
    mode: str,
    replay_on: tuple[str, ...] = IMPLEMENTATIONS,
    **fields: Any,
) -> None:
    g.add(
        comment,
        result,
        flags,
        implementation=implementation,
        version=version,
        finding=finding,
        mode=mode,
        replay_on=list(replay_on),
        **fields,
    )


def generate() -> dict[str, Any]:
    g = Group(1, 500, {"type": "regression", "source": "docs/findings; each test cites its finding"})
    potr, libotr, engine = "python-potr", "libotr", "engine"

    # POTR-001: bad base64 inside ?OTR: raised binascii.Error out of receiveMessage.
    for comment, wire in [
        ("the shortest input: nine characters reach potr's header decode", "?OTR:A!!!"),
        ("a v2 Data Message header, then one stray character", "?OTR:AAIDA."),
        ("a v2 Data Message cut short in transit (no padding, no '.')", "?OTR:AAIDAAAAAAEAAAABAAAAwA"),
    ]:
        _regression(
            g,
            f"POTR-001: {comment}: reported as malformed, never raised",
            "invalid",
            ["Crash"],
            implementation=potr,
            version="1.0.2",
            finding="POTR-001",
            mode="receive",
            inputs=[wire],
            expected={"outcomes": [refused()]},
        )
        _regression(
            g,
            f"POTR-001: {comment}: the parser classifies it without raising",
            "invalid",
            ["Crash"],
            implementation=potr,
            version="1.0.2",
            finding="POTR-001",
            mode="x-parse",
            entry="message_type",
            input=wire,
            expected={"answers": ["malformed", "unknown", "data"]},
        )
    # POTR-004: an unknown or truncated TLV escaped receiveMessage and lost the text.
    for comment, plaintext in [
        (
            "'hi' with TLV type 0x0100 (ChatSecure's OTRDATA): 'hi' is shown",
            encode_plaintext(b"hi", [Tlv(0x0100, b"x")]),
        ),
        ("'hi' then three bytes that are not a TLV header: 'hi' is shown", b"hi\x00\x00\x00\x00"),
        (
            "'hi' with SMP message 1 holding 5 MPIs: 'hi' is shown",
            encode_plaintext(b"hi", [Tlv(2, uint(5) + b"".join(uint(1) + bytes([i]) for i in range(1, 6)))]),
        ),
    ]:
        _regression(
            g,
            f"POTR-004: {comment}",
            "valid",
            ["Crash", "Session"],
            implementation=potr,
            version="1.0.2",
            finding="POTR-004",
            mode="session",
            otr_version=2,
            plaintext_hex=plaintext.hex(),
            then="next",
            expected={
                "outcomes": [
                    outcome(
                        ["error:malformed", "error:ignored", "smp:error", "smp:abort", "smp:cheated"],
                        ["encrypted message:hi"],
                        ["data"],
                    )
                ]
            },
        )
    for comment, blob, records in [
        ("TLV type 0x0100 is read, not raised", "0100000178", [[{"type": 256, "value": "78"}]]),
        ("three bytes are no TLV: nothing read, nothing raised", "000000", [[]]),
    ]:
        _regression(
            g,
            f"POTR-004: {comment}",
            "valid",
            ["Crash"],
            implementation=potr,
            version="1.0.2",
            finding="POTR-004",
            mode="x-parse",
            entry="tlv",
            input=blob,
            expected={"answers": records},
        )
    # LIBOTR-004: plaintext that merely mentions ?OTR is shown.
    for text in ("Do you use ?OTR at all?", "a ?OTR, b"):
        _regression(
            g,
            f"LIBOTR-004: {text!r} is shown as it is",
            "valid",
            ["Misclassified"],
            implementation=libotr,
            version="4.1.1",
            finding="LIBOTR-004",
            mode="receive",
            inputs=[text],
            expected={"outcomes": [outcome(require=[f"message:{text}"])]},
        )
    # LIBOTR-005: a query without its closing '?'.
    _regression(
        g,
        "LIBOTR-005: '?OTRv2 rocks' is shown, or taken for a v2 query (the spec needs the '?')",
        "acceptable",
        ["Lenient"],
        implementation=libotr,
        version="4.1.1",
        finding="LIBOTR-005",
        mode="receive",
        inputs=["?OTRv2 rocks"],
        expected={
            "outcomes": [
                outcome(require=["message:?OTRv2 rocks"]),
                outcome(["message: rocks", "message:rocks"], sends=["dh_commit"]),
            ]
        },
    )
    _regression(
        g,
        "LIBOTR-005: the query parser: 0 (strict) or 2 (lenient) for '?OTRv2 rocks'",
        "acceptable",
        ["Lenient"],
        implementation=libotr,
        version="4.1.1",
        finding="LIBOTR-005",
        mode="x-parse",
        entry="query_version",
        input="?OTRv2 rocks",
        expected={"answers": [0, 2]},
    )
    # LIBOTR-006: the base64 decoder accepts damaged input.
    for comment, text in [
        ("a space inside", "?OTR:QU JD."),
        ("a character outside the alphabet", "?OTR:Q!JD."),
        ("padding in the middle", "?OTR:AA=C."),
        ("an incomplete last group", "?OTR:QUJDRA."),
    ]:
        _regression(
            g,
            f"LIBOTR-006: base64 with {comment} is refused",
            "invalid",
            ["Lenient"],
            implementation=libotr,
            version="4.1.1",
            finding="LIBOTR-006",
            mode="x-parse",
            entry="base64",
            input=text,
            expected={"answers": [{"ok": False, "data": None}]},
        )
    # LIBOTR-012: an Error Message without a space after the colon.
    _regression(
        g,
        "LIBOTR-012: '?OTR Error:x' is an Error Message",
        "valid",
        ["Misclassified"],
        implementation=libotr,
        version="4.1.1",
        finding="LIBOTR-012",
        mode="receive",
        inputs=["?OTR Error:x"],
        expected={"outcomes": [outcome(require=["remote_error"], sends=["query"])]},
    )
    _regression(
        g,
        "LIBOTR-012 (contrast): '?OTR Error: x' is an Error Message",
        "valid",
        [],
        implementation=libotr,
        version="4.1.1",
        finding="LIBOTR-012",
        mode="receive",
        inputs=["?OTR Error: x"],
        expected={"outcomes": [outcome(require=["remote_error"], sends=["query"])]},
    )
    # CVE-2012-3461: ?OTR:===. made libotr before 3.2.1 allocate zero bytes and overflow.
    _regression(
        g,
        "CVE-2012-3461: '?OTR:===.' is received without a crash",
        "invalid",
        ["CVE", "Crash"],
        implementation=libotr,
        version="3.2.0 (fixed in 3.2.1)",
        finding="CVE-2012-3461",
        mode="receive",
        inputs=["?OTR:===."],
        expected={"outcomes": [refused()]},
    )
    _regression(
        g,
        "CVE-2012-3461: '?OTR:===.' is not base-64 of anything",
        "invalid",
        ["CVE", "Lenient"],
        implementation=libotr,
        version="3.2.0 (fixed in 3.2.1)",
        finding="CVE-2012-3461",
        mode="x-parse",
        entry="base64",
        input="?OTR:===.",
        expected={"answers": [{"ok": False, "data": None}]},
    )
    # CVE-2016-2851: a DATA length of 0xFFFFFFFF wrapped malloc(len + 1) in libotr up to 4.1.0.
    for version in (3, 2):
        data_wire = _capture.encoded(version)[4].wire
        raw = _otrbin.b64decode(data_wire[5:-1])
        header = 3 if version == 2 else 11
        next_dh = int.from_bytes(raw[header + 9 : header + 13], "big")
        at = header + 13 + next_dh + 8
        damaged = "?OTR:" + _otrbin.b64encode(raw[:at] + uint(0xFFFFFFFF) + raw[at + 4 :]) + "."
        _regression(
            g,
            f"CVE-2016-2851: a v{version} Data Message whose message length is 0xFFFFFFFF, outside a session",
            "invalid",
            ["CVE"],
            implementation=libotr,
            version="4.1.0 (fixed in 4.1.1)",
            finding="CVE-2016-2851",
            mode="receive",
            otr_version=version,
            inputs=[damaged],
            expected={"outcomes": [refused()]},
        )
    for version in (3, 2):
        _regression(
            g,
            f"CVE-2016-2851: inside a v{version} session, a Data Message whose message length is 0xFFFFFFFF",
            "invalid",
            ["CVE", "Session"],
            implementation=libotr,
            version="4.1.0 (fixed in 4.1.1)",
            finding="CVE-2016-2851",
            mode="session",
            otr_version=version,
            plaintext_hex=b"big".hex(),
            craft="encrypted_length_0xffffffff",
            then="still there?",
            expected={"outcomes": [refused()]},
        )
    # ENGINE-002: a composite q in the correspondent's DSA key raised out of receive.
    for version in (3, 2):
        _regression(
            g,
            f"ENGINE-002: v{version} Reveal Signature carrying a DSA key with q = 4, s = 2 is refused",
            "invalid",
            ["Crash"],
            implementation=engine,
            version="0.1.0 before 61f2c84's fix",
            finding="ENGINE-002",
            mode="forge",
            otr_version=version,
            signed_part_hex=COMPOSITE_Q_SIGNED_PART.hex(),
            expected={"outcomes": [refused()]},
        )
        _regression(
            g,
            f"ENGINE-002: the same, recorded against the seeded engine (v{version})",
            "invalid",
            ["Crash", "Recorded"],
            implementation=engine,
            version="0.1.0 before 61f2c84's fix",
            finding="ENGINE-002",
            mode="steps",
            replay_on=("engine",),
            otr_version=version,
            account=_capture.BOB,
            peer=_capture.ALICE,
            steps=_recorded_composite_q(version),
            expected={"steps": "every step's out and events, exactly"},
        )
    # ENGINE-001: a second AKE resent the D-H Commit (r revealed, x reused) of a completed one.
    for version in (3, 2):
        for seed in range(4):
            _regression(
                g,
                f"ENGINE-001: after an AKE the correspondent starts another: no AKE value reused "
                f"(v{version}, seed {seed})",
                "valid",
                ["StateMachine"],
                implementation=engine,
                version="0.1.0 before ENGINE-001's fix",
                finding="ENGINE-001",
                mode="conversation",
                otr_version=version,
                seed=f"/{seed}",
                target_plays=_capture.BOB,
                peer_plays=_capture.ALICE,
                script=["peer query", "flush", "target query", "flush"],
                expected={"checks": ["secure", "fresh_ake_values"]},
            )
    # ENGINE-003: after a lost Reveal Signature no later AKE with that instance completed.
    for version in (3, 2):
        for restarter in ("target", "peer"):
            _regression(
                g,
                f"ENGINE-003: a Reveal Signature is lost; the {restarter} starts again and the AKE "
                f"completes (v{version})",
                "valid",
                ["StateMachine"],
                implementation=engine,
                version="0.1.0 before ENGINE-003's fix",
                finding="ENGINE-003",
                mode="conversation",
                otr_version=version,
                target_plays=_capture.ALICE,
                peer_plays=_capture.BOB,
                script=["target query", "deliver 3", "drop 1", f"{restarter} query", "flush"],
                expected={"checks": ["secure"]},
            )
    lines = [
        "Inputs that once crashed or misled an implementation, and what every implementation must do now.",
        "Generated by vectors.kinds.regression.generate(); one test per finding with a concrete input.",
        "Group 'fuzzed' (from 501): inputs found by the fuzz targets, filed by otrcheck fuzz triage.",
    ]
    return document(KIND, "OTR-regression", lines, NOTES, [g, _fuzzed()])


def _fuzzed() -> Group:
    """The tests of ``fuzzed.jsonl``, in the order triage filed them."""
    g = Group(501, 500, {"type": "regression", "source": "otrcheck fuzz triage (fuzz/regressions.py)"})
    lines = FUZZED.read_text(encoding="utf-8").splitlines() if FUZZED.is_file() else []
    for line in filter(str.strip, lines):
        fields = json.loads(line)
        comment, result, flags = fields.pop("comment"), fields.pop("result"), fields.pop("flags")
        g.add(comment, result, flags, **fields)
    return g
