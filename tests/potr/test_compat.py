"""The pycryptodome compatibility layer under python-potr (``implementations/potr/compat.py``).

* DSA: potr's signatures (over the 32-byte M taken mod q, r and s 20 bytes
  each, leading zeros kept) verify with the engine's verifier and the
  engine's verify with potr's; a FIPS-truncated signature does not.
* AES-CTR: the same bytes as the engine's ``_crypto.aes_ctr``, with potr's
  counter (prefix || block number) advancing as pycrypto advanced it.
* Keys from the fixture numbers have the fixtures' fingerprints.
* Seeds: two potr conversations with the same seeds put the same strings
  on the wire; different seeds do not.
"""

from __future__ import annotations

import hashlib

import pytest

from harness import impls
from harness.conversation import Duo

POTR = impls.get("potr")
if not POTR.available:
    pytest.fail(f"potr is unavailable: {POTR.unavailable}", pytrace=False)

import potr.compatcrypto  # noqa: E402 - after the availability check, which names the fix
import potr.compatcrypto.pycrypto  # noqa: E402
import potr.context  # noqa: E402
import potr.crypt  # noqa: E402

from implementations.api import InitConfig  # noqa: E402
from implementations.engine import DsaPublic, private_key  # noqa: E402
from implementations.engine._crypto import aes_ctr as engine_aes_ctr  # noqa: E402
from implementations.fixtures import fingerprint, key, load_keys  # noqa: E402
from implementations.potr import compat  # noqa: E402
from implementations.potr.adapter import PotrAdapter  # noqa: E402

MESSAGES = [hashlib.sha256(bytes([i])).digest() for i in range(8)] + [b"\xff" * 32, b"\0" * 32]


def potr_key(name: str) -> compat.DsaKey:
    k = key(name)
    return compat.DsaKey.from_numbers(k.p, k.q, k.g, k.y, k.x)


def engine_public(name: str) -> DsaPublic:
    k = key(name)
    return DsaPublic(k.p, k.q, k.g, k.y)


class FixedNonce:
    """A random source whose ``randrange`` answers one chosen value (the DSA nonce)."""

    def __init__(self, k: int) -> None:
        self.k = k

    def getrandbits(self, bits: int) -> int:
        raise AssertionError("DSA signing draws only its nonce")

    def randrange(self, start: int, stop: int) -> int:
        assert start <= self.k < stop
        return self.k


# --------------------------------------------------------------- install


def test_install_registers_the_dsa_key_class_for_type_0_and_rebinds_aes_and_randomness() -> None:
    assert potr.compatcrypto.common.pkTypes[0x0000] is compat.DsaKey
    assert potr.crypt.AESCTR is compat.aes_ctr
    assert potr.crypt.randrange is compat.randrange
    assert potr.crypt.getrandbits is compat.getrandbits
    assert potr.context.time is compat.now


def test_potrs_own_pycrypto_backend_still_breaks_against_pycryptodome() -> None:
    # Why the layer exists: potr's registered class, kept as it ships, cannot sign.
    k = key("alice")
    original = potr.compatcrypto.pycrypto.DSAKey((k.y, k.g, k.p, k.q, k.x), private=True)
    with pytest.raises(NotImplementedError):
        original.sign(MESSAGES[0])


# --------------------------------------------------------------------- DSA


@pytest.mark.parametrize("name", sorted(load_keys()))
def test_keys_from_fixture_numbers_have_the_fixture_fingerprints(name: str) -> None:
    made = potr_key(name)
    assert made.cfingerprint() == fingerprint(name)
    parsed, rest = potr.compatcrypto.common.PK.parsePublicKey(made.serializePublicKey())
    assert (type(parsed), parsed.cfingerprint(), rest) == (compat.DsaKey, fingerprint(name), b"")


def test_a_key_whose_y_does_not_match_x_is_refused() -> None:
    k = key("alice")
    with pytest.raises(ValueError):
        compat.DsaKey.from_numbers(k.p, k.q, k.g, k.y + 1, k.x)


@pytest.mark.parametrize("message", MESSAGES, ids=range(len(MESSAGES)))
def test_potr_signatures_verify_with_the_engine_and_engine_signatures_with_potr(message: bytes) -> None:
    ours = potr_key("alice")
    with compat.active(compat.Deps.seeded(message)):
        sig = ours.sign(message)
    assert len(sig) == 40
    assert engine_public("alice").verify(message, sig)
    engine_sig = private_key(key("bob")).sign(message, hashlib.sha256(b"k" + message).digest())
    assert potr_key("bob").verify(message, engine_sig) is True
    assert potr_key("alice").verify(message, engine_sig) is False


def test_signing_takes_m_mod_q_not_the_fips_leftmost_bits() -> None:
    k = key("alice")
    message = b"\xff" * 32
    nonce = 12345
    assert int.from_bytes(message, "big") % k.q != int.from_bytes(message, "big") >> (256 - 160)
    truncated = int.from_bytes(message, "big") >> (256 - 160)
    r = pow(k.g, nonce, k.p) % k.q
    s = pow(nonce, -1, k.q) * (truncated + k.x * r) % k.q  # what a FIPS 186 "prehashed" signer makes
    fips_sig = r.to_bytes(20, "big") + s.to_bytes(20, "big")
    assert potr_key("alice").verify(message, fips_sig) is False
    with compat.active(compat.Deps(random=FixedNonce(nonce))):
        sig = potr_key("alice").sign(message)
    assert sig[:20] == fips_sig[:20] and sig != fips_sig
    assert potr_key("alice").verify(message, sig) is True


