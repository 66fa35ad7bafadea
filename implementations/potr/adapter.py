"""python-potr 1.0.2 behind the adapter contract, in this process.

This adapter only translates, the way potr's own clients (Gajim's plugin,
WeeChat's otr.py) use the library: an ``Account`` and ``Context``
subclass whose ``inject`` collects :class:`Outgoing`, whose ``setState``
reports ``secure``/``finished``/``insecure``, whose ``getPolicy`` reads our
:class:`Policy`; ``receiveMessage``'s return value and its documented
exceptions become events, and SMP results are read from the context after
each received message (``smpIsValid``, ``smpIsSuccess``), as those clients do.

potr 1.0.2 speaks OTR v2 only: no instance tags, no v3 messages.  A policy
that allows only v3 is refused at ``init``; ``symkey`` is unsupported.

Invariants:

* every random value potr draws and the time it reads come from this
  adapter's :class:`compat.Deps` (seeded: a SHA-256 stream and a clock
  that stands still), made active around each call into potr;
* an exception potr documents for received messages (``NotOTRMessage``,
  ``UnencryptedMessage``, ``NotEncryptedError``, ``ErrorReceived``,
  ``InvalidParameterError``) becomes the events its clients show; any
  *other* exception escaping potr (``binascii.Error`` on bad base64,
  ``UnknownTLV`` ...) is a bug in potr and is reported as an ``error``
  event with code ``x-crash`` and the exception's repr, never as a benign
  event; the adapter stays usable afterwards.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

import potr.context
import potr.crypt
import potr.proto

from implementations.api import (
    PEER_PROTOCOL_VERSION,
    BadRequest,
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
)

from . import compat

compat.install()

FEATURES = (
    "v2",
    "fragmentation",
    "smp",
    "smp_question",
    "require_encryption",
    "whitespace_tag",
    "heartbeat",
    "deterministic",
    "x-parse",
)

PARSE_ENTRIES = frozenset(
    {"message_type", "message_version", "base64", "tlv", "query_version", "whitespace_version"}
)

CRASH = "x-crash"
"""The error code for an exception potr does not document escaping from it."""

_POTR_DIR = Path(potr.__file__).resolve().parent

_MSGSTATES = {
    potr.context.STATE_PLAINTEXT: "plaintext",
    potr.context.STATE_ENCRYPTED: "encrypted",
    potr.context.STATE_FINISHED: "finished",
}

_AUTHSTATES = {
    potr.crypt.STATE_NONE: "none",
    potr.crypt.STATE_AWAITING_DHKEY: "awaiting_dhkey",
    potr.crypt.STATE_AWAITING_REVEALSIG: "awaiting_revealsig",
    potr.crypt.STATE_AWAITING_SIG: "awaiting_sig",
    potr.crypt.STATE_V1_SETUP: "v1_setup",
}

# potr's SMPHandler.state: 1..4 are EXPECT1..EXPECT4; 0 means "SMP message 1 received, the user's
# secret is awaited", which the spec still calls SMPSTATE_EXPECT1.
_SMP_STATES = {0: "expect1", 1: "expect1", 2: "expect2", 3: "expect3", 4: "expect4"}

# The SMPHandler.state each SMP TLV is accepted in (crypt.SMPHandler.handle).
_SMP_ACCEPTED_IN: dict[type, int] = {
    potr.proto.SMP1TLV: 1,
    potr.proto.SMP1QTLV: 1,
    potr.proto.SMP2TLV: 2,
    potr.proto.SMP3TLV: 3,
    potr.proto.SMP4TLV: 4,
}

_MESSAGE_TYPES: tuple[tuple[type, str], ...] = (
    (potr.proto.TaggedPlaintext, "tagged_plaintext"),  # before Query: it is a subclass
    (potr.proto.Query, "query"),
    (potr.proto.DHCommit, "dh_commit"),
    (potr.proto.DHKey, "dh_key"),
    (potr.proto.RevealSig, "reveal_signature"),
    (potr.proto.Signature, "signature"),
    (potr.proto.DataMessage, "data"),
    (potr.proto.Error, "error"),
)


def policy_flags(policy: Policy) -> dict[str, bool]:
    """Our policy as potr's ``getPolicy`` keys (the keys Gajim's plugin configures)."""
    return {
        "ALLOW_V1": False,
        "ALLOW_V2": policy.allow_v2,
        "REQUIRE_ENCRYPTION": policy.require_encryption,
        "SEND_TAG": policy.send_whitespace_tag,
        "WHITESPACE_START_AKE": policy.whitespace_start_ake,
        "ERROR_START_AKE": policy.error_start_ake,
    }


def potr_version() -> str:
    try:
        return metadata.version("python-potr")
    except metadata.PackageNotFoundError:
        return "unknown"


def _text(raw: bytes | str | None) -> str:
    if raw is None:
        return ""
    if isinstance(raw, str):
        return raw
    return bytes(raw).decode("utf-8", "replace")


def _raised_in(exc: BaseException) -> str:
    """``function (file:line)`` of the innermost frame inside potr, or of the innermost frame."""
    frames = traceback.extract_tb(exc.__traceback__)
    inside = [f for f in frames if Path(f.filename).resolve().is_relative_to(_POTR_DIR)]
    if not (inside or frames):
        return "?"
    frame = (inside or frames)[-1]
    return f"{frame.name} ({Path(frame.filename).name}:{frame.lineno})"


def _crash(peer: str, exc: Exception) -> ErrorRaised:
    kind = type(exc)
    return ErrorRaised(
        peer,
        CRASH,
        repr(exc),
        extra={"x-exception": f"{kind.__module__}.{kind.__qualname__}", "x-raised-in": _raised_in(exc)},
    )


# ------------------------------------------------------------ potr classes


class _Context(potr.context.Context):
    user: _Account

    def getPolicy(self, key: str) -> bool:
        return self.user.flags[key]

    def inject(self, msg: bytes, appdata: Any = None) -> None:
        self.user.adapter.injected(self.peer, msg)

    def setState(self, newstate: int) -> None:
        old = self.state
        super().setState(newstate)
        self.user.adapter.state_changed(self, old, newstate)


class _Account(potr.context.Account):
    contextclass = _Context

    def __init__(
        self,
        adapter: PotrAdapter,
        config: InitConfig,
        privkey: compat.DsaKey,
    ) -> None:
        super().__init__(config.account, config.protocol, config.max_message_size, privkey)
        self.adapter = adapter
        self.flags = policy_flags(config.policy)
        self._key = privkey

    def loadPrivkey(self) -> compat.DsaKey:
        return self._key

    def savePrivkey(self) -> None:
        pass

    def saveTrusts(self) -> None:
        pass


# ----------------------------------------------------------------- adapter


class PotrAdapter:
    """One account of python-potr, in this process (``otrcheck peer potr`` serves it)."""

    def __init__(self) -> None:
        self._account: _Account | None = None
        self._config: InitConfig | None = None
        self._deps = compat.Deps()
        self._out: list[Outgoing] = []
        self._events: list[Event] = []

    # ---------------------------------------------------------------- setup

    def hello(self) -> Hello:
        return Hello(
            "potr",
            potr_version(),
            (2,),
            FEATURES,
            deterministic=True,
            extra={
                "x-peer-protocol": PEER_PROTOCOL_VERSION,
                "x-crypto": f"pycryptodome {_pycryptodome_version()} through implementations.potr.compat",
            },
        )

    def init(self, config: InitConfig) -> Result:
        key = config.key
        if key.x is None:
            raise BadRequest("init needs the private part x of the DSA key")
        if config.policy.allow_v3 and not config.policy.allow_v2:
            raise Unsupported("potr 1.0.2 speaks OTR v2 only; this policy allows only v3")
        if config.max_message_size < 0:
            raise BadRequest("max_message_size cannot be negative")
        try:
            privkey = compat.DsaKey.from_numbers(key.p, key.q, key.g, key.y, key.x)
        except ValueError as exc:
            raise BadRequest(f"pycryptodome refused the DSA key: {exc}") from exc
        self._deps = compat.Deps.seeded(config.seed) if config.seed is not None else compat.Deps()
        self._config = config
        self._account = _Account(self, config, privkey)
        return Result()

    @property
    def account(self) -> _Account:
        if self._account is None:
            raise BadRequest("init has not been called")
        return self._account

    # ----------------------------------------------------------- operations

    def send(self, peer: str, text: str) -> Result:
        def call(ctx: _Context) -> None:
            raw = text.encode("utf-8", "surrogatepass")
            try:
                sent = ctx.sendMessage(potr.context.FRAGMENT_SEND_ALL, raw)
            except potr.context.NotEncryptedError:
                self._events.append(
                    ErrorRaised(peer, "not_private", "the correspondent has ended the private conversation")
                )
                return
            if sent is not None:
                self._out.append(Outgoing(peer, _text(sent)))
            if ctx.lastMessage is raw and ctx.mayRetransmit:
                self._events.append(
                    ErrorRaised(peer, "held", "potr kept the message (lastMessage) and sent a Query Message")
                )

        return self._run(peer, call)

    def receive(self, peer: str, wire: str) -> Result:
        def call(ctx: _Context) -> None:
            smp = ctx.crypto.smp
            smp_before = smp.state if smp is not None else 1
            try:
                plaintext, tlvs = ctx.receiveMessage(wire.encode("utf-8", "surrogatepass"))
            except potr.context.NotOTRMessage as exc:
                shown = _text(exc.args[0] if exc.args else b"")
                if shown:
                    self._events.append(MessageReceived(peer, shown, encrypted=False))
                return
            except potr.context.UnencryptedMessage as exc:
                shown = _text(exc.args[0] if exc.args else b"")
                if shown:
                    self._events.append(MessageReceived(peer, shown, encrypted=False))
                self._events.append(ErrorRaised(peer, "unencrypted", "the message was received unencrypted"))
                return
            except potr.context.ErrorReceived as exc:
                error = exc.args[0] if exc.args else None
                self._events.append(RemoteErrorReceived(peer, _text(getattr(error, "error", b""))))
                return
            except potr.context.NotEncryptedError:
                self._events.append(
                    ErrorRaised(peer, "unreadable", "Data Message while not in a private conversation")
                )
                return
            except potr.crypt.InvalidParameterError as exc:
                self._events.append(_invalid_parameter(peer, exc))
                return
            if plaintext:
                # Shown before what its TLVs did (a disconnect), as the other adapters report it.
                self._events.insert(0, MessageReceived(peer, _text(plaintext), encrypted=True))
            self._tlv_events(ctx, peer, tlvs, smp_before)

        return self._run(peer, call)

    def query(self, peer: str) -> Result:
        def call(ctx: _Context) -> None:
            # What Gajim's "start OTR" does: send a query; potr replaces it with its default one.
            sent = ctx.sendMessage(potr.context.FRAGMENT_SEND_ALL, b"?OTRv2?")
            if sent is not None:
                self._out.append(Outgoing(peer, _text(sent)))

        return self._run(peer, call)

    def end(self, peer: str) -> Result:
        return self._run(peer, lambda ctx: ctx.disconnect())

    def smp_start(self, peer: str, secret: str, question: str | None) -> Result:
        asked = None if question is None else question.encode("utf-8", "surrogatepass")
        return self._smp(peer, lambda ctx: ctx.smpInit(secret.encode("utf-8", "surrogatepass"), asked))

    def smp_respond(self, peer: str, secret: str) -> Result:
        def respond(ctx: _Context) -> None:
            smp = ctx.crypto.smp
            if ctx.state == potr.context.STATE_ENCRYPTED and (smp is None or smp.state != 0):
                # smp_respond answers a pending SMP message 1 (potr's SMPHandler state 0).  Given
                # a secret in any other state, potr's smpGotSecret would start a new SMP (state 1)
                # or do nothing (states 2-4): not an answer, so it is not called.
                state = 1 if smp is None else smp.state
                detail = f"no SMP message 1 to answer (potr SMP state {state})"
                self._events.append(SmpUpdated(peer, "error", extra={"x-detail": detail}))
                return
            ctx.smpGotSecret(secret.encode("utf-8", "surrogatepass"))

        return self._smp(peer, respond)

    def smp_abort(self, peer: str) -> Result:
        return self._smp(peer, lambda ctx: ctx.smpAbort())

    def symkey(self, peer: str, use: int, usedata: bytes) -> Result:
        raise Unsupported(
            "the extra symmetric key is an OTR v3 feature and potr 1.0.2 speaks only v2 "
            "(its Context.getExtraKey would send TLV 8 inside a v2 session)"
        )

    def status(self, peer: str) -> Status:
        account = self.account
        config = self._config
        assert config is not None
        fingerprint = account.privkey.cfingerprint()
        ctx = account.ctxs.get(peer)
        if ctx is None:
            return Status(
                "plaintext", None, None, fingerprint, None, config.instance_tag, None, "expect1",
                extra={"x-authstate": "none"},
            )  # fmt: skip
        crypto = ctx.crypto
        secure = ctx.state == potr.context.STATE_ENCRYPTED
        their = crypto.theirPubkey
        smp = crypto.smp
        ake = crypto.ake
        return Status(
            msgstate=_MSGSTATES[ctx.state],
            version=2 if secure else None,
            ssid=crypto.sessionId.hex() if secure and crypto.sessionId else None,
            fingerprint=fingerprint,
            peer_fingerprint=their.cfingerprint() if their is not None else None,
            instance_tag=config.instance_tag,
            peer_instance_tag=None,
            smp=_SMP_STATES.get(smp.state, "expect1") if smp is not None else "expect1",
            extra={
                "x-authstate": _AUTHSTATES.get(ake.state, str(ake.state)) if ake is not None else "none",
                "x-instance-tags": False,
            },
        )

    def quit(self) -> None:
        self._account = None

    def extension(self, op: str, fields: dict[str, Any]) -> Result:
        if op == "x-parse":
            entry, data = fields.get("entry"), fields.get("input")
            if not isinstance(entry, str) or entry not in PARSE_ENTRIES or not isinstance(data, str):
                raise BadRequest(f"x-parse needs entry (one of {sorted(PARSE_ENTRIES)}) and input (string)")
            with compat.active(self._deps):
                return Result(fields={"result": parse(entry, data)})
        raise Unsupported(f"potr has no extension op {op}")

    # ------------------------------------------------ callbacks from potr

    def injected(self, peer: str, msg: bytes) -> None:
        self._out.append(Outgoing(peer, _text(msg)))

    def state_changed(self, ctx: _Context, old: int, new: int) -> None:
        peer = ctx.peer
        if new == potr.context.STATE_ENCRYPTED:
            crypto = ctx.crypto
            self._events.append(
                SessionSecured(
                    peer,
                    2,
                    crypto.sessionId.hex(),
                    crypto.theirPubkey.cfingerprint(),
                    refreshed=old == potr.context.STATE_ENCRYPTED,
                )
            )
        elif old == potr.context.STATE_ENCRYPTED and new == potr.context.STATE_FINISHED:
            self._events.append(SessionFinished(peer))
        elif old == potr.context.STATE_ENCRYPTED and new == potr.context.STATE_PLAINTEXT:
            self._events.append(SessionInsecure(peer))

    # -------------------------------------------------------------- helpers

    def _run(self, peer: str, call: Callable[[_Context], object]) -> Result:
        """One call into potr with this account's randomness and clock; collects what it produced."""
        ctx = self.account.getContext(peer)
        self._out, self._events = [], []
        with compat.active(self._deps):
            try:
                call(ctx)
            except Exception as exc:  # a bug in potr: report it, keep serving
                self._events.append(_crash(peer, exc))
        out, events = self._out, self._events
        self._out, self._events = [], []
        return Result(out, events)

    def _smp(self, peer: str, action: Callable[[_Context], object]) -> Result:
        def call(ctx: _Context) -> None:
            try:
                action(ctx)
            except potr.context.NotEncryptedError:
                self._events.append(ErrorRaised(peer, "smp", "SMP needs an encrypted session"))

        return self._run(peer, call)

    def _tlv_events(self, ctx: _Context, peer: str, tlvs: list[Any], smp_before: int) -> None:
        """SMP results and TLV 8 from what ``receiveMessage`` returned, read as potr's clients read them."""
        for tlv in tlvs:
            if isinstance(tlv, potr.proto.ExtraKeyTLV):
                key = ctx.crypto.extraKey or b""
                use = int.from_bytes(tlv.appid[:4], "big")
                self._events.append(SymkeyReceived(peer, use, bytes(tlv.appdata).hex(), key.hex()))
            elif isinstance(tlv, potr.proto.SMPTLV):
                event = _smp_event(ctx, peer, tlv, smp_before)
                if event is not None:
                    self._events.append(event)


