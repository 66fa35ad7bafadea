"""libotr reads the key and instance-tag files :mod:`implementations.libotr.keys` writes, and uses them.

The fingerprints libotr computes (``otrl_privkey_fingerprint``) must equal
the recorded fixture fingerprints, including for the keys whose public y is
a byte short and whose fingerprint starts with 00; the instance tags it
reports and puts on the wire must be the ones we wrote; and two libotr
userstates must complete an AKE with the edge-case keys, which needs libotr
to sign with them.
"""

from __future__ import annotations

import ctypes
import re
from collections import deque
from ctypes import POINTER, byref, c_size_t, c_uint, c_void_p
from pathlib import Path
from typing import Any

import pytest

from implementations import fixtures
from implementations.libotr import _lib, keys, provision

NAMES = ("alice", "bob", "carol", "dave", "eve", "leading-zero-y", "leading-zero-fp")
PROTOCOL = b"prpl-jabber"
HUMAN = re.compile(r"^[0-9A-F]{8}( [0-9A-F]{8}){4}$")


@pytest.fixture(scope="module")
def lib() -> _lib.Lib:
    where = provision.locate()
    if not where.usable:
        pytest.fail(f"libotr {provision.LIBOTR_VERSION} unavailable: {where.problem}")
    assert where.path is not None
    return _lib.load(where.path)


@pytest.fixture
def userstate(lib):
    us = lib.otrl_userstate_create()
    yield us
    lib.otrl_userstate_free(us)


def account(name: str) -> bytes:
    return f"{name}@otrcheck.test".encode()


def human(fingerprint_hex: str) -> str:
    return " ".join(fingerprint_hex[i : i + 8] for i in range(0, 40, 8)).upper()


def minimal_mpi(value: int) -> bytes:
    body = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return len(body).to_bytes(4, "big") + body


def read_keys(lib, us, path: Path) -> None:
    err = lib.otrl_privkey_read(us, bytes(path))
    assert err == 0, f"otrl_privkey_read: gcry_error_t {err:#x}"


# ------------------------------------------------------------------ private keys


def test_fixture_fingerprints_are_in_the_recorded_form():
    """Guards the other tests: the edge-case keys are what their names promise."""
    assert fixtures.fingerprint("leading-zero-fp").startswith("00")
    assert fixtures.key("leading-zero-y").y.bit_length() <= 1016


@pytest.mark.parametrize("name", NAMES)
def test_libotr_fingerprint_of_our_key_file_is_the_fixture_fingerprint(lib, userstate, tmp_path, name):
    path = keys.write_privkey_file(
        tmp_path / "otr.private_key", [(account(name), PROTOCOL, fixtures.key(name))]
    )
    read_keys(lib, userstate, path)
    shown = lib.fingerprint_human(userstate, account(name), PROTOCOL)
    assert shown is not None and HUMAN.match(shown)
    assert shown == human(fixtures.fingerprint(name))
    raw = ctypes.create_string_buffer(20)
    assert lib.otrl_privkey_fingerprint_raw(userstate, raw, account(name), PROTOCOL)
    assert raw.raw == bytes.fromhex(fixtures.fingerprint(name))


@pytest.mark.parametrize("name", NAMES)
def test_libotr_public_key_data_is_the_minimal_mpis(lib, userstate, tmp_path, name):
    """libotr hashes MPI(p) MPI(q) MPI(g) MPI(y), minimal: the 00 bytes in the file do not leak in."""
    key = fixtures.key(name)
    read_keys(lib, userstate, keys.write_privkey_file(tmp_path / "k", [(account(name), PROTOCOL, key)]))
    found = lib.otrl_privkey_find(userstate, account(name), PROTOCOL).contents
    data = ctypes.string_at(found.pubkey_data, found.pubkey_datalen)
    assert data == b"".join(minimal_mpi(v) for v in (key.p, key.q, key.g, key.y))
    assert found.pubkey_type == _lib.OTRL_PUBKEY_TYPE_DSA


