"""The adapter contract: the operations, events and values of the peer protocol.

Every implementation under test (our engine, libotr, potr, shims in other
languages) is reachable through an object meeting :class:`Adapter`.  The
JSON-lines form of the same contract (``docs/peer-protocol.md``) is a thin,
generic wrapper around it (:mod:`implementations.peer`).

Invariants:

* Each operation returns a :class:`Result`: what the implementation put on
  the network (``out``, one entry per wire message, each fragment
  separately, in order) and what it reported to its user (``events``).
* An operation the implementation cannot perform raises
  :class:`Unsupported`; a malformed request raises :class:`BadRequest`.
  Anything else escaping an adapter is an ``internal`` error.
* Bad input *from the network* never raises: it becomes events.

This module imports nothing of the project's, so that adapters, the harness
and the engine can all depend on it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, runtime_checkable

PEER_PROTOCOL_VERSION = 1

MSGSTATES = ("plaintext", "encrypted", "finished")
SMP_STATES = ("expect1", "expect2", "expect3", "expect4")
SMP_RESULTS = ("ask", "in_progress", "success", "failure", "abort", "cheated", "error")


class AdapterError(Exception):
    """An operation failed for a reason the caller should see (peer-protocol ``error``)."""

    kind: ClassVar[str] = "internal"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class Unsupported(AdapterError):
    """The implementation cannot do what was asked (a missing feature, not a bug)."""

    kind = "unsupported"


class BadRequest(AdapterError):
    """The request itself is malformed (unknown peer, missing field, wrong type)."""

    kind = "bad_request"


# --------------------------------------------------------------------- values


@dataclass(frozen=True)
class DsaKey:
    """A DSA key: public ``p, q, g, y`` and, for one's own key, private ``x``."""

    p: int
    q: int
    g: int
    y: int
    x: int | None = None

    def public(self) -> DsaKey:
        return DsaKey(self.p, self.q, self.g, self.y)

    def to_json(self) -> dict[str, str | None]:
        return {
            "p": f"{self.p:x}",
            "q": f"{self.q:x}",
            "g": f"{self.g:x}",
            "y": f"{self.y:x}",
            "x": None if self.x is None else f"{self.x:x}",
        }

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> DsaKey:
        try:
            x = obj.get("x")
            return cls(
                int(obj["p"], 16),
                int(obj["q"], 16),
                int(obj["g"], 16),
                int(obj["y"], 16),
                None if x is None else int(x, 16),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise BadRequest(f"key: {exc!r}") from exc


@dataclass(frozen=True)
class Policy:
    """The OTR policy flags of the spec ("Policies"); ALLOW_V1 is not supported."""

    allow_v2: bool = True
    allow_v3: bool = True
    require_encryption: bool = False
    send_whitespace_tag: bool = False
    whitespace_start_ake: bool = True
    error_start_ake: bool = True

    def allowed_versions(self) -> frozenset[int]:
        return frozenset(v for v, ok in ((2, self.allow_v2), (3, self.allow_v3)) if ok)

    def to_json(self) -> dict[str, bool]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Policy:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(obj) - names
        if unknown:
            raise BadRequest(f"unknown policy flags: {sorted(unknown)}")
        for name, value in obj.items():
            if not isinstance(value, bool):
                raise BadRequest(f"policy flag {name} must be a boolean")
        return cls(**obj)


@dataclass(frozen=True)
class InitConfig:
    """Everything ``init`` configures: one local account of one implementation."""

    account: str
    protocol: str
    key: DsaKey
    instance_tag: int
    policy: Policy = Policy()
    max_message_size: int = 0
    seed: bytes | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # x- fields (test hooks), ignored by who lacks them

    def to_json(self) -> dict[str, Any]:
        return {
            "account": self.account,
            "protocol": self.protocol,
            "key": self.key.to_json(),
            "instance_tag": self.instance_tag,
            "policy": self.policy.to_json(),
            "max_message_size": self.max_message_size,
            "seed": None if self.seed is None else self.seed.hex(),
            **self.extra,
        }


@dataclass(frozen=True)
class Outgoing:
    """One message put on the network: to whom, and the exact wire string."""

    to: str
    wire: str

    def to_json(self) -> dict[str, str]:
        return {"to": self.to, "wire": self.wire}


@dataclass(frozen=True)
class Hello:
    impl: str
    version: str
    protocol_versions: tuple[int, ...]
    features: tuple[str, ...]
    deterministic: bool
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "impl": self.impl,
            "version": self.version,
            "protocol_versions": list(self.protocol_versions),
            "features": list(self.features),
            "deterministic": self.deterministic,
            **self.extra,
        }


@dataclass(frozen=True)
class Status:
    """The ``status`` op's answer for one correspondent (the instance in use)."""

    msgstate: str
    version: int | None
    ssid: str | None
    fingerprint: str
    peer_fingerprint: str | None
    instance_tag: int
    peer_instance_tag: int | None
    smp: str
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        obj = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "extra"}
        obj.update(self.extra)
        return obj


# --------------------------------------------------------------------- events


@dataclass(frozen=True)
class Event:
    """Something an implementation reported to its user.  ``type`` names it on the wire."""

    type: ClassVar[str] = ""

    def to_json(self) -> dict[str, Any]:
        obj: dict[str, Any] = {"type": self.type}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name == "extra":
                obj.update(value)
            else:
                obj[f.metadata.get("json", f.name)] = value
        return obj


