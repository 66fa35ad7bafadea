"""Checks every shim must pass (docs/peer-protocol.md, "Writing a shim"), for tests/otrjs and tests/otr3.

Each function takes an implementation name, starts its shim through the
registry (provisioning it on first use) and fails with the reason when it
cannot: a shim that could be provisioned here is never skipped.
"""

from __future__ import annotations

import json
from typing import Any

from harness import impls
from harness.conversation import Duo
from implementations.api import InitConfig, Policy
from implementations.engine import EngineAdapter
from implementations.fixtures import key
from implementations.peer import PeerProcess

INIT: dict[str, Any] = {
    "account": "alice",
    "protocol": "xmpp",
    "key": key("alice").to_json(),
    "instance_tag": 0x100,
}

# (request, why it is refused); each must be answered bad_request with the request's id.
BAD_REQUESTS: list[tuple[dict[str, Any], str]] = [
    ({"id": 3, "op": "frobnicate"}, "unknown op"),
    ({"id": 3}, "missing op"),
    ({"id": 3, "op": 7}, "op not a string"),
    ({"id": 3, "op": "send", "peer": "bob"}, "missing text"),
    ({"id": 3, "op": "send", "peer": "", "text": "x"}, "empty peer"),
    ({"id": 3, "op": "send", "peer": "bob", "text": 1}, "text not a string"),
    ({"id": 3, "op": "send", "peer": "bob", "text": "x", "extra": 1}, "unknown field"),
    ({"id": 3, "op": "init", **INIT, "instance_tag": -1}, "instance tag out of range"),
    ({"id": 3, "op": "init", **INIT, "instance_tag": 1 << 32}, "instance tag out of range"),
    ({"id": 3, "op": "init", **INIT, "instance_tag": True}, "instance tag a boolean"),
    ({"id": 3, "op": "init", **INIT, "policy": {"allow_v1": True}}, "unknown policy flag"),
    ({"id": 3, "op": "init", **INIT, "policy": {"allow_v3": 1}}, "policy flag not a boolean"),
    ({"id": 3, "op": "init", **INIT, "seed": "abc"}, "odd seed"),
    ({"id": 3, "op": "init", **INIT, "max_message_size": -1}, "negative size"),
    ({"id": 3, "op": "init", **INIT, "key": {**INIT["key"], "x": None}}, "key without x"),
    ({"id": 3, "op": "init", **INIT, "key": {**INIT["key"], "z": "1"}}, "unknown key field"),
    ({"id": 3, "op": "symkey", "peer": "bob", "use": 1.5, "usedata": ""}, "use not an integer"),
    ({"id": 3, "op": "symkey", "peer": "bob", "use": 1, "usedata": "123"}, "odd usedata"),
    ({"id": 3, "op": "smp_start", "peer": "bob", "secret": "s", "question": 5}, "question not a string"),
]

UNUSABLE_LINES = [
    "not json",
    "[1, 2]",
    "null",
    '{"op": "hello"}',
    '{"id": "1", "op": "hello"}',
    '{"id": 1.5}',
]


def start(name: str) -> PeerProcess:
    impl = impls.get(name)
    assert impl.available, f"{name} could not be provisioned here: {impl.unavailable}"
    adapter = impl.make()
    assert isinstance(adapter, PeerProcess)
    return adapter


def check_request_validation(name: str) -> None:
    with start(name) as peer:
        for request, why in BAD_REQUESTS:
            answer = peer.exchange_line(json.dumps(request))
            assert answer.get("ok") is False, (why, answer)
            assert answer["error"]["kind"] == "bad_request", (why, answer)
            assert answer["id"] == 3, (why, answer)
        for line in UNUSABLE_LINES:
            answer = peer.exchange_line(line)
            assert answer["id"] is None and answer["error"]["kind"] == "bad_request", (line, answer)
        ignored = peer.exchange_line(json.dumps({"id": 4, "op": "hello", "x-trace": [1]}))
        assert ignored["ok"] is True
        unknown_extension = peer.exchange_line(json.dumps({"id": 5, "op": "x-frobnicate"}))
        assert unknown_extension["error"]["kind"] == "unsupported"
        assert peer.hello().impl == name  # still serving after all that


def duo_with_engine(name: str, shim_is_alice: bool) -> tuple[Duo, PeerProcess]:
    """A Duo of the shim and the engine (v3, default policy, fixed seeds); the shim is the PeerProcess."""
    shim = start(name)
    made = iter([shim, EngineAdapter()] if shim_is_alice else [EngineAdapter(), shim])
    return Duo.create(lambda: next(made)), shim


def init_config(account: str, tag: int, seed: bytes | None, policy: Policy | None = None) -> InitConfig:
    return InitConfig(account, "xmpp", key(account), tag, policy or Policy(), 0, seed)


def run_scenario(scenario_id: str, a: str, b: str, seed: int = 1) -> str:
    """``PASS`` or ``FAIL: why`` for one matrix cell, with the cell seed the matrix gives it."""
    from harness.runner import cell_seed
    from harness.scenarios import load
    from harness.script import ExpectationFailed, Script

    scenario = load()[scenario_id]
    script = Script(cell_seed(seed, scenario_id, a, b), scenario.plan)
    started: list[Any] = []
    try:
        for side, role in scenario.roles:
            adapter = impls.get(a if side == "a" else b).make()
            started.append(adapter)
            script.add(role, adapter, "bob" if side == "a" else "alice")
        scenario.run(script)
    except (ExpectationFailed, AssertionError) as exc:
        return f"FAIL: {exc}"
    finally:
        for adapter in started:
            close = getattr(adapter, "close", None)
            if close is not None:
                close()
    return "PASS"
