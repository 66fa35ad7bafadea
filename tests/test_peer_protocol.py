"""The peer protocol (docs/peer-protocol.md): the JSON-lines server and the subprocess client.

A fake adapter defined here answers every op with canned results carrying
one event of every type; a few ``send`` texts make it misbehave (raise,
print to stdout, exit, crash, hang) so that both ends' failure handling can
be checked.  The subprocess tests run this same fake behind
:func:`serve_stdio` in a child Python.
"""

from __future__ import annotations

import io
import json
import os
import signal
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from implementations.api import (
    EVENT_TYPES,
    Adapter,
    AdapterError,
    BadRequest,
    DsaKey,
    ErrorRaised,
    Event,
    Hello,
    InitConfig,
    MessageReceived,
    Outgoing,
    Policy,
    RemoteErrorReceived,
    Result,
    SessionFinished,
    SessionInsecure,
    SessionSecured,
    SmpUpdated,
    Status,
    SymkeyReceived,
    Unsupported,
    event_from_json,
)
from implementations.peer import (
    OPS,
    PeerCrashed,
    PeerProcess,
    PeerProtocolError,
    decode_request,
    dispatch,
    parse_event,
    parse_hello,
    parse_result,
    parse_status,
    serve,
)

ROOT = Path(__file__).resolve().parents[1]
PEER = "bob@example.org"

KEY = DsaKey(p=0xF7E1A085D69B3DDE, q=0x9760508F15230BCC, g=0x2, y=0x1234ABCD, x=0x42)
HELLO = Hello("fake", "0.0.1", (2, 3), ("smp", "symkey"), True, {"x-build": "test"})
STATUS = Status(
    msgstate="encrypted",
    version=3,
    ssid="0011223344556677",
    fingerprint="a" * 40,
    peer_fingerprint="b" * 40,
    instance_tag=0x100,
    peer_instance_tag=0x12345678,
    smp="expect1",
    extra={"x-their-keyid": 2},
)
SYMKEY = "5e" * 32


def sample_events(peer: str) -> list[Event]:
    """One event of every type, some with ``x-`` extras and non-ASCII text."""
    return [
        MessageReceived(sender=peer, text="hi \u2603", encrypted=True, extra={"x-tlvs": [0]}),
        SessionSecured(peer, 3, "0011223344556677", "b" * 40, False),
        SessionInsecure(peer),
        SessionFinished(peer),
        SmpUpdated(peer, "ask", "Where did we meet?"),
        SmpUpdated(peer, "success"),
        SymkeyReceived(peer, 1, "beef", SYMKEY),
        RemoteErrorReceived(peer, "You sent me an unreadable encrypted message"),
        ErrorRaised(peer, "malformed", "bad base64", extra={"x-offset": 7}),
    ]


def _set_no_core_dump() -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _print_noise() -> None:
    print("noise from print")
    sys.stdout.flush()
    os.write(1, b"noise on descriptor 1\n")


def _segfault() -> None:
    _set_no_core_dump()
    os.kill(os.getpid(), signal.SIGSEGV)


def _raise(exc: Exception) -> Callable[[], None]:
    def action() -> None:
        raise exc

    return action


MISBEHAVIOURS: dict[str, Callable[[], None]] = {
    "raise unsupported": _raise(Unsupported("no SMP here")),
    "raise bad_request": _raise(BadRequest("unknown peer")),
    "raise internal": _raise(AdapterError("library said no")),
    "raise runtime": _raise(RuntimeError("boom")),
    "print": _print_noise,
    "exit": lambda: os._exit(3),
    "segv": _segfault,
    "sleep": lambda: time.sleep(2),
}


