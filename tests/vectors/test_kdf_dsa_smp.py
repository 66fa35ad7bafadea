"""The kdf, dsa and smp vector kinds: no drift, an independent check, replay against the engine, and proof
that each replay can fail."""

from __future__ import annotations

import copy
import dataclasses
import functools
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import dsa as openssl_dsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, encode_dss_signature

from implementations import fixtures
from implementations.engine import EngineAdapter, _crypto, _smp
from vectors import loader
from vectors.kinds import dsa, kdf, smp
from vectors.model import Target, Vector

KINDS: dict[str, ModuleType] = {"kdf": kdf, "dsa": dsa, "smp": smp}
MINIMUM_TESTS = {"kdf": 60, "dsa": 50, "smp": 60}
CHECK_KDF = loader.ROOT / "tools" / "check_kdf.py"


def path_of(kind: str) -> Path:
    return loader.ROOT / kind / KINDS[kind].FILENAME


@functools.cache
def generated(kind: str) -> dict[str, Any]:
    return KINDS[kind].generate()


def vectors(kind: str) -> list[Vector]:
    return list(loader.vectors_of(path_of(kind)))


@pytest.fixture
def engine() -> Target:
    return Target("engine", EngineAdapter(), True)


def failures(kind: str, target: Target, selected: list[Vector] | None = None) -> list[str]:
    found = []
    for vector in vectors(kind) if selected is None else selected:
        verdict = KINDS[kind].replay(vector, target)
        if verdict.status != "passed":
            found.append(f"{vector.ident} ({vector.comment}): {verdict.status}: {verdict.detail}")
    return found


# ------------------------------------------------------------------ the files


@pytest.mark.parametrize("kind", KINDS)
def test_file_is_exactly_what_the_generator_writes(kind):
    assert path_of(kind).read_text(encoding="utf-8") == loader.canonical_json(generated(kind))


@pytest.mark.parametrize("kind", KINDS)
def test_file_has_at_least_the_minimum_number_of_tests(kind):
    document = loader.read_document(path_of(kind))
    assert document["numberOfTests"] == len(vectors(kind)) >= MINIMUM_TESTS[kind]


@pytest.mark.parametrize("kind", KINDS)
def test_kind_names_its_directory_and_schema(kind):
    module = KINDS[kind]
    assert kind == module.KIND
    assert kind == loader.kind_of(path_of(kind))
    assert loader.read_document(path_of(kind))["schema"] == f"{kind}.schema.json"
    assert (loader.SCHEMA_DIR / f"{kind}.schema.json").is_file()


@pytest.mark.parametrize("kind", KINDS)
def test_every_flag_is_explained_and_ids_are_unique(kind):
    document = loader.read_document(path_of(kind))
    ids = [v.tc_id for v in vectors(kind)]
    assert len(ids) == len(set(ids))
    used = {flag for v in vectors(kind) for flag in v.flags}
    assert used == set(document["notes"])


# ------------------------------------------------------------------ coverage


def test_kdf_covers_the_edges_the_issue_names():
    tests = [v.test for v in vectors("kdf")]
    secrets = {int(t["s"], 16) for t in tests}
    assert {1, _crypto.MODULUS - 2} <= secrets
    flags = {f for v in vectors("kdf") for f in v.flags}
    assert {"ShortSecret", "TopBitSet", "RandomSecret", "DhPair", "ShortPublic", "PaddedSecbytes"} <= flags
    pairs = [t for t in tests if "our_private" in t]
    assert {t["our_end"] for t in pairs} == {"high", "low"}
    assert any(len(t["secbytes"]) < 2 * 196 for t in pairs)


def test_dsa_has_a_pubkey_and_fingerprint_test_for_every_fixture_key():
    valid = {v.test["key_name"]: v.test for v in vectors("dsa") if "pubkey" in v.test and v.result == "valid"}
    assert set(valid) == set(fixtures.load_keys())
    for name, test in valid.items():
        assert test["fingerprint"] == fixtures.fingerprint(name)
    assert valid["leading-zero-fp"]["fingerprint"].startswith("00")


