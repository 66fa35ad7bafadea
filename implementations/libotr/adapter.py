"""libotr 4.1.1 behind the adapter contract, in this process, through ctypes.

This adapter only translates: user operations become libotr calls, and
libotr's callbacks (``inject_message``, ``gone_secure``, ``handle_msg_event``,
``handle_smp_event``, ``received_symkey`` ...) become :class:`Outgoing` and
events.  It holds no protocol logic of its own.

A crash inside libotr kills the process that loaded it, so the harness
reaches this adapter through ``otrcheck peer libotr`` (a worker subprocess,
see :mod:`harness.impls`); use it in-process only where no crash can happen.

Invariants:

* every ctypes callback object and every string handed back to libotr is
  referenced by ``self`` for as long as libotr may use it;
* everything libotr allocates for us is copied and then released with the
  function libotr names for it (``otrl_message_free``, ``free``);
* libotr is never re-entered from inside a callback;
* a callback never lets a Python exception unwind into C: it is recorded
  and the operation answers an ``internal`` error.
"""

from __future__ import annotations

import ctypes
import os
import signal
import tempfile
from collections.abc import Callable
from ctypes import POINTER, byref, c_void_p
from pathlib import Path
from typing import Any

from implementations.api import (
    PEER_PROTOCOL_VERSION,
    AdapterError,
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

from . import _lib, entropy, keys, provision
from ._lib import (
    CALLBACK_TYPES,
    OtrlFragmentPolicy,
    OtrlInstag,
    OtrlMessageAppOps,
    OtrlMessageEvent,
    OtrlMessageState,
    OtrlPolicy,
    OtrlSMPEvent,
)
from .parsers import PARSE_ENTRIES, parse

SEEDED_DRAWS = "libotr's random draws (r, D-H and SMP exponents) follow the seed; DSA nonces do not"
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
    "x-parse",
)

_MSGSTATES = {
    OtrlMessageState.PLAINTEXT: "plaintext",
    OtrlMessageState.ENCRYPTED: "encrypted",
    OtrlMessageState.FINISHED: "finished",
}

_SMP_RESULTS: dict[int, str] = {
    OtrlSMPEvent.ERROR: "error",
    OtrlSMPEvent.ABORT: "abort",
    OtrlSMPEvent.CHEATED: "cheated",
    OtrlSMPEvent.ASK_FOR_ANSWER: "ask",
    OtrlSMPEvent.ASK_FOR_SECRET: "ask",
    OtrlSMPEvent.IN_PROGRESS: "in_progress",
    OtrlSMPEvent.SUCCESS: "success",
    OtrlSMPEvent.FAILURE: "failure",
}

# handle_msg_event -> (error code, detail); None: not an error (logged heartbeats).
_MSG_EVENTS: dict[int, tuple[str, str] | None] = {
    OtrlMessageEvent.ENCRYPTION_REQUIRED: ("held", "stored until the conversation is private"),
    OtrlMessageEvent.ENCRYPTION_ERROR: ("unsendable", "libotr could not encrypt the message"),
    OtrlMessageEvent.CONNECTION_ENDED: (
        "not_private",
        "the correspondent has ended the private conversation",
    ),
    OtrlMessageEvent.SETUP_ERROR: ("ignored", "AKE setup error"),
    OtrlMessageEvent.MSG_REFLECTED: ("ignored", "our own message reflected back"),
    OtrlMessageEvent.MSG_RESENT: ("x-resent", "the last message was resent"),
    OtrlMessageEvent.RCVDMSG_NOT_IN_PRIVATE: (
        "unreadable",
        "Data Message while not in a private conversation",
    ),
    OtrlMessageEvent.RCVDMSG_UNREADABLE: ("unreadable", "unreadable Data Message"),
    OtrlMessageEvent.RCVDMSG_MALFORMED: ("malformed", "malformed message"),
    OtrlMessageEvent.LOG_HEARTBEAT_RCVD: None,
    OtrlMessageEvent.LOG_HEARTBEAT_SENT: None,
    OtrlMessageEvent.RCVDMSG_UNRECOGNIZED: ("ignored", "unrecognised OTR message"),
    OtrlMessageEvent.RCVDMSG_FOR_OTHER_INSTANCE: ("ignored", "message for another instance"),
}