def test_one_file_holds_every_fixture_key(lib, userstate, tmp_path):
    entries = [(account(name), PROTOCOL, fixtures.key(name)) for name in NAMES]
    read_keys(lib, userstate, keys.write_privkey_file(tmp_path / "all", entries))
    for name in NAMES:
        assert lib.fingerprint_human(userstate, account(name), PROTOCOL) == human(fixtures.fingerprint(name))
    assert lib.fingerprint_human(userstate, b"nobody@otrcheck.test", PROTOCOL) is None


def test_mpis_are_written_as_libgcrypt_writes_them_and_the_minimal_form_reads_the_same(lib, tmp_path):
    """``#00...#`` before a set top bit (libgcrypt's standard format); libotr reads both forms unsigned."""
    key = fixtures.key("alice")
    assert (
        keys.mpi_hex(0x80) == "#0080#" and keys.mpi_hex(0x7F) == "#7F#" and keys.mpi_hex(0x0100) == "#0100#"
    )
    text = keys.privkey_sexp([(b"a", PROTOCOL, key)])
    assert f"(p {keys.mpi_hex(key.p)})" in text and keys.mpi_hex(key.p).startswith("#00")
    stripped = re.sub(r"#00(?=[89A-F])", "#", text)
    assert stripped != text
    (tmp_path / "minimal").write_text(stripped)
    us = lib.otrl_userstate_create()
    try:
        read_keys(lib, us, tmp_path / "minimal")
        assert lib.fingerprint_human(us, b"a", PROTOCOL) == human(fixtures.fingerprint("alice"))
    finally:
        lib.otrl_userstate_free(us)


@pytest.mark.parametrize(
    "name",
    ["plain", "alice@example.org/home", 'quote " and \\ backslash', "tab\tand newline\n", "ünïcödé", ""],
)
def test_account_names_round_trip_through_libotr(lib, userstate, tmp_path, name):
    raw = name.encode()
    read_keys(
        lib, userstate, keys.write_privkey_file(tmp_path / "k", [(raw, "proto col", fixtures.key("bob"))])
    )
    found = lib.otrl_privkey_find(userstate, raw, b"proto col")
    assert found and found.contents.accountname == raw and found.contents.protocol == b"proto col"


def test_reading_a_key_file_replaces_the_keys_already_read(lib, userstate, tmp_path):
    read_keys(
        lib, userstate, keys.write_privkey_file(tmp_path / "1", [(b"a", PROTOCOL, fixtures.key("carol"))])
    )
    read_keys(
        lib, userstate, keys.write_privkey_file(tmp_path / "2", [(b"b", PROTOCOL, fixtures.key("dave"))])
    )
    assert lib.fingerprint_human(userstate, b"a", PROTOCOL) is None
    assert lib.fingerprint_human(userstate, b"b", PROTOCOL) == human(fixtures.fingerprint("dave"))


def test_key_file_is_private(tmp_path):
    path = keys.write_privkey_file(tmp_path / "k", [(b"a", PROTOCOL, fixtures.key("eve"))])
    assert path.stat().st_mode & 0o777 == 0o600


def test_key_without_private_part_or_twice_for_an_account_is_refused():
    with pytest.raises(ValueError, match="no private part"):
        keys.privkey_sexp([(b"a", PROTOCOL, fixtures.key("alice").public())])
    with pytest.raises(ValueError, match="two keys"):
        keys.privkey_sexp([(b"a", PROTOCOL, fixtures.key("alice")), ("a", PROTOCOL, fixtures.key("bob"))])


# ------------------------------------------------------------------ instance tags


def read_instags(lib, us, path: Path) -> None:
    err = lib.otrl_instag_read(us, bytes(path))
    assert err == 0, f"otrl_instag_read: gcry_error_t {err:#x}"


def test_libotr_reports_the_instance_tags_we_wrote(lib, userstate, tmp_path):
    tags = {account("alice"): 0x12345678, account("bob"): 0x100, account("carol"): 0xFFFFFFFF}
    read_instags(
        lib, userstate, keys.write_instag_file(tmp_path / "t", [(a, PROTOCOL, t) for a, t in tags.items()])
    )
    for name, tag in tags.items():
        found = lib.otrl_instag_find(userstate, name, PROTOCOL)
        assert found and found.contents.instag == tag
        assert found.contents.accountname == name and found.contents.protocol == PROTOCOL
    assert not lib.otrl_instag_find(userstate, account("dave"), PROTOCOL)


