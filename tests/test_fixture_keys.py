"""The fixture DSA keys are valid OTR keys with the properties their names promise.

Checked independently of ``make_keys.py``: sizes and group structure from
the numbers themselves, primality by gmpy2, signing by ``cryptography``
(OpenSSL), fingerprints by re-encoding, provenance by re-deriving p, q, g
from the recorded FIPS 186-4 seed, counter and index.
"""

from __future__ import annotations

import hashlib
import json
from importlib import resources
from typing import Any

import gmpy2
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import dsa

from implementations import fixtures
from implementations.api import DsaKey

KEYS = fixtures.load_keys()
DOC: dict[str, Any] = json.loads(
    resources.files(fixtures).joinpath("dsa_keys.json").read_text(encoding="utf-8")
)
ORDINARY = ("alice", "bob", "carol", "dave", "eve")


def minimal_mpi(value: int) -> bytes:
    body = value.to_bytes((value.bit_length() + 7) // 8, "big") if value else b""
    return len(body).to_bytes(4, "big") + body


def otr_fingerprint(k: DsaKey) -> bytes:
    return hashlib.sha1(b"".join(minimal_mpi(v) for v in (k.p, k.q, k.g, k.y))).digest()


def test_the_named_keys_exist():
    assert set(ORDINARY) | {"leading-zero-y", "leading-zero-fp"} <= set(KEYS)


@pytest.mark.parametrize("name", sorted(KEYS))
def test_key_is_a_consistent_otr_dsa_key(name):
    k = KEYS[name]
    assert k.p.bit_length() == 1024
    assert k.q.bit_length() == 160
    assert gmpy2.is_prime(k.p, 50)
    assert gmpy2.is_prime(k.q, 50)
    assert (k.p - 1) % k.q == 0
    assert 1 < k.g < k.p
    assert pow(k.g, k.q, k.p) == 1
    assert k.x is not None
    assert 1 <= k.x < k.q
    assert k.y == pow(k.g, k.x, k.p)


@pytest.mark.parametrize("name", sorted(KEYS))
def test_recorded_fingerprint_is_sha1_of_pubkey_without_type(name):
    assert fixtures.fingerprint(name) == otr_fingerprint(KEYS[name]).hex()


@pytest.mark.parametrize("name", sorted(KEYS))
def test_openssl_signs_and_verifies_with_the_key(name):
    k = KEYS[name]
    assert k.x is not None
    params = dsa.DSAParameterNumbers(k.p, k.q, k.g)
    private = dsa.DSAPrivateNumbers(k.x, dsa.DSAPublicNumbers(k.y, params)).private_key()
    signature = private.sign(b"otrcheck", hashes.SHA256())
    private.public_key().verify(signature, b"otrcheck", hashes.SHA256())


def test_leading_zero_y_has_a_127_byte_minimal_mpi():
    y = KEYS["leading-zero-y"].y
    assert y < 2**1016
    assert len(minimal_mpi(y)) == 4 + 127


def test_leading_zero_fp_fingerprint_starts_with_a_zero_byte():
    assert otr_fingerprint(KEYS["leading-zero-fp"])[0] == 0
    assert fixtures.fingerprint("leading-zero-fp").startswith("00")


@pytest.mark.parametrize("name", ORDINARY)
def test_ordinary_keys_have_neither_edge_case(name):
    k = KEYS[name]
    assert len(minimal_mpi(k.y)) == 4 + 128
    assert otr_fingerprint(k)[0] != 0


def test_some_keys_share_domain_parameters_and_some_have_their_own():
    def params(name: str) -> tuple[int, int, int]:
        return KEYS[name].p, KEYS[name].q, KEYS[name].g

    assert params("alice") == params("bob")
    assert len({params("alice"), params("carol"), params("dave")}) == 3


def test_keys_are_distinct():
    assert len({k.y for k in KEYS.values()}) == len(KEYS)
    assert len({fixtures.fingerprint(n) for n in KEYS}) == len(KEYS)


def test_key_lookup_and_public_part():
    alice = fixtures.key("alice")
    assert alice == KEYS["alice"]
    assert alice.public().x is None
    assert alice.public().y == alice.y
    with pytest.raises(KeyError, match="alice"):
        fixtures.key("no-such-key")


def fips186_pq(seed: bytes, counter: int) -> tuple[int, int]:
    """p and q of FIPS 186-4 A.1.1.2 (SHA-1, L=1024, N=160) at a known seed and counter."""

    def h(value: int) -> int:
        return int.from_bytes(hashlib.sha1((value % 2**160).to_bytes(20, "big")).digest(), "big")

    s = int.from_bytes(seed, "big")
    u = h(s) % 2**159
    q = 2**159 + u + 1 - u % 2
    offset = 1 + counter * 7  # n + 1 = 7 hash blocks per try
    blocks = [h(s + offset + j) for j in range(7)]
    w = sum(v << (160 * j) for j, v in enumerate(blocks[:6])) + ((blocks[6] % 2**63) << 960)
    x = w + 2**1023
    return x - (x % (2 * q) - 1), q


def fips186_canonical_g(p: int, q: int, seed: bytes, index: int) -> int:
    """g of FIPS 186-4 A.2.3: the first count whose SHA-1(seed, "ggen", index, count)^((p-1)/q) is >= 2."""
    for count in range(1, 2**16):
        w = hashlib.sha1(seed + b"ggen" + bytes([index]) + count.to_bytes(2, "big")).digest()
        g = pow(int.from_bytes(w, "big"), (p - 1) // q, p)
        if g >= 2:
            return g
    raise AssertionError("no generator")


@pytest.mark.parametrize("name", sorted(DOC["parameters"]))
def test_domain_parameters_rederive_from_their_recorded_seed(name):
    rec = DOC["parameters"][name]
    seed = bytes.fromhex(rec["domain_parameter_seed"])
    p, q = fips186_pq(seed, rec["counter"])
    assert (f"{p:x}", f"{q:x}") == (rec["p"], rec["q"])
    g = fips186_canonical_g(p, q, seed, rec["index"])
    assert f"{g:x}" == rec["g"]
    users = [entry for entry in DOC["keys"].values() if entry["params"] == name]
    assert users
    assert all((e["p"], e["q"], e["g"]) == (rec["p"], rec["q"], rec["g"]) for e in users)
