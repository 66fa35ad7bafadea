"""The cryptographic primitives of OTR v2/v3, in one facade.

Modular arithmetic goes through gmpy2, symmetric primitives through
``cryptography``.  Nothing here draws randomness itself: callers pass the
random values in (from an injected :class:`~._deps.Entropy`).

Spec references: "Data types" (PUBKEY, SIG, fingerprints), "Computing AES
keys, MAC keys, and the secure session id", "Extra symmetric key".
"""

from __future__ import annotations

import hashlib
import hmac
import threading
from dataclasses import dataclass
from typing import Any

import gmpy2
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from ._codec import DecodeError, Reader, mpi, short

# The 1536-bit MODP group (RFC 3526 group 5) of spec "Data types", g = 2.
MODULUS = int(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD1"
    "29024E088A67CC74020BBEA63B139B22514A08798E3404DD"
    "EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245"
    "E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED"
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3D"
    "C2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F"
    "83655D23DCA3AD961C62F356208552BB9ED529077096966D"
    "670C354E4ABC9804F1746C08CA237327FFFFFFFFFFFFFFFF",
    16,
)
GENERATOR = 2
# The order of the subgroup SMP works in: q = (p - 1) / 2 (spec, SMP message 2).
SMP_ORDER = (MODULUS - 1) // 2

_P = gmpy2.mpz(MODULUS)

DH_PRIVATE_BYTES = 40  # 320 bits: "at least 320 bits" (spec, AKE)
AKE_R_BYTES = 16  # "Picks a random value r (128 bits)"


