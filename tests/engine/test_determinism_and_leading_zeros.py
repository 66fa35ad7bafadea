"""Reproducible runs, and the 1-in-256 leading-zero values forced through injected randomness.

(a) A seed fixes a whole conversation byte for byte (AKE, data, SMP, extra
key, end): two runs with the same seeds give the same transcript, another
seed another one.

(b) Values with a leading zero byte are where implementations disagree
(fixed-width vs minimal encodings, otr-notes §3): the AKE key r, a short
g^x or g^y, a DSA r or s, a long-term y one byte short, a short shared
secret.  Each case scripts the random values the engine draws
(:class:`ScriptedEntropy`: the commit side draws x, r and a DSA nonce, the
other side y and a DSA nonce, in that order), completes an AKE between two
engines, checks every AKE message *independently* of the engine (the
transmitted encodings, the MACs, the signatures verified mod q), asserts
that the forced value really went over the wire, and exchanges messages
both ways.  An engine that padded or stripped consistently on both sides
would still talk to itself; the independent checks are what catch it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from harness.conversation import Duo, Side, Wire
from implementations import fixtures
from implementations.api import (
    DsaKey,
    MessageReceived,
    Policy,
    SessionSecured,
    SmpUpdated,
)
from implementations.engine import (
    Engine,
    EngineAdapter,
    ManualClock,
    ScriptedEntropy,
    SeededEntropy,
    private_key,
)
from implementations.engine._crypto import AKE_R_BYTES, DH_PRIVATE_BYTES, MODULUS

P = MODULUS  # checked against RFC 3526 in test_known_answers.py
SHORT = 1 << 1528  # a group element below this has a 191-byte minimal encoding

# ============================================================== (a) determinism


def test_seeded_entropy_is_a_pinned_sha256_counter_stream():
    stream = SeededEntropy(b"otrcheck").random_bytes(64)
    assert stream.hex() == (
        "609370c3fcf571c6938c7321acea82c4cb31de488f18fb66bb7fb641703bf22c"
        "7c42f3b418c6d9636380d62860f239d0afb7cc4109240f704459b91fc16be587"
    )
    independent = b"".join(hashlib.sha256(b"otrcheck" + i.to_bytes(8, "big")).digest() for i in range(2))
    assert stream == independent


def test_seeded_entropy_does_not_depend_on_how_the_bytes_are_requested():
    whole = SeededEntropy(b"seed").random_bytes(200)
    chunked = SeededEntropy(b"seed")
    pieces = [chunked.random_bytes(n) for n in (1, 7, 32, 0, 40, 16, 104)]
    assert b"".join(pieces) == whole
    assert SeededEntropy(b"seee").random_bytes(200) != whole


def test_scripted_entropy_hands_out_the_script_then_falls_back():
    entropy = ScriptedEntropy(SeededEntropy(b"fallback"), [b"\x00" * 4, b"ab"])
    entropy.push(b"xyz")
    assert entropy.random_bytes(4) == b"\x00" * 4
    assert entropy.random_bytes(2) == b"ab"
    assert entropy.random_bytes(3) == b"xyz"
    assert entropy.random_bytes(5) == SeededEntropy(b"fallback").random_bytes(5)
    with pytest.raises(ValueError, match="3 bytes where 2 were asked"):
        ScriptedEntropy(SeededEntropy(b""), [b"abc"]).random_bytes(2)


def test_manual_clock_moves_only_when_told():
    clock = ManualClock(10.0)
    assert clock.now() == clock.now() == 10.0
    clock.advance(61)
    assert clock.now() == 71.0


@dataclass
class Run:
    transcript: list[tuple[str, str, str]]
    events: dict[str, list[dict[str, object]]]
    symkey: str | None


def whole_conversation(seeds: tuple[bytes, bytes], version: int) -> Run:
    policy = Policy(allow_v2=True, allow_v3=version == 3)
    duo = Duo.create(EngineAdapter, seeds=seeds, policies=(policy, policy))
    steps: list[tuple[str, str, tuple[object, ...]]] = [
        ("alice", "query", ()),
        ("alice", "send", ("hello bob",)),
        ("bob", "send", ("hello alice",)),
        ("alice", "smp_start", ("our secret", "what is it?")),
        ("bob", "smp_respond", ("our secret",)),
        ("bob", "send", ("and now a long message " * 20,)),
        ("alice", "end", ()),
    ]
    symkey = None
    for name, op, args in steps:
        duo.act(name, op, *args)
        duo.flush()
        if op == "smp_respond" and version == 3:
            symkey = duo.act("alice", "symkey", 7, b"file transfer").fields["key"]
            duo.flush()
    return Run(
        [(w.sender, w.to, w.wire) for w in duo.transcript],
        {side.name: [e.to_json() for e in side.events] for side in (duo.a, duo.b)},
        symkey,
    )


@pytest.mark.parametrize("version", [2, 3])
def test_same_seeds_give_a_byte_identical_conversation(version):
    first = whole_conversation((b"det/alice", b"det/bob"), version)
    second = whole_conversation((b"det/alice", b"det/bob"), version)
    assert first.transcript == second.transcript
    assert first.events == second.events
    assert first.symkey == second.symkey
    # The run is worth comparing: it went through every phase.
    for name in ("alice", "bob"):
        kinds = [e["type"] for e in first.events[name]]
        assert kinds.count("secure") == 1, first.events[name]
        assert {"type": "smp", "result": "success"}.items() <= _last_smp(first.events[name]).items()
    assert any(e["type"] == "finished" for e in first.events["bob"])
    texts = [e["text"] for e in first.events["bob"] if e["type"] == "message"]
    assert texts == ["hello bob"]
    if version == 3:
        assert first.symkey is not None
        symkeys = [e for e in first.events["bob"] if e["type"] == "symkey"]
        assert [(e["use"], e["key"]) for e in symkeys] == [(7, first.symkey)]
    header = "?OTR:AAM" if version == 3 else "?OTR:AAI"
    assert sum(w.startswith(header + "D") for _, _, w in first.transcript) >= 8


# Runs whole_conversation from this very file in a fresh interpreter and prints the transcript.
_CHILD = """
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("child", sys.argv[1])
module = sys.modules["child"] = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
print(json.dumps(module.whole_conversation((b"det/alice", b"det/bob"), 3).transcript))
"""


def test_the_transcript_does_not_depend_on_the_process_or_its_hash_seed():
    """Set and dict order of strings changes with PYTHONHASHSEED; the wire must not."""
    here = whole_conversation((b"det/alice", b"det/bob"), 3).transcript
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        child = subprocess.run(
            [sys.executable, "-c", _CHILD, __file__], env=env, capture_output=True, text=True, check=True
        )
        assert [tuple(w) for w in json.loads(child.stdout)] == here


def _last_smp(events: list[dict[str, object]]) -> dict[str, object]:
    smp = [e for e in events if e["type"] == "smp"]
    assert smp, events
    return smp[-1]


@pytest.mark.parametrize("version", [2, 3])
def test_a_different_seed_gives_a_different_transcript(version):
    base = whole_conversation((b"det/alice", b"det/bob"), version).transcript
    other = whole_conversation((b"det/alice", b"det/bob2"), version).transcript
    assert base != other
    assert base[0] == other[0]  # the query message carries no randomness
    commits = [[w for _, _, w in t if w.startswith("?OTR:AA") and w[8] == "C"] for t in (base, other)]
    assert commits[0] and commits[1] and commits[0][0] != commits[1][0]


# ====================================================== independent AKE check


def spec_mpi(value: int) -> bytes:
    body = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return len(body).to_bytes(4, "big") + body


def spec_pubkey(k: DsaKey) -> bytes:
    return b"\x00\x00" + b"".join(spec_mpi(v) for v in (k.p, k.q, k.g, k.y))


def aes_ctr(key: bytes, counter: bytes, data: bytes) -> bytes:
    decryptor = Cipher(algorithms.AES(key), modes.CTR(counter)).decryptor()
    return decryptor.update(data) + decryptor.finalize()


def h2(b: int, s: int) -> bytes:
    return hashlib.sha256(bytes([b]) + spec_mpi(s)).digest()


def verify_mod_q(k: DsaKey, m: bytes, sig: bytes) -> bool:
    width = (k.q.bit_length() + 7) // 8
    assert len(sig) == 2 * width
    r, s = int.from_bytes(sig[:width], "big"), int.from_bytes(sig[width:], "big")
    if not (0 < r < k.q and 0 < s < k.q):
        return False
    w = pow(s, -1, k.q)
    h = int.from_bytes(m, "big") % k.q
    return pow(k.g, h * w % k.q, k.p) * pow(k.y, r * w % k.q, k.p) % k.p % k.q == r


class Cursor:
    """A reader written for this file: the encoded message's header, then fields on request."""

    def __init__(self, wire: str) -> None:
        assert wire.startswith("?OTR:") and wire.endswith("."), wire[:40]
        self.buf = base64.b64decode(wire[5:-1], validate=True)
        self.pos = 0
        self.version = self.int(2)
        self.type = self.int(1)
        self.tags = (self.int(4), self.int(4)) if self.version == 3 else (0, 0)

    def take(self, n: int) -> bytes:
        assert self.pos + n <= len(self.buf), "field runs past the end"
        out = self.buf[self.pos : self.pos + n]
        self.pos += n
        return out

    def int(self, width: int = 4) -> int:
        return int.from_bytes(self.take(width), "big")

    def data(self) -> bytes:
        return self.take(self.int())

    def mpi_raw(self) -> bytes:
        length = self.int()
        return length.to_bytes(4, "big") + self.take(length)

    def done(self) -> None:
        assert self.pos == len(self.buf), "trailing bytes"


