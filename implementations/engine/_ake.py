"""The authenticated key exchange (spec: "Authenticated Key Exchange", "The protocol state machine").

Every transition of the authstate machine is one row of :data:`AKE_TRANSITIONS`.
A (state, input) pair that has no row is ignored, and the outcome says why.
Where the spec branches on data (the D-H Commit tie-break, a signature that
fails to verify) the row lists every allowed next state; the effect chooses
and :meth:`Ake._dispatch` asserts the choice is one of them.

The machine is sans-IO: it consumes parsed messages and returns an
:class:`AkeOutcome` with the messages to send and, once, the
:class:`AkeResult` that switches the session to MSGSTATE_ENCRYPTED.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from . import _codec, _crypto
from ._codec import DecodeError, Reader
from ._crypto import DhKeyPair, DsaPrivate, DsaPublic
from ._deps import Entropy
from ._state import mermaid_diagram
from ._wire import DHCommit, DHKey, EncodedMessage, Header, MessageType, RevealSignature, Signature

AKE_KEYID = 1  # "Send the public part of our_dh[our_keyid-1]" with our_keyid = 2 at the start

# A test hook (init field ``x-commit-hash``): D-H exponents whose hashed gx starts with ffff / 0000,
# so that the outcome of a simultaneous start against an implementation whose randomness cannot
# be seeded is still decided in advance.  Found by search; tests/engine recomputes the prefixes.
TIEBREAK_EXPONENTS = {
    "high": 0x9847732F5210AC99677654DA7E9F831B9670A93301F7F0A73B98B6E87110480F1847732F521105C3,
    "low": 0x9847732F5210AC99677654DA7E9F831B9670A93301F7F0A73B98B6E87110480F1847732F5212C39E,
}


class AuthState(enum.Enum):
    NONE = "none"
    AWAITING_DHKEY = "awaiting_dhkey"
    AWAITING_REVEALSIG = "awaiting_revealsig"
    AWAITING_SIG = "awaiting_sig"


class AuthInput(enum.Enum):
    SEND_DH_COMMIT = "send_dh_commit"  # query or tag received, or the user asked to start
    RECV_DH_COMMIT = "recv_dh_commit"
    RECV_DH_KEY = "recv_dh_key"
    RECV_REVEAL_SIGNATURE = "recv_reveal_signature"
    RECV_SIGNATURE = "recv_signature"


S = AuthState
I = AuthInput  # noqa: E741


@dataclass(frozen=True)
class Transition:
    effect: str
    next_states: frozenset[AuthState]
    spec: str = ""


def _row(effect: str, *next_states: AuthState, spec: str = "") -> Transition:
    return Transition(effect, frozenset(next_states), spec)


AKE_TRANSITIONS: dict[tuple[AuthState, AuthInput], Transition] = {
    # "Send a version 3 D-H Commit Message, and transition authstate to AUTHSTATE_AWAITING_DHKEY"
    # applies from every authstate: a new AKE replaces one in progress.
    **{(state, I.SEND_DH_COMMIT): _row("send_commit", S.AWAITING_DHKEY) for state in AuthState},
    (S.NONE, I.RECV_DH_COMMIT): _row("reply_dh_key", S.AWAITING_REVEALSIG),
    (S.AWAITING_DHKEY, I.RECV_DH_COMMIT): _row(
        "tie_break",
        S.AWAITING_DHKEY,
        S.AWAITING_REVEALSIG,
        spec="compare the hashed gx values as 32-byte big-endian numbers; the higher one "
        "resends its commit, the lower one forgets its gx and replies with a D-H Key",
    ),
    (S.AWAITING_REVEALSIG, I.RECV_DH_COMMIT): _row(
        "retransmit_dh_key",
        S.AWAITING_REVEALSIG,
        spec="Retransmit your D-H Key Message (the same one ...). Forget the old D-H Commit message",
    ),
    (S.AWAITING_SIG, I.RECV_DH_COMMIT): _row(
        "reply_dh_key", S.AWAITING_REVEALSIG, spec="Reply with a new D-H Key"
    ),
    (S.AWAITING_DHKEY, I.RECV_DH_KEY): _row(
        "reply_reveal_signature", S.AWAITING_SIG, S.AWAITING_DHKEY, spec="an illegal gy is ignored"
    ),
    (S.AWAITING_SIG, I.RECV_DH_KEY): _row(
        "retransmit_reveal_signature",
        S.AWAITING_SIG,
        spec="If this D-H Key message is the same the one you received earlier: retransmit "
        "your Reveal Signature Message. Otherwise: ignore the message.",
    ),
    (S.AWAITING_REVEALSIG, I.RECV_REVEAL_SIGNATURE): _row(
        "reply_signature",
        S.NONE,
        S.AWAITING_REVEALSIG,
        spec="If everything checks out: reply with a Signature Message ... Otherwise, ignore the message.",
    ),
    (S.AWAITING_SIG, I.RECV_SIGNATURE): _row(
        "complete", S.NONE, S.AWAITING_SIG, spec="If everything checks out ... Otherwise, ignore the message."
    ),
}


def our_commit_wins(ours: bytes, theirs: bytes) -> bool:
    """The tie-break: hashed gx values "considered as 32-byte unsigned big-endian values"."""
    return int.from_bytes(ours, "big") > int.from_bytes(theirs, "big")


@dataclass(frozen=True)
class AkeResult:
    """What a completed AKE hands to the data phase (spec "Key Management")."""

    version: int
    ssid: bytes
    extra_key: bytes
    our_dh: DhKeyPair
    our_keyid: int
    their_dh: int
    their_keyid: int
    their_pubkey: DsaPublic
    their_tag: int
    sent_reveal_signature: bool


@dataclass
class AkeOutcome:
    send: list[EncodedMessage] = field(default_factory=list)
    result: AkeResult | None = None
    ignored: str | None = None


class Ake:
    """The authstate machine of one correspondent instance."""

    def __init__(
        self, key: DsaPrivate, entropy: Entropy, our_tag: int, commit_bias: str | None = None
    ) -> None:
        self._key = key
        self._commit_bias = commit_bias
        self._entropy = entropy
        self.our_tag = our_tag
        self.state = AuthState.NONE
        self.version = 3
        self.their_tag = 0
        self._our_dh: DhKeyPair | None = None
        self._r = b""
        self._our_commit: DHCommit | None = None
        self._their_commit: DHCommit | None = None
        self._their_gy = 0
        self._sent_dh_key: DHKey | None = None
        self._sent_reveal: RevealSignature | None = None
        self._keys: _crypto.AkeKeys | None = None

    # ------------------------------------------------------------ public

    def start(self, version: int) -> AkeOutcome:
        self.version = version
        return self._dispatch(I.SEND_DH_COMMIT, None)

    def receive(self, message: EncodedMessage) -> AkeOutcome:
        inputs = {
            MessageType.DH_COMMIT: I.RECV_DH_COMMIT,
            MessageType.DH_KEY: I.RECV_DH_KEY,
            MessageType.REVEAL_SIGNATURE: I.RECV_REVEAL_SIGNATURE,
            MessageType.SIGNATURE: I.RECV_SIGNATURE,
        }
        return self._dispatch(inputs[message.header.type], message)

    @property
    def outstanding_commit(self) -> bytes | None:
        """The hashed gx of the D-H Commit this machine sent and still stands by, if any."""
        if self.state is AuthState.NONE or self._our_commit is None:
            return None
        return self._our_commit.hashed_gx

    def reset(self) -> None:
        """Forget any AKE in progress (authstate NONE)."""
        self.state = AuthState.NONE
        self._our_commit = None
        self._sent_dh_key = None
        self._sent_reveal = None
        self._keys = None

    def copy_from(self, master: Ake) -> None:
        """Take over the master instance's outstanding D-H Commit (libotr's copy-on-commit/key).

        A v3 D-H Commit is sent with receiver tag 0; its answer comes from a
        particular instance, whose session starts from the master's state.
        """
        self.state = master.state
        self.version = master.version
        self._our_dh = master._our_dh
        self._r = master._r
        self._our_commit = master._our_commit

    # ------------------------------------------------------------ machine

    def _dispatch(self, event: AuthInput, message: EncodedMessage | None) -> AkeOutcome:
        row = AKE_TRANSITIONS.get((self.state, event))
        if row is None:
            return AkeOutcome(ignored=f"{event.name} in AUTHSTATE_{self.state.name}")
        if message is not None:
            self.version = message.header.version
            self.their_tag = message.header.sender_tag
        effect: Callable[[EncodedMessage | None], tuple[AuthState, AkeOutcome]] = getattr(
            self, "_" + row.effect
        )
        next_state, outcome = effect(message)
        assert next_state in row.next_states, (self.state, event, next_state)
        self.state = next_state
        return outcome

    def _header(self, mtype: MessageType) -> Header:
        return Header(self.version, mtype, self.our_tag, self.their_tag)

    def _new_dh(self) -> DhKeyPair:
        return DhKeyPair.from_random(self._entropy.random_bytes(_crypto.DH_PRIVATE_BYTES))

    # ------------------------------------------------------------ effects

    def _send_commit(self, _: EncodedMessage | None) -> tuple[AuthState, AkeOutcome]:
        self._our_dh = self._new_dh()
        if self._commit_bias is not None:
            self._our_dh = DhKeyPair.from_private(TIEBREAK_EXPONENTS[self._commit_bias])
        self._r = self._entropy.random_bytes(_crypto.AKE_R_BYTES)
        gx_mpi = _codec.mpi(self._our_dh.public)
        self._our_commit = DHCommit(
            self._header(MessageType.DH_COMMIT),
            _crypto.aes_ctr(self._r, _crypto.ZERO_CTR, gx_mpi),
            _crypto.sha256(gx_mpi),
        )
        return S.AWAITING_DHKEY, AkeOutcome([self._our_commit])

    def _reply_dh_key(self, message: EncodedMessage | None) -> tuple[AuthState, AkeOutcome]:
        assert isinstance(message, DHCommit)
        self._their_commit = message
        self._our_dh = self._new_dh()
        self._our_commit = None
        self._sent_dh_key = DHKey(self._header(MessageType.DH_KEY), self._our_dh.public)
        return S.AWAITING_REVEALSIG, AkeOutcome([self._sent_dh_key])

    def _tie_break(self, message: EncodedMessage | None) -> tuple[AuthState, AkeOutcome]:
        assert isinstance(message, DHCommit) and self._our_commit is not None
        if our_commit_wins(self._our_commit.hashed_gx, message.hashed_gx):
            self._our_commit = replace(self._our_commit, header=self._header(MessageType.DH_COMMIT))
            return S.AWAITING_DHKEY, AkeOutcome([self._our_commit])
        return self._reply_dh_key(message)

    def _retransmit_dh_key(self, message: EncodedMessage | None) -> tuple[AuthState, AkeOutcome]:
        assert isinstance(message, DHCommit) and self._sent_dh_key is not None
        self._their_commit = message
        self._sent_dh_key = replace(self._sent_dh_key, header=self._header(MessageType.DH_KEY))
        return S.AWAITING_REVEALSIG, AkeOutcome([self._sent_dh_key])

    def _reply_reveal_signature(self, message: EncodedMessage | None) -> tuple[AuthState, AkeOutcome]:
        assert isinstance(message, DHKey) and self._our_dh is not None
        if not _crypto.is_group_element(message.gy):
            return S.AWAITING_DHKEY, AkeOutcome(ignored="D-H Key: gy is not in [2, p-2]")
        self._their_gy = message.gy
        self._keys = _crypto.derive_ake_keys(_crypto.dh_secret(self._our_dh.private, message.gy))
        encrypted, mac = self._signed_part(
            self._keys.m1, self._keys.c, self._keys.m2, self._our_dh.public, message.gy
        )
        self._sent_reveal = RevealSignature(
            self._header(MessageType.REVEAL_SIGNATURE), self._r, encrypted, mac
        )
        return S.AWAITING_SIG, AkeOutcome([self._sent_reveal])

    def _retransmit_reveal_signature(self, message: EncodedMessage | None) -> tuple[AuthState, AkeOutcome]:
        assert isinstance(message, DHKey) and self._sent_reveal is not None
        if message.gy != self._their_gy:
            return S.AWAITING_SIG, AkeOutcome(ignored="D-H Key differs from the one answered")
        self._sent_reveal = replace(self._sent_reveal, header=self._header(MessageType.REVEAL_SIGNATURE))
        return S.AWAITING_SIG, AkeOutcome([self._sent_reveal])

    def _reply_signature(self, message: EncodedMessage | None) -> tuple[AuthState, AkeOutcome]:
        assert isinstance(message, RevealSignature) and self._their_commit is not None
        assert self._our_dh is not None
        commit = self._their_commit
        gx_mpi = _crypto.aes_ctr(message.revealed_key, _crypto.ZERO_CTR, commit.encrypted_gx)
        if not _crypto.macs_equal(_crypto.sha256(gx_mpi), commit.hashed_gx):
            return S.AWAITING_REVEALSIG, AkeOutcome(ignored="Reveal Signature: gx does not match its hash")
        try:
            reader = Reader(gx_mpi)
            gx = reader.mpi("gx")
            reader.finish("gx")
        except DecodeError as exc:
            return S.AWAITING_REVEALSIG, AkeOutcome(ignored=f"Reveal Signature: {exc}")
        if not _crypto.is_group_element(gx):
            return S.AWAITING_REVEALSIG, AkeOutcome(ignored="Reveal Signature: gx is not in [2, p-2]")
        keys = _crypto.derive_ake_keys(_crypto.dh_secret(self._our_dh.private, gx))
        verified = self._verify_signed_part(
            keys.m1, keys.c, keys.m2, message.encrypted_signature, message.mac, gx, self._our_dh.public
        )
        if isinstance(verified, str):
            return S.AWAITING_REVEALSIG, AkeOutcome(ignored=f"Reveal Signature: {verified}")
        their_pub, their_keyid = verified
        encrypted, mac = self._signed_part(
            keys.m1_prime, keys.c_prime, keys.m2_prime, self._our_dh.public, gx
        )
        reply = Signature(self._header(MessageType.SIGNATURE), encrypted, mac)
        result = self._result(keys, gx, their_keyid, their_pub, sent_reveal=False)
        return S.NONE, AkeOutcome([reply], result)

    def _complete(self, message: EncodedMessage | None) -> tuple[AuthState, AkeOutcome]:
        assert isinstance(message, Signature) and self._keys is not None and self._our_dh is not None
        keys = self._keys
        verified = self._verify_signed_part(
            keys.m1_prime,
            keys.c_prime,
            keys.m2_prime,
            message.encrypted_signature,
            message.mac,
            self._their_gy,
            self._our_dh.public,
        )
        if isinstance(verified, str):
            return S.AWAITING_SIG, AkeOutcome(ignored=f"Signature: {verified}")
        their_pub, their_keyid = verified
        return S.NONE, AkeOutcome(
            result=self._result(keys, self._their_gy, their_keyid, their_pub, sent_reveal=True)
        )

    # ------------------------------------------------------- signatures

    def _signed_part(self, m1: bytes, c: bytes, m2: bytes, ours: int, theirs: int) -> tuple[bytes, bytes]:
        """X = pub, keyid, sig(M), M = MAC_m1(our DH, their DH, pub, keyid); returns (AES_c(X), MAC_m2)."""
        pub = self._key.public.encode()
        keyid = _codec.uint(AKE_KEYID)
        m = _crypto.hmac_sha256(m1, _codec.mpi(ours) + _codec.mpi(theirs) + pub + keyid)
        sig = self._sign(m)
        encrypted = _crypto.aes_ctr(c, _crypto.ZERO_CTR, pub + keyid + sig)
        return encrypted, _crypto.hmac_sha256_160(m2, _codec.data(encrypted))

    def _sign(self, m: bytes) -> bytes:
        q_bytes = (self._key.public.q.bit_length() + 7) // 8 + 8
        while True:
            try:
                return self._key.sign(m, self._entropy.random_bytes(q_bytes))
            except ValueError:  # degenerate nonce, ~2^-160
                continue

    @staticmethod
    def _verify_signed_part(
        m1: bytes, c: bytes, m2: bytes, encrypted: bytes, mac: bytes, theirs: int, ours: int
    ) -> tuple[DsaPublic, int] | str:
        """Check MAC_m2, decrypt X, keyid > 0 and the signature on MAC_m1(their DH, our DH, pub, keyid)."""
        if not _crypto.macs_equal(_crypto.hmac_sha256_160(m2, _codec.data(encrypted)), mac):
            return "bad MAC on the encrypted signature"
        plain = _crypto.aes_ctr(c, _crypto.ZERO_CTR, encrypted)
        reader = Reader(plain)
        try:
            start = reader.position
            pub = _crypto.read_pubkey(reader)
            pub_bytes = reader.consumed_since(start)
            keyid = reader.uint("keyid")
            sig = reader.raw(2 * pub.sig_width, "signature")
            reader.finish("signed part")
        except DecodeError as exc:
            return str(exc)
        if keyid == 0:
            return "keyid 0 is illegal"
        m = _crypto.hmac_sha256(m1, _codec.mpi(theirs) + _codec.mpi(ours) + pub_bytes + _codec.uint(keyid))
        if not pub.verify(m, sig):
            return "signature does not verify"
        return pub, keyid

    def _result(
        self, keys: _crypto.AkeKeys, their_dh: int, their_keyid: int, their_pub: DsaPublic, sent_reveal: bool
    ) -> AkeResult:
        assert self._our_dh is not None
        return AkeResult(
            version=self.version,
            ssid=keys.ssid,
            extra_key=keys.extra_key,
            our_dh=self._our_dh,
            our_keyid=AKE_KEYID,
            their_dh=their_dh,
            their_keyid=their_keyid,
            their_pubkey=their_pub,
            their_tag=self.their_tag,
            sent_reveal_signature=sent_reveal,
        )


def diagram() -> str:
    """The authstate machine, drawn from :data:`AKE_TRANSITIONS`."""
    return mermaid_diagram(AuthState.NONE, AKE_TRANSITIONS)
