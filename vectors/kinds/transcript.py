"""Transcripts: whole conversations with every key and every random value fixed (Noise-style vectors).

A transcript is a harness scenario played engine against engine, in process,
with a fixed seed, and written down as it happened:

* each role's setup: account, DSA key (the key itself sits in the group's
  ``keys``), instance tag, policy, ``max_message_size``, the exact seed its
  adapter was given, and its ``x-`` hooks;
* the steps, in order: user actions (``{"actor": "alice", "op": "send",
  "args": ["hi"]}``), ``status`` questions, and network deliveries
  (``{"deliver": {"packet": 3, "from": "alice", "to": "bob", "wire":
  "?OTR:..."}}``), each with the wires the actor then put on the network
  (``out``) and the events it raised (``events``, peer-protocol JSON).

Deliveries are what the network actually delivered, faults included
(drops, duplicates, reordering, injected and modified packets), so a replay
needs nothing of the scenario's code.

Replay (:func:`replay`):

* against the engine (deterministic, same seeds) every role is replayed on
  its own, fed exactly the recorded inputs; every wire it sends, every event,
  every status and every op answer must equal the recording, byte for byte;
* against any other implementation the target plays one role at a time and
  seeded engines play the others.  The target's wires differ, so the
  recorded user actions are re-run and whatever the two sides send is
  delivered in order, at the points where the recording delivered; what is
  compared is the *essence* of the events each side raised after each user
  action (type plus text and ``encrypted``, SMP result, secure version, error
  code, symkey use) and the msgstate each ``status`` reported.  ``ignored``
  errors are left out: the spec does not require an implementation to report
  what it ignores.  Transcripts with network faults are replayed byte for
  byte only: a fault aims at one particular recorded wire.

Recording needs the harness's scenario registry and its ``Script`` class,
and nothing under ``vectors/`` may import the harness (style.md, "Layout";
``tests/test_imports.py``).  So the harness hands them in as a
:class:`ScenarioSource` (``ScenarioSource(harness.scenarios.load(),
harness.script.Script)``): as an argument, or once for all with
:func:`use_scenarios`.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from implementations.api import (
    Adapter,
    AdapterError,
    DsaKey,
    Hello,
    InitConfig,
    Policy,
    Result,
    Status,
    Unsupported,
)
from implementations.engine import EngineAdapter
from implementations.engine.parsers import message_type
from implementations.fixtures import fingerprint, key
from vectors.kinds._common import GENERATOR_VERSION
from vectors.loader import ROOT, canonical_json, vectors_of
from vectors.model import Target, Vector, Verdict

KIND = "transcript"
FILENAME = "otr_transcripts.json"
PATH = ROOT / KIND / FILENAME
SCHEMA = f"{KIND}.schema.json"
ALGORITHM = "OTR-transcript"
MAX_DELIVERIES = 2_000  # per drain in an events-level replay; the harness network's bound

# Each recorded transcript: (tcId, scenario id, seed).  A tcId is never reused; new entries get new ids.
RECORDED: tuple[tuple[int, str, int], ...] = (
    (1, "sanity/query-ake-message", 1),
    (2, "ake/v3-basic", 2),
    (3, "ake/v2-basic", 3),
    (4, "ake/bob-starts", 4),
    (5, "ake/simultaneous-start", 5),
    (6, "ake/simultaneous-start-alice-higher", 6),
    (7, "ake/v2-simultaneous-start-bob-higher", 7),
    (8, "ake/refresh", 8),
    (9, "version/v2-only-alice-queries", 9),
    (10, "version/v3-only-queries-v2-only", 10),
    (11, "start/query-v3", 11),
    (12, "start/query-v1-only", 12),
    (13, "start/whitespace-tag", 13),
    (14, "start/error-starts-ake", 14),
    (15, "data/ascii", 15),
    (16, "data/utf8", 16),
    (17, "data/empty", 17),
    (18, "data/otr-markers-inside", 18),
    (19, "data/one-way-burst", 19),
    (20, "data/interleaved", 20),
    (21, "frag/v3-1000-10k", 21),
    (22, "frag/v3-150-ake", 22),
    (23, "frag/v2-150-ake", 23),
    (24, "frag/v3-plain-interrupts", 24),
    (25, "frag/out-of-order", 25),
    (26, "smp/success", 26),
    (27, "smp/success-with-question", 27),
    (28, "smp/failure-different-secrets", 28),
    (29, "smp/bob-starts", 29),
    (30, "smp/abort-by-initiator", 30),
    (31, "smp/abort-by-responder", 31),
    (32, "smp/restart-in-progress", 32),
    (33, "smp/simultaneous-start", 33),
    (34, "smp/v2-success", 34),
    (35, "smp/v2-failure", 35),
    (36, "end/alice-ends", 36),
    (37, "end/bob-ends", 37),
    (38, "end/finished-refuses-text", 38),
    (39, "end/requery-after-end", 39),
    (40, "end/message-crossing-end", 40),
    (41, "symkey/alice-uses", 41),
    (42, "symkey/use-values", 42),
    (43, "symkey/not-in-v2", 43),
    (44, "instance/message-from-each-instance", 44),
    (45, "instance/interleaved-fragments", 45),
    (46, "policy/require-encryption-holds", 46),
    (47, "policy/require-encryption-both", 47),
    (48, "policy/require-encryption-peer-without-otr", 48),
    (49, "policy/plaintext-while-private", 49),
    (50, "net/drop-dh-key", 50),
    (51, "net/duplicate-dh-key", 51),
    (52, "net/duplicate-data", 52),
    (53, "net/reorder-data", 53),
    (54, "net/delayed-data-across-rotation", 54),
    (55, "net/random-faults-then-progress", 55),
    (56, "net/random-faults-in-ake-then-progress", 56),
    (57, "robust/tampered-ciphertext", 57),
    (58, "robust/replayed-data", 58),
    (59, "robust/injected-error-no-resend", 59),
    (60, "robust/reflected-data", 60),
    (61, "robust/forged-dh-key-gy-one", 61),
    (62, "robust/degenerate-base64", 62),
    (63, "version/v2-only-alice-is-queried", 63),
    (64, "version/v2-query-text", 64),
    (65, "version/whitespace-tag-v2-only-sender", 65),
    (66, "start/query-v1-v2", 66),
    (67, "start/query-future-versions", 67),
    (68, "start/whitespace-tag-stops", 68),
    (69, "frag/v2-1000-10k", 69),
    (70, "policy/otr-off", 70),
    (71, "robust/injected-error-no-resend-v2", 71),
    (72, "robust/replay-no-resend-v2", 72),
    (73, "version/v2-only-bob-queries", 73),
    (74, "ake/v2-simultaneous-start-alice-higher", 74),
)

NOTES: dict[str, dict[str, str]] = {
    "v2": {"bugType": "BASIC", "description": "A private conversation in OTR version 2 is established."},
    "v3": {"bugType": "BASIC", "description": "A private conversation in OTR version 3 is established."},
    "no-session": {
        "bugType": "FUNCTIONALITY",
        "description": "No private conversation results: the transcript checks what happens without one.",
    },
    "fragmented": {
        "bugType": "FUNCTIONALITY",
        "description": "Some messages cross the network in fragments (a max_message_size is set).",
    },
    "smp": {"bugType": "FUNCTIONALITY", "description": "The Socialist Millionaires' Protocol runs."},
    "symkey": {"bugType": "FUNCTIONALITY", "description": "The extra symmetric key (TLV 8) is asked for."},
    "end": {"bugType": "FUNCTIONALITY", "description": "A side ends the private conversation (TLV 1)."},
    "instances": {
        "bugType": "FUNCTIONALITY",
        "description": "One account is logged in twice: the v3 instance tags keep the sessions apart.",
    },
    "require-encryption": {
        "bugType": "FUNCTIONALITY",
        "description": "A side's policy has REQUIRE_ENCRYPTION.",
    },
    "whitespace-tag": {
        "bugType": "FUNCTIONALITY",
        "description": "A plaintext message carries the whitespace tag.",
    },
    "injected": {
        "bugType": "EDGE_CASE",
        "description": "A packet no actor sent is delivered (a query, an Error Message, plaintext or garbage"
        " typed by the scenario); its wire does not depend on the recorded keys, so events-level"
        " replays deliver it as recorded.",
    },
    "faults": {
        "bugType": "EDGE_CASE",
        "description": "The network drops, duplicates, reorders, delays or modifies packets, or delivers a"
        " forged one derived from recorded traffic.  Such a transcript is replayed byte for byte"
        " only.",
    },
}

HEADER = [
    "Complete OTR conversations recorded from otrcheck's harness scenarios, engine against engine,",
    "with both sides' keys and seeds fixed (the Noise protocol's test vectors are the model).",
    "Each test lists every step in order (user actions, status questions, network deliveries) with",
    "the wires the actor sent and the events it raised.  Deterministic implementations given the",
    "same keys and seeds must reproduce every wire and event byte for byte; the others are",
    "checked at the level of events.  See vectors/README.md (Provenance).",
]

# Injected packets of these kinds are typed by the scenario, not derived from recorded traffic.
SCRIPTED_KINDS = frozenset({"plaintext", "tagged_plaintext", "query", "error", "malformed"})
# What an events-level replay compares of each event type (besides the type).
ESSENCE_FIELDS: dict[str, tuple[str, ...]] = {
    "message": ("text", "encrypted"),
    "secure": ("version",),
    "smp": ("result",),
    "symkey": ("use", "usedata"),
    "error": ("code",),
}
USER_OPS = ("send", "query", "end", "smp_start", "smp_respond", "smp_abort", "symkey", "receive")


class RecordingError(RuntimeError):
    """A scenario could not be recorded (it failed engine against engine, or did something unrecordable)."""


class ReplayStorm(RuntimeError):
    """An events-level replay kept delivering past :data:`MAX_DELIVERIES` (the sides answer each other)."""


@dataclass(frozen=True)
class ScenarioSource:
    """Where transcripts come from: the scenario registry and the ``Script`` class, both from the harness.

    ``scenarios`` maps ids to objects with ``id``, ``doc``, ``needs``, ``roles``
    (``(side, Role)`` pairs), ``plan`` and ``run(script)``; ``script(seed, plan)``
    makes a fresh ``Script``.  Passed in because vectors may not import the harness.
    """

    scenarios: Mapping[str, Any]
    script: Callable[[int, Any], Any]


# ====================================================================== recording


class _Recorder:
    """Collects the steps of one run: every adapter call of every actor and every delivery, in order."""

    def __init__(self) -> None:
        self.steps: list[dict[str, Any]] = []
        self.configs: dict[str, InitConfig] = {}
        self.peers: dict[str, str] = {}
        self.delivering: Any = None  # the harness Packet being delivered right now, if any

    def attach(self, net: Any) -> None:
        """Wrap the network's delivery callback so that each receive knows the packet it carries."""
        deliver = net.deliver_to

        def traced(receiver: str, packet: Any) -> None:
            self.delivering = packet
            try:
                deliver(receiver, packet)
            finally:
                self.delivering = None
            self.steps[-1]["in_flight"] = len(net.queue)

        net.deliver_to = traced


