"""Data-phase key management (spec: "Key Management", "Revealing MAC keys").

Invariants:

* We hold our_dh[our_keyid] and our_dh[our_keyid-1], their_y[their_keyid]
  and (possibly None) their_y[their_keyid-1]; session keys exist only for
  those pairs (at most four).
* Sending uses (our_keyid-1, their_keyid) and advertises our_dh[our_keyid].
* A received message is accepted only if its keyids name keys we hold, its
  MAC verifies and its counter is strictly larger than the last one seen
  for that key pair; keys rotate only after all of that.
* A receiving MAC key that verified a message is revealed (in the next Data
  Message we send) when one of the keys that produced it is forgotten.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from . import _crypto
from ._crypto import DataKeys, DhKeyPair
from ._deps import Entropy
from ._wire import DataMessage, Header


@dataclass
class _PairKeys:
    """One key pair's keys and counters; its cipher and MAC states are set up on first use, once."""

    keys: DataKeys
    send_ctr: int = 0
    recv_ctr: int = 0
    recv_mac_used: bool = False
    _send_aes: _crypto.AesCtr | None = None
    _send_mac: _crypto.HmacSha1 | None = None
    _recv_aes: _crypto.AesCtr | None = None
    _recv_mac: _crypto.HmacSha1 | None = None

    def send_aes(self) -> _crypto.AesCtr:
        if self._send_aes is None:
            self._send_aes = _crypto.AesCtr(self.keys.send_aes)
        return self._send_aes

    def send_mac(self) -> _crypto.HmacSha1:
        if self._send_mac is None:
            self._send_mac = _crypto.HmacSha1(self.keys.send_mac)
        return self._send_mac

    def recv_aes(self) -> _crypto.AesCtr:
        if self._recv_aes is None:
            self._recv_aes = _crypto.AesCtr(self.keys.recv_aes)
        return self._recv_aes

    def recv_mac(self) -> _crypto.HmacSha1:
        if self._recv_mac is None:
            self._recv_mac = _crypto.HmacSha1(self.keys.recv_mac)
        return self._recv_mac


@dataclass(frozen=True)
class Opened:
    """A Data Message that verified: its plaintext and the extra symmetric key of its key pair."""

    plaintext: bytes
    extra_key: bytes


class DataKeyState:
    def __init__(
        self, our_ake_dh: DhKeyPair, our_ake_keyid: int, their_dh: int, their_keyid: int, entropy: Entropy
    ):
        self._entropy = entropy
        self.our_keyid = our_ake_keyid + 1
        self._our_prev: DhKeyPair = our_ake_dh
        self._our_cur: DhKeyPair = self._new_dh()
        self.their_keyid = their_keyid
        self._their_cur: int = their_dh
        self._their_prev: int | None = None
        self._pairs: dict[tuple[int, int], _PairKeys] = {}
        self.old_mac_keys = b""

    def _new_dh(self) -> DhKeyPair:
        return DhKeyPair.from_random(self._entropy.random_bytes(_crypto.DH_PRIVATE_BYTES))

    def _our(self, keyid: int) -> DhKeyPair | None:
        if keyid == self.our_keyid:
            return self._our_cur
        if keyid == self.our_keyid - 1:
            return self._our_prev
        return None

    def _their(self, keyid: int) -> int | None:
        if keyid == self.their_keyid:
            return self._their_cur
        if keyid == self.their_keyid - 1:
            return self._their_prev
        return None

    def _pair(self, our_id: int, their_id: int) -> _PairKeys | None:
        pair = self._pairs.get((our_id, their_id))
        if pair is None:
            ours, theirs = self._our(our_id), self._their(their_id)
            if ours is None or theirs is None:
                return None
            pair = self._pairs[(our_id, their_id)] = _PairKeys(_crypto.derive_data_keys(ours, theirs))
        return pair

    def _sending_pair(self) -> _PairKeys:
        pair = self._pair(self.our_keyid - 1, self.their_keyid)
        assert pair is not None
        return pair

    def sending_extra_key(self) -> bytes:
        """The extra symmetric key of the pair the next Data Message will use."""
        return self._sending_pair().keys.extra_key

    def seal(self, header: Header, flags: int, plaintext: bytes) -> DataMessage:
        pair = self._sending_pair()
        pair.send_ctr += 1
        ctr = pair.send_ctr.to_bytes(8, "big")
        message = DataMessage(
            header,
            flags,
            self.our_keyid - 1,
            self.their_keyid,
            self._our_cur.public,
            ctr,
            pair.send_aes()(ctr, plaintext),
            old_mac_keys=self.old_mac_keys,
        )
        self.old_mac_keys = b""
        return message.with_mac(pair.send_mac()(message.authenticated_part()))

    def open(self, message: DataMessage) -> Opened | str:
        """Verify and decrypt; on failure return the reason and change nothing."""
        if message.sender_keyid == 0 or message.recipient_keyid == 0:
            return "keyid 0 is illegal"
        pair = self._pair(message.recipient_keyid, message.sender_keyid)
        if pair is None:
            sender, recipient = message.sender_keyid, message.recipient_keyid
            return (
                f"no keys for sender keyid {sender} / recipient keyid {recipient} (ours "
                f"{self.our_keyid - 1}..{self.our_keyid}, theirs {self.their_keyid - 1}..{self.their_keyid})"
            )
        expected = pair.recv_mac()(message.authenticated_part())
        if not _crypto.macs_equal(expected, message.mac):
            return "bad MAC"
        ctr = int.from_bytes(message.ctr, "big")
        if ctr <= pair.recv_ctr:
            return f"counter {ctr} is not larger than the last one seen ({pair.recv_ctr})"
        if message.sender_keyid == self.their_keyid and not _crypto.is_group_element(message.next_dh):
            return "next DH key is not in [2, p-2]"
        plaintext = pair.recv_aes()(message.ctr, message.encrypted_message)
        pair.recv_ctr = ctr
        pair.recv_mac_used = True
        extra_key = pair.keys.extra_key
        self._rotate(message)
        return Opened(plaintext, extra_key)

    def _rotate(self, message: DataMessage) -> None:
        if message.recipient_keyid == self.our_keyid:
            self._forget(lambda ours, _: ours == self.our_keyid - 1)
            self._our_prev = self._our_cur
            self.our_keyid += 1
            self._our_cur = self._new_dh()
        if message.sender_keyid == self.their_keyid:
            self._forget(lambda _, theirs: theirs == self.their_keyid - 1)
            self._their_prev = self._their_cur
            self._their_cur = message.next_dh
            self.their_keyid += 1

    def _forget(self, which: Callable[[int, int], bool]) -> None:
        for key in [k for k in self._pairs if which(*k)]:
            pair = self._pairs.pop(key)
            if pair.recv_mac_used:
                self.old_mac_keys += pair.keys.recv_mac