@dataclass
class SignedPart:
    """X = pub, keyid, sig(M), decrypted and checked."""

    pubkey: bytes
    keyid: int
    sig: bytes


@dataclass
class AkeView:
    version: int
    r: bytes
    gx_mpi: bytes
    gy_mpi: bytes
    s: int
    commit_side: SignedPart  # from the Reveal Signature
    other_side: SignedPart  # from the Signature

    @property
    def ssid(self) -> str:
        return h2(0x00, self.s)[:8].hex()


def expected_m(first_dh: int, second_dh: int, key: DsaKey, mac_key: bytes, keyid: int = 1) -> bytes:
    return hmac.new(
        mac_key,
        spec_mpi(first_dh) + spec_mpi(second_dh) + spec_pubkey(key) + keyid.to_bytes(4, "big"),
        "sha256",
    ).digest()


def open_signed(
    encrypted: bytes, mac: bytes, c: bytes, m1: bytes, m2: bytes, dh: tuple[int, int], key: DsaKey
) -> SignedPart:
    assert mac == hmac.new(m2, len(encrypted).to_bytes(4, "big") + encrypted, "sha256").digest()[:20]
    plain = aes_ctr(c, bytes(16), encrypted)
    pubkey = spec_pubkey(key)
    assert plain[: len(pubkey)] == pubkey, "PUBKEY not sent in its minimal encoding"
    keyid = int.from_bytes(plain[len(pubkey) : len(pubkey) + 4], "big")
    sig = plain[len(pubkey) + 4 :]
    assert keyid > 0
    assert len(sig) == 2 * 20, f"SIG is {len(sig)} bytes, not 40"
    m = expected_m(dh[0], dh[1], key, m1, keyid)
    assert verify_mod_q(key, m, sig), "signature does not verify mod q"
    return SignedPart(pubkey, keyid, sig)