def test_an_r_with_a_leading_zero_byte_is_sent_fixed_width_and_verifies() -> None:
    k = key("alice")
    nonce = next(n for n in range(2, 100_000) if pow(k.g, n, k.p) % k.q < 1 << 152)
    with compat.active(compat.Deps(random=FixedNonce(nonce))):
        sig = potr_key("alice").sign(MESSAGES[1])
    assert len(sig) == 40 and sig[0] == 0
    assert engine_public("alice").verify(MESSAGES[1], sig)


def test_verify_never_raises_and_answers_a_bool() -> None:
    public = potr_key("alice")
    for sig in (b"", b"\0" * 40, b"\xff" * 40, b"\1" * 41):
        assert public.verify(MESSAGES[0], sig) is False


# ----------------------------------------------------------------- AES-CTR


@pytest.mark.parametrize("length", [0, 1, 15, 16, 17, 33, 1000])
@pytest.mark.parametrize("prefix", [0, 1, 0x0102030405060708])
def test_aes_ctr_matches_the_engines(prefix: int, length: int) -> None:
    aes_key = hashlib.sha1(b"aes").digest()[:16]
    data = bytes(range(256)) * 4
    data = data[:length]
    expected = engine_aes_ctr(aes_key, prefix.to_bytes(8, "big"), data)
    assert compat.aes_ctr(aes_key, prefix).encrypt(data) == expected
    assert compat.aes_ctr(aes_key, potr.compatcrypto.Counter(prefix)).decrypt(expected) == data


def test_aes_ctr_advances_potrs_counter_by_the_blocks_it_used() -> None:
    counter = potr.compatcrypto.Counter(7)
    cipher = compat.aes_ctr(b"k" * 16, counter)
    first = cipher.encrypt(b"x" * 20)
    assert counter.val == 2
    second = cipher.encrypt(b"y" * 12)  # continues the keystream inside block 1
    assert counter.val == 2
    assert first + second == engine_aes_ctr(b"k" * 16, (7).to_bytes(8, "big"), b"x" * 20 + b"y" * 12)
    counter.inc()
    assert (counter.prefix, counter.val) == (8, 0)


def test_aes_ctr_refuses_a_counter_of_another_kind() -> None:
    with pytest.raises(TypeError):
        compat.aes_ctr(b"k" * 16, "0")


# -------------------------------------------------------------- randomness


def test_the_seeded_stream_is_sha256_of_seed_and_counter() -> None:
    stream = compat.SeededRandomSource(b"seed")
    expected = b"".join(hashlib.sha256(b"seed" + i.to_bytes(8, "big")).digest() for i in range(2))
    assert stream.read(64) == expected


def test_seeded_randrange_stays_in_range_and_repeats_with_the_seed() -> None:
    one, two = compat.SeededRandomSource(b"s"), compat.SeededRandomSource(b"s")
    values = [one.randrange(2, 2**320) for _ in range(50)]
    assert values == [two.randrange(2, 2**320) for _ in range(50)]
    assert all(2 <= v < 2**320 for v in values)
    assert {compat.SeededRandomSource(bytes([i])).randrange(0, 3) for i in range(40)} == {0, 1, 2}
    assert all(one.getrandbits(128) < 2**128 for _ in range(20))


def _transcript(seeds: tuple[bytes, bytes]) -> list[tuple[str, str]]:
    duo = Duo.create(PotrAdapter, seeds=seeds, max_message_size=(300, 300))
    duo.act("alice", "query")
    duo.flush()
    duo.act("alice", "send", "one")
    duo.act("bob", "send", "two " * 200)
    duo.flush()
    duo.act("bob", "smp_start", "secret", "q?")
    duo.flush()
    duo.act("alice", "smp_respond", "secret")
    duo.flush()
    duo.act("alice", "end")
    duo.flush()
    assert [e.type for e in duo.events("bob")][-1] == "finished"
    return [(w.sender, w.wire) for w in duo.transcript]


def test_two_conversations_with_the_same_seeds_put_the_same_strings_on_the_wire() -> None:
    first = _transcript((b"alice-seed", b"bob-seed"))
    assert first == _transcript((b"alice-seed", b"bob-seed"))
    assert len(first) > 10
    different = _transcript((b"alice-seed", b"another bob"))
    assert first[0] == different[0]  # the query carries nothing random
    assert first[1:] != different[1:]


def test_each_adapter_draws_from_its_own_stream() -> None:
    # Interleaving another seeded adapter's work does not change this one's wire strings.
    lone = PotrAdapter()
    lone.init(_init("alice", b"alone"))
    expected = [o.wire for o in lone.receive("bob", "?OTRv2?").out]

    busy, noise = PotrAdapter(), PotrAdapter()
    busy.init(_init("alice", b"alone"))
    noise.init(_init("bob", b"noise"))
    noise.receive("alice", "?OTRv2?")
    assert [o.wire for o in busy.receive("bob", "?OTRv2?").out] == expected


def _init(name: str, seed: bytes) -> InitConfig:
    return InitConfig(name, "xmpp", key(name), 0x100, seed=seed)
