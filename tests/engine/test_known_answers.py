"""Known answers for the engine's cryptography, computed independently of ``_crypto``.

Every expected value here comes from the spec's formulas written out again
with :mod:`hashlib` and plain ``pow`` (spec: "Data types",
"Computing AES keys, MAC keys, and the secure session id", "Extra symmetric
key", the DSA signature of "Reveal Signature Message"), or from hex literals
pinned once from that independent code.  The engine's functions are only
ever on the left of the comparison.
"""

from __future__ import annotations

import hashlib

import gmpy2
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import dsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    Prehashed,
    decode_dss_signature,
    encode_dss_signature,
)

from implementations import fixtures
from implementations.api import DsaKey
from implementations.engine import Engine, ManualClock, SeededEntropy, private_key
from implementations.engine._crypto import (
    GENERATOR,
    MODULUS,
    SMP_ORDER,
    DhKeyPair,
    DsaPrivate,
    DsaPublic,
    derive_ake_keys,
    derive_data_keys,
)

# RFC 3526 group 5, copied from the spec's "Encoded messages" section (not from the engine).
RFC3526_1536 = int(
    "FFFFFFFF FFFFFFFF C90FDAA2 2168C234 C4C6628B 80DC1CD1"
    "29024E08 8A67CC74 020BBEA6 3B139B22 514A0879 8E3404DD"
    "EF9519B3 CD3A431B 302B0A6D F25F1437 4FE1356D 6D51C245"
    "E485B576 625E7EC6 F44C42E9 A637ED6B 0BFF5CB6 F406B7ED"
    "EE386BFB 5A899FA5 AE9F2411 7C4B1FE6 49286651 ECE45B3D"
    "C2007CB8 A163BF05 98DA4836 1C55D39A 69163FA8 FD24CF5F"
    "83655D23 DCA3AD96 1C62F356 208552BB 9ED52907 7096966D"
    "670C354E 4ABC9804 F1746C08 CA237327 FFFFFFFF FFFFFFFF".replace(" ", ""),
    16,
)
P = RFC3526_1536

# A 40-byte DH exponent whose g^x has a 191-byte minimal encoding: the first
# shake_256(b"short gx" || i as 4 bytes) (i = 632) with g^x < 2^1528.
X_SHORT = int("9f0c1d283057acf45745e062282fc30ca890dd967db550d5fbaffd30c90b2026c5b1f2b06399bbb3", 16)


# ------------------------------------------------------------ independent code


def minimal_mpi(value: int) -> bytes:
    """Spec "Data types": 4-byte big-endian length, then the value with no leading 0x00."""
    body = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return len(body).to_bytes(4, "big") + body


def h2(b: int, s: int) -> bytes:
    return hashlib.sha256(bytes([b]) + minimal_mpi(s)).digest()


def h1(b: int, s: int) -> bytes:
    return hashlib.sha1(bytes([b]) + minimal_mpi(s)).digest()


def otr_fingerprint(k: DsaKey) -> bytes:
    """SHA-1 of the PUBKEY with its type SHORT (0x0000) left out."""
    return hashlib.sha1(b"".join(minimal_mpi(v) for v in (k.p, k.q, k.g, k.y))).digest()


def verify_mod_q(k: DsaKey, m: bytes, r: int, s: int) -> bool:
    """DSA verification of the 32-byte M "taken modulo q instead of being truncated"."""
    return _dsa_verify(k, int.from_bytes(m, "big") % k.q, r, s)


def verify_fips_truncated(k: DsaKey, m: bytes, r: int, s: int) -> bool:
    """DSA verification as FIPS 186 does it: the leftmost len(q) bits of M."""
    return _dsa_verify(k, int.from_bytes(m, "big") >> (8 * len(m) - k.q.bit_length()), r, s)


def _dsa_verify(k: DsaKey, h: int, r: int, s: int) -> bool:
    if not (0 < r < k.q and 0 < s < k.q):
        return False
    w = pow(s, -1, k.q)
    v = pow(k.g, h * w % k.q, k.p) * pow(k.y, r * w % k.q, k.p) % k.p % k.q
    return v == r