def _json_name(name: str) -> Any:
    return field(metadata={"json": name})


@dataclass(frozen=True)
class MessageReceived(Event):
    """The user is shown ``text`` from ``sender``; ``encrypted`` says whether it came in a Data Message."""

    type: ClassVar[str] = "message"
    sender: str = _json_name("from")
    text: str = ""
    encrypted: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SessionSecured(Event):
    """The AKE completed; ``refreshed`` is true when the instance was already encrypted."""

    type: ClassVar[str] = "secure"
    peer: str
    version: int
    ssid: str
    peer_fingerprint: str
    refreshed: bool
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SessionInsecure(Event):
    """The local user ended the private conversation (msgstate left ENCRYPTED)."""

    type: ClassVar[str] = "insecure"
    peer: str
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SessionFinished(Event):
    """The correspondent closed the private conversation (TLV 1): msgstate FINISHED."""

    type: ClassVar[str] = "finished"
    peer: str
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SmpUpdated(Event):
    """SMP progressed or ended; ``result`` is one of :data:`SMP_RESULTS`."""

    type: ClassVar[str] = "smp"
    peer: str
    result: str
    question: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SymkeyReceived(Event):
    """The correspondent announced use of the extra symmetric key (TLV 8)."""

    type: ClassVar[str] = "symkey"
    peer: str
    use: int
    usedata: str
    key: str
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RemoteErrorReceived(Event):
    """An OTR Error Message arrived; ``text`` is what follows ``?OTR Error:``."""

    type: ClassVar[str] = "remote_error"
    peer: str
    text: str
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ErrorRaised(Event):
    """Something went wrong or was refused; ``code`` is one of :data:`ERROR_CODES`."""

    type: ClassVar[str] = "error"
    peer: str
    code: str
    detail: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


ERROR_CODES = {
    "unreadable": "an encrypted message that cannot be read (wrong state, unknown keys, bad MAC)",
    "malformed": "input that does not parse as the OTR message it claims to be",
    "ignored": "a well-formed message that the state machine ignores (the detail says why)",
    "not_private": "user text refused because no private conversation is possible now",
    "unencrypted": "plaintext received while encrypted, finished, or requiring encryption",
    "held": "user text stored until the session is secure (REQUIRE_ENCRYPTION)",
    "smp": "an SMP operation with no encrypted session to run in (SMP's own refusals are smp events)",
    "unsendable": "a message that cannot be put on the network (too large to fragment)",
}

EVENT_TYPES: dict[str, type[Event]] = {
    cls.type: cls
    for cls in (
        MessageReceived,
        SessionSecured,
        SessionInsecure,
        SessionFinished,
        SmpUpdated,
        SymkeyReceived,
        RemoteErrorReceived,
        ErrorRaised,
    )
}


def event_from_json(obj: dict[str, Any]) -> Event:
    """Rebuild an event from its JSON form; unknown ``x-`` fields land in ``extra``."""
    try:
        cls = EVENT_TYPES[obj["type"]]
    except KeyError as exc:
        raise BadRequest(f"unknown event: {obj!r}") from exc
    kwargs: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    by_json = {f.metadata.get("json", f.name): f.name for f in dataclasses.fields(cls)}
    for key, value in obj.items():
        if key == "type":
            continue
        if key in by_json and key != "extra":
            kwargs[by_json[key]] = value
        else:
            extra[key] = value
    kwargs["extra"] = extra
    return cls(**kwargs)


# ---------------------------------------------------------------- the result


@dataclass
class Result:
    """What one operation produced.  ``fields`` holds op-specific answers (``key``, ``status``)."""

    out: list[Outgoing] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    fields: dict[str, Any] = field(default_factory=dict)

    def extend(self, other: Result) -> Result:
        self.out.extend(other.out)
        self.events.extend(other.events)
        self.fields.update(other.fields)
        return self

    def to_json(self) -> dict[str, Any]:
        return {
            "out": [o.to_json() for o in self.out],
            "events": [e.to_json() for e in self.events],
            **self.fields,
        }


@runtime_checkable
class Adapter(Protocol):
    """The in-process form of the peer protocol.  One object = one local account."""

    def hello(self) -> Hello: ...

    def init(self, config: InitConfig) -> Result: ...

    def send(self, peer: str, text: str) -> Result: ...

    def receive(self, peer: str, wire: str) -> Result: ...

    def query(self, peer: str) -> Result: ...

    def end(self, peer: str) -> Result: ...

    def smp_start(self, peer: str, secret: str, question: str | None) -> Result: ...

    def smp_respond(self, peer: str, secret: str) -> Result: ...

    def smp_abort(self, peer: str) -> Result: ...

    def symkey(self, peer: str, use: int, usedata: bytes) -> Result: ...

    def status(self, peer: str) -> Status: ...

    def quit(self) -> None: ...


@runtime_checkable
class ExtensionAdapter(Protocol):
    """An adapter that also answers extension ops (names starting with ``x-``).

    ``fields`` are the request's fields other than ``id`` and ``op``, as JSON
    values.  An op the adapter does not know raises :class:`Unsupported`.
    Extension ops are listed in docs/peer-protocol.md.
    """

    def extension(self, op: str, fields: dict[str, Any]) -> Result: ...