def test_a_later_instag_file_overrides_an_earlier_one(lib, userstate, tmp_path):
    """Reading adds to the list and otrl_instag_find returns the last read: tags can be reset per test."""
    read_instags(lib, userstate, keys.write_instag_file(tmp_path / "1", [(b"a", PROTOCOL, 0x1111)]))
    read_instags(lib, userstate, keys.write_instag_file(tmp_path / "2", [(b"a", PROTOCOL, 0x2222)]))
    assert lib.otrl_instag_find(userstate, b"a", PROTOCOL).contents.instag == 0x2222


def test_reserved_instance_tags_are_refused_because_libotr_drops_them(lib, userstate, tmp_path):
    with pytest.raises(ValueError, match="outside"):
        keys.instag_bytes([(b"a", PROTOCOL, 0xFF)])
    with pytest.raises(ValueError, match="outside"):
        keys.instag_bytes([(b"a", PROTOCOL, 1 << 32)])
    with pytest.raises(ValueError, match="tab"):
        keys.instag_bytes([(b"a\tb", PROTOCOL, 0x100)])
    (tmp_path / "t").write_bytes(b"a\tprpl-jabber\t000000ff\n")
    read_instags(lib, userstate, tmp_path / "t")
    assert not lib.otrl_instag_find(userstate, b"a", PROTOCOL)


# ------------------------------------------------------------------ libotr using them


class Party:
    """One libotr userstate with our key and tag files, its callbacks queueing what libotr reports."""

    def __init__(self, lib: _lib.Lib, tmp: Path, name: str, key_name: str, instag: int) -> None:
        self.lib, self.name = lib, name.encode()
        self.us = lib.otrl_userstate_create()
        read_keys(
            lib,
            self.us,
            keys.write_privkey_file(tmp / f"{name}.keys", [(self.name, PROTOCOL, fixtures.key(key_name))]),
        )
        read_instags(
            lib, self.us, keys.write_instag_file(tmp / f"{name}.tags", [(self.name, PROTOCOL, instag)])
        )
        self.outbox: deque[tuple[bytes, bytes]] = (
            deque()
        )  # (recipient, message): delivered later, never re-entrantly
        self.events: list[tuple[Any, ...]] = []
        T = _lib.CALLBACK_TYPES
        self._callbacks = {
            "policy": T["policy"](lambda _op, _ctx: _lib.OtrlPolicy.MANUAL),
            "inject_message": T["inject_message"](lambda _op, _a, _p, to, msg: self.outbox.append((to, msg))),
            "create_privkey": T["create_privkey"](
                lambda _op, a, p: self.events.append(("create_privkey", a, p))
            ),
            "create_instag": T["create_instag"](
                lambda _op, a, p: self.events.append(("create_instag", a, p))
            ),
            "gone_secure": T["gone_secure"](
                lambda _op, ctx: self.events.append(("gone_secure", ctx.contents.username))
            ),
            "new_fingerprint": T["new_fingerprint"](
                lambda _op, _us, _a, _p, who, fp: self.events.append(("new_fingerprint", who, bytes(fp[:20])))
            ),
            "handle_msg_event": T["handle_msg_event"](
                lambda _op, event, _ctx, msg, err: self.events.append(
                    ("msg_event", _lib.OtrlMessageEvent(event), msg, err)
                )
            ),
        }
        self.ops = _lib.OtrlMessageAppOps(**self._callbacks)

    def receive(self, sender: bytes, message: bytes) -> tuple[int, bytes | None]:
        newmsg, tlvs = c_void_p(), POINTER(_lib.OtrlTLV)()
        ignore = self.lib.otrl_message_receiving(
            self.us,
            byref(self.ops),
            None,
            self.name,
            PROTOCOL,
            sender,
            message,
            byref(newmsg),
            byref(tlvs),
            None,
            None,
            None,
        )
        self.lib.otrl_tlv_free(tlvs)
        return ignore, self.lib.take_message(newmsg.value)

    def context(self, peer: bytes, instance: int = _lib.OtrlInstag.BEST) -> Any:
        ctx = self.lib.otrl_context_find(self.us, peer, self.name, PROTOCOL, instance, 0, None, None, None)
        assert ctx, f"no context for {peer!r}"
        return ctx.contents

    def close(self) -> None:
        self.lib.otrl_userstate_free(self.us)


