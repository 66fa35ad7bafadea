"""The engine behind the adapter contract (:class:`implementations.api.Adapter`).

It only translates: configuration in, the engine's results out.  With a
``seed`` the engine draws every random value from a seeded stream and its
clock stands still, so a run is reproducible byte for byte.
"""

from __future__ import annotations

from importlib import metadata
from typing import Any

from implementations.api import (
    PEER_PROTOCOL_VERSION,
    BadRequest,
    DsaKey,
    Hello,
    InitConfig,
    Result,
    Status,
    Unsupported,
)

from ._crypto import DsaPrivate, DsaPublic
from ._deps import Clock, Entropy, ManualClock, SeededEntropy, SystemClock, SystemEntropy
from ._engine import Engine
from .parsers import PARSE_ENTRIES, parse, reassemble_input

FEATURES = (
    "v2",
    "v3",
    "instance_tags",
    "fragmentation",
    "smp",
    "smp_question",
    "symkey",
    "require_encryption",
    "whitespace_tag",
    "error_start_ake",
    "heartbeat",
    "deterministic",
    "x-parse",
)


def private_key(key: DsaKey) -> DsaPrivate:
    if key.x is None:
        raise BadRequest("init needs the private part x of the DSA key")
    return DsaPrivate(DsaPublic(key.p, key.q, key.g, key.y), key.x)


def _version() -> str:
    try:
        return metadata.version("otrcheck")
    except metadata.PackageNotFoundError:
        return "0+unknown"


class EngineAdapter:
    """One account of our engine, reachable in-process or through ``otrcheck peer engine``."""

    def __init__(self) -> None:
        self._engine: Engine | None = None
        self.clock: Clock | None = None

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            raise BadRequest("init has not been called")
        return self._engine

    def hello(self) -> Hello:
        return Hello(
            "engine",
            _version(),
            (2, 3),
            FEATURES,
            deterministic=True,
            extra={"x-peer-protocol": PEER_PROTOCOL_VERSION},
        )

    def init(self, config: InitConfig) -> Result:
        entropy: Entropy
        if config.seed is not None:
            entropy, self.clock = SeededEntropy(config.seed), ManualClock()
        else:
            entropy, self.clock = SystemEntropy(), SystemClock()
        if config.max_message_size < 0:
            raise BadRequest("max_message_size cannot be negative")
        bias = config.extra.get("x-commit-hash")
        if bias not in (None, "high", "low"):
            raise BadRequest("x-commit-hash is 'high' or 'low'")
        self._engine = Engine(
            config.account,
            private_key(config.key),
            config.instance_tag,
            config.policy,
            config.max_message_size,
            entropy,
            self.clock,
            bias,
        )
        return Result()

    def send(self, peer: str, text: str) -> Result:
        return self.engine.send(peer, text)

    def receive(self, peer: str, wire: str) -> Result:
        return self.engine.receive(peer, wire)

    def query(self, peer: str) -> Result:
        return self.engine.query(peer)

    def end(self, peer: str) -> Result:
        return self.engine.end(peer)

    def smp_start(self, peer: str, secret: str, question: str | None) -> Result:
        return self.engine.smp_start(peer, secret, question)

    def smp_respond(self, peer: str, secret: str) -> Result:
        return self.engine.smp_respond(peer, secret)

    def smp_abort(self, peer: str) -> Result:
        return self.engine.smp_abort(peer)

    def symkey(self, peer: str, use: int, usedata: bytes) -> Result:
        return self.engine.symkey(peer, use, usedata)

    def status(self, peer: str) -> Status:
        return self.engine.status(peer)

    def quit(self) -> None:
        self._engine = None

    def extension(self, op: str, fields: dict[str, Any]) -> Result:
        if op == "x-parse":
            entry, data = fields.get("entry"), fields.get("input")
            if not isinstance(entry, str) or entry not in PARSE_ENTRIES or not isinstance(data, str):
                raise BadRequest(f"x-parse needs entry (one of {sorted(PARSE_ENTRIES)}) and input (string)")
            if entry == "tlv" and not _is_hex(data):
                raise BadRequest("x-parse tlv takes hex input")
            if entry == "reassemble":
                try:
                    reassemble_input(data)
                except ValueError as exc:
                    raise BadRequest(f"x-parse reassemble: {exc}") from None
            return Result(fields={"result": parse(entry, data)})
        raise Unsupported(f"the engine has no extension op {op}")


def _is_hex(text: str) -> bool:
    try:
        bytes.fromhex(text)
    except ValueError:
        return False
    return True