_ERROR_TEXTS = {
    _lib.OtrlErrorCode.ENCRYPTION_ERROR: b"Error occurred encrypting message.",
    _lib.OtrlErrorCode.MSG_NOT_IN_PRIVATE: b"You sent encrypted data to a user who wasn't expecting it.",
    _lib.OtrlErrorCode.MSG_UNREADABLE: b"You transmitted an unreadable encrypted message.",
    _lib.OtrlErrorCode.MSG_MALFORMED: b"You transmitted a malformed data message.",
}

_SMP_STATES = ("expect1", "expect2", "expect3", "expect4", "expect1")  # EXPECT5 is v1-era, unused
_AUTHSTATES = ("none", "awaiting_dhkey", "awaiting_revealsig", "awaiting_sig", "v1_setup")


def policy_bits(policy: Policy) -> int:
    bits = 0
    for flag, value in (
        (policy.allow_v2, OtrlPolicy.ALLOW_V2),
        (policy.allow_v3, OtrlPolicy.ALLOW_V3),
        (policy.require_encryption, OtrlPolicy.REQUIRE_ENCRYPTION),
        (policy.send_whitespace_tag, OtrlPolicy.SEND_WHITESPACE_TAG),
        (policy.whitespace_start_ake, OtrlPolicy.WHITESPACE_START_AKE),
        (policy.error_start_ake, OtrlPolicy.ERROR_START_AKE),
    ):
        if flag:
            bits |= value
    return bits


def _text(raw: bytes | None) -> str:
    return (raw or b"").decode("utf-8", "replace")