class _RecordingAdapter:
    """An :class:`Adapter` in front of an engine adapter that writes every call into a :class:`_Recorder`."""

    def __init__(self, inner: Adapter, actor: str, recorder: _Recorder) -> None:
        self._inner = inner
        self._actor = actor
        self._rec = recorder

    def _check_peer(self, peer: str) -> None:
        expected = self._rec.peers.setdefault(self._actor, peer)
        if peer != expected:
            raise RecordingError(
                f"{self._actor} talks to {peer!r} and {expected!r}; a transcript has one peer"
            )

    def _act(self, op: str, peer: str, args: list[Any], call: Callable[[], Result]) -> Result:
        self._check_peer(peer)
        result = call()
        step: dict[str, Any] = {"actor": self._actor, "op": op, "args": args}
        step.update(_outcome(result))
        self._rec.steps.append(step)
        return result

    def hello(self) -> Hello:
        return self._inner.hello()

    def init(self, config: InitConfig) -> Result:
        self._rec.configs[self._actor] = config
        return self._inner.init(config)

    def send(self, peer: str, text: str) -> Result:
        return self._act("send", peer, [text], lambda: self._inner.send(peer, text))

    def receive(self, peer: str, wire: str) -> Result:
        packet = self._rec.delivering
        if packet is None:  # not through the network: the scenario called receive itself
            return self._act("receive", peer, [wire], lambda: self._inner.receive(peer, wire))
        result = self._inner.receive(peer, wire)
        deliver: dict[str, Any] = {
            "packet": packet.number,
            "from": peer,
            "sender": packet.sender,
            "to": self._actor,
            "wire": wire,
        }
        if packet.note:
            deliver["note"] = packet.note
        self._rec.steps.append({"deliver": deliver, **_outcome(result)})
        return result

    def query(self, peer: str) -> Result:
        return self._act("query", peer, [], lambda: self._inner.query(peer))

    def end(self, peer: str) -> Result:
        return self._act("end", peer, [], lambda: self._inner.end(peer))

    def smp_start(self, peer: str, secret: str, question: str | None) -> Result:
        return self._act(
            "smp_start", peer, [secret, question], lambda: self._inner.smp_start(peer, secret, question)
        )

    def smp_respond(self, peer: str, secret: str) -> Result:
        return self._act("smp_respond", peer, [secret], lambda: self._inner.smp_respond(peer, secret))

    def smp_abort(self, peer: str) -> Result:
        return self._act("smp_abort", peer, [], lambda: self._inner.smp_abort(peer))

    def symkey(self, peer: str, use: int, usedata: bytes) -> Result:
        return self._act("symkey", peer, [use, usedata.hex()], lambda: self._inner.symkey(peer, use, usedata))

    def status(self, peer: str) -> Status:
        self._check_peer(peer)
        status = self._inner.status(peer)
        self._rec.steps.append({"actor": self._actor, "op": "status", "args": [], "status": status.to_json()})
        return status

    def quit(self) -> None:
        self._inner.quit()


