"""One correspondent instance: the msgstate machine, the data phase and SMP glue.

A :class:`Session` exists per (correspondent, their instance tag); tag 0 is
the "master" session that v2 conversations and not-yet-addressed v3
commits use.  Everything a session does goes into an :class:`Effects`
accumulator owned by the caller, so a session never performs I/O.

Invariants:

* user text leaves in the clear only from :meth:`_send_plaintext` and only
  when REQUIRE_ENCRYPTION is unset;
* keys exist exactly while msgstate is ENCRYPTED;
* SMP state is reset whenever msgstate leaves or re-enters ENCRYPTED.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from implementations.api import (
    ErrorRaised,
    Event,
    MessageReceived,
    SessionFinished,
    SessionInsecure,
    SessionSecured,
    SmpUpdated,
    SymkeyReceived,
)

from . import _wire
from ._ake import Ake, AkeResult
from ._crypto import DsaPublic
from ._fragments import Reassembler
from ._keys import DataKeyState
from ._smp import SmpMachine, SmpOutcome, smp_secret
from ._state import MSG_TRANSITIONS, MsgInput, MsgState
from ._tlv import Tlv, TlvType, decode_plaintext, encode_plaintext
from ._wire import DataMessage, EncodedMessage, ErrorMessage, Header, MessageType

if TYPE_CHECKING:
    from ._engine import Conversation

HEARTBEAT_INTERVAL = 60.0  # seconds without sending after which a received message earns a heartbeat
UNREADABLE_ERROR = " You transmitted an unreadable encrypted message."


@dataclass
class Effects:
    """What one operation produced: messages for the network (in order) and events for the user."""

    sent: list[EncodedMessage | str] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    fields: dict[str, object] = field(default_factory=dict)


class Session:
    def __init__(self, conv: Conversation, their_tag: int) -> None:
        self.conv = conv
        ctx = conv.ctx
        self.their_tag = their_tag
        self.msgstate = MsgState.PLAINTEXT
        self.ake = Ake(ctx.key, ctx.entropy, ctx.instance_tag, ctx.commit_bias)
        self.keys: DataKeyState | None = None
        self.version: int | None = None
        self.ssid: bytes | None = None
        self.their_pubkey: DsaPublic | None = None
        self.smp = SmpMachine(ctx.entropy)
        self.reassembler = Reassembler()
        self.last_sent = 0.0
        self.secured_at = -1  # order in which sessions went secure; -1: never

    @property
    def peer(self) -> str:
        return self.conv.peer

    # -------------------------------------------------------------- dispatch

    def handle(self, fx: Effects, event: MsgInput, arg: object = None) -> None:
        row = MSG_TRANSITIONS.get((self.msgstate, event))
        if row is None:
            fx.events.append(
                ErrorRaised(self.peer, "ignored", f"{event.name} in MSGSTATE_{self.msgstate.name}")
            )
            return
        effect: Callable[[Effects, object], MsgState] = getattr(self, "_" + row.effect)
        next_state = effect(fx, arg)
        assert next_state in row.next_states, (self.msgstate, event, next_state)
        if next_state is not MsgState.ENCRYPTED and self.msgstate is MsgState.ENCRYPTED:
            # Spec, "The SMP state machine": leaving ENCRYPTED abandons any SMP under way.
            self.keys = None
            self.smp.reset()
        if next_state is MsgState.PLAINTEXT and self.msgstate is not MsgState.PLAINTEXT:
            # Spec, "User types a message": tag again until a plaintext arrives after entering PLAINTEXT.
            self.conv.offer_whitespace_tag = True
        self.msgstate = next_state

    # --------------------------------------------------------------- effects

    def _send_plaintext(self, fx: Effects, arg: object) -> MsgState:
        text = str(arg)
        policy = self.conv.ctx.policy
        if policy.require_encryption:
            self.conv.held.append(text)
            fx.events.append(ErrorRaised(self.peer, "held", "stored until the conversation is private"))
            fx.sent.append(self.conv.ctx.query_message())
            return MsgState.PLAINTEXT
        if policy.send_whitespace_tag and self.conv.offer_whitespace_tag:
            text += _wire.whitespace_tag(policy.allowed_versions())
        fx.sent.append(text)
        return MsgState.PLAINTEXT

    def _send_data(self, fx: Effects, arg: object) -> MsgState:
        self.send_data_message(fx, str(arg).encode("utf-8"), (), flags=0)
        return MsgState.ENCRYPTED

    def _refuse_text(self, fx: Effects, arg: object) -> MsgState:
        fx.events.append(
            ErrorRaised(
                self.peer, "not_private", "the correspondent has ended the private conversation; end it too"
            )
        )
        return MsgState.FINISHED

    def _nothing(self, fx: Effects, arg: object) -> MsgState:
        return self.msgstate

    def _send_disconnect(self, fx: Effects, arg: object) -> MsgState:
        self.send_data_message(fx, b"", (Tlv(TlvType.DISCONNECTED),), flags=_wire.IGNORE_UNREADABLE)
        fx.events.append(SessionInsecure(self.peer))
        return MsgState.PLAINTEXT

    def _leave_finished(self, fx: Effects, arg: object) -> MsgState:
        return MsgState.PLAINTEXT

    def _display_plaintext(self, fx: Effects, arg: object) -> MsgState:
        text = str(arg)
        if text:
            fx.events.append(MessageReceived(self.peer, text, encrypted=False))
        if self.msgstate is not MsgState.PLAINTEXT or self.conv.ctx.policy.require_encryption:
            fx.events.append(ErrorRaised(self.peer, "unencrypted", "the message was received unencrypted"))
        return self.msgstate

    def _unreadable(self, fx: Effects, arg: object) -> MsgState:
        assert isinstance(arg, DataMessage)
        self.report_unreadable(fx, arg, f"Data Message in MSGSTATE_{self.msgstate.name}")
        return self.msgstate

    def _decrypt(self, fx: Effects, arg: object) -> MsgState:
        assert isinstance(arg, DataMessage) and self.keys is not None
        opened = self.keys.open(arg)
        if isinstance(opened, str):
            self.report_unreadable(fx, arg, opened)
            return MsgState.ENCRYPTED
        body = decode_plaintext(opened.plaintext)
        if body.text:
            fx.events.append(MessageReceived(self.peer, body.text.decode("utf-8", "replace"), encrypted=True))
        if body.damage:
            fx.events.append(ErrorRaised(self.peer, "malformed", f"TLVs: {body.damage}"))
        for tlv in body.tlvs:
            if tlv.type == TlvType.DISCONNECTED:
                fx.events.append(SessionFinished(self.peer))
                return MsgState.FINISHED
            if TlvType.SMP1 <= tlv.type <= TlvType.SMP1Q:
                self._smp_outcome(fx, self.smp.receive(tlv))
            elif tlv.type == TlvType.EXTRA_SYMMETRIC_KEY:
                self._symkey_received(fx, tlv, opened.extra_key)
        now = self.conv.ctx.clock.now()
        if body.text and now - self.last_sent >= HEARTBEAT_INTERVAL:
            self.send_data_message(fx, b"", (), flags=_wire.IGNORE_UNREADABLE)
        return MsgState.ENCRYPTED

    def _go_encrypted(self, fx: Effects, arg: object) -> MsgState:
        assert isinstance(arg, AkeResult)
        refreshed = self.msgstate is MsgState.ENCRYPTED
        ctx = self.conv.ctx
        self.keys = DataKeyState(arg.our_dh, arg.our_keyid, arg.their_dh, arg.their_keyid, ctx.entropy)
        self.version = arg.version
        self.ssid = arg.ssid
        self.their_pubkey = arg.their_pubkey
        if not refreshed:
            # A new AKE while ENCRYPTED keeps any SMP under way: the spec abandons SMP state only
            # when MSGSTATE_ENCRYPTED is left (ENGINE-005).  Its secret already binds the old ssid.
            self.smp.reset()
        self.last_sent = ctx.clock.now()
        fingerprint = arg.their_pubkey.fingerprint().hex()
        fx.events.append(SessionSecured(self.peer, arg.version, arg.ssid.hex(), fingerprint, refreshed))
        return MsgState.ENCRYPTED

    # ------------------------------------------------------------- helpers

    def header(self, mtype: MessageType) -> Header:
        assert self.version is not None
        return Header(self.version, mtype, self.conv.ctx.instance_tag, self.their_tag)

    def send_data_message(
        self, fx: Effects, text: bytes, tlvs: tuple[Tlv, ...] | list[Tlv], flags: int
    ) -> None:
        assert self.keys is not None
        message = self.keys.seal(self.header(MessageType.DATA), flags, encode_plaintext(text, tlvs))
        fx.sent.append(message)
        self.last_sent = self.conv.ctx.clock.now()

    def report_unreadable(self, fx: Effects, message: DataMessage, reason: str) -> None:
        if message.flags & _wire.IGNORE_UNREADABLE:
            fx.events.append(
                ErrorRaised(self.peer, "ignored", f"unreadable, IGNORE_UNREADABLE set: {reason}")
            )
            return
        fx.events.append(ErrorRaised(self.peer, "unreadable", reason))
        fx.sent.append(ErrorMessage(UNREADABLE_ERROR).encode())

    def _symkey_received(self, fx: Effects, tlv: Tlv, key: bytes) -> None:
        if len(tlv.value) < 4:
            fx.events.append(
                ErrorRaised(self.peer, "malformed", "extra symmetric key TLV shorter than 4 bytes")
            )
            return
        use = int.from_bytes(tlv.value[:4], "big")
        fx.events.append(SymkeyReceived(self.peer, use, tlv.value[4:].hex(), key.hex()))

    # ------------------------------------------------------------------ SMP

    def smp_secret(self, secret: str, initiator: bool) -> int:
        assert self.their_pubkey is not None and self.ssid is not None
        ours, theirs = self.conv.ctx.fingerprint, self.their_pubkey.fingerprint()
        first, second = (ours, theirs) if initiator else (theirs, ours)
        return smp_secret(first, second, self.ssid, secret.encode("utf-8"))

    def smp_act(self, fx: Effects, outcome: SmpOutcome) -> None:
        self._smp_outcome(fx, outcome)

    def _smp_outcome(self, fx: Effects, outcome: SmpOutcome) -> None:
        # One TLV per Data Message: libotr handles the TLVs of one message in a fixed type order
        # (SMP1Q, SMP1..SMP4, abort), so a restart sent as [abort, SMP1] together would be lost.
        if self.msgstate is MsgState.ENCRYPTED:
            for tlv in outcome.tlvs:
                self.send_data_message(fx, b"", (tlv,), flags=_wire.IGNORE_UNREADABLE)
        extra = {"x-detail": outcome.detail} if outcome.detail else {}
        for result, question in outcome.results:
            fx.events.append(SmpUpdated(self.peer, result, question, extra=dict(extra)))

    def symkey(self, fx: Effects, use: int, usedata: bytes) -> bytes:
        assert self.keys is not None
        key = self.keys.sending_extra_key()
        tlv = Tlv(TlvType.EXTRA_SYMMETRIC_KEY, use.to_bytes(4, "big") + usedata)
        self.send_data_message(fx, b"", (tlv,), flags=_wire.IGNORE_UNREADABLE)
        return key
