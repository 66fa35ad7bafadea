"""The engine: one local account talking OTR to any number of correspondents.

Routing (spec "Instance Tags", "Fragmentation", "State transitions"):

* a fragment goes to the reassembler of its sender instance (v3) or of the
  correspondent (v2); a completed message is received again, once (a
  fragment cannot contain a fragment);
* an encoded v3 message goes to the session of its sender instance tag,
  after the tag checks; a v2 message to the master session (tag 0);
* plaintext, query and error messages concern the correspondent as a
  whole and act on its current session (the most recently secured one).

Every public method returns an :class:`implementations.api.Result`; bad
input from the network only ever becomes events.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from implementations.api import (
    BadRequest,
    ErrorRaised,
    MessageReceived,
    Outgoing,
    Policy,
    RemoteErrorReceived,
    Result,
    Status,
)

from . import _wire
from ._ake import AuthState
from ._crypto import DsaPrivate
from ._deps import Clock, Entropy, SystemClock, SystemEntropy
from ._fragments import FragmentError, ReassemblyStatus, fragment_message, parse_fragment
from ._session import Effects, Session
from ._state import MsgInput, MsgState
from ._wire import EncodedMessage, MessageType

MAX_INSTANCES = 32  # instance sessions per correspondent (each may hold MAX_REASSEMBLED_CHARS)
QUERY_EXPLANATION = (
    "\n{account} has requested an Off-the-Record private conversation. "
    "However, you do not have a plugin to support that."
)


@dataclass
class Context:
    """The local account's configuration and injected dependencies, shared by its sessions."""

    account: str
    key: DsaPrivate
    instance_tag: int
    policy: Policy
    max_message_size: int
    entropy: Entropy
    clock: Clock
    commit_bias: str | None = None

    def __post_init__(self) -> None:
        self.fingerprint = self.key.public.fingerprint()
        self._versions_of: Policy | None = None
        self._versions: frozenset[int] = frozenset()

    def allowed_versions(self) -> frozenset[int]:
        """The policy's versions, worked out once per policy object (every message asks)."""
        policy = self.policy
        if self._versions_of is not policy:
            self._versions, self._versions_of = policy.allowed_versions(), policy
        return self._versions

    def query_message(self) -> str:
        versions = self.allowed_versions()
        return _wire.QueryMessage(versions, QUERY_EXPLANATION.format(account=self.account)).encode()