def test_dsa_truncated_signatures_are_valid_only_where_truncation_agrees_with_mod_q():
    truncated = [v for v in vectors("dsa") if "Truncated" in v.flags]
    assert {v.result for v in truncated} == {"valid", "invalid"}
    for v in truncated:
        assert (v.result == "valid") == ("TruncationAgrees" in v.flags)
        if v.result == "valid":
            assert int(v.test["msg"], 16) < 2**160


def test_smp_has_complete_exchanges_ending_both_ways():
    exchanges = [v.test for v in vectors("smp") if v.group["type"] == "SmpExchange"]
    assert len(exchanges) >= 6
    assert {(t["alice_result"], t["bob_result"]) for t in exchanges} == {
        ("success", "success"),
        ("failure", "failure"),
    }
    assert any(t["question"] is not None for t in exchanges)


def test_smp_range_checks_cover_every_element_and_exponent_with_each_bad_value():
    checks = [v for v in vectors("smp") if v.group["type"] == "SmpMessageCheck"]
    for n in (1, 2, 3, 4):
        comments = {v.comment for v in checks if v.group["message"] == n}
        for name in smp.GROUP_FIELDS[n]:
            assert {f"{name} = {label}" for label in ("0", "1", "p-1", "p")} <= comments
        for name in smp.EXPONENT_FIELDS[n]:
            assert {f"{name} = {label}" for label in ("0", "1", "q", "p-1", "p")} <= comments
        for name in smp.HASH_FIELDS[n]:
            assert f"{name} with its lowest bit flipped" in comments
        assert f"the honest SMP message {n}" in comments


# ---------------------------------------------------- the independent kdf check


def run_check(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(CHECK_KDF), str(path)], capture_output=True, text=True, timeout=120, check=False
    )


def test_check_script_imports_nothing_but_the_standard_library():
    source = CHECK_KDF.read_text(encoding="utf-8")
    imports = {line.split()[1] for line in source.splitlines() if line.startswith(("import ", "from "))}
    assert imports <= {"hashlib", "json", "sys", "pathlib", "typing"}


def test_independent_check_agrees_with_every_kdf_value():
    completed = run_check(path_of("kdf"))
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert f"{len(vectors('kdf'))} tests, 0 problems" in completed.stdout


def _flip_hex(value: str) -> str:
    return ("1" if value[0] != "1" else "2") + value[1:]


def _first(document: dict[str, Any], result: str, *, pair: bool = False) -> dict[str, Any]:
    for group in document["testGroups"]:
        for test in group["tests"]:
            if test["result"] == result and ("our_private" in test) == pair:
                return test
    raise AssertionError("no such test")


ALTERATIONS = {
    "c_prime": lambda d: _first(d, "valid").update(c_prime=_flip_hex(_first(d, "valid")["c_prime"])),
    "ssid": lambda d: _first(d, "valid").update(ssid=_flip_hex(_first(d, "valid")["ssid"])),
    "low recv_mac": lambda d: _first(d, "valid")["low"].update(
        recv_mac=_flip_hex(_first(d, "valid")["low"]["recv_mac"])
    ),
    "data_extra_key": lambda d: _first(d, "valid").update(
        data_extra_key=_flip_hex(_first(d, "valid")["data_extra_key"])
    ),
    "secbytes padded": lambda d: _first(d, "valid").update(secbytes="000000c0" + "00" * 191 + "01"),
    "our_end swapped": lambda d: _first(d, "valid", pair=True).update(
        our_end="low" if _first(d, "valid", pair=True)["our_end"] == "high" else "high"
    ),
    "our_public": lambda d: _first(d, "valid", pair=True).update(our_public="2"),
    "invalid made right": lambda d: _first(d, "invalid").update(
        c=_crypto.derive_ake_keys(int(_first(d, "invalid")["s"], 16)).c.hex()
    ),
    "test dropped": lambda d: d["testGroups"][0]["tests"].pop(),
}