def check_ake(transcript: list[Wire], x: int, y: int, commit_key: DsaKey, other_key: DsaKey) -> AkeView:
    """Verify the four AKE messages from the spec alone; x and y are the scripted exponents."""
    by_type: dict[int, Cursor] = {}
    for wire in transcript:
        if wire.wire.startswith("?OTR:"):
            cursor = Cursor(wire.wire)
            if cursor.type != 0x03:
                assert cursor.type not in by_type, f"type {cursor.type:#x} sent twice"
                by_type[cursor.type] = cursor
    assert sorted(by_type) == [0x02, 0x0A, 0x11, 0x12], sorted(by_type)
    commit, dhkey, reveal, signature = (by_type[t] for t in (0x02, 0x0A, 0x11, 0x12))
    gx, gy = pow(2, x, P), pow(2, y, P)

    encrypted_gx, hashed_gx = commit.data(), commit.data()
    commit.done()
    gy_mpi = dhkey.mpi_raw()
    dhkey.done()
    assert gy_mpi == spec_mpi(gy), "gy not sent in its minimal encoding"
    r, encrypted_xb, mac_b = reveal.data(), reveal.data(), reveal.take(20)
    reveal.done()
    assert len(r) == 16
    gx_mpi = aes_ctr(r, bytes(16), encrypted_gx)
    assert gx_mpi == spec_mpi(gx), "gx not committed in its minimal encoding"
    assert hashed_gx == hashlib.sha256(gx_mpi).digest()
    encrypted_xa, mac_a = signature.data(), signature.take(20)
    signature.done()

    s = pow(gy, x, P)
    assert s == pow(gx, y, P)
    c, c_prime = h2(0x01, s)[:16], h2(0x01, s)[16:]
    m1, m2, m1_prime, m2_prime = (h2(b, s) for b in (0x02, 0x03, 0x04, 0x05))
    commit_side = open_signed(encrypted_xb, mac_b, c, m1, m2, (gx, gy), commit_key)
    other_side = open_signed(encrypted_xa, mac_a, c_prime, m1_prime, m2_prime, (gy, gx), other_key)
    return AkeView(commit.version, r, gx_mpi, gy_mpi, s, commit_side, other_side)