def _check_text(text: str, what: str) -> None:
    """Caller misuse, not network input: text must be encodable as UTF-8 (no lone surrogates)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise BadRequest(f"{what} is not valid Unicode: {exc.reason}") from None


class Conversation:
    """Everything about one correspondent: the master session, one session per instance, held text."""

    def __init__(self, ctx: Context, peer: str, counter: itertools.count[int]) -> None:
        self.ctx = ctx
        self.peer = peer
        self._counter = counter
        self.master = Session(self, 0)
        self.instances: dict[int, Session] = {}
        self.held: list[str] = []
        self.offer_whitespace_tag = True

    def instance(self, tag: int) -> Session | None:
        """The session of instance ``tag``; a new one inherits the master's outstanding v3 commit.

        At most :data:`MAX_INSTANCES` instance sessions exist per correspondent, so that a flood of
        invented sender tags (each with its own reassembler) stays bounded: a new instance evicts
        the least recently used one that is not private (msgstate PLAINTEXT).  None when all are.
        """
        session = self.instances.pop(tag, None)
        if session is None:
            if len(self.instances) >= MAX_INSTANCES and not self._evict():
                return None
            session = Session(self, tag)
            self.share_commit(session)
        self.instances[tag] = session  # dict order is recency order: most recent last
        return session

    def _evict(self) -> bool:
        for tag, session in self.instances.items():
            if session.msgstate is MsgState.PLAINTEXT:
                del self.instances[tag]
                return True
        return False

    def share_commit(self, session: Session) -> None:
        """A v3 D-H Commit goes to receiver tag 0, i.e. to every instance: each then awaits its D-H Key.

        (libotr copies the master's state into an instance when a D-H Key arrives; doing it when the
        commit is sent gives the same answers and lets a D-H Commit from an instance meet the
        tie-break the spec asks for.)
        """
        master = self.master.ake
        if master.state is AuthState.AWAITING_DHKEY and master.version == 3:
            session.ake.copy_from(master)

    def sessions(self) -> list[Session]:
        return [self.master, *self.instances.values()]

    def current(self) -> Session:
        """The session user actions apply to: newest ENCRYPTED, else newest FINISHED, else the master."""
        for state in (MsgState.ENCRYPTED, MsgState.FINISHED):
            candidates = [s for s in self.sessions() if s.msgstate is state]
            if candidates:
                return max(candidates, key=lambda s: s.secured_at)
        return self.master

    def mark_secured(self, session: Session) -> None:
        session.secured_at = next(self._counter)


class Engine:
    """Our OTR implementation for one account.  Sans-IO: strings in, :class:`Result` out."""

    def __init__(
        self,
        account: str,
        key: DsaPrivate,
        instance_tag: int,
        policy: Policy | None = None,
        max_message_size: int = 0,
        entropy: Entropy | None = None,
        clock: Clock | None = None,
        commit_bias: str | None = None,
    ) -> None:
        """``commit_bias`` ("high"/"low") is a test hook: see ``_ake.TIEBREAK_EXPONENTS``."""
        if instance_tag < _wire.MIN_INSTANCE_TAG:
            raise BadRequest(f"instance tag {instance_tag:#x} is below 0x100")
        self.ctx = Context(
            account,
            key,
            instance_tag,
            policy or Policy(),
            max_message_size,
            entropy or SystemEntropy(),
            clock or SystemClock(),
            commit_bias,
        )
        self._conversations: dict[str, Conversation] = {}
        self._counter = itertools.count()

    def conversation(self, peer: str) -> Conversation:
        conv = self._conversations.get(peer)
        if conv is None:
            conv = self._conversations[peer] = Conversation(self.ctx, peer, self._counter)
        return conv

    @property
    def otr_enabled(self) -> bool:
        return bool(self.ctx.allowed_versions())

    # ---------------------------------------------------------- user actions

    def send(self, peer: str, text: str) -> Result:
        _check_text(text, "user text")
        if "\0" in text:
            raise BadRequest("user text cannot contain NUL (it would start the TLV part)")
        conv, fx = self.conversation(peer), Effects()
        if not self.otr_enabled:
            fx.sent.append(text)
        else:
            conv.current().handle(fx, MsgInput.SEND_TEXT, text)
        return self._result(conv, fx)

    def query(self, peer: str) -> Result:
        conv, fx = self.conversation(peer), Effects()
        if self.otr_enabled:
            fx.sent.append(self.ctx.query_message())
        return self._result(conv, fx)

    def end(self, peer: str) -> Result:
        conv, fx = self.conversation(peer), Effects()
        for session in conv.sessions():
            session.handle(fx, MsgInput.SEND_END)
        return self._result(conv, fx)

    def smp_start(self, peer: str, secret: str, question: str | None) -> Result:
        _check_text(secret, "SMP secret")
        if question is not None:
            _check_text(question, "SMP question")
            if "\0" in question:
                raise BadRequest("the SMP question cannot contain NUL (it is NUL-terminated)")
        conv, fx = self.conversation(peer), Effects()
        session = self._private_session(conv, fx, "SMP")
        if session is not None:
            session.smp_act(fx, session.smp.start(session.smp_secret(secret, initiator=True), question))
        return self._result(conv, fx)

    def smp_respond(self, peer: str, secret: str) -> Result:
        _check_text(secret, "SMP secret")
        conv, fx = self.conversation(peer), Effects()
        session = self._private_session(conv, fx, "SMP")
        if session is not None:
            session.smp_act(fx, session.smp.respond(session.smp_secret(secret, initiator=False)))
        return self._result(conv, fx)

    def smp_abort(self, peer: str) -> Result:
        conv, fx = self.conversation(peer), Effects()
        session = self._private_session(conv, fx, "SMP")
        if session is not None:
            session.smp_act(fx, session.smp.abort())
        return self._result(conv, fx)

    def symkey(self, peer: str, use: int, usedata: bytes) -> Result:
        if not 0 <= use <= 0xFFFFFFFF:
            raise BadRequest("use is a 32-bit unsigned value")
        conv, fx = self.conversation(peer), Effects()
        session = self._private_session(conv, fx, "the extra symmetric key")
        fx.fields["key"] = None
        if session is not None and session.version != 3:
            fx.events.append(
                ErrorRaised(peer, "not_private", "the extra symmetric key exists only in OTR v3")
            )
        elif session is not None:
            fx.fields["key"] = session.symkey(fx, use, usedata).hex()
        return self._result(conv, fx)

    def status(self, peer: str) -> Status:
        session = self.conversation(peer).current()
        secure = session.msgstate is MsgState.ENCRYPTED
        return Status(
            msgstate=session.msgstate.value,
            version=session.version if secure else None,
            ssid=session.ssid.hex() if secure and session.ssid else None,
            fingerprint=self.ctx.fingerprint.hex(),
            peer_fingerprint=session.their_pubkey.fingerprint().hex() if session.their_pubkey else None,
            instance_tag=self.ctx.instance_tag,
            peer_instance_tag=session.their_tag or None,
            smp=session.smp.state.value,
            extra={"x-authstate": session.ake.state.value},
        )

    def _private_session(self, conv: Conversation, fx: Effects, what: str) -> Session | None:
        session = conv.current()
        if session.msgstate is not MsgState.ENCRYPTED:
            code = "smp" if what == "SMP" else "not_private"
            fx.events.append(ErrorRaised(conv.peer, code, f"{what} needs an encrypted session"))
            return None
        return session

    # ------------------------------------------------------------- receiving

    def receive(self, peer: str, wire: str) -> Result:
        conv, fx = self.conversation(peer), Effects()
        if not self.otr_enabled:
            fx.events.append(MessageReceived(peer, wire, encrypted=False))
        else:
            self._receive(conv, fx, wire, assembled=False)
        return self._result(conv, fx)

    def _receive(self, conv: Conversation, fx: Effects, wire: str, assembled: bool) -> None:
        message = _wire.parse(wire)
        if isinstance(message, _wire.FragmentMarker):
            if assembled:
                fx.events.append(ErrorRaised(conv.peer, "malformed", "a fragment cannot contain a fragment"))
            else:
                self._fragment(conv, fx, wire)
            return
        if not assembled:
            self._forget_fragments(conv, message)
        if isinstance(message, _wire.Malformed):
            fx.events.append(ErrorRaised(conv.peer, "malformed", message.reason))
        elif isinstance(message, _wire.PlainText):
            self._plaintext(conv, fx, message)
        elif isinstance(message, _wire.QueryMessage):
            self._start_ake(conv, fx, message.versions, "query")
        elif isinstance(message, _wire.ErrorMessage):
            fx.events.append(RemoteErrorReceived(conv.peer, message.text))
            if self.ctx.policy.error_start_ake:
                fx.sent.append(self.ctx.query_message())
        else:
            self._encoded(conv, fx, message)

    def _fragment(self, conv: Conversation, fx: Effects, wire: str) -> None:
        fragment = parse_fragment(wire)
        if isinstance(fragment, FragmentError):
            fx.events.append(ErrorRaised(conv.peer, "malformed", f"fragment: {fragment.reason}"))
            return
        if fragment.version not in self.ctx.allowed_versions():
            fx.events.append(
                ErrorRaised(conv.peer, "ignored", f"v{fragment.version} fragment, version not allowed")
            )
            return
        session = conv.master
        if fragment.version == 3:
            header = _wire.Header(3, MessageType.DATA, fragment.sender_tag, fragment.receiver_tag)
            problem = _wire.instance_tag_problem(header, self.ctx.instance_tag, commit=True)
            if problem:
                fx.events.append(ErrorRaised(conv.peer, "ignored", f"fragment: {problem}"))
                return
            instance = conv.instance(fragment.sender_tag)
            if instance is None:
                fx.events.append(ErrorRaised(conv.peer, "ignored", "fragment: too many private instances"))
                return
            session = instance
        result = session.reassembler.feed(fragment)
        if result.status is ReassemblyStatus.DISCARDED:
            fx.events.append(
                ErrorRaised(conv.peer, "ignored", f"fragment discarded: {result.reason} {result.detail}")
            )
        elif result.status is ReassemblyStatus.COMPLETE:
            assert result.message is not None
            self._receive(conv, fx, result.message, assembled=True)

    @staticmethod
    def _forget_fragments(conv: Conversation, message: _wire.Message) -> None:
        """Spec: an unfragmented message makes its sender forget any stored fragment."""
        if isinstance(message, EncodedMessage) and message.header.version == 3:
            targets = [conv.instances[t] for t in (message.header.sender_tag,) if t in conv.instances]
        elif isinstance(message, EncodedMessage):
            targets = [conv.master]
        else:
            targets = conv.sessions()
        for session in targets:
            session.reassembler.forget()

    def _plaintext(self, conv: Conversation, fx: Effects, message: _wire.PlainText) -> None:
        if message.tag_versions is None:
            conv.offer_whitespace_tag = False
        conv.current().handle(fx, MsgInput.RECV_PLAINTEXT, message.text)
        if message.tag_versions is not None and self.ctx.policy.whitespace_start_ake:
            self._start_ake(conv, fx, message.tag_versions, "whitespace tag")

    def _start_ake(self, conv: Conversation, fx: Effects, offered: frozenset[int], why: str) -> None:
        common = offered & self.ctx.allowed_versions()
        if not common:
            fx.events.append(ErrorRaised(conv.peer, "ignored", f"{why} offers no version our policy allows"))
            return
        fx.sent.extend(conv.master.ake.start(max(common)).send)
        for session in conv.instances.values():
            conv.share_commit(session)

    def _encoded(self, conv: Conversation, fx: Effects, message: EncodedMessage) -> None:
        header = message.header
        if header.version not in self.ctx.allowed_versions():
            fx.events.append(
                ErrorRaised(conv.peer, "ignored", f"{header.type.name}: v{header.version} not allowed")
            )
            return
        session = conv.master
        if header.version == 3:
            commit = header.type is MessageType.DH_COMMIT
            problem = _wire.instance_tag_problem(header, self.ctx.instance_tag, commit=commit)
            if problem:
                fx.events.append(ErrorRaised(conv.peer, "ignored", f"{header.type.name}: {problem}"))
                return
            instance = conv.instance(header.sender_tag)
            if instance is None:
                fx.events.append(
                    ErrorRaised(conv.peer, "ignored", f"{header.type.name}: too many private instances")
                )
                return
            session = instance
        if header.type is MessageType.DATA:
            session.handle(fx, MsgInput.RECV_DATA, message)
            return
        master = conv.master.ake
        used_commit = session.ake.outstanding_commit
        outcome = session.ake.receive(message)
        fx.sent.extend(outcome.send)
        if outcome.ignored:
            fx.events.append(ErrorRaised(conv.peer, "ignored", outcome.ignored))
        if outcome.result is not None:
            if session is not conv.master and used_commit and used_commit == master.outstanding_commit:
                master.reset()  # the master's commit was answered and opened: never offer it again
            session.handle(fx, MsgInput.AKE_COMPLETED, outcome.result)
            conv.mark_secured(session)
            held, conv.held = conv.held, []
            for text in held:
                session.handle(fx, MsgInput.SEND_TEXT, text)

    # ----------------------------------------------------------------- output

    def _result(self, conv: Conversation, fx: Effects) -> Result:
        out: list[Outgoing] = []
        for item in fx.sent:
            if isinstance(item, str):
                out.append(Outgoing(conv.peer, item))
                continue
            encoded = _wire.encode(item)
            limit = self.ctx.max_message_size
            if not limit or len(encoded) <= limit:
                out.append(Outgoing(conv.peer, encoded))
                continue
            header = item.header
            tags = (header.sender_tag, header.receiver_tag) if header.version == 3 else (0, 0)
            try:
                pieces = fragment_message(encoded, limit, header.version, *tags)
            except ValueError as exc:
                fx.events.append(ErrorRaised(conv.peer, "unsendable", f"{header.type.name}: {exc}"))
                continue
            out.extend(Outgoing(conv.peer, piece) for piece in pieces)
        return Result(out, list(fx.events), dict(fx.fields))