def _smp_event(ctx: _Context, peer: str, tlv: Any, smp_before: int) -> SmpUpdated | None:
    if isinstance(tlv, potr.proto.SMPABORTTLV):
        return SmpUpdated(peer, "abort")
    smp = ctx.crypto.smp
    if smp is None:
        return None
    extra = {"x-potr-prog": smp.prog}
    if not ctx.smpIsValid():
        # potr marks both an out-of-order TLV and a failed proof SMPPROG_CHEATED, and sends TLV 6.
        if _SMP_ACCEPTED_IN.get(type(tlv)) != smp_before:
            extra["x-detail"] = f"{type(tlv).__name__} received in potr SMP state {smp_before}"
            return SmpUpdated(peer, "error", extra=extra)
        return SmpUpdated(peer, "cheated", extra=extra)
    if isinstance(tlv, potr.proto.SMP1QTLV):
        return SmpUpdated(peer, "ask", _text(tlv.msg), extra=extra)
    if isinstance(tlv, potr.proto.SMP1TLV):
        return SmpUpdated(peer, "ask", extra=extra)
    if isinstance(tlv, potr.proto.SMP2TLV):
        return SmpUpdated(peer, "in_progress", extra=extra)
    return SmpUpdated(peer, "success" if ctx.smpIsSuccess() else "failure", extra=extra)