def _outcome(result: Result) -> dict[str, Any]:
    outcome: dict[str, Any] = {
        "out": [out.to_json() for out in result.out],
        "events": [event.to_json() for event in result.events],
    }
    if result.fields:
        outcome["fields"] = dict(result.fields)
    return outcome


def record(scenario: Any, seed: int, source: ScenarioSource) -> dict[str, Any]:
    """Play ``scenario`` engine against engine with ``seed`` and return its test (without ``tcId``).

    Raises :class:`RecordingError` if the scenario does not pass: only conversations the engine
    gets right are worth recording.
    """
    script = source.script(seed, scenario.plan)
    recorder = _Recorder()
    recorder.attach(script.net)
    peers = {"a": "bob", "b": "alice"}  # as the runner casts them: side a talks to bob, side b to alice
    for side, role in scenario.roles:
        script.add(role, _RecordingAdapter(EngineAdapter(), role.name, recorder), peers[side])
    try:
        scenario.run(script)
    except (AssertionError, AdapterError, RuntimeError) as exc:
        raise RecordingError(f"{scenario.id} (seed {seed}) fails engine against engine: {exc}") from exc
    _number_outputs(recorder.steps, script.net)
    roles = []
    for side, role in scenario.roles:
        config = recorder.configs[role.name]
        if config.seed is None:
            raise RecordingError(f"{scenario.id}: {role.name} was not seeded")
        roles.append(
            {
                "name": role.name,
                "side": side,
                "account": config.account,
                "peer": recorder.peers.get(role.name, peers[side]),
                "key": role.key,
                "instance_tag": config.instance_tag,
                "policy": config.policy.to_json(),
                "max_message_size": config.max_message_size,
                "seed": config.seed.hex(),
                "hooks": dict(config.extra),
            }
        )
    faults, injected = _faults(recorder.steps, script.net)
    test: dict[str, Any] = {
        "comment": scenario.doc,
        "flags": _flags(recorder.steps, roles, faults, injected),
        "result": "valid",
        "scenario": scenario.id,
        "seed": seed,
        "needs": _needs(scenario, recorder.steps, roles),
        "roles": roles,
        "steps": recorder.steps,
    }
    if faults:
        test["faults"] = faults
    return test