class FixedBase:
    """``base ** e % modulus`` for one base and many exponents, from precomputed powers of the base.

    Row i of the table holds base^(d * 64^i) for each base-64 digit d, so
    base^e is the product of one entry per nonzero digit of e: about
    bits / 6 modular multiplications instead of square-and-multiply's
    ~1.2 x bits.  Rows are built when an exponent first needs them (63
    multiplications each, under a lock) and then only read; 256 rows
    (1536-bit exponents) take about 3.4 MB.  Exponents outside 0 ..
    2^max_bits - 1 go to ``gmpy2.powmod``.  The result is the same number
    either way.
    """

    _DIGIT_BITS = 6
    _DIGITS = 1 << _DIGIT_BITS

    def __init__(self, base: int, modulus: int, max_bits: int) -> None:
        self._base = gmpy2.mpz(base)
        self._modulus = gmpy2.mpz(modulus)
        self._max_rows = -(-max_bits // self._DIGIT_BITS)
        self._rows: list[list[Any]] = []
        self._lock = threading.Lock()

    def _rows_for(self, count: int) -> list[list[Any]]:
        if len(self._rows) < count:
            with self._lock:
                while len(self._rows) < count:
                    last = self._rows[-1] if self._rows else None
                    unit = self._base if last is None else last[-1] * last[1] % self._modulus  # base^(64^i)
                    row = [gmpy2.mpz(1), unit]
                    for _ in range(self._DIGITS - 2):
                        row.append(row[-1] * unit % self._modulus)
                    self._rows.append(row)  # appended whole: readers never see a partial row
        return self._rows

    def __call__(self, exponent: int) -> int:
        rows_needed = -(-exponent.bit_length() // self._DIGIT_BITS)
        if exponent < 0 or rows_needed > self._max_rows:
            return int(gmpy2.powmod(self._base, exponent, self._modulus))
        rows = self._rows_for(rows_needed)
        modulus, mask, shift = self._modulus, self._DIGITS - 1, self._DIGIT_BITS
        acc = gmpy2.mpz(1)
        for row in rows[:rows_needed]:
            digit = exponent & mask
            if digit:
                acc = acc * row[digit] % modulus
            exponent >>= shift
        return int(acc)


# g = 2 is the base of every D-H public value and of most SMP powers (g1 in the spec's SMP).
_GENERATOR_POWERS = FixedBase(GENERATOR, MODULUS, 1536)


def powmod(base: int, exp: int, mod: int = MODULUS) -> int:
    if base == GENERATOR and (mod is MODULUS or mod == MODULUS):
        return _GENERATOR_POWERS(exp)
    return int(gmpy2.powmod(base, exp, mod))


def invert(value: int, mod: int = MODULUS) -> int:
    return int(gmpy2.invert(value, mod))


def is_group_element(value: int) -> bool:
    """The spec's range check for D-H and SMP values: 2 <= value <= p - 2."""
    return 2 <= value <= MODULUS - 2


def sha1(data: bytes) -> bytes:
    return hashlib.sha1(data).digest()


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def hmac_sha1(key: bytes, data: bytes) -> bytes:
    return hmac.new(key, data, hashlib.sha1).digest()


def hmac_sha256(key: bytes, data: bytes) -> bytes:
    return hmac.new(key, data, hashlib.sha256).digest()


def hmac_sha256_160(key: bytes, data: bytes) -> bytes:
    """SHA256-HMAC-160: the first 160 bits of the SHA256-HMAC."""
    return hmac_sha256(key, data)[:20]


def macs_equal(a: bytes, b: bytes) -> bool:
    return hmac.compare_digest(a, b)


def aes_ctr(key: bytes, counter_top: bytes, data: bytes) -> bytes:
    """AES128-CTR whose 16-byte initial counter is ``counter_top`` (8 bytes) followed by 8 zero bytes."""
    if len(counter_top) != 8:
        raise ValueError("the counter's top half is 8 bytes")
    encryptor = Cipher(algorithms.AES(key), modes.CTR(counter_top + b"\0" * 8)).encryptor()
    return encryptor.update(data) + encryptor.finalize()


ZERO_CTR = b"\0" * 8

_BLOCK = 16
# Up to 2 KiB (most chat messages) the keystream is built from a kept ECB context; above that
# the big-integer work of building it costs more than setting up a fresh CTR context.
_INDEXED_BLOCKS = 128
# Block i of this constant is i as a 16-byte big-endian number: the low halves of the counter
# blocks AES-CTR runs through, with the top half zero (so OR-ing a top half in gives the block).
_BLOCK_INDEXES = b"".join(i.to_bytes(_BLOCK, "big") for i in range(_INDEXED_BLOCKS))


class AesCtr:
    """AES128-CTR under one key, for many messages: ``AesCtr(key)(top, data) == aes_ctr(key, top, data)``.

    Setting up a cipher context costs far more than encrypting a chat
    message (about 25 us against 1-2 us with OpenSSL 3), so a key's context
    is set up once, in ECB mode, and the CTR keystream is computed from it:
    keystream block i is AES_key(top || i as 8 bytes).  i stays far below
    2^64, so the counter's top half never carries, as with ``aes_ctr``.
    Data longer than the precomputed block indexes (2 KiB) goes through
    ``aes_ctr``, whose set-up cost is small beside the work by then.
    """

    def __init__(self, key: bytes) -> None:
        self._key = key
        self._ecb = Cipher(algorithms.AES(key), modes.ECB()).encryptor()

    def __reduce__(self) -> tuple[type[AesCtr], tuple[bytes]]:
        # The OpenSSL context cannot be copied or pickled; a copy sets up its own (sessions are deep-copied).
        return (AesCtr, (self._key,))

    def __call__(self, counter_top: bytes, data: bytes) -> bytes:
        if len(counter_top) != 8:
            raise ValueError("the counter's top half is 8 bytes")
        size = len(data)
        blocks = -(-size // _BLOCK)
        if blocks > _INDEXED_BLOCKS:
            return aes_ctr(self._key, counter_top, data)
        if not size:
            return b""
        tops = int.from_bytes((counter_top + ZERO_CTR) * blocks, "big")
        indexes = int.from_bytes(_BLOCK_INDEXES[: _BLOCK * blocks], "big")
        keystream = self._ecb.update((tops | indexes).to_bytes(_BLOCK * blocks, "big"))
        return (int.from_bytes(data, "big") ^ int.from_bytes(keystream[:size], "big")).to_bytes(size, "big")


class HmacSha1:
    """SHA1-HMAC under one key, for many messages: the keyed state is set up once and copied per call."""

    def __init__(self, key: bytes) -> None:
        self._key = key
        self._keyed = hmac.new(key, digestmod=hashlib.sha1)

    def __reduce__(self) -> tuple[type[HmacSha1], tuple[bytes]]:
        return (HmacSha1, (self._key,))

    def __call__(self, data: bytes) -> bytes:
        mac = self._keyed.copy()
        mac.update(data)
        return mac.digest()


# ------------------------------------------------------------------ DH keys


@dataclass(frozen=True)
class DhKeyPair:
    private: int
    public: int

    @classmethod
    def from_private(cls, private: int) -> DhKeyPair:
        return cls(private, powmod(GENERATOR, private))

    @classmethod
    def from_random(cls, random_bytes: bytes) -> DhKeyPair:
        """From DH_PRIVATE_BYTES random bytes; a zero or one exponent is nudged to stay legal."""
        private = int.from_bytes(random_bytes, "big")
        return cls.from_private(max(private, 2))


def dh_secret(private: int, public: int) -> int:
    return powmod(public, private)


# --------------------------------------------------------------- derivation


def secbytes(s: int) -> bytes:
    """The shared secret as a minimum-length MPI (spec: "secbytes")."""
    return mpi(s)


def h2(b: int, secret_bytes: bytes) -> bytes:
    return sha256(bytes((b,)) + secret_bytes)


def h1(b: int, secret_bytes: bytes) -> bytes:
    return sha1(bytes((b,)) + secret_bytes)


@dataclass(frozen=True)
class AkeKeys:
    """The seven AKE values derived from s (plus the AKE-level extra key h2(0xFF))."""

    ssid: bytes
    c: bytes
    c_prime: bytes
    m1: bytes
    m2: bytes
    m1_prime: bytes
    m2_prime: bytes
    extra_key: bytes


def derive_ake_keys(s: int) -> AkeKeys:
    sb = secbytes(s)
    h01 = h2(0x01, sb)
    return AkeKeys(
        ssid=h2(0x00, sb)[:8],
        c=h01[:16],
        c_prime=h01[16:],
        m1=h2(0x02, sb),
        m2=h2(0x03, sb),
        m1_prime=h2(0x04, sb),
        m2_prime=h2(0x05, sb),
        extra_key=h2(0xFF, sb),
    )


@dataclass(frozen=True)
class DataKeys:
    """Session keys for one (our key, their key) pair, from our point of view."""

    send_aes: bytes
    send_mac: bytes
    recv_aes: bytes
    recv_mac: bytes
    extra_key: bytes


def derive_data_keys(our: DhKeyPair, their_public: int) -> DataKeys:
    """Spec: the "high" end (numerically larger public key) sends with byte 0x01."""
    sb = secbytes(dh_secret(our.private, their_public))
    sendbyte, recvbyte = (0x01, 0x02) if our.public > their_public else (0x02, 0x01)
    send_aes = h1(sendbyte, sb)[:16]
    recv_aes = h1(recvbyte, sb)[:16]
    return DataKeys(send_aes, sha1(send_aes), recv_aes, sha1(recv_aes), h2(0xFF, sb))


# ---------------------------------------------------------------------- DSA

DSA_PUBKEY_TYPE = 0x0000
# Bounds on a correspondent's DSA key, so that a hostile key cannot make verification arbitrarily
# slow.  Every deployed OTR key is 1024/160; FIPS 186 stops at 3072/256.
MAX_DSA_P_BITS = 3072
MAX_DSA_Q_BITS = 256


@dataclass(frozen=True)
class DsaPublic:
    p: int
    q: int
    g: int
    y: int

    def encode(self) -> bytes:
        """PUBKEY: type SHORT 0x0000 then MPIs p, q, g, y."""
        return short(DSA_PUBKEY_TYPE) + mpi(self.p) + mpi(self.q) + mpi(self.g) + mpi(self.y)

    def fingerprint(self) -> bytes:
        """SHA-1 of the PUBKEY without its type SHORT (the DSA exception in the spec)."""
        return sha1(self.encode()[2:])

    @property
    def sig_width(self) -> int:
        """Each of r and s is len(q) bytes (20 for every key in use)."""
        return (self.q.bit_length() + 7) // 8

    def verify(self, message: bytes, sig: bytes) -> bool:
        width = self.sig_width
        if len(sig) != 2 * width:
            return False
        r = int.from_bytes(sig[:width], "big")
        s = int.from_bytes(sig[width:], "big")
        return dsa_verify(self, message, r, s)


@dataclass(frozen=True)
class DsaPrivate:
    public: DsaPublic
    x: int

    def sign(self, message: bytes, k_random: bytes) -> bytes:
        """SIG over ``message`` (the 32-byte M, taken mod q), with r and s fixed-width.

        ``k_random`` supplies the per-signature nonce; it is reduced into [1, q-1].
        """
        pub = self.public
        k = int.from_bytes(k_random, "big") % (pub.q - 1) + 1
        r, s = dsa_sign(self, message, k)
        width = pub.sig_width
        return r.to_bytes(width, "big") + s.to_bytes(width, "big")


def dsa_hash_value(message: bytes, q: int) -> int:
    """The spec signs M itself, "which does not need to be hashed again": M as an integer, mod q.

    FIPS 186 would keep only the leftmost len(q) bits instead; libotr and
    every interoperable implementation reduce mod q.
    """
    return int.from_bytes(message, "big") % q


def dsa_sign(key: DsaPrivate, message: bytes, k: int) -> tuple[int, int]:
    pub = key.public
    h = dsa_hash_value(message, pub.q)
    r = int(gmpy2.powmod(pub.g, k, pub.p)) % pub.q
    s = int(gmpy2.invert(k, pub.q)) * (h + key.x * r) % pub.q
    if r == 0 or s == 0:  # probability ~2^-160; the caller's next nonce fixes it
        raise ValueError("degenerate DSA nonce")
    return r, s


def dsa_verify(pub: DsaPublic, message: bytes, r: int, s: int) -> bool:
    """Never raises: a key from the network may have a composite q, where s has no inverse."""
    if not (0 < r < pub.q and 0 < s < pub.q):
        return False
    h = dsa_hash_value(message, pub.q)
    try:
        w = gmpy2.invert(s, pub.q)
    except ZeroDivisionError:
        return False
    u1 = h * w % pub.q
    u2 = r * w % pub.q
    v = gmpy2.powmod(pub.g, u1, pub.p) * gmpy2.powmod(pub.y, u2, pub.p) % pub.p % pub.q
    return int(v) == r


def read_pubkey(reader: Reader) -> DsaPublic:
    """PUBKEY from a reader; a type other than DSA (0x0000) is malformed."""
    ktype = reader.short("pubkey type")
    if ktype != DSA_PUBKEY_TYPE:
        raise DecodeError(f"pubkey type {ktype:#06x} is not DSA (0x0000)")
    p = reader.mpi("pubkey p")
    q = reader.mpi("pubkey q")
    g = reader.mpi("pubkey g")
    y = reader.mpi("pubkey y")
    if q < 2 or p < 3 or not (1 < g < p) or not (1 < y < p):
        raise DecodeError("pubkey parameters out of range")
    if p.bit_length() > MAX_DSA_P_BITS or q.bit_length() > MAX_DSA_Q_BITS:
        raise DecodeError(f"pubkey larger than {MAX_DSA_P_BITS}-bit p / {MAX_DSA_Q_BITS}-bit q")
    return DsaPublic(p, q, g, y)