def open_first_data(wire: str, s: int, sender_public: int, receiver_public: int) -> bytes:
    """Decrypt a Data Message sent with the AKE's keys (keyids 1/1), from the spec alone."""
    cursor = Cursor(wire)
    assert cursor.type == 0x03
    cursor.take(1)
    assert (cursor.int(), cursor.int()) == (1, 1)
    cursor.mpi_raw()
    ctr = cursor.take(8)
    encrypted = cursor.data()
    authenticated = cursor.buf[: cursor.pos]
    mac = cursor.take(20)
    cursor.data()
    cursor.done()
    sendbyte = 0x01 if sender_public > receiver_public else 0x02
    aes_key = hashlib.sha1(bytes([sendbyte]) + spec_mpi(s)).digest()[:16]
    mac_key = hashlib.sha1(aes_key).digest()
    assert mac == hmac.new(mac_key, authenticated, "sha1").digest()
    return aes_ctr(aes_key, ctr + bytes(8), encrypted)


# ================================================================ (b) forced


def h(hexed: str) -> bytes:
    return bytes.fromhex(hexed)


# Found by searching shake_256(label || i as 4 bytes) for the first i with the property named;
# each test asserts the property again, so a wrong literal fails loudly.
X = h("412eff790bcc66714cff78bc841af997fca6823f6946b248546014c8cfdef468911a965ed4ebc2ee")  # 192-byte g^x
Y = h("7eaf17ac871e9f1251d8d26753c924d5ee34e942735d867c12c00567029e89928ab7b1332f9eda70")  # and s too
R = h("131302fb41bafad87b1a9592f948423d")
K_BOB = h("a749a5a280b36dc948c7cef737c1529fd875db636bd061fd31b499ff")  # DSA r of 20 bytes
K_ALICE = h("c03cb81b8132a6d041067b7540465cd034449796a2e34fca6698e927")  # likewise
X_SHORT_GX = h("9f0c1d283057acf45745e062282fc30ca890dd967db550d5fbaffd30c90b2026c5b1f2b06399bbb3")
Y_SHORT_GY = h("4679df3d6d304ebfa85b539fa451e7dae22e0e1aaf946e53b1509be4457c35a422256fcaad541027")
Y_SHORT_S = h("a1f58ee015a455b778eee06461926ff0d520d17419449e286291daf8063763854358f6f81e1cac61")
NONCE_BYTES = 20 + 8  # len(q) + 8, what Ake._sign asks for


@dataclass
class Script:
    """What each side's entropy hands out first: Bob (commit side) x, r, k; Alice y, k."""

    x: bytes = X
    r: bytes = R
    k_bob: bytes = K_BOB
    y: bytes = Y
    k_alice: bytes = K_ALICE
    bob_key: str = "bob"
    alice_key: str = "alice"

    def keys(self) -> tuple[DsaKey, DsaKey]:
        return fixtures.key(self.bob_key), fixtures.key(self.alice_key)


@dataclass
class Outcome:
    duo: Duo
    view: AkeView


def engine(name: str, key: str, tag: int, script: list[bytes], version: int) -> Engine:
    entropy = ScriptedEntropy(SeededEntropy(f"after the script/{name}".encode()), script)
    policy = Policy(allow_v2=True, allow_v3=version == 3)
    return Engine(name, private_key(fixtures.key(key)), tag, policy, 0, entropy, ManualClock())


def received(duo: Duo, name: str) -> list[str]:
    return [e.text for e in duo.sides[name].events if isinstance(e, MessageReceived) and e.encrypted]