def _number_outputs(steps: list[dict[str, Any]], net: Any) -> None:
    """Give each sent wire the number the network gave its packet (posting happens in call order)."""
    posted = iter(net.sent)
    for step in steps:
        for out in step.get("out", []):
            packet = next(posted)
            if packet.wire != out["wire"]:
                raise RecordingError(f"packet {packet.number} is not the wire its sender returned")
            out["packet"] = packet.number


def _faults(steps: list[dict[str, Any]], net: Any) -> tuple[list[str], bool]:
    """What the network did besides in-order delivery, and whether scripted packets were injected.

    In order means: every packet posted is delivered once, in the order of posting, or is still in
    flight at the end, after everything delivered.  A scripted injection (a query, an Error
    Message, plaintext, garbage) is not a fault: its wire does not depend on recorded traffic.
    """
    faults: list[str] = []
    if net.plan.active:
        faults.append(f"random faults: {net.plan}")
    injected = False
    order: list[int] = []
    for index, step in enumerate(steps):
        deliver = step.get("deliver")
        if deliver is None:
            continue
        note = deliver.get("note", "")
        if note == "injected":
            if message_type(deliver["wire"]) in SCRIPTED_KINDS:
                injected = True
            else:
                faults.append(f"step {index}: a forged {message_type(deliver['wire'])} is injected")
        elif note:
            faults.append(f"step {index}: packet {deliver['packet']} delivered {note}")
        if not order or order[-1] != deliver["packet"]:
            order.append(deliver["packet"])
    if any(later <= earlier for earlier, later in itertools.pairwise(order)):
        faults.append("packets are delivered out of the order they were posted")
    posted = {packet.number for packet in net.sent}
    pending = {packet.number for packet in net.queue}
    lost = sorted(posted - set(order) - pending)
    if lost:
        faults.append(f"packets {lost} are never delivered")
    if pending and order and min(pending) < max(order):
        faults.append(f"packets {sorted(pending)} are overtaken and left in flight")
    return sorted(set(faults), key=faults.index), injected