class FakeAdapter:
    """Records every call; answers with one outgoing message and :func:`sample_events`."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def _answer(self, op: str, **kwargs: Any) -> Result:
        self.calls.append((op, kwargs))
        peer = kwargs.get("peer", PEER)
        return Result([Outgoing(peer, f"?OTR:{op}."), Outgoing(peer, "?OTR,2,2,b.,")], sample_events(peer))

    def hello(self) -> Hello:
        self.calls.append(("hello", {}))
        return HELLO

    def init(self, config: InitConfig) -> Result:
        return self._answer("init", config=config)

    def send(self, peer: str, text: str) -> Result:
        if text in MISBEHAVIOURS:
            MISBEHAVIOURS[text]()
        if text == "wrong type":
            return 42  # type: ignore[return-value]
        if text == "unserializable":
            return Result(fields={"x-blob": b"\x00"})
        return self._answer("send", peer=peer, text=text)

    def receive(self, peer: str, wire: str) -> Result:
        return self._answer("receive", peer=peer, wire=wire)

    def query(self, peer: str) -> Result:
        return self._answer("query", peer=peer)

    def end(self, peer: str) -> Result:
        return self._answer("end", peer=peer)

    def smp_start(self, peer: str, secret: str, question: str | None) -> Result:
        return self._answer("smp_start", peer=peer, secret=secret, question=question)

    def smp_respond(self, peer: str, secret: str) -> Result:
        return self._answer("smp_respond", peer=peer, secret=secret)

    def smp_abort(self, peer: str) -> Result:
        return self._answer("smp_abort", peer=peer)

    def symkey(self, peer: str, use: int, usedata: bytes) -> Result:
        result = self._answer("symkey", peer=peer, use=use, usedata=usedata)
        result.fields["key"] = SYMKEY
        return result

    def status(self, peer: str) -> Status:
        self.calls.append(("status", {"peer": peer}))
        return STATUS

    def quit(self) -> None:
        self.calls.append(("quit", {}))


INIT: dict[str, Any] = {
    "account": "alice@example.org",
    "protocol": "xmpp",
    "key": KEY.to_json(),
    "instance_tag": 0x100,
    "policy": {"allow_v2": False, "require_encryption": True},
    "max_message_size": 140,
    "seed": "00ff",
}

VALID: dict[str, dict[str, Any]] = {
    "hello": {},
    "init": INIT,
    "send": {"peer": PEER, "text": "hello"},
    "receive": {"peer": PEER, "wire": "?OTRv3?"},
    "query": {"peer": PEER},
    "end": {"peer": PEER},
    "smp_start": {"peer": PEER, "secret": "s3cret", "question": "Q?"},
    "smp_respond": {"peer": PEER, "secret": "s3cret"},
    "smp_abort": {"peer": PEER},
    "symkey": {"peer": PEER, "use": 1, "usedata": "beef"},
    "status": {"peer": PEER},
    "quit": {},
}

OPTIONAL = {("init", "policy"), ("init", "max_message_size"), ("init", "seed"), ("smp_start", "question")}


def run(
    lines: list[Any], adapter: FakeAdapter | None = None
) -> tuple[list[dict[str, Any]], int, FakeAdapter]:
    """Feed ``lines`` (objects are JSON-encoded, strings sent as they are) through :func:`serve`."""
    adapter = FakeAdapter() if adapter is None else adapter
    text = "".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines)
    out = io.StringIO()
    code = serve(adapter, io.StringIO(text), out)
    assert out.getvalue() == "" or out.getvalue().endswith("\n")
    return [json.loads(line) for line in out.getvalue().splitlines()], code, adapter


def request(op: str, rid: int = 1, **fields: Any) -> dict[str, Any]:
    return {"id": rid, "op": op, **VALID[op], **fields}


def only_error(lines: list[Any]) -> dict[str, Any]:
    (response,), _, adapter = run(lines)
    assert response["ok"] is False, response
    assert set(response) == {"id", "ok", "error"}
    assert set(response["error"]) == {"kind", "detail"}
    assert adapter.calls == []
    return response


# ------------------------------------------------------------------- serve()


def test_every_op_gets_one_response_in_order_with_its_id() -> None:
    ops = [op for op in VALID if op != "quit"]
    responses, code, _ = run([request(op, rid=100 + i) for i, op in enumerate(ops)])
    assert code == 0
    assert [r["id"] for r in responses] == [100 + i for i in range(len(ops))]
    for response in responses:
        assert response["ok"] is True, response
        assert isinstance(response["out"], list)
        assert isinstance(response["events"], list)


def test_ops_call_the_adapter_with_converted_arguments() -> None:
    _, _, adapter = run([request(op) for op in VALID if op not in ("hello", "status", "quit")])
    calls = dict(adapter.calls)
    config = calls["init"]["config"]
    assert config == InitConfig(
        account="alice@example.org",
        protocol="xmpp",
        key=KEY,
        instance_tag=0x100,
        policy=Policy(allow_v2=False, require_encryption=True),
        max_message_size=140,
        seed=b"\x00\xff",
    )
    assert calls["send"] == {"peer": PEER, "text": "hello"}
    assert calls["receive"] == {"peer": PEER, "wire": "?OTRv3?"}
    assert calls["smp_start"] == {"peer": PEER, "secret": "s3cret", "question": "Q?"}
    assert calls["symkey"] == {"peer": PEER, "use": 1, "usedata": b"\xbe\xef"}


def test_result_becomes_out_and_events_in_order() -> None:
    (response,), _, _ = run([request("receive")])
    assert response == {
        "id": 1,
        "ok": True,
        "out": [{"to": PEER, "wire": "?OTR:receive."}, {"to": PEER, "wire": "?OTR,2,2,b.,"}],
        "events": [e.to_json() for e in sample_events(PEER)],
    }


def test_hello_answers_its_fields_and_empty_out_and_events() -> None:
    (response,), _, _ = run([{"id": 7, "op": "hello"}])
    assert response == {"id": 7, "ok": True, "out": [], "events": [], **HELLO.to_json()}


def test_status_answers_a_status_object() -> None:
    (response,), _, _ = run([request("status")])
    assert response == {"id": 1, "ok": True, "out": [], "events": [], "status": STATUS.to_json()}


def test_symkey_answers_the_key_beside_out_and_events() -> None:
    (response,), _, _ = run([request("symkey")])
    assert response["key"] == SYMKEY
    assert len(response["events"]) == len(sample_events(PEER))


def test_init_without_optional_fields_takes_defaults() -> None:
    init = {k: v for k, v in INIT.items() if k in ("account", "protocol", "key", "instance_tag")}
    (response,), _, adapter = run([{"id": 1, "op": "init", **init}])
    assert response["ok"] is True
    config = adapter.calls[0][1]["config"]
    assert (config.policy, config.max_message_size, config.seed) == (Policy(), 0, None)


def test_init_policy_flags_missing_take_policy_defaults() -> None:
    (response,), _, adapter = run([request("init", policy={"send_whitespace_tag": True})])
    assert response["ok"] is True
    assert adapter.calls[0][1]["config"].policy == Policy(send_whitespace_tag=True)


def test_smp_start_without_question_passes_none() -> None:
    _, _, adapter = run([{"id": 1, "op": "smp_start", "peer": PEER, "secret": "s"}])
    assert adapter.calls == [("smp_start", {"peer": PEER, "secret": "s", "question": None})]


def test_symkey_usedata_may_be_empty() -> None:
    _, _, adapter = run([request("symkey", usedata="")])
    assert adapter.calls[0][1]["usedata"] == b""


REQUIRED = [(op, name) for op, fields in VALID.items() for name in fields if (op, name) not in OPTIONAL]


@pytest.mark.parametrize(("op", "name"), REQUIRED)
def test_missing_required_field_is_bad_request(op: str, name: str) -> None:
    req = request(op, rid=5)
    del req[name]
    response = only_error([req])
    assert response["id"] == 5
    assert response["error"]["kind"] == "bad_request"
    assert name in response["error"]["detail"]


WRONG_TYPES: list[tuple[str, str, Any]] = [
    ("init", "account", 5),
    ("init", "account", ""),
    ("init", "protocol", None),
    ("init", "key", "deadbeef"),
    ("init", "key", [1, 2]),
    ("init", "key", {**KEY.to_json(), "x": None}),
    ("init", "key", {**KEY.to_json(), "p": 123}),
    ("init", "key", {**KEY.to_json(), "q": "0x12"}),
    ("init", "key", {**KEY.to_json(), "g": ""}),
    ("init", "key", {**KEY.to_json(), "z": "1"}),
    ("init", "instance_tag", "256"),
    ("init", "instance_tag", True),
    ("init", "instance_tag", 256.0),
    ("init", "instance_tag", -1),
    ("init", "instance_tag", 1 << 32),
    ("init", "policy", []),
    ("init", "policy", {"allow_v3": 1}),
    ("init", "policy", {"allow_v1": True}),
    ("init", "max_message_size", -1),
    ("init", "max_message_size", "140"),
    ("init", "max_message_size", False),
    ("init", "seed", "abc"),
    ("init", "seed", "zz"),
    ("init", "seed", "ab cd"),
    ("init", "seed", 12),
    ("send", "peer", ""),
    ("send", "peer", ["bob"]),
    ("send", "text", None),
    ("send", "text", 1),
    ("receive", "wire", {"wire": "?OTR"}),
    ("query", "peer", None),
    ("end", "peer", 0),
    ("smp_start", "secret", 1234),
    ("smp_start", "question", 5),
    ("smp_respond", "secret", None),
    ("smp_abort", "peer", True),
    ("symkey", "use", "1"),
    ("symkey", "use", -1),
    ("symkey", "use", 1.5),
    ("symkey", "usedata", "0x12"),
    ("symkey", "usedata", "123"),
    ("symkey", "usedata", None),
    ("status", "peer", {}),
]


@pytest.mark.parametrize(("op", "name", "value"), WRONG_TYPES)
def test_field_of_wrong_type_or_range_is_bad_request(op: str, name: str, value: Any) -> None:
    response = only_error([request(op, rid=9, **{name: value})])
    assert response["id"] == 9
    assert response["error"]["kind"] == "bad_request"


@pytest.mark.parametrize("op", sorted(OPS))
def test_unknown_plain_field_is_bad_request(op: str) -> None:
    response = only_error([request(op, extra=1)])
    assert response["error"]["kind"] == "bad_request"
    assert "extra" in response["error"]["detail"]


@pytest.mark.parametrize("op", sorted(OPS))
def test_extension_fields_are_ignored(op: str) -> None:
    extensions: dict[str, Any] = {"x-trace": "abc", "x-n": 1}
    (response,), _, adapter = run([request(op, **extensions)])
    assert response["ok"] is True
    assert [call[0] for call in adapter.calls] == [op]


def test_extension_fields_inside_key_and_policy_are_ignored() -> None:
    init = {**INIT, "key": {**KEY.to_json(), "x-bits": 1024}, "policy": {"x-v4": True}}
    (response,), _, adapter = run([{"id": 1, "op": "init", **init}])
    assert response["ok"] is True
    assert adapter.calls[0][1]["config"].policy == Policy()


@pytest.mark.parametrize(
    "req",
    [{"id": 1, "op": "frobnicate"}, {"id": 1}, {"id": 1, "op": 3}],
    ids=["unknown", "missing", "not-a-string"],
)
def test_bad_op_is_bad_request_with_id(req: dict[str, Any]) -> None:
    response = only_error([req])
    assert response["id"] == 1
    assert response["error"]["kind"] == "bad_request"


def test_extension_op_to_an_adapter_without_extensions_is_unsupported() -> None:
    response = only_error([{"id": 1, "op": "x-frobnicate", "a": 1}])
    assert response["id"] == 1
    assert response["error"]["kind"] == "unsupported"


class _WithExtensions:
    """A minimal adapter with one extension op, for the extension dispatch tests."""

    def extension(self, op: str, fields: dict[str, Any]) -> Result:
        if op != "x-echo":
            raise Unsupported(f"no {op}")
        return Result([Outgoing("bob", "wire")], [], {"echo": fields})


def test_extension_op_reaches_the_adapter_with_its_fields_and_answers_its_result() -> None:
    response = dispatch(_WithExtensions(), {"id": 7, "op": "x-echo", "a": [1, 2], "b": None})  # type: ignore[arg-type]
    assert response == {
        "id": 7,
        "ok": True,
        "out": [{"to": "bob", "wire": "wire"}],
        "events": [],
        "echo": {"a": [1, 2], "b": None},
    }
    refused = dispatch(_WithExtensions(), {"id": 8, "op": "x-other"})  # type: ignore[arg-type]
    assert refused["error"]["kind"] == "unsupported"


@pytest.mark.parametrize(
    "line",
    [
        "this is not json",
        '{"id": 1, "op": "hello"',
        '{"id": 1, "op": "hello", "x-n": NaN}',
        "[1, 2]",
        "3",
        '"hello"',
        "null",
        '{"op": "hello"}',
        '{"id": "1", "op": "hello"}',
        '{"id": true, "op": "hello"}',
        '{"id": 1.5, "op": "hello"}',
        '{"id": null, "op": "hello"}',
    ],
)
def test_unusable_line_gets_bad_request_with_null_id(line: str) -> None:
    response = only_error([line])
    assert response["id"] is None
    assert response["error"]["kind"] == "bad_request"


def test_server_keeps_serving_after_bad_lines_and_skips_blank_ones() -> None:
    responses, code, _ = run(["garbage", "", "   ", "[]", {"id": 2, "op": "hello"}])
    assert [(r["id"], r["ok"]) for r in responses] == [(None, False), (None, False), (2, True)]
    assert code == 0


@pytest.mark.parametrize(
    ("text", "kind", "detail"),
    [
        ("raise unsupported", "unsupported", "no SMP here"),
        ("raise bad_request", "bad_request", "unknown peer"),
        ("raise internal", "internal", "library said no"),
        ("raise runtime", "internal", "RuntimeError('boom')"),
    ],
)
def test_adapter_exceptions_become_error_kinds_and_serving_continues(
    text: str, kind: str, detail: str
) -> None:
    responses, _, _ = run([request("send", rid=1, text=text), request("query", rid=2)])
    assert responses[0] == {"id": 1, "ok": False, "error": {"kind": kind, "detail": detail}}
    assert responses[1]["ok"] is True


def test_adapter_answer_of_wrong_type_is_internal_error() -> None:
    (response,), _, _ = run([request("send", text="wrong type")])
    assert response["error"]["kind"] == "internal"
    assert "int" in response["error"]["detail"]


def test_unserializable_adapter_answer_is_internal_error() -> None:
    responses, _, _ = run([request("send", rid=4, text="unserializable"), request("query", rid=5)])
    assert responses[0]["id"] == 4
    assert responses[0]["error"]["kind"] == "internal"
    assert responses[1]["ok"] is True


def test_foreign_error_kinds_travel_as_internal() -> None:
    class Crashing(FakeAdapter):
        def query(self, peer: str) -> Result:
            raise PeerCrashed("child died", reason="exited", returncode=3)

    (response,), _, _ = run([request("query")], Crashing())
    assert response["error"] == {"kind": "internal", "detail": "crashed: child died"}


def test_quit_answers_ok_and_stops_the_loop() -> None:
    responses, code, adapter = run([request("quit", rid=3), request("hello", rid=4)])
    assert responses == [{"id": 3, "ok": True, "out": [], "events": []}]
    assert code == 0
    assert adapter.calls == [("quit", {})]


def test_malformed_quit_is_refused_and_serving_continues() -> None:
    responses, _, adapter = run([request("quit", rid=3, now=True), request("hello", rid=4)])
    assert [(r["id"], r["ok"]) for r in responses] == [(3, False), (4, True)]
    assert adapter.calls == [("hello", {})]


def test_end_of_input_stops_the_loop_with_status_zero() -> None:
    responses, code, adapter = run([request("hello")])
    assert (len(responses), code, adapter.calls) == (1, 0, [("hello", {})])


def test_dispatch_answers_non_objects_with_null_id() -> None:
    response = dispatch(FakeAdapter(), ["not", "an", "object"])
    assert response["id"] is None
    assert response["error"]["kind"] == "bad_request"


def test_decode_request_returns_id_op_and_adapter_kwargs() -> None:
    assert decode_request(request("symkey", rid=8, use=4)) == (
        8,
        "symkey",
        {"peer": PEER, "use": 4, "usedata": b"\xbe\xef"},
    )
    rid, op, kwargs = decode_request(request("init"))
    assert (rid, op, list(kwargs)) == (1, "init", ["config"])


def test_every_op_is_an_adapter_method() -> None:
    assert set(VALID) == OPS
    for op in OPS:
        assert callable(getattr(Adapter, op))


# -------------------------------------------------------------------- events


@pytest.mark.parametrize("event", sample_events(PEER), ids=lambda e: e.type)
def test_event_json_round_trips(event: Event) -> None:
    obj = json.loads(json.dumps(event.to_json()))
    assert obj["type"] == event.type
    assert event_from_json(obj) == event
    assert parse_event(obj) == event


def test_sample_events_cover_every_event_type() -> None:
    assert {type(e) for e in sample_events(PEER)} == set(EVENT_TYPES.values())


@pytest.mark.parametrize(
    "obj",
    [
        {"type": "telepathy", "peer": PEER},
        {"type": "insecure"},
        {"type": "message", "from": PEER, "text": "hi", "encrypted": "yes"},
        {
            "type": "secure",
            "peer": PEER,
            "version": "3",
            "ssid": "00",
            "peer_fingerprint": "f",
            "refreshed": False,
        },
        {"type": "smp", "peer": PEER, "result": "maybe"},
        {"type": "error", "peer": PEER, "code": "sad"},
        {"type": "finished", "peer": PEER, "reason": "bye"},
        "finished",
    ],
)
def test_parse_event_rejects_events_outside_the_protocol(obj: Any) -> None:
    with pytest.raises(PeerProtocolError):
        parse_event(obj)


def test_parse_event_accepts_extension_error_codes() -> None:
    event = parse_event({"type": "error", "peer": PEER, "code": "x-quirk"})
    assert event == ErrorRaised(PEER, "x-quirk")


def test_parse_status_puts_unknown_keys_in_extra() -> None:
    assert parse_status(STATUS.to_json()) == STATUS
    with pytest.raises(PeerProtocolError):
        parse_status({**STATUS.to_json(), "msgstate": "cozy"})
    with pytest.raises(PeerProtocolError):
        parse_status({k: v for k, v in STATUS.to_json().items() if k != "ssid"})
    with pytest.raises(PeerProtocolError):
        parse_status({**STATUS.to_json(), "instance_tag": "256"})


def test_parse_hello_and_result_check_shapes() -> None:
    assert parse_hello({"id": 1, "ok": True, "out": [], "events": [], **HELLO.to_json()}) == HELLO
    with pytest.raises(PeerProtocolError):
        parse_hello({"id": 1, "ok": True, "out": [], "events": [], **HELLO.to_json(), "features": "smp"})
    with pytest.raises(PeerProtocolError):
        parse_result({"id": 1, "ok": True, "events": []})
    with pytest.raises(PeerProtocolError):
        parse_result({"id": 1, "ok": True, "out": [{"to": PEER}], "events": []})
    result = parse_result({"id": 1, "ok": True, "out": [], "events": [], "key": "00", "x-n": 1})
    assert result.fields == {"key": "00", "x-n": 1}


# ---------------------------------------------------------------- PeerProcess

FAKE_PEER = """\
import importlib.util
import sys