def run_forced(script: Script, version: int) -> Outcome:
    assert len(script.x) == len(script.y) == DH_PRIVATE_BYTES and len(script.r) == AKE_R_BYTES
    alice = engine("alice", script.alice_key, 0x100, [script.y, script.k_alice], version)
    bob = engine("bob", script.bob_key, 0x101, [script.x, script.r, script.k_bob], version)
    # Engine has the adapter's methods (peer first), which is all Duo uses.
    duo = Duo(Side("alice", alice), Side("bob", bob))  # type: ignore[arg-type]
    duo.act("alice", "query")
    duo.flush()
    bob_key, alice_key = script.keys()
    x, y = int.from_bytes(script.x, "big"), int.from_bytes(script.y, "big")
    view = check_ake(duo.transcript, x, y, bob_key, alice_key)
    assert view.version == version
    for name, peer_key in (("alice", bob_key), ("bob", alice_key)):
        secured = [e for e in duo.sides[name].events if isinstance(e, SessionSecured)]
        assert [(e.version, e.ssid) for e in secured] == [(version, view.ssid)], duo.sides[name].events
        assert secured[0].peer_fingerprint == hashlib.sha1(spec_pubkey(peer_key)[2:]).hexdigest()

    # Both send before either delivers: both Data Messages use the AKE's keys.
    duo.act("alice", "send", "from alice, with the AKE keys")
    duo.act("bob", "send", "from bob, with the AKE keys")
    first = {w.sender: w.wire for w in duo.in_flight}
    duo.flush()
    gx, gy = pow(2, x, P), pow(2, y, P)
    assert open_first_data(first["alice"], view.s, gy, gx) == b"from alice, with the AKE keys"
    assert open_first_data(first["bob"], view.s, gx, gy) == b"from bob, with the AKE keys"
    # A few more rounds rotate the keys on both sides.
    for i in range(3):
        duo.act("alice", "send", f"alice {i}")
        duo.flush()
        duo.act("bob", "send", f"bob {i}")
        duo.flush()
    assert received(duo, "bob") == ["from alice, with the AKE keys", "alice 0", "alice 1", "alice 2"]
    assert received(duo, "alice") == ["from bob, with the AKE keys", "bob 0", "bob 1", "bob 2"]
    errors = [e for side in (duo.a, duo.b) for e in side.events if e.type == "error"]
    assert errors == []
    return Outcome(duo, view)


VERSIONS = pytest.mark.parametrize("version", [2, 3])


def exponent(value: bytes) -> int:
    return int.from_bytes(value, "big")


def encoded_length(value: int) -> int:
    return len(spec_mpi(value)) - 4


@VERSIONS
def test_baseline_script_has_no_leading_zero_anywhere(version):
    outcome = run_forced(Script(), version)
    view = outcome.view
    assert len(view.gx_mpi) == len(view.gy_mpi) == 4 + 192
    assert encoded_length(view.s) == 192
    assert view.r == R and view.r[0] != 0
    for part in (view.commit_side, view.other_side):
        assert part.sig[0] != 0 and part.sig[20] != 0


@VERSIONS
def test_ake_key_r_with_a_leading_zero_byte(version):
    r = b"\x00" + R[1:]
    outcome = run_forced(Script(r=r), version)
    assert outcome.view.r == r  # the Reveal Signature's DATA is 16 bytes, 0x00 first


@VERSIONS
def test_ake_key_r_with_two_leading_zero_bytes(version):
    r = b"\x00\x00" + R[2:]
    assert run_forced(Script(r=r), version).view.r == r


@VERSIONS
def test_short_gx_is_committed_as_a_191_byte_mpi(version):
    assert pow(2, exponent(X_SHORT_GX), P) < SHORT
    view = run_forced(Script(x=X_SHORT_GX), version).view
    assert view.gx_mpi[:4] == (191).to_bytes(4, "big")
    assert len(view.gx_mpi) == 4 + 191
    assert len(view.gy_mpi) == 4 + 192 and encoded_length(view.s) == 192


@VERSIONS
def test_short_gy_is_sent_as_a_191_byte_mpi(version):
    assert pow(2, exponent(Y_SHORT_GY), P) < SHORT
    view = run_forced(Script(y=Y_SHORT_GY), version).view
    assert view.gy_mpi[:4] == (191).to_bytes(4, "big")
    assert len(view.gx_mpi) == 4 + 192 and encoded_length(view.s) == 192


@VERSIONS
def test_short_shared_secret_gives_a_shorter_secbytes(version):
    gx = pow(2, exponent(X), P)
    assert pow(gx, exponent(Y_SHORT_S), P) < SHORT
    outcome = run_forced(Script(y=Y_SHORT_S), version)
    view = outcome.view
    assert encoded_length(view.s) == 191
    assert len(view.gx_mpi) == len(view.gy_mpi) == 4 + 192
    # The ssid both sides report is the one from the 191-byte secbytes (checked in run_forced),
    # and not the one a 192-byte padded secret would give.
    padded = (192).to_bytes(4, "big") + view.s.to_bytes(192, "big")
    assert view.ssid != hashlib.sha256(b"\x00" + padded).digest()[:8].hex()