def pump(*parties: Party) -> None:
    by_name = {p.name: p for p in parties}
    for _ in range(20):
        moved = False
        for sender in parties:
            while sender.outbox:
                to, message = sender.outbox.popleft()
                by_name[to].receive(sender.name, message)
                moved = True
        if not moved:
            return
    pytest.fail("the conversation did not settle")


def test_libotr_puts_our_instance_tag_on_the_wire_and_in_the_context(lib, tmp_path):
    alice = Party(lib, tmp_path, "alice", "alice", 0x1234ABCD)
    try:
        ignore, shown = alice.receive(b"bob", b"?OTRv3?")
        assert (ignore, shown) == (1, None)
        ((to, commit),) = alice.outbox
        assert to == b"bob" and lib.otrl_proto_message_type(commit) == _lib.OtrlMessageType.DH_COMMIT
        buf, size = c_void_p(), c_size_t()
        assert lib.otrl_base64_otr_decode(commit, byref(buf), byref(size)) == 0
        decoded = lib.take_malloced(buf.value, size.value)
        assert decoded[:3] == b"\x00\x03\x02"  # version 3, D-H Commit
        assert int.from_bytes(decoded[3:7], "big") == 0x1234ABCD  # sender instance tag
        sender, receiver = c_uint(), c_uint()
        assert lib.otrl_proto_instance(commit, byref(sender), byref(receiver)) == 0
        assert (sender.value, receiver.value) == (0x1234ABCD, 0)
        master = alice.context(b"bob", _lib.OtrlInstag.MASTER)
        assert master.our_instance == 0x1234ABCD
        assert (
            master.auth.authstate == _lib.OtrlAuthState.AWAITING_DHKEY and master.auth.protocol_version == 3
        )
        assert not [e for e in alice.events if e[0] in ("create_instag", "create_privkey")]
    finally:
        alice.close()


def test_libotr_completes_an_ake_signing_with_the_edge_case_keys(lib, tmp_path):
    """leading-zero-y and leading-zero-fp sign and verify; each side sees the other's fixture fingerprint."""
    alice = Party(lib, tmp_path, "alice", "leading-zero-y", 0x0A11CE00)
    bob = Party(lib, tmp_path, "bob", "leading-zero-fp", 0x00000B0B)
    try:
        bob.receive(b"alice", b"?OTRv3?")
        pump(alice, bob)
        for me, peer, peer_key, peer_tag, my_tag in (
            (alice, b"bob", "leading-zero-fp", 0x0B0B, 0x0A11CE00),
            (bob, b"alice", "leading-zero-y", 0x0A11CE00, 0x0B0B),
        ):
            ctx = me.context(peer)
            assert ctx.msgstate == _lib.OtrlMessageState.ENCRYPTED
            assert ctx.protocol_version == 3
            assert (ctx.our_instance, ctx.their_instance) == (my_tag, peer_tag)
            assert ctx.m_context.contents.their_instance == 0  # the master context stays instance-less
            fingerprint = ctx.active_fingerprint.contents
            assert ctypes.string_at(fingerprint.fingerprint, 20).hex() == fixtures.fingerprint(peer_key)
            assert ctx.sessionid_len == 8
            assert ctx.smstate.contents.nextExpected == _lib.NextExpectedSMP.EXPECT1
            assert ("gone_secure", peer) in me.events
            assert ("new_fingerprint", peer, bytes.fromhex(fixtures.fingerprint(peer_key))) in me.events
        assert bytes(alice.context(b"bob").sessionid[:8]) == bytes(bob.context(b"alice").sessionid[:8])
    finally:
        alice.close()
        bob.close()