def _invalid_parameter(peer: str, exc: Exception) -> ErrorRaised:
    """potr's InvalidParameterError: a rejected AKE message, or an unreadable Data Message."""
    where = _raised_in(exc)
    names = {frame.name for frame in traceback.extract_tb(exc.__traceback__)}
    if "handleAKE" in names:
        return ErrorRaised(peer, "ignored", f"AKE message rejected: InvalidParameterError in {where}")
    return ErrorRaised(peer, "unreadable", f"InvalidParameterError in {where}")


def _pycryptodome_version() -> str:
    try:
        return metadata.version("pycryptodome")
    except metadata.PackageNotFoundError:
        return "unknown"


# ------------------------------------------------------------------ x-parse


def _scratch_context() -> potr.context.Context:
    """A context that has seen nothing: ``Context.parse`` only reads its fragment buffer."""
    return potr.context.Context(potr.context.Account("x-parse", "x-parse", 0), "x-parse")


def parse(entry: str, data: str) -> Any:
    """potr's parsers behind the ``x-parse`` entries shared with libotr and the engine.

    An exception escaping potr's parser is answered as ``{"x-crash": repr}``.
    ``message_version`` and ``base64`` have no counterpart in potr (it reads
    the version from a base64-decoded header inside ``Context.parse`` and
    uses the standard library's base64): :class:`Unsupported`.
    """
    if entry in ("message_version", "base64"):
        raise Unsupported(f"potr has no parser of its own for {entry}")
    if entry == "tlv":
        try:
            blob = bytes.fromhex(data)
        except ValueError as exc:
            raise BadRequest(f"tlv input must be hex: {exc}") from exc
        try:
            return [{"type": tlv.typ, "value": tlv.getPayload().hex()} for tlv in potr.proto.TLV.parse(blob)]
        except Exception as exc:
            return {CRASH: repr(exc)}
    raw = data.encode("utf-8", "surrogatepass")
    try:
        parsed = _scratch_context().parse(raw)
    except Exception as exc:
        return {CRASH: repr(exc)}
    if entry == "message_type":
        if parsed is None:
            return "unknown"  # a fragment, stored
        for cls, name in _MESSAGE_TYPES:
            if isinstance(parsed, cls):
                return name
        return "plaintext"
    if entry == "query_version":
        is_query = isinstance(parsed, potr.proto.Query) and not isinstance(parsed, potr.proto.TaggedPlaintext)
        return 2 if is_query and 2 in parsed.versions else 0
    if entry == "whitespace_version":
        if isinstance(parsed, potr.proto.TaggedPlaintext):
            return {"version": 2 if 2 in parsed.versions else 0, "stripped": _text(parsed.msg)}
        return {"version": 0, "stripped": None}
    raise ValueError(f"unknown parse entry {entry!r}")