@pytest.mark.parametrize("alteration", ALTERATIONS)
def test_independent_check_fails_on_an_altered_copy(tmp_path, alteration):
    document = json.loads(path_of("kdf").read_text(encoding="utf-8"))
    ALTERATIONS[alteration](document)
    altered = tmp_path / "otr_kdf.json"
    altered.write_text(json.dumps(document), encoding="utf-8")
    completed = run_check(altered)
    assert completed.returncode == 1, completed.stdout
    assert "0 problems" not in completed.stdout


# ------------------------------------------------------------ engine replay


@pytest.mark.parametrize("kind", KINDS)
def test_every_vector_replays_passed_against_the_engine(kind, engine):
    assert failures(kind, engine) == []


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("kdf", "no key-derivation entry point"),
        ("dsa", "no DSA entry point"),
        ("smp", "SMP is replayed through sessions by the transcript kind"),
    ],
)
def test_other_targets_are_skipped_with_the_reason(kind, reason):
    other = Target("libotr", EngineAdapter(), False)
    verdicts = {KINDS[kind].replay(v, other) for v in vectors(kind)[:5]}
    assert {(v.status, v.detail) for v in verdicts} == {("skipped", reason)}


def test_kdf_replay_fails_when_the_engine_swaps_c_and_c_prime(engine, monkeypatch):
    original = _crypto.derive_ake_keys

    def swapped(s: int) -> _crypto.AkeKeys:
        keys = original(s)
        return dataclasses.replace(keys, c=keys.c_prime, c_prime=keys.c)

    monkeypatch.setattr(_crypto, "derive_ake_keys", swapped)
    valid = [v for v in vectors("kdf") if v.result == "valid"]
    failed = failures("kdf", engine, valid)
    assert len(failed) == len(valid)
    assert all("differs in c, c_prime" in f for f in failed)


def test_kdf_replay_fails_when_the_engine_pads_secbytes(engine, monkeypatch):
    monkeypatch.setattr(_crypto, "secbytes", lambda s: (192).to_bytes(4, "big") + s.to_bytes(192, "big"))
    failed = failures("kdf", engine)
    padded = [v for v in vectors("kdf") if "PaddedSecbytes" in v.flags]
    short = [v for v in vectors("kdf") if "ShortSecret" in v.flags and v.result == "valid"]
    assert {f.split(" ")[0] for f in failed} >= {v.ident for v in padded + short}


def test_kdf_replay_fails_when_the_engine_compares_public_values_as_hex_strings(engine, monkeypatch):
    def by_hex(our: _crypto.DhKeyPair, their_public: int) -> _crypto.DataKeys:
        sb = _crypto.secbytes(_crypto.dh_secret(our.private, their_public))
        high = f"{our.public:x}" > f"{their_public:x}"
        send, recv = (0x01, 0x02) if high else (0x02, 0x01)
        send_aes, recv_aes = _crypto.h1(send, sb)[:16], _crypto.h1(recv, sb)[:16]
        return _crypto.DataKeys(
            send_aes, _crypto.sha1(send_aes), recv_aes, _crypto.sha1(recv_aes), _crypto.h2(0xFF, sb)
        )

    monkeypatch.setattr(_crypto, "derive_data_keys", by_hex)
    failed = {f.split(" ")[0] for f in failures("kdf", engine)}
    short_public = {v.ident for v in vectors("kdf") if "ShortPublic" in v.flags}
    assert short_public and short_public <= failed


def test_dsa_replay_fails_when_the_engine_truncates_instead_of_reducing(engine, monkeypatch):
    def truncated(message: bytes, q: int) -> int:
        return int.from_bytes(message, "big") >> (8 * len(message) - q.bit_length())

    monkeypatch.setattr(_crypto, "dsa_hash_value", truncated)
    failed = {f.split(" ")[0] for f in failures("dsa", engine)}
    mod_q = {v.ident for v in vectors("dsa") if "ModQ" in v.flags}
    assert mod_q <= failed