def _secure_versions(steps: Sequence[dict[str, Any]]) -> set[int]:
    return {e["version"] for step in steps for e in step.get("events", []) if e["type"] == "secure"}


def _flags(
    steps: list[dict[str, Any]], roles: list[dict[str, Any]], faults: list[str], injected: bool
) -> list[str]:
    ops = {step["op"] for step in steps if "op" in step}
    versions = _secure_versions(steps)
    wires = [out["wire"] for step in steps for out in step.get("out", [])]
    kinds = {message_type(wire) for wire in wires}
    flags = [f"v{v}" for v in sorted(versions)] or ["no-session"]
    flags += [
        flag
        for flag, present in (
            ("fragmented", "fragment" in kinds),
            ("smp", any(op.startswith("smp_") for op in ops)),
            ("symkey", "symkey" in ops),
            ("end", "end" in ops),
            ("instances", len(roles) > 2),
            ("require-encryption", any(r["policy"]["require_encryption"] for r in roles)),
            ("whitespace-tag", "tagged_plaintext" in kinds),
            ("injected", injected),
            ("faults", bool(faults)),
        )
        if present
    ]
    return flags


def _needs(scenario: Any, steps: list[dict[str, Any]], roles: list[dict[str, Any]]) -> list[str]:
    """What an implementation must have to play a role: the scenario's needs and what the run used."""
    needs = set(scenario.needs) | {f"v{v}" for v in _secure_versions(steps)}
    ops = [step for step in steps if "op" in step]
    wires = [out["wire"] for step in steps for out in step.get("out", [])]
    if any(step["op"].startswith("smp_") for step in ops):
        needs.add("smp")
    if any(step["op"] == "smp_start" and step["args"][1] is not None for step in ops):
        needs.add("smp_question")
    if any(step["op"] == "symkey" for step in ops):
        needs.add("symkey")
    if any(message_type(wire) == "fragment" for wire in wires):
        needs.add("fragmentation")
    if len(roles) > 2:
        needs.add("instance_tags")
    if any(r["policy"]["require_encryption"] for r in roles):
        needs.add("require_encryption")
    if any(r["policy"]["send_whitespace_tag"] for r in roles):
        needs.add("whitespace_tag")
    return sorted(needs)


_registered: ScenarioSource | None = None


def use_scenarios(source: ScenarioSource) -> None:
    """Make ``source`` what :func:`generate` and :func:`record_cli` record from when given none.

    The harness calls this (it may import vectors; vectors may not import it), so that the generic
    ``generate()`` of the kind contract works from ``otrcheck vectors ...``.
    """
    global _registered
    _registered = source


def _source(source: ScenarioSource | None) -> ScenarioSource:
    found = source or _registered
    if found is None:
        raise RecordingError(
            "transcripts are recorded from the harness's scenarios, which vectors may not import: pass a "
            "ScenarioSource(harness.scenarios.load(), harness.script.Script) or register one with "
            "vectors.kinds.transcript.use_scenarios(...)"
        )
    return found


def generate(source: ScenarioSource | None = None) -> dict[str, Any]:
    """The transcript file: every entry of :data:`RECORDED`, recorded afresh (deterministic)."""
    found = _source(source)
    tests = []
    for tc_id, scenario_id, seed in RECORDED:
        test = record(_scenario(found, scenario_id), seed, found)
        tests.append({"tcId": tc_id, **test})
    return document(tests)


def document(tests: list[dict[str, Any]]) -> dict[str, Any]:
    """A Wycheproof-style document holding ``tests`` (and the fixture keys their roles use)."""
    names = sorted({role["key"] for test in tests for role in test["roles"]})
    keys = {name: {**key(name).to_json(), "fingerprint": fingerprint(name)} for name in names}
    return {
        "algorithm": ALGORITHM,
        "schema": SCHEMA,
        "generatorVersion": GENERATOR_VERSION,
        "numberOfTests": len(tests),
        "header": HEADER,
        "notes": {flag: NOTES[flag] for flag in sorted({f for test in tests for f in test["flags"]})},
        "testGroups": [{"type": "TranscriptTest", "keys": keys, "tests": tests}],
    }