class LibotrAdapter:
    """One account of libotr 4.1.1, loaded into this process."""

    def __init__(self, library: str | None = None) -> None:
        if library is None:
            location = provision.locate()
            if location.path is None:
                raise Unsupported(f"libotr is unavailable: {location.problem}")
            library = location.path
        # Before libotr is loaded, so that libotr's random draws bind to the seeding interposer.
        self._entropy = entropy.preload(libotr_loaded=_lib.loaded() is not None)
        self.lib = _lib.load(library)
        self._us: int | None = None
        self._config: InitConfig | None = None
        self._dir = tempfile.TemporaryDirectory(prefix="otrcheck-libotr-")
        self._keep: list[Any] = []  # strings handed to libotr, alive while it may read them
        self._out: list[Outgoing] = []
        self._events: list[Event] = []
        self._failures: list[str] = []
        self._decrypted = False
        self._wire = ""  # the string being received, for texts libotr trims
        self._asked: set[str] = set()  # peers whose SMP question awaits smp_respond
        self._abort_after: list[Any] = []  # contexts to abort once libotr has returned
        self._ops = self._make_ops()

    # ---------------------------------------------------------------- setup

    def hello(self) -> Hello:
        return Hello(
            "libotr",
            self.lib.version,
            (2, 3),
            FEATURES,
            deterministic=False,
            extra={
                "x-peer-protocol": PEER_PROTOCOL_VERSION,
                "x-library": self.lib.path,
                # Seeded, libotr's own draws repeat (every choice it makes); libgcrypt's DSA nonce
                # does not, so signatures, and so the output byte for byte, still vary.
                "x-seeded": SEEDED_DRAWS if self._entropy.active else f"no: {self._entropy.problem}",
            },
        )

    def init(self, config: InitConfig) -> Result:
        if config.key.x is None:
            raise BadRequest("init needs the private part x of the DSA key")
        if self._us is not None:
            self.lib.otrl_userstate_free(self._us)
        self._config = config
        account, protocol = config.account.encode(), config.protocol.encode()
        base = Path(self._dir.name)
        keys.write_privkey_file(base / "privkeys", [(config.account, config.protocol, config.key)])
        keys.write_instag_file(base / "instags", [(config.account, config.protocol, config.instance_tag)])
        us = self.lib.otrl_userstate_create()
        for reader, path in (
            (self.lib.otrl_privkey_read, "privkeys"),
            (self.lib.otrl_instag_read, "instags"),
        ):
            err = reader(us, str(base / path).encode())
            if err:
                self.lib.otrl_userstate_free(us)
                raise BadRequest(f"libotr refused the {path} file (gcry_error_t {err:#x})")
        if not self.lib.otrl_privkey_find(us, account, protocol):
            raise BadRequest("libotr did not load the private key")
        self._us = us
        self._account, self._protocol = account, protocol
        self._policy = policy_bits(config.policy)
        self._entropy.seed(config.seed)
        # A new userstate has no contexts: nothing is asked, nothing awaits an abort.
        self._asked.clear()
        self._abort_after.clear()
        return Result()

    @property
    def us(self) -> int:
        if self._us is None:
            raise BadRequest("init has not been called")
        return self._us

    # ------------------------------------------------------------ operations

    def send(self, peer: str, text: str) -> Result:
        def call() -> None:
            message = c_void_p()
            err = self.lib.otrl_message_sending(
                self.us, byref(self._ops), None, self._account, self._protocol, peer.encode(),
                OtrlInstag.BEST, text.encode(), None, byref(message), OtrlFragmentPolicy.SEND_ALL, None,
                None, None,
            )  # fmt: skip
            sent = self.lib.take_message(message.value)
            if err:
                self._events.append(ErrorRaised(peer, "unsendable", f"otrl_message_sending: {err:#x}"))
            elif sent is None:
                # Nothing converted: libotr leaves the original text for the application to send.
                self._out.append(Outgoing(peer, text))

        return self._run(call)

    def receive(self, peer: str, wire: str) -> Result:
        def call() -> None:
            newmessage, tlvs = c_void_p(), POINTER(_lib.OtrlTLV)()
            self._decrypted = False
            self._wire = wire
            before = self._msgstate(peer)
            ignore = self.lib.otrl_message_receiving(
                self.us, byref(self._ops), None, self._account, self._protocol, peer.encode(),
                wire.encode(), byref(newmessage), byref(tlvs), None, None, None,
            )  # fmt: skip
            shown = self.lib.take_message(newmessage.value)
            if tlvs:  # libotr has acted on them already (TLV 1: msgstate FINISHED)
                self.lib.otrl_tlv_free(tlvs)
            if not ignore:
                text = _text(shown) if shown is not None else wire
                if text:
                    self._events.append(MessageReceived(peer, text, encrypted=self._decrypted))
            if before == "encrypted" and self._msgstate(peer) == "finished":
                self._asked.discard(peer)  # leaving ENCRYPTED abandons the SMP
                self._events.append(SessionFinished(peer))

        return self._run(call)

    def query(self, peer: str) -> Result:
        def call() -> None:
            address = self.lib.otrl_proto_default_query_msg(self._account, self._policy)
            message = self.lib.take_malloced(address)
            if message:
                self._out.append(Outgoing(peer, _text(message)))

        return self._run(call)

    def end(self, peer: str) -> Result:
        def call() -> None:
            was = self._msgstate(peer)
            self.lib.otrl_message_disconnect_all_instances(
                self.us, byref(self._ops), None, self._account, self._protocol, peer.encode()
            )
            self._asked.discard(peer)  # leaving ENCRYPTED abandons the SMP
            if was == "encrypted":
                self._events.append(SessionInsecure(peer))

        return self._run(call)

    def smp_start(self, peer: str, secret: str, question: str | None) -> Result:
        def call() -> None:
            context = self._private_context(peer, "SMP", "smp")
            if context is None:
                return
            raw = secret.encode()
            self._asked.discard(peer)
            if question is None:
                self.lib.otrl_message_initiate_smp(self.us, byref(self._ops), None, context, raw, len(raw))
            else:
                self.lib.otrl_message_initiate_smp_q(
                    self.us, byref(self._ops), None, context, question.encode(), raw, len(raw)
                )

        return self._run(call)

    def smp_respond(self, peer: str, secret: str) -> Result:
        def call() -> None:
            context = self._private_context(peer, "SMP", "smp")
            if context is None:
                return
            smstate = context.contents.smstate
            if peer not in self._asked or not (smstate and smstate.contents.g3o):
                # Nothing asked in this session (a question asked before an end or a new userstate is
                # gone with libotr's SMP state): libotr would dereference NULL (LIBOTR-041).
                self._events.append(
                    SmpUpdated(peer, "error", None, extra={"x-detail": "no SMP question to answer"})
                )
                return
            self._asked.discard(peer)
            raw = secret.encode()
            self.lib.otrl_message_respond_smp(self.us, byref(self._ops), None, context, raw, len(raw))

        return self._run(call)

    def smp_abort(self, peer: str) -> Result:
        def call() -> None:
            context = self._private_context(peer, "SMP", "smp")
            if context is not None:
                self._asked.discard(peer)
                self.lib.otrl_message_abort_smp(self.us, byref(self._ops), None, context)

        return self._run(call)

    def symkey(self, peer: str, use: int, usedata: bytes) -> Result:
        fields: dict[str, Any] = {"key": None}

        def call() -> None:
            context = self._private_context(peer, "the extra symmetric key", "not_private")
            if context is None:
                return
            out = ctypes.create_string_buffer(_lib.OTRL_EXTRAKEY_BYTES)
            err = self.lib.otrl_message_symkey(
                self.us, byref(self._ops), None, context, use, usedata, len(usedata), out
            )
            if err:
                self._events.append(ErrorRaised(peer, "not_private", f"otrl_message_symkey: {err:#x}"))
            else:
                fields["key"] = out.raw.hex()

        result = self._run(call)
        result.fields.update(fields)
        return result

    def status(self, peer: str) -> Status:
        context = self._context(peer)
        our_fp = ctypes.create_string_buffer(20)
        have = self.lib.otrl_privkey_fingerprint_raw(self.us, our_fp, self._account, self._protocol)
        fingerprint = our_fp.raw.hex() if have else ""
        config = self._config
        assert config is not None
        if context is None:
            return Status("plaintext", None, None, fingerprint, None, config.instance_tag, None, "expect1")
        ctx = context.contents
        secure = ctx.msgstate == OtrlMessageState.ENCRYPTED
        active = ctx.active_fingerprint
        peer_fp = (
            bytes(active.contents.fingerprint[:20]).hex() if active and active.contents.fingerprint else None
        )
        smp = _SMP_STATES[ctx.smstate.contents.nextExpected] if ctx.smstate else "expect1"
        return Status(
            msgstate=_MSGSTATES[OtrlMessageState(ctx.msgstate)],
            version=ctx.protocol_version if secure else None,
            ssid=bytes(ctx.sessionid[: ctx.sessionid_len]).hex() if secure else None,
            fingerprint=fingerprint,
            peer_fingerprint=peer_fp,
            instance_tag=ctx.our_instance or config.instance_tag,
            peer_instance_tag=ctx.their_instance or None,
            smp=smp,
            extra={"x-authstate": _AUTHSTATES[ctx.auth.authstate]},
        )

    def quit(self) -> None:
        if self._us is not None:
            self.lib.otrl_userstate_free(self._us)
            self._us = None
        self._dir.cleanup()

    def extension(self, op: str, fields: dict[str, Any]) -> Result:
        if op == "x-parse":
            entry, data = fields.get("entry"), fields.get("input")
            if not isinstance(entry, str) or entry not in PARSE_ENTRIES or not isinstance(data, str):
                raise BadRequest(f"x-parse needs entry (one of {sorted(PARSE_ENTRIES)}) and input (string)")
            if entry == "tlv":
                try:
                    bytes.fromhex(data)
                except ValueError:
                    raise BadRequest("x-parse tlv takes hex input") from None
            return Result(fields={"result": parse(self.lib, entry, data)})
        if op == "x-fault":
            # A deliberate crash in native code (a NULL read), for the worker-isolation test.
            ctypes.string_at(0)
            os.kill(os.getpid(), signal.SIGSEGV)  # not reached
        raise Unsupported(f"libotr has no extension op {op}")

    # --------------------------------------------------------------- helpers

    def _run(self, call: Callable[[], None]) -> Result:
        """Run one libotr operation and collect what its callbacks produced."""
        self._out, self._events, self._failures = [], [], []
        call()
        while self._abort_after:
            # message.h: after OTRL_SMPEVENT_ERROR or _CHEATED "otrl_message_abort_smp should be
            # called"; never from inside the callback, so here, once libotr has returned.
            context = self._abort_after.pop(0)
            self.lib.otrl_message_abort_smp(self.us, byref(self._ops), None, context)
        if self._failures:
            raise AdapterError("callback failed: " + "; ".join(self._failures))
        return Result(self._out, self._events)

    def _context(self, peer: str) -> Any:
        context = self.lib.otrl_context_find(
            self.us, peer.encode(), self._account, self._protocol, OtrlInstag.BEST, 0, None, None, None
        )
        return context if context else None

    def _msgstate(self, peer: str) -> str:
        context = self._context(peer)
        return _MSGSTATES[OtrlMessageState(context.contents.msgstate)] if context else "plaintext"

    def _private_context(self, peer: str, what: str, code: str) -> Any:
        context = self._context(peer)
        if context is None or context.contents.msgstate != OtrlMessageState.ENCRYPTED:
            self._events.append(ErrorRaised(peer, code, f"{what} needs an encrypted session"))
            return None
        return context

    def _keep_string(self, value: bytes) -> int:
        buf = ctypes.create_string_buffer(value)
        self._keep.append(buf)
        del self._keep[:-64]  # libotr copies these strings at once; keep the recent ones only
        return ctypes.addressof(buf)

    # ------------------------------------------------------------- callbacks

    def _make_ops(self) -> OtrlMessageAppOps:
        handlers: dict[str, Callable[..., Any]] = {
            "policy": lambda _op, _ctx: self._policy,
            "create_privkey": self._cb_unexpected("create_privkey"),
            "is_logged_in": lambda _op, _acc, _proto, _rcpt: 1,
            "inject_message": self._cb_inject,
            "update_context_list": lambda _op: None,
            "new_fingerprint": lambda *_: None,
            "write_fingerprints": lambda _op: None,
            "gone_secure": lambda _op, ctx: self._cb_secure(ctx, refreshed=False),
            "gone_insecure": lambda _op, ctx: self._events.append(SessionInsecure(_peer(ctx))),
            "still_secure": lambda _op, ctx, _is_reply: self._cb_secure(ctx, refreshed=True),
            "max_message_size": lambda _op, _ctx: self._config.max_message_size if self._config else 0,
            "account_name": lambda _op, account, _proto: self._keep_string(account or b""),
            "account_name_free": lambda _op, _name: None,
            "received_symkey": self._cb_symkey,
            "otr_error_message": lambda _op, _ctx, code: self._keep_string(
                _ERROR_TEXTS.get(code, b"An OTR error occurred.")
            ),
            "otr_error_message_free": lambda _op, _msg: None,
            "resent_msg_prefix": lambda _op, _ctx: self._keep_string(b"[resent]"),
            "resent_msg_prefix_free": lambda _op, _msg: None,
            "handle_smp_event": self._cb_smp,
            "handle_msg_event": self._cb_msg_event,
            "create_instag": self._cb_unexpected("create_instag"),
            "convert_msg": self._cb_convert,
            "convert_free": lambda _op, _ctx, _dest: None,
            "timer_control": lambda _op, _interval: None,
        }
        callbacks = {name: CALLBACK_TYPES[name](self._guard(name, fn)) for name, fn in handlers.items()}
        self._callbacks = callbacks  # ctypes callback objects must outlive every libotr call
        return OtrlMessageAppOps(**callbacks)

    def _guard(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def guarded(*args: Any) -> Any:
            try:
                return fn(*args)
            except Exception as exc:
                self._failures.append(f"{name}: {exc!r}")
                return 0

        return guarded

    def _cb_unexpected(self, name: str) -> Callable[..., None]:
        def callback(*_: Any) -> None:
            self._failures.append(f"libotr asked to {name}; init provides it")

        return callback

    def _cb_inject(
        self, _op: Any, _account: bytes, _protocol: bytes, recipient: bytes, message: bytes
    ) -> None:
        if message:  # libotr injects "" when a text is refused in MSGSTATE_FINISHED
            self._out.append(Outgoing(_text(recipient), _text(message)))

    def _cb_secure(self, ctx: Any, refreshed: bool) -> None:
        c = ctx.contents
        active = c.active_fingerprint
        fingerprint = bytes(active.contents.fingerprint[:20]).hex() if active else ""
        ssid = bytes(c.sessionid[: c.sessionid_len]).hex()
        self._events.append(SessionSecured(_peer(ctx), c.protocol_version, ssid, fingerprint, refreshed))

    def _cb_symkey(self, _op: Any, ctx: Any, use: int, usedata: Any, usedatalen: int, symkey: Any) -> None:
        data = ctypes.string_at(usedata, usedatalen) if usedatalen else b""
        key = ctypes.string_at(symkey, _lib.OTRL_EXTRAKEY_BYTES)
        self._events.append(SymkeyReceived(_peer(ctx), use, data.hex(), key.hex()))

    def _cb_smp(self, _op: Any, event: int, ctx: Any, _progress: int, question: bytes | None) -> None:
        result = _SMP_RESULTS.get(event)
        if result is None:
            return
        peer = _peer(ctx)
        asked = _text(question) if event == OtrlSMPEvent.ASK_FOR_ANSWER else None
        if result == "ask":
            self._asked.add(peer)
        else:
            self._asked.discard(peer)
        if event in (OtrlSMPEvent.ERROR, OtrlSMPEvent.CHEATED):
            self._abort_after.append(ctypes.cast(ctx, POINTER(_lib.ConnContext)))
        self._events.append(SmpUpdated(peer, result, asked))

    def _cb_msg_event(self, _op: Any, event: int, ctx: Any, message: bytes | None, err: int) -> None:
        peer = _peer(ctx)
        if event == OtrlMessageEvent.RCVDMSG_GENERAL_ERR:
            # libotr trims one space after "?OTR Error:"; the contract reports all that follows it.
            at = self._wire.find("?OTR Error:")
            text = self._wire[at + len("?OTR Error:") :] if at >= 0 else _text(message)
            self._events.append(RemoteErrorReceived(peer, text))
            return
        if event == OtrlMessageEvent.RCVDMSG_UNENCRYPTED:
            self._events.append(MessageReceived(peer, _text(message), encrypted=False))
            self._events.append(ErrorRaised(peer, "unencrypted", "the message was received unencrypted"))
            return
        mapped = _MSG_EVENTS.get(event, ("x-libotr-event", f"OtrlMessageEvent {event}"))
        if mapped is not None:
            code, detail = mapped
            extra = f" ({_text(message)})" if message else ""
            self._events.append(
                ErrorRaised(peer, code, detail + extra + (f" [gcry {err:#x}]" if err else ""))
            )

    def _cb_convert(self, _op: Any, _ctx: Any, kind: int, _dest: Any, _src: bytes) -> None:
        if kind == _lib.OtrlConvertType.RECEIVING:
            self._decrypted = True  # libotr calls this right after decrypting a Data Message


def _peer(ctx: Any) -> str:
    return _text(ctx.contents.username) if ctx else ""