def openssl_public(k: DsaKey) -> dsa.DSAPublicKey:
    return dsa.DSAPublicNumbers(k.y, dsa.DSAParameterNumbers(k.p, k.q, k.g)).public_key()


# ---------------------------------------------------------------- the DH group


def test_modulus_is_the_rfc3526_1536_bit_prime_and_generator_is_2():
    assert MODULUS == RFC3526_1536
    assert MODULUS.bit_length() == 1536
    assert GENERATOR == 2


def test_modulus_is_a_safe_prime_and_smp_order_is_its_half():
    assert gmpy2.is_prime(P, 25)
    assert gmpy2.is_prime((P - 1) // 2, 25)
    assert SMP_ORDER == (P - 1) // 2
    # p = 7 mod 8, so 2 is a quadratic residue: it generates the subgroup of order (p-1)/2.
    assert pow(2, (P - 1) // 2, P) == 1


# ------------------------------------------------------------- AKE derivation

AKE_SECRETS = {
    "one": 1,
    "two": 2,
    "one-byte-high-bit": 0xFF,
    "two-bytes": 0x100,
    "small": 0x1234,
    "high-bit-set-8-bytes": 0x80 << 56,
    "191-byte": pow(2, X_SHORT, P),
    "192-byte": pow(2, 0xC0FFEE, P),
    "p-2": P - 2,
}


def test_the_191_byte_secret_really_has_a_shorter_encoding():
    s = AKE_SECRETS["191-byte"]
    assert len(minimal_mpi(s)) == 4 + 191
    assert minimal_mpi(s)[:4] == bytes.fromhex("000000bf")
    assert len(minimal_mpi(AKE_SECRETS["192-byte"])) == 4 + 192


@pytest.mark.parametrize("s", AKE_SECRETS.values(), ids=AKE_SECRETS.keys())
def test_ake_keys_match_the_spec_formulas(s):
    keys = derive_ake_keys(s)
    assert keys.ssid == h2(0x00, s)[:8]
    assert keys.c == h2(0x01, s)[:16]
    assert keys.c_prime == h2(0x01, s)[16:]
    assert keys.m1 == h2(0x02, s)
    assert keys.m2 == h2(0x03, s)
    assert keys.m1_prime == h2(0x04, s)
    assert keys.m2_prime == h2(0x05, s)
    assert keys.extra_key == h2(0xFF, s)
    assert len(keys.ssid) == 8 and len(keys.c) == len(keys.c_prime) == 16
    assert len({keys.m1, keys.m2, keys.m1_prime, keys.m2_prime}) == 4


def test_ake_keys_of_a_secret_with_leading_zero_bytes_use_the_minimal_mpi():
    """The 1-in-256 bug: hashing s padded to 192 bytes gives different keys."""
    s = AKE_SECRETS["191-byte"]
    padded = (192).to_bytes(4, "big") + s.to_bytes(192, "big")
    keys = derive_ake_keys(s)
    assert keys.ssid != hashlib.sha256(b"\x00" + padded).digest()[:8]
    assert keys.ssid == hashlib.sha256(b"\x00" + minimal_mpi(s)).digest()[:8]


# name -> (s, {h2 byte: pinned hex digest}); computed once with the code above.
PINNED_H2 = {
    "small": (
        0x1234,
        {
            0x00: "a415e47f989e1008be629c08e9a1d03e37914ad9c6d5aaefa449eb16a40a8138",
            0x01: "3ad25f38f6ae73b80862c885d15ee8b6894002b97469cdd6dfb6ccdef25fdef6",
            0x02: "aff89e0009a9935487e17fed8b8a696e299908c7347df191fa5619e3d3f75e88",
            0x03: "32ce33c41c1086ccececd1281df0615d223684b909e6b2a3e8cfbc0750ed9a0a",
            0x04: "92393cc124e1b6b8b23c9100555c66232f2b72b611402bda0a92dadb417ec6d3",
            0x05: "7c0971c74baf5c9d0f8c16a5a857efe89aac1ff4689cae82d680005e8e86b869",
            0xFF: "5a0a9390183fda0039adbae2129d5bfae4567d468f8bcc51b27e0a76ed63f313",
        },
    ),
    "191-byte": (
        AKE_SECRETS["191-byte"],
        {
            0x00: "c79ae89670186c223af9594a2cba8aedcbab95b5d52fe72958be30f961c2ea3c",
            0x01: "fd92411e14eee833933ac531212fc1632f7367afd92b58647bcc440c310d880d",
            0x02: "22a11e8192137d492d8bb853f635781a5a45442145650f786d24cca4ad63395b",
            0x03: "f0e1514c56c61e0712c91136c6dcf4a55d05c7aef128b4ade1c6c8ff2bddc139",
            0x04: "120ce025778f21fb1611b0f234a02346d57b8a85002dded70ad267109f4e34d8",
            0x05: "16477caa94ac17ba67feeaf0914905996d8a85e824392ff78135c1f8bd58e32b",
            0xFF: "b6afdc5918869a7923eb066c8fc5d62cac6dccc649498a5b31386b8fc3505572",
        },
    ),
    "p-2": (
        P - 2,
        {
            0x00: "5a45ec75e6a349509c50cc57d63827e2cc537f00151ed23238f2cf5cb9f89084",
            0x01: "7b4c6dbadcaed9e9020a527d6dea786beb74a5f1a52e04901c6bd63adc267ed1",
            0x02: "a984759926917fc3a81d2e4d5e5a757a190d9a1ecbdf4a31267b81efaa44610d",
            0x03: "a785694813f3f6dcb2fdd653042f9797d1855665ff5ceeb2fcd06b6ee016f8ae",
            0x04: "a83efe7b07cc9f6d8c9387640625a62392302a27cacc05c6887eb2c46c7022fd",
            0x05: "e96138b4add4e2c471e983f05db09438c68a68f365ba2075295c64962e51d852",
            0xFF: "800cc2a6f268ad5518156070547e9bc37b7d88c16cb2b940353a842aabcc69b3",
        },
    ),
}


@pytest.mark.parametrize("name", PINNED_H2)
def test_ake_keys_match_pinned_values(name):
    s, h = PINNED_H2[name]
    keys = derive_ake_keys(s)
    assert keys.ssid.hex() == h[0x00][:16]
    assert (keys.c + keys.c_prime).hex() == h[0x01]
    assert keys.m1.hex() == h[0x02]
    assert keys.m2.hex() == h[0x03]
    assert keys.m1_prime.hex() == h[0x04]
    assert keys.m2_prime.hex() == h[0x05]
    assert keys.extra_key.hex() == h[0xFF]


# ------------------------------------------------------------ data-phase keys

# Pairs of DH private exponents: tiny ones (s = 2^15, a 2-byte secbytes value),
# ordinary 40-byte ones, and one pair whose shared secret is 191 bytes long.
DH_PAIRS = {
    "tiny": (3, 5),
    "tiny-swapped": (5, 3),
    "ordinary": (int.from_bytes(hashlib.sha256(b"a").digest() * 2, "big") >> 192, 0xB0B << 300 | 0xB0B),
    "short-secret": (X_SHORT, 1),
}


def independent_data_keys(our_private: int, their_public: int) -> dict[str, bytes]:
    our_public = pow(2, our_private, P)
    s = pow(their_public, our_private, P)
    send, recv = (0x01, 0x02) if our_public > their_public else (0x02, 0x01)
    send_aes, recv_aes = h1(send, s)[:16], h1(recv, s)[:16]
    return {
        "send_aes": send_aes,
        "send_mac": hashlib.sha1(send_aes).digest(),
        "recv_aes": recv_aes,
        "recv_mac": hashlib.sha1(recv_aes).digest(),
        "extra_key": h2(0xFF, s),
    }


@pytest.mark.parametrize("pair", DH_PAIRS.values(), ids=DH_PAIRS.keys())
def test_data_keys_match_the_spec_and_mirror_each_other(pair):
    a, b = DhKeyPair.from_private(pair[0]), DhKeyPair.from_private(pair[1])
    ours, theirs = derive_data_keys(a, b.public), derive_data_keys(b, a.public)
    for engine, private, peer_public in ((ours, a.private, b.public), (theirs, b.private, a.public)):
        expected = independent_data_keys(private, peer_public)
        assert engine.send_aes == expected["send_aes"]
        assert engine.send_mac == expected["send_mac"]
        assert engine.recv_aes == expected["recv_aes"]
        assert engine.recv_mac == expected["recv_mac"]
        assert engine.extra_key == expected["extra_key"]
    assert ours.send_aes == theirs.recv_aes and ours.recv_aes == theirs.send_aes
    assert ours.send_mac == theirs.recv_mac and ours.recv_mac == theirs.send_mac
    assert ours.extra_key == theirs.extra_key
    assert ours.send_aes != ours.recv_aes


def test_high_end_sends_with_byte_1_and_low_end_with_byte_2():
    low, high = DhKeyPair.from_private(3), DhKeyPair.from_private(5)  # publics 8 and 32
    assert high.public > low.public
    s = 2**15
    assert derive_data_keys(high, low.public).send_aes == h1(0x01, s)[:16]
    assert derive_data_keys(low, high.public).send_aes == h1(0x02, s)[:16]
    # Pinned: SHA-1(0x01 || 00000002 8000)[:16] and SHA-1(0x02 || ...)[:16].
    assert h1(0x01, s)[:16].hex() == "98f27284ff2fcd00b0562d62ef0586a0"
    assert h1(0x02, s)[:16].hex() == "b9d219959a52e2b81a9c821158dd52c7"


def test_short_secret_pair_really_has_a_191_byte_secret():
    a, b = DH_PAIRS["short-secret"]
    assert len(minimal_mpi(pow(pow(2, b, P), a, P))) == 4 + 191


def test_data_keys_of_a_short_secret_are_not_those_of_the_padded_secret():
    a, b = DhKeyPair.from_private(X_SHORT), DhKeyPair.from_private(1)
    s = pow(b.public, a.private, P)
    padded = (192).to_bytes(4, "big") + s.to_bytes(192, "big")
    sendbyte = 0x01 if a.public > b.public else 0x02
    assert derive_data_keys(a, b.public).send_aes != hashlib.sha1(bytes([sendbyte]) + padded).digest()[:16]


# ------------------------------------------------------------------------ DSA

ALICE = fixtures.key("alice")
assert ALICE.x is not None
ALICE_X: int = ALICE.x
ALICE_PRIVATE = DsaPrivate(DsaPublic(ALICE.p, ALICE.q, ALICE.g, ALICE.y), ALICE_X)
M = hashlib.sha256(b"otrcheck: an M whose integer value exceeds q").digest()


def nonce(i: int) -> bytes:
    """The k_random that makes the engine use k = i + 1 (it reduces into [1, q-1])."""
    return i.to_bytes(ALICE.q.bit_length() // 8 + 8, "big")


def split(sig: bytes) -> tuple[int, int]:
    assert len(sig) == 40
    return int.from_bytes(sig[:20], "big"), int.from_bytes(sig[20:], "big")


def test_m_exceeds_q_so_reduction_and_truncation_differ():
    m = int.from_bytes(M, "big")
    assert m > ALICE.q
    assert m % ALICE.q != m >> (256 - 160)


def test_engine_signature_verifies_mod_q_independently():
    r, s = split(ALICE_PRIVATE.sign(M, nonce(12345)))
    k = 12346
    assert r == pow(ALICE.g, k, ALICE.p) % ALICE.q
    assert s == pow(k, -1, ALICE.q) * (int.from_bytes(M, "big") % ALICE.q + ALICE_X * r) % ALICE.q
    assert verify_mod_q(ALICE, M, r, s)
    assert ALICE_PRIVATE.public.verify(M, ALICE_PRIVATE.sign(M, nonce(12345)))


def test_engine_signature_does_not_verify_under_fips_truncation():
    r, s = split(ALICE_PRIVATE.sign(M, nonce(777)))
    assert not verify_fips_truncated(ALICE, M, r, s)
    # OpenSSL, handed a prehashed 20-byte value, uses it as the leftmost bits: truncation fails ...
    with pytest.raises(InvalidSignature):
        openssl_public(ALICE).verify(encode_dss_signature(r, s), M[:20], Prehashed(hashes.SHA1()))
    # ... while the value reduced mod q by the caller verifies: the interoperable way to use OpenSSL.
    reduced = (int.from_bytes(M, "big") % ALICE.q).to_bytes(20, "big")
    openssl_public(ALICE).verify(encode_dss_signature(r, s), reduced, Prehashed(hashes.SHA1()))


def test_engine_rejects_a_fips_truncated_signature():
    params = dsa.DSAParameterNumbers(ALICE.p, ALICE.q, ALICE.g)
    key = dsa.DSAPrivateNumbers(ALICE_X, dsa.DSAPublicNumbers(ALICE.y, params)).private_key()
    r, s = decode_dss_signature(key.sign(M[:20], Prehashed(hashes.SHA1())))
    assert verify_fips_truncated(ALICE, M, r, s)
    assert not ALICE_PRIVATE.public.verify(M, r.to_bytes(20, "big") + s.to_bytes(20, "big"))


def first_nonce(pred) -> int:
    for i in range(1, 100_000):
        k = i + 1
        r = pow(ALICE.g, k, ALICE.p) % ALICE.q
        s = pow(k, -1, ALICE.q) * (int.from_bytes(M, "big") % ALICE.q + ALICE_X * r) % ALICE.q
        if pred(r, s):
            return i
    raise AssertionError("no nonce found")


@pytest.mark.parametrize("which", ["r", "s"])
def test_signature_with_a_leading_zero_byte_stays_40_bytes(which):
    index = 0 if which == "r" else 1
    i = first_nonce(lambda r, s: (r, s)[index] < 2**152)
    sig = ALICE_PRIVATE.sign(M, nonce(i))
    assert len(sig) == 40
    assert sig[20 * index] == 0
    assert verify_mod_q(ALICE, M, *split(sig))
    assert ALICE_PRIVATE.public.verify(M, sig)
    # The minimal (19-byte) form of the short value is not a SIG: exactly 2 * 20 bytes are required.
    short = sig[:20].lstrip(b"\0") + sig[20:] if index == 0 else sig[:20] + sig[20:].lstrip(b"\0")
    assert not ALICE_PRIVATE.public.verify(M, short)


def test_engine_verify_rejects_wrong_lengths_and_out_of_range_values():
    sig = ALICE_PRIVATE.sign(M, nonce(99))
    pub = ALICE_PRIVATE.public
    assert pub.verify(M, sig)
    assert not pub.verify(M, sig + b"\0")
    assert not pub.verify(M, sig[:-1])
    assert not pub.verify(M, bytes(20) + sig[20:])
    assert not pub.verify(M, sig[:20] + bytes(20))
    assert not pub.verify(M, sig[:20] + ALICE.q.to_bytes(20, "big"))


# ------------------------------------------------------------- fingerprints

KEYS = fixtures.load_keys()


@pytest.mark.parametrize("name", sorted(KEYS))
def test_fingerprint_is_sha1_of_pubkey_without_its_type(name):
    k = KEYS[name]
    pub = private_key(k).public
    expected = otr_fingerprint(k)
    assert pub.encode() == b"\x00\x00" + b"".join(minimal_mpi(v) for v in (k.p, k.q, k.g, k.y))
    assert pub.fingerprint() == expected
    assert fixtures.fingerprint(name) == expected.hex()
    engine = Engine(name, private_key(k), 0x100, entropy=SeededEntropy(b"fp"), clock=ManualClock())
    assert engine.status("peer").fingerprint == expected.hex()


def test_leading_zero_fixtures_exercise_what_their_names_promise():
    assert otr_fingerprint(KEYS["leading-zero-fp"])[0] == 0
    assert len(private_key(KEYS["leading-zero-fp"]).public.fingerprint().hex()) == 40
    y_mpi = minimal_mpi(KEYS["leading-zero-y"].y)
    assert y_mpi[:4] == (127).to_bytes(4, "big")
    assert y_mpi in private_key(KEYS["leading-zero-y"]).public.encode()