spec = importlib.util.spec_from_file_location("fake_peer_module", {test_file!r})
module = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = module
spec.loader.exec_module(module)

from implementations.peer import serve_stdio

sys.exit(serve_stdio(module.FakeAdapter()))
"""


def child_env() -> dict[str, str]:
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "PYTHONPATH": path}


@pytest.fixture
def fake_peer(tmp_path: Path) -> Iterator[Callable[..., PeerProcess]]:
    """Start the fake adapter in a child Python behind ``serve_stdio``."""
    script = tmp_path / "fake_peer.py"
    script.write_text(FAKE_PEER.format(test_file=str(Path(__file__).resolve())))
    started: list[PeerProcess] = []

    def start(**kwargs: Any) -> PeerProcess:
        peer = PeerProcess([sys.executable, str(script)], env=child_env(), cwd=ROOT, **kwargs)
        started.append(peer)
        return peer

    yield start
    for peer in started:
        peer.close()


@pytest.fixture
def scripted_peer(tmp_path: Path) -> Iterator[Callable[..., PeerProcess]]:
    """Start a child that answers the n-th request line with ``answers[n]`` (``{id}`` filled in)."""
    started: list[PeerProcess] = []

    def start(answers: list[str], **kwargs: Any) -> PeerProcess:
        script = tmp_path / f"scripted_{len(started)}.py"
        script.write_text(
            textwrap.dedent(
                f"""\
                import json, sys
                for answer in {answers!r}:
                    line = sys.stdin.readline()
                    if not line:
                        break
                    try:
                        rid = json.loads(line).get("id")
                    except ValueError:
                        rid = None
                    sys.stdout.write(answer.replace("{{id}}", json.dumps(rid)) + "\\n")
                    sys.stdout.flush()
                """
            )
        )
        peer = PeerProcess([sys.executable, str(script)], **kwargs)
        started.append(peer)
        return peer

    yield start
    for peer in started:
        peer.close()


def expected_result(op: str, peer: str = PEER, **fields: Any) -> Result:
    return Result(
        [Outgoing(peer, f"?OTR:{op}."), Outgoing(peer, "?OTR,2,2,b.,")], sample_events(peer), fields
    )


def test_peer_process_is_an_adapter_answering_every_op(fake_peer: Callable[..., PeerProcess]) -> None:
    with fake_peer() as peer:
        assert isinstance(peer, Adapter)
        assert peer.hello() == HELLO
        config = InitConfig("alice@example.org", "xmpp", KEY, 0x100, Policy(allow_v2=False), 140, b"\x01")
        assert peer.init(config) == expected_result("init")
        assert peer.send(PEER, "hello \u2603") == expected_result("send")
        assert peer.receive(PEER, "?OTRv3?") == expected_result("receive")
        assert peer.query(PEER) == expected_result("query")
        assert peer.end(PEER) == expected_result("end")
        assert peer.smp_start(PEER, "s", None) == expected_result("smp_start")
        assert peer.smp_respond(PEER, "s") == expected_result("smp_respond")
        assert peer.smp_abort(PEER) == expected_result("smp_abort")
        assert peer.symkey(PEER, 1, b"\xbe\xef") == expected_result("symkey", key=SYMKEY)
        assert peer.status(PEER) == STATUS
        peer.quit()
        assert peer.returncode == 0
        with pytest.raises(PeerCrashed) as info:
            peer.query(PEER)
        assert info.value.reason == "stopped"


def test_peer_process_carries_messages_larger_than_a_pipe_buffer(
    fake_peer: Callable[..., PeerProcess],
) -> None:
    wire = "?OTR:" + "A" * 1_000_000 + "."
    with fake_peer() as peer:
        assert peer.receive(PEER, wire) == expected_result("receive")


def test_peer_process_raises_the_error_kind_the_peer_answered(fake_peer: Callable[..., PeerProcess]) -> None:
    with fake_peer() as peer:
        for text, cls in [
            ("raise unsupported", Unsupported),
            ("raise bad_request", BadRequest),
            ("raise internal", AdapterError),
            ("raise runtime", AdapterError),
        ]:
            with pytest.raises(AdapterError) as info:
                peer.send(PEER, text)
            assert type(info.value) is cls
        assert info.value.detail == "RuntimeError('boom')"
        assert peer.query(PEER) == expected_result("query")


def test_peer_process_raw_lines_reach_the_server_validation(fake_peer: Callable[..., PeerProcess]) -> None:
    with fake_peer() as peer:
        response = peer.exchange_line("not json")
        assert response["id"] is None
        assert response["error"]["kind"] == "bad_request"
        assert peer.request("hello", {"x-anything": [1]})["impl"] == "fake"


def test_stray_stdout_writes_in_the_peer_go_to_stderr(fake_peer: Callable[..., PeerProcess]) -> None:
    with fake_peer() as peer:
        assert peer.send(PEER, "print") == expected_result("send")
        assert peer.query(PEER) == expected_result("query")
        assert "noise from print" in peer.stderr_text
        assert "noise on descriptor 1" in peer.stderr_text
        assert peer.stderr_text.index("print") < peer.stderr_text.index("descriptor")


def test_peer_stderr_can_go_to_a_log_file(fake_peer: Callable[..., PeerProcess], tmp_path: Path) -> None:
    log = tmp_path / "peer.log"
    with fake_peer(stderr=log) as peer:
        peer.send(PEER, "print")
    assert "noise on descriptor 1" in log.read_text()
    assert peer.returncode == 0


def test_close_sends_quit_and_the_peer_exits_zero(fake_peer: Callable[..., PeerProcess]) -> None:
    peer = fake_peer()
    peer.hello()
    peer.close()
    assert peer.returncode == 0
    peer.close()


def test_peer_exit_raises_peer_crashed_with_status(fake_peer: Callable[..., PeerProcess]) -> None:
    with fake_peer() as peer:
        with pytest.raises(PeerCrashed) as info:
            peer.send(PEER, "exit")
        assert info.value.kind == "crashed"
        assert info.value.reason == "exited"
        assert info.value.returncode == 3
        assert info.value.signal is None
        assert info.value.request is not None and info.value.request["text"] == "exit"
        assert "status 3" in info.value.detail
        with pytest.raises(PeerCrashed):
            peer.hello()


def test_peer_killed_by_signal_raises_peer_crashed_with_the_signal(
    fake_peer: Callable[..., PeerProcess],
) -> None:
    with fake_peer() as peer:
        peer.hello()
        with pytest.raises(PeerCrashed) as info:
            peer.send(PEER, "segv")
        assert info.value.reason == "exited"
        assert info.value.signal == signal.SIGSEGV
        assert "SIGSEGV" in info.value.detail
        assert info.value.request is not None and info.value.request["op"] == "send"


def test_hung_peer_times_out_and_is_killed(fake_peer: Callable[..., PeerProcess]) -> None:
    with fake_peer(timeout=5.0) as peer:
        peer.hello()
        peer.timeout = 0.5
        started = time.monotonic()
        with pytest.raises(PeerCrashed) as info:
            peer.send(PEER, "sleep")
        assert time.monotonic() - started < 1.9
        assert info.value.reason == "timeout"
        assert peer.returncode is not None
        assert not peer.running


def test_per_request_timeout_overrides_the_default(fake_peer: Callable[..., PeerProcess]) -> None:
    with fake_peer(timeout=None) as peer:
        peer.hello()
        with pytest.raises(PeerCrashed) as info:
            peer.request("send", {"peer": PEER, "text": "sleep"}, timeout=0.3)
        assert info.value.reason == "timeout"


def test_missing_program_raises_peer_crashed_at_start(tmp_path: Path) -> None:
    with pytest.raises(PeerCrashed) as info:
        PeerProcess([str(tmp_path / "no-such-peer")])
    assert info.value.reason == "start"


def test_garbage_answer_is_a_fatal_protocol_error(scripted_peer: Callable[..., PeerProcess]) -> None:
    with scripted_peer(["Hello! I am a chatty shim."]) as peer:
        with pytest.raises(PeerProtocolError) as info:
            peer.hello()
        assert info.value.fatal
        assert not peer.running
        with pytest.raises(PeerCrashed):
            peer.hello()


def test_answer_with_the_wrong_id_is_a_fatal_protocol_error(
    scripted_peer: Callable[..., PeerProcess],
) -> None:
    with scripted_peer(['{"id": 999, "ok": true, "out": [], "events": []}']) as peer:
        with pytest.raises(PeerProtocolError) as info:
            peer.query(PEER)
        assert info.value.fatal


@pytest.mark.parametrize(
    "answer",
    [
        '{"id": {id}, "ok": true, "events": []}',
        '{"id": {id}, "ok": true, "out": [], "events": [{"type": "smp", "peer": "b", "result": "maybe"}]}',
        '{"id": {id}, "ok": "yes", "out": [], "events": []}',
        '{"id": {id}, "ok": false, "error": {"kind": "sulking", "detail": ""}}',
        '{"id": {id}, "ok": false, "error": "no"}',
    ],
)
def test_malformed_answer_with_the_right_id_is_a_protocol_error(
    scripted_peer: Callable[..., PeerProcess], answer: str
) -> None:
    with scripted_peer([answer, '{"id": {id}, "ok": true, "out": [], "events": []}']) as peer:
        with pytest.raises(PeerProtocolError) as info:
            peer.query(PEER)
        assert not info.value.fatal
        assert peer.query(PEER) == Result()


def test_peer_closing_its_output_raises_peer_crashed(tmp_path: Path) -> None:
    script = tmp_path / "closer.py"
    script.write_text("import os, sys, time\nsys.stdin.readline()\nos.close(1)\ntime.sleep(2)\n")
    with PeerProcess([sys.executable, str(script)], grace=0.2) as peer:
        started = time.monotonic()
        with pytest.raises(PeerCrashed) as info:
            peer.hello()
        assert info.value.reason == "closed"
        assert time.monotonic() - started < 1.5