def _scenario(source: ScenarioSource, scenario_id: str) -> Any:
    try:
        return source.scenarios[scenario_id]
    except KeyError:
        raise RecordingError(f"no scenario {scenario_id!r}") from None


def load_vectors(doc: dict[str, Any] | None = None) -> list[Vector]:
    """The tests of a transcript document (by default the committed file) as :class:`Vector` objects."""
    return list(vectors_of(PATH, doc))


# ======================================================================= replay


def replay(vector: Vector, target: Target) -> Verdict:
    """Byte-exact replay against the engine; events-level replay against everyone else."""
    try:
        if target.name == "engine" and target.deterministic:
            return _replay_exact(vector, target.adapter)
        return _replay_events(vector, target)
    except Unsupported as exc:
        return Verdict("skipped", f"{target.name} cannot: {exc.detail}")
    except AdapterError as exc:
        return Verdict("failed", f"{exc.kind} error from {target.name}: {exc.detail}")
    except ReplayStorm as exc:
        return Verdict("failed", f"{target.name}: {exc}")


def _config(vector: Vector, role: dict[str, Any]) -> InitConfig:
    keys = vector.group.get("keys", {})
    dsa = DsaKey.from_json(keys[role["key"]]) if role["key"] in keys else key(role["key"])
    return InitConfig(
        account=role["account"],
        protocol="otrcheck",
        key=dsa,
        instance_tag=role["instance_tag"],
        policy=Policy.from_json(role["policy"]),
        max_message_size=role["max_message_size"],
        seed=bytes.fromhex(role["seed"]),
        extra=dict(role["hooks"]),
    )


def _call(adapter: Adapter, peer: str, op: str, args: Sequence[Any]) -> Result:
    if op == "symkey":
        return adapter.symkey(peer, args[0], bytes.fromhex(args[1]))
    method: Callable[..., Result] = getattr(adapter, op)
    return method(peer, *args)


def _describe(step: dict[str, Any]) -> str:
    if "deliver" in step:
        d = step["deliver"]
        return f"packet {d['packet']} {d['sender']}->{d['to']} ({message_type(d['wire'])})"
    args = ", ".join(repr(a)[:40] for a in step["args"])
    return f"{step['actor']}.{step['op']}({args})"


def _first_difference(expected: str, got: str) -> str:
    at = next((i for i, (a, b) in enumerate(zip(expected, got, strict=False)) if a != b), None)
    if at is None:
        at = min(len(expected), len(got))
    start = max(0, at - 8)
    return (
        f"first difference at character {at} (lengths {len(expected)}/{len(got)}): "
        f"expected ...{expected[start : at + 24]!r}, got ...{got[start : at + 24]!r}"
    )


def _compare_exact(index: int, step: dict[str, Any], result: Result) -> str | None:
    where = f"step {index} ({_describe(step)})"
    want_out = [(o["to"], o["wire"]) for o in step["out"]]
    got_out = [(o.to, o.wire) for o in result.out]
    if len(want_out) != len(got_out):
        return f"{where}: sent {len(got_out)} wires, the transcript has {len(want_out)}"
    for n, ((want_to, want), (got_to, got)) in enumerate(zip(want_out, got_out, strict=True)):
        if want_to != got_to:
            return f"{where}: wire {n} went to {got_to!r}, the transcript says {want_to!r}"
        if want != got:
            return f"{where}: wire {n} differs: {_first_difference(want, got)}"
    want_events, got_events = step["events"], [e.to_json() for e in result.events]
    if want_events != got_events:
        n = next(
            (i for i, (a, b) in enumerate(zip(want_events, got_events, strict=False)) if a != b),
            min(len(want_events), len(got_events)),
        )
        want_n = want_events[n] if n < len(want_events) else None
        got_n = got_events[n] if n < len(got_events) else None
        return f"{where}: event {n} is {got_n}, the transcript has {want_n}"
    want_fields, got_fields = step.get("fields", {}), dict(result.fields)
    if want_fields != got_fields:
        return f"{where}: op answer {got_fields}, the transcript has {want_fields}"
    return None