def test_dsa_replay_fails_when_the_engine_hashes_the_pubkey_type(engine, monkeypatch):
    monkeypatch.setattr(_crypto.DsaPublic, "fingerprint", lambda self: _crypto.sha1(self.encode()))
    failed = {f.split(" ")[0] for f in failures("dsa", engine)}
    assert {v.ident for v in vectors("dsa") if "PubkeyEncoding" in v.flags} <= failed


def test_smp_replay_fails_when_the_engine_skips_the_range_checks(engine, monkeypatch):
    monkeypatch.setattr(_smp, "is_group_element", lambda value: True)
    monkeypatch.setattr(_smp, "_is_exponent", lambda value: True)
    checks = [v for v in vectors("smp") if "RangeCheckOnly" in v.flags]
    assert checks
    for vector in checks:
        try:
            verdict = smp.replay(vector, engine)
        except ZeroDivisionError:  # past every proof, dividing by the degenerate Pb or Qb
            continue
        assert verdict.status == "failed", vector.ident


def test_smp_replay_fails_when_a_tlv_byte_differs(engine):
    exchange = next(v for v in vectors("smp") if v.group["type"] == "SmpExchange")
    test = copy.deepcopy(exchange.test)
    value = test["messages"][2]["value"]
    test["messages"][2]["value"] = value[:-2] + ("00" if value[-2:] != "00" else "01")
    verdict = smp.replay(dataclasses.replace(exchange, test=test), engine)
    assert verdict.status == "failed"
    assert "SMP message 3" in verdict.detail


# ------------------------------------------------------ further independent checks


def test_range_check_only_flags_match_an_engine_without_range_checks(engine, monkeypatch):
    """Without range checks, exactly the RangeCheckOnly (and unreduced-exponent) messages get through."""
    monkeypatch.setattr(_smp, "is_group_element", lambda value: True)
    monkeypatch.setattr(_smp, "_is_exponent", lambda value: True)
    for vector in vectors("smp"):
        if vector.group["type"] != "SmpMessageCheck":
            continue
        try:
            accepted = smp.replay(vector, engine).observed["results"] != ["cheated"]
        except ZeroDivisionError:
            accepted = True
        expected = vector.result != "invalid" or "RangeCheckOnly" in vector.flags
        assert accepted == expected, f"{vector.ident} ({vector.comment})"


def test_dsa_results_agree_with_openssl_verifying_m_mod_q():
    for vector in vectors("dsa"):
        sig = bytes.fromhex(vector.test.get("sig", ""))
        if len(sig) != 2 * dsa.WIDTH:
            continue
        key = {n: int(vector.group["public_key"][n], 16) for n in "pqgy"}
        public = openssl_dsa.DSAPublicNumbers(
            key["y"], openssl_dsa.DSAParameterNumbers(key["p"], key["q"], key["g"])
        ).public_key()
        digest = (int(vector.test["msg"], 16) % key["q"]).to_bytes(20, "big")
        r, s = int.from_bytes(sig[:20], "big"), int.from_bytes(sig[20:], "big")
        try:
            public.verify(encode_dss_signature(r, s), digest, Prehashed(hashes.SHA1()))
            verified = True
        except InvalidSignature:
            verified = False
        assert verified == (vector.result == "valid"), vector.ident


def test_smp_exchange_secrets_are_the_spec_hash_of_fingerprints_ssid_and_secret():
    import hashlib

    for vector in vectors("smp"):
        if vector.group["type"] != "SmpExchange":
            continue
        t = vector.test
        prefix = b"\x01" + bytes.fromhex(t["initiator_fingerprint"] + t["responder_fingerprint"] + t["ssid"])
        assert int(t["x"], 16) == int.from_bytes(
            hashlib.sha256(prefix + t["alice_secret"].encode()).digest(), "big"
        )
        assert int(t["y"], 16) == int.from_bytes(
            hashlib.sha256(prefix + t["bob_secret"].encode()).digest(), "big"
        )
