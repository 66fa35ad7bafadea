"""Peer protocol v1: request validation and the answer to one request (no I/O).

See docs/peer-protocol.md; :mod:`implementations.peer` re-exports the public names.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from implementations.api import (
    Adapter,
    AdapterError,
    BadRequest,
    DsaKey,
    Event,
    ExtensionAdapter,
    Hello,
    InitConfig,
    Outgoing,
    Policy,
    Result,
    Status,
    Unsupported,
)

_log = logging.getLogger(__name__)

EXTENSION_PREFIX = "x-"
"""Fields (and ops) whose names start with this are implementation-specific extensions."""

ERROR_KINDS = ("unsupported", "bad_request", "internal")
"""The ``error.kind`` values of an ``ok: false`` response."""

_RESERVED = frozenset({"id", "ok", "out", "events", "error"})
"""Response keys no op-specific field may take."""


# ------------------------------------------------------------------ requests

_Check = Callable[[str, Any], Any]
_MISSING: Any = object()
_HEX = re.compile(r"[0-9a-fA-F]*")


@dataclass(frozen=True)
class _Field:
    """One request field: its name, a check that validates and converts it, and a default if optional."""

    name: str
    check: _Check
    default: Any = _MISSING


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _text(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise BadRequest(f"{name} must be a string")
    return value


def _name(name: str, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise BadRequest(f"{name} must be a non-empty string")
    return value


def _optional_text(name: str, value: Any) -> str | None:
    return None if value is None else _text(name, value)


def _u32(name: str, value: Any) -> int:
    if not _is_int(value) or not 0 <= value <= 0xFFFFFFFF:
        raise BadRequest(f"{name} must be an integer in 0..0xffffffff")
    return int(value)


def _size(name: str, value: Any) -> int:
    if not _is_int(value) or value < 0:
        raise BadRequest(f"{name} must be a non-negative integer")
    return int(value)


def _is_hex(value: Any, *, even: bool, nonempty: bool) -> bool:
    return (
        isinstance(value, str)
        and _HEX.fullmatch(value) is not None
        and (len(value) % 2 == 0 or not even)
        and (bool(value) or not nonempty)
    )


def _hex_bytes(name: str, value: Any) -> bytes:
    if not _is_hex(value, even=True, nonempty=False):
        raise BadRequest(f"{name} must be a string of hex digit pairs")
    return bytes.fromhex(value)


def _optional_hex_bytes(name: str, value: Any) -> bytes | None:
    return None if value is None else _hex_bytes(name, value)


def _without_extensions(name: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise BadRequest(f"{name} must be an object")
    return {k: v for k, v in value.items() if not k.startswith(EXTENSION_PREFIX)}


def _private_key(name: str, value: Any) -> DsaKey:
    """A DSA key with its private part: ``p, q, g, y, x`` as hex strings without prefix."""
    obj = _without_extensions(name, value)
    unknown = sorted(set(obj) - {"p", "q", "g", "y", "x"})
    if unknown:
        raise BadRequest(f"{name}: unknown fields {unknown}")
    for part in ("p", "q", "g", "y", "x"):
        if part not in obj:
            raise BadRequest(f"{name}: missing {part}")
        if not _is_hex(obj[part], even=False, nonempty=True):
            raise BadRequest(f"{name}.{part} must be a non-empty hex string")
    return DsaKey.from_json(obj)


def _policy(name: str, value: Any) -> Policy:
    """Policy flags; absent flags take the :class:`~implementations.api.Policy` defaults."""
    return Policy.from_json(_without_extensions(name, value))


_PEER = _Field("peer", _name)

_OPS: dict[str, tuple[_Field, ...]] = {
    "hello": (),
    "init": (
        _Field("account", _name),
        _Field("protocol", _name),
        _Field("key", _private_key),
        _Field("instance_tag", _u32),
        _Field("policy", _policy, {}),
        _Field("max_message_size", _size, 0),
        _Field("seed", _optional_hex_bytes, None),
    ),
    "send": (_PEER, _Field("text", _text)),
    "receive": (_PEER, _Field("wire", _text)),
    "query": (_PEER,),
    "end": (_PEER,),
    "smp_start": (_PEER, _Field("secret", _text), _Field("question", _optional_text, None)),
    "smp_respond": (_PEER, _Field("secret", _text)),
    "smp_abort": (_PEER,),
    "symkey": (_PEER, _Field("use", _u32), _Field("usedata", _hex_bytes)),
    "status": (_PEER,),
    "quit": (),
}

OPS = frozenset(_OPS)
"""The ops of peer-protocol version 1; each is also the name of an :class:`Adapter` method."""


def request_id(obj: object) -> int | None:
    """The request's ``id`` if it has a usable one (a JSON integer), else ``None``."""
    if isinstance(obj, dict):
        rid = obj.get("id")
        if isinstance(rid, int) and not isinstance(rid, bool):
            return rid
    return None