def _replay_exact(vector: Vector, adapter: Adapter) -> Verdict:
    """Feed each role, in turn and on its own, exactly its recorded inputs; all outputs must match."""
    steps = vector.test["steps"]
    wires = 0
    for role in vector.test["roles"]:
        name, peer = role["name"], role["peer"]
        adapter.init(_config(vector, role))
        for index, step in enumerate(steps):
            deliver = step.get("deliver")
            if deliver is not None:
                if deliver["to"] != name:
                    continue
                result = adapter.receive(deliver["from"], deliver["wire"])
            elif step["actor"] != name:
                continue
            elif step["op"] == "status":
                got = adapter.status(peer).to_json()
                if got != step["status"]:
                    return Verdict(
                        "failed",
                        f"as {name}: step {index} ({_describe(step)}): {got}, expected {step['status']}",
                    )
                continue
            else:
                result = _call(adapter, peer, step["op"], step["args"])
            problem = _compare_exact(index, step, result)
            if problem is not None:
                return Verdict("failed", f"as {name}: {problem}", observed=result.to_json())
            wires += len(result.out)
    return Verdict("passed", f"{len(steps)} steps, {wires} wires byte-exact")


# ------------------------------------------------------------- events level


def essence(event: dict[str, Any]) -> str | None:
    """What an events-level replay compares of one event (``None``: not compared)."""
    if event["type"] == "error" and event.get("code") == "ignored":
        return None
    if event["type"] == "message" and message_type(event["text"]) == "query":
        # A Query Message shown as text (OTR off): its explanatory part is each implementation's own.
        event = {**event, "text": "<Query Message>"}
    fields = ", ".join(f"{name}={event.get(name)!r}" for name in ESSENCE_FIELDS.get(event["type"], ()))
    return f"{event['type']}({fields})"


def _status_essence(status: dict[str, Any]) -> str:
    if status["msgstate"] == "encrypted":
        return f"encrypted v{status['version']}"
    return str(status["msgstate"])


@dataclass
class _Live:
    """The in-order network of an events-level replay, and what each actor raised in each segment."""

    adapters: dict[str, Adapter]
    accounts: dict[str, list[str]]
    queue: deque[tuple[str, str, str, str]] = field(default_factory=deque)  # sender, account, to, wire
    segment: int = -1  # index of the last user action; -1 before the first
    raised: dict[tuple[int, str], list[str]] = field(default_factory=dict)

    def take(self, actor: str, account: str, result: Result) -> None:
        found = [e for e in (essence(ev.to_json()) for ev in result.events) if e is not None]
        self.raised.setdefault((self.segment, actor), []).extend(found)
        for out in result.out:
            self.queue.append((actor, account, out.to, out.wire))

    def deliver(self, sender: str, account: str, to: str, wire: str, only: str | None = None) -> None:
        for actor in self.accounts.get(to, []):
            if actor != sender and (only is None or actor == only):
                self.take(actor, to, self.adapters[actor].receive(account, wire))

    def deliver_next(self) -> None:
        if self.queue:
            self.deliver(*self.queue.popleft())

    def drain(self) -> None:
        for _ in range(MAX_DELIVERIES):
            if not self.queue:
                return
            self.deliver_next()
        raise ReplayStorm(f"more than {MAX_DELIVERIES} deliveries without the network going quiet")


def _recorded_essence(steps: Sequence[dict[str, Any]]) -> dict[tuple[int, str], list[str]]:
    raised: dict[tuple[int, str], list[str]] = {}
    segment = -1
    for index, step in enumerate(steps):
        if step.get("op") in USER_OPS:
            segment = index
        actor = step["deliver"]["to"] if "deliver" in step else step["actor"]
        found = [e for e in (essence(ev) for ev in step.get("events", [])) if e is not None]
        raised.setdefault((segment, actor), []).extend(found)
    return raised