def small_nonce(k: int) -> bytes:
    """The nonce bytes that make DsaPrivate.sign use exactly k (it computes bytes % (q-1) + 1)."""
    return (k - 1).to_bytes(NONCE_BYTES, "big")


def find_nonce(key: DsaKey, m: bytes, accept: Callable[[int, int], bool]) -> bytes:
    assert key.x is not None
    hm = int.from_bytes(m, "big") % key.q
    for k in range(2, 50_000):
        r = pow(key.g, k, key.p) % key.q
        s = pow(k, -1, key.q) * (hm + key.x * r) % key.q
        if accept(r, s):
            return small_nonce(k)
    raise AssertionError("no nonce found")


@VERSIONS
@pytest.mark.parametrize("signer", ["bob", "alice"])
@pytest.mark.parametrize("part", ["r", "s"])
def test_dsa_signature_with_a_leading_zero_byte_stays_fixed_width(version, signer, part):
    script = Script()
    bob_key, alice_key = script.keys()
    x, y = exponent(script.x), exponent(script.y)
    gx, gy, s = pow(2, x, P), pow(2, y, P), pow(2, x * y, P)
    if signer == "bob":  # M_B = MAC_m1(gx, gy, pub_B, keyid_B), in the Reveal Signature
        key, m = bob_key, expected_m(gx, gy, bob_key, h2(0x02, s))
    else:  # M_A = MAC_m1'(gy, gx, pub_A, keyid_A), in the Signature
        key, m = alice_key, expected_m(gy, gx, alice_key, h2(0x04, s))
    index = 0 if part == "r" else 1
    nonce = find_nonce(key, m, lambda r, s_: (r, s_)[index] < 1 << 152)
    if signer == "bob":
        script.k_bob = nonce
    else:
        script.k_alice = nonce
    view = run_forced(script, version).view
    signed = view.commit_side if signer == "bob" else view.other_side
    assert len(signed.sig) == 40
    assert signed.sig[20 * index] == 0, signed.sig.hex()


@VERSIONS
@pytest.mark.parametrize("holder", ["bob", "alice"])
def test_long_term_key_with_a_127_byte_y(holder, version):
    lz = fixtures.key("leading-zero-y")
    assert encoded_length(lz.y) == 127
    script = Script(bob_key="leading-zero-y") if holder == "bob" else Script(alice_key="leading-zero-y")
    outcome = run_forced(script, version)
    signed = outcome.view.commit_side if holder == "bob" else outcome.view.other_side
    assert signed.pubkey.endswith((127).to_bytes(4, "big") + lz.y.to_bytes(127, "big"))
    viewer = "alice" if holder == "bob" else "bob"
    status = outcome.duo.sides[viewer].adapter.status(holder)
    assert status.peer_fingerprint == fixtures.fingerprint("leading-zero-y")


@VERSIONS
def test_long_term_key_whose_fingerprint_starts_with_zero(version):
    outcome = run_forced(Script(alice_key="leading-zero-fp"), version)
    status = outcome.duo.sides["bob"].adapter.status("alice")
    assert status.peer_fingerprint == fixtures.fingerprint("leading-zero-fp")
    assert status.peer_fingerprint is not None and status.peer_fingerprint.startswith("00")
    assert len(status.peer_fingerprint) == 40
    # SMP mixes the raw 20-byte fingerprints into the secret: it must still succeed.
    outcome.duo.act("alice", "smp_start", "secret", None)
    outcome.duo.flush()
    outcome.duo.act("bob", "smp_respond", "secret")
    outcome.duo.flush()
    for name in ("alice", "bob"):
        results = [e.result for e in outcome.duo.sides[name].events if isinstance(e, SmpUpdated)]
        assert results[-1] == "success", results


@VERSIONS
def test_every_forced_value_at_once(version):
    """r, g^x, g^y short together (the secret is then ordinary or not: it is checked either way)."""
    script = Script(x=X_SHORT_GX, y=Y_SHORT_GY, r=b"\x00" + R[1:], bob_key="leading-zero-y")
    view = run_forced(script, version).view
    assert view.r[0] == 0
    assert len(view.gx_mpi) == len(view.gy_mpi) == 4 + 191