def decode_request(obj: object) -> tuple[int, str, dict[str, Any]]:
    """Validate one request and convert it to ``(id, op, kwargs)`` for the adapter method ``op``.

    ``init``'s fields become one ``config`` (:class:`InitConfig`); hex fields
    become bytes; ``x-`` fields are dropped.  Raises :class:`BadRequest` for
    anything else out of place: not an object, no integer ``id``, an unknown
    op, a missing field, a field of the wrong type, an unknown field.
    """
    if not isinstance(obj, dict):
        raise BadRequest("a request must be a JSON object")
    rid = request_id(obj)
    if rid is None:
        raise BadRequest("a request needs an integer id")
    if "op" not in obj:
        raise BadRequest("missing field 'op'")
    op = obj["op"]
    if not isinstance(op, str):
        raise BadRequest("op must be a string")
    if op.startswith(EXTENSION_PREFIX):
        fields = {k: v for k, v in obj.items() if k not in ("id", "op")}
        return rid, op, {"fields": fields}
    if op not in _OPS:
        raise BadRequest(f"unknown op {op!r}")
    spec = _OPS[op]
    known = {"id", "op"} | {f.name for f in spec}
    unknown = sorted(
        str(k) for k in obj if k not in known and not (isinstance(k, str) and k.startswith(EXTENSION_PREFIX))
    )
    if unknown:
        raise BadRequest(f"{op}: unknown fields {unknown}")
    kwargs: dict[str, Any] = {}
    for f in spec:
        if f.name in obj:
            kwargs[f.name] = f.check(f.name, obj[f.name])
        elif f.default is _MISSING:
            raise BadRequest(f"{op}: missing field {f.name!r}")
        else:
            kwargs[f.name] = f.check(f.name, f.default)
    if op == "init":
        extra = {k: v for k, v in obj.items() if isinstance(k, str) and k.startswith(EXTENSION_PREFIX)}
        kwargs = {"config": InitConfig(**kwargs, extra=extra)}
    return rid, op, kwargs


# ------------------------------------------------------------------- answers


def _error_response(rid: int | None, kind: str, detail: str) -> dict[str, Any]:
    return {"id": rid, "ok": False, "error": {"kind": kind, "detail": detail}}


def _adapter_error_response(rid: int | None, exc: AdapterError) -> dict[str, Any]:
    # Kinds beyond the protocol's (a proxied PeerProcess's "crashed") travel as internal errors.
    if exc.kind in ERROR_KINDS:
        return _error_response(rid, exc.kind, exc.detail)
    return _error_response(rid, "internal", f"{exc.kind}: {exc.detail}")


def _expect(value: object, cls: type, op: str) -> None:
    if not isinstance(value, cls):
        raise AdapterError(f"adapter.{op} returned {type(value).__name__}, not {cls.__name__}")


def _body(
    out: list[dict[str, Any]], events: list[dict[str, Any]], fields: Mapping[str, Any], op: str
) -> dict[str, Any]:
    clash = sorted(_RESERVED & set(fields))
    if clash:
        raise AdapterError(f"adapter.{op} answered reserved fields {clash}")
    return {"out": out, "events": events, **fields}


def _answer(adapter: Adapter, op: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    """Call ``adapter.<op>`` and turn its return value into the ok response's body."""
    if op.startswith(EXTENSION_PREFIX):
        if not isinstance(adapter, ExtensionAdapter):
            raise Unsupported(f"{op}: this implementation has no extension ops")
        answer = adapter.extension(op, kwargs["fields"])
    else:
        answer = getattr(adapter, op)(**kwargs)
    if op == "hello":
        _expect(answer, Hello, op)
        return _body([], [], answer.to_json(), op)
    if op == "status":
        _expect(answer, Status, op)
        return _body([], [], {"status": answer.to_json()}, op)
    if op == "quit":
        return _body([], [], {}, op)
    _expect(answer, Result, op)
    for item in answer.out:
        _expect(item, Outgoing, op)
    for event in answer.events:
        _expect(event, Event, op)
    key = answer.fields.get("key")
    if op == "symkey" and key is not None and not _is_hex(key, even=True, nonempty=True):
        raise AdapterError("adapter.symkey answered a 'key' that is neither hex nor null")
    return _body([o.to_json() for o in answer.out], [e.to_json() for e in answer.events], answer.fields, op)


def _respond(adapter: Adapter, rid: int, op: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    try:
        body = _answer(adapter, op, kwargs)
    except AdapterError as exc:
        return _adapter_error_response(rid, exc)
    except Exception as exc:
        _log.error("request %s (%s) failed inside the adapter", rid, op, exc_info=True)
        return _error_response(rid, "internal", repr(exc))
    return {"id": rid, "ok": True, **body}


def _handle(adapter: Adapter, request: object) -> tuple[dict[str, Any], str | None]:
    """The response to one request, and the op if the request was well formed."""
    try:
        rid, op, kwargs = decode_request(request)
    except AdapterError as exc:
        return _adapter_error_response(request_id(request), exc), None
    return _respond(adapter, rid, op, kwargs), op


def dispatch(adapter: Adapter, request: object) -> dict[str, Any]:
    """Answer one decoded JSON request; never raises for anything the adapter does wrong."""
    return _handle(adapter, request)[0]