def _play_role(vector: Vector, target: Target, role_name: str) -> list[str]:
    """Run the transcript's user actions with ``target`` as ``role_name``; return the differences."""
    test = vector.test
    roles = {r["name"]: r for r in test["roles"]}
    adapters: dict[str, Adapter] = {}
    accounts: dict[str, list[str]] = {}
    for name, role in roles.items():
        adapters[name] = target.adapter if name == role_name else EngineAdapter()
        adapters[name].init(_config(vector, role))
        accounts.setdefault(role["account"], []).append(name)
    live = _Live(adapters, accounts)
    steps = test["steps"]
    problems: list[str] = []
    last_packet: int | None = None
    for index, step in enumerate(steps):
        deliver = step.get("deliver")
        if deliver is not None:
            if deliver.get("note") == "injected":
                live.deliver(
                    deliver["sender"],
                    deliver["from"],
                    roles[deliver["to"]]["account"],
                    deliver["wire"],
                    only=deliver["to"],
                )
            elif deliver["packet"] != last_packet:
                live.deliver_next()
            last_packet = deliver["packet"]
            following = steps[index + 1] if index + 1 < len(steps) else None
            if (following is None or "deliver" not in following) and step["in_flight"] == 0:
                live.drain()
            continue
        last_packet = None
        actor, role = step["actor"], roles[step["actor"]]
        if step["op"] == "status":
            state = _status_essence(adapters[actor].status(role["peer"]).to_json())
            recorded = _status_essence(step["status"])
            if state != recorded:
                who = "the target" if actor == role_name else "the engine"
                problems.append(
                    f"step {index} ({_describe(step)}): {actor} ({who}) is {state}, transcript: {recorded}"
                )
            continue
        live.segment = index
        live.take(actor, role["account"], _call(adapters[actor], role["peer"], step["op"], step["args"]))
    want_all, got_all = _recorded_essence(steps), live.raised
    for segment, actor in sorted(set(want_all) | set(got_all)):
        want, got = want_all.get((segment, actor), []), got_all.get((segment, actor), [])
        if want != got:
            after = (
                "before any user action"
                if segment < 0
                else f"after step {segment} ({_describe(steps[segment])})"
            )
            who = "the target" if actor == role_name else "the engine"
            problems.append(f"{after}: {actor} ({who}) raised {got}, transcript: {want}")
    return problems


def _replay_events(vector: Vector, target: Target) -> Verdict:
    if "faults" in vector.flags:
        return Verdict("skipped", "faults are only replayed byte-for-byte")
    have = set(target.features) | {f"v{v}" for v in target.protocol_versions}
    missing = sorted(set(vector.test["needs"]) - have)
    if missing:
        return Verdict("skipped", f"{target.name} lacks {', '.join(missing)}")
    report: dict[str, list[str]] = {}
    for role in vector.test["roles"]:
        report[role["name"]] = _play_role(vector, target, role["name"])
    failing = {name: problems for name, problems in report.items() if problems}
    if failing:
        detail = "; ".join(f"as {name}: {problems[0]}" for name, problems in failing.items())
        return Verdict("failed", f"events differ {detail}", observed=report)
    return Verdict("passed", f"events match playing {', '.join(report)}", observed=report)


# ========================================================================== CLI


def record_cli(args: argparse.Namespace, source: ScenarioSource | None = None) -> int:
    """``otrcheck vectors record --scenario ID [--seed N] [--out FILE]``: one transcript, as a file.

    The file has the shape of :data:`PATH` with the one test (``tcId`` 1); it is checked by a
    byte-exact replay against the in-process engine before it is written.
    """
    found = _source(source)
    seed = 1 if getattr(args, "seed", None) is None else int(args.seed)
    test = record(_scenario(found, args.scenario), seed, found)
    doc = document([{"tcId": 1, **test}])
    verdict = _replay_exact(load_vectors(doc)[0], EngineAdapter())
    if verdict.status != "passed":
        print(f"recorded, but the replay fails: {verdict.detail}", file=sys.stderr)
        return 1
    text = canonical_json(doc)
    out = getattr(args, "out", None)
    if out in (None, "-"):
        sys.stdout.write(text)
    else:
        Path(out).write_text(text, encoding="utf-8")
        print(f"{args.scenario} (seed {seed}): {len(test['steps'])} steps, {verdict.detail} -> {out}")
    return 0


def add_record_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``otrcheck vectors record``."""
    parser.add_argument("--scenario", required=True, help="scenario id, e.g. smp/success")
    parser.add_argument("--seed", type=int, default=1, help="the Script seed (default 1)")
    parser.add_argument("--out", default="-", help="file to write (default: standard output)")


def _iter_verdicts(paths: Sequence[str]) -> Iterator[tuple[Vector, Verdict]]:
    for path in paths or [str(PATH)]:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
        for vector in vectors_of(Path(path), doc):
            yield vector, replay(vector, Target("engine", EngineAdapter(), deterministic=True))


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m vectors.kinds.transcript replay [FILE...]``: byte-exact replay against the engine.

    Recording needs the harness (see the module docstring), so it is ``otrcheck vectors record``.
    """
    parser = argparse.ArgumentParser(prog="python -m vectors.kinds.transcript")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("replay", help="replay transcript files byte for byte against the in-process engine")
    run.add_argument("files", nargs="*", help=f"transcript files (default: {PATH.name})")
    args = parser.parse_args(argv)
    failed = 0
    for vector, verdict in _iter_verdicts(args.files):
        failed += verdict.status != "passed"
        print(f"{verdict.status.upper():7} {vector.ident} {vector.test['scenario']}: {verdict.detail}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
