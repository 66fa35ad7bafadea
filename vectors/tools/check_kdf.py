#!/usr/bin/env python3
"""Check vectors/kdf/otr_kdf.json against the OTR spec's formulas, independently of the engine.

Usage: python vectors/tools/check_kdf.py [FILE]      (exit 0 iff every value agrees)

Only hashlib and plain integers; nothing of otrcheck is imported.  Written
straight from the spec (OTR v3, "Computing AES keys, MAC keys, and the
secure session id", "Extra symmetric key"):

  secbytes = 4-byte big-endian length || s, minimum length (no leading 0x00)
  h2(b) = SHA-256(b || secbytes)      h1(b) = SHA-1(b || secbytes)
  ssid = h2(0x00)[0:8]   c = h2(0x01)[0:16]   c' = h2(0x01)[16:32]
  m1, m2, m1', m2' = h2(0x02), h2(0x03), h2(0x04), h2(0x05)   extra key = h2(0xFF)
  high end (larger public value): sendbyte 0x01, recvbyte 0x02; low end the reverse
  AES key = h1(byte)[0:16]   MAC key = SHA-1(AES key)

A ``valid`` test must match in every value; an ``invalid`` test (values
derived from a wrong encoding of s) must differ in every derived value while
its ``s`` and ``secbytes`` are still right.
"""

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

# RFC 3526 group 5 (1536-bit MODP), the modulus of the spec's "Data types" section; generator 2.
P = int(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DD"
    "EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED"
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F"
    "83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804F1746C08CA237327FFFFFFFFFFFFFFFF",
    16,
)
G = 2
DEFAULT = Path(__file__).resolve().parents[1] / "kdf" / "otr_kdf.json"


def secbytes(s: int) -> bytes:
    value = s.to_bytes((s.bit_length() + 7) // 8, "big")
    return len(value).to_bytes(4, "big") + value


def expected(s: int) -> dict[str, str]:
    sb = secbytes(s)

    def h2(b: int) -> bytes:
        return hashlib.sha256(bytes([b]) + sb).digest()

    def h1(b: int) -> bytes:
        return hashlib.sha1(bytes([b]) + sb).digest()

    def end(sendbyte: int, recvbyte: int) -> dict[str, str]:
        send_aes, recv_aes = h1(sendbyte)[:16], h1(recvbyte)[:16]
        return {
            "send_aes": send_aes.hex(),
            "send_mac": hashlib.sha1(send_aes).hexdigest(),
            "recv_aes": recv_aes.hex(),
            "recv_mac": hashlib.sha1(recv_aes).hexdigest(),
        }

    values = {
        "secbytes": sb.hex(),
        "ssid": h2(0x00)[:8].hex(),
        "c": h2(0x01)[:16].hex(),
        "c_prime": h2(0x01)[16:].hex(),
        "m1": h2(0x02).hex(),
        "m2": h2(0x03).hex(),
        "m1_prime": h2(0x04).hex(),
        "m2_prime": h2(0x05).hex(),
        "extra_key": h2(0xFF).hex(),
        "data_extra_key": h2(0xFF).hex(),
    }
    for name, value in end(0x01, 0x02).items():
        values["high." + name] = value
    for name, value in end(0x02, 0x01).items():
        values["low." + name] = value
    return values


def given(test: dict[str, Any], name: str) -> Any:
    head, _, rest = name.partition(".")
    value = test.get(head)
    return value.get(rest) if rest and isinstance(value, dict) else value


def check_test(test: dict[str, Any]) -> list[str]:
    """The list of problems with one test (empty when it agrees with the spec)."""
    problems = []
    s = int(test["s"], 16)
    if not 1 <= s < P:
        problems.append("s outside 1 .. p-1")
    want = expected(s)
    if test["secbytes"] != want["secbytes"]:
        problems.append("secbytes is not the minimal MPI of s")
    derived = [name for name in want if name != "secbytes"]
    if test["result"] == "valid":
        problems += [f"{name} differs" for name in derived if given(test, name) != want[name]]
    elif test["result"] == "invalid":
        problems += [
            f"{name} equals the correct value" for name in derived if given(test, name) == want[name]
        ]
    else:
        problems.append(f"unexpected result {test['result']!r}")
    if "our_private" in test:
        a, b = int(test["our_private"], 16), int(test["their_private"], 16)
        ga, gb = int(test["our_public"], 16), int(test["their_public"], 16)
        if pow(G, a, P) != ga or pow(G, b, P) != gb:
            problems.append("a public value is not g^private mod p")
        if pow(gb, a, P) != s or pow(ga, b, P) != s:
            problems.append("s is not the D-H secret of the pair")
        if test["our_end"] != ("high" if ga > gb else "low"):
            problems.append("our_end does not follow the numeric comparison of the public values")
    return problems


def main(argv: list[str]) -> int:
    path = Path(argv[1]) if len(argv) > 1 else DEFAULT
    doc = json.loads(path.read_text(encoding="utf-8"))
    checked, failures = 0, 0
    for group in doc["testGroups"]:
        for test in group["tests"]:
            checked += 1
            for problem in check_test(test):
                failures += 1
                print(f"tcId {test['tcId']}: {problem}")
    if checked != doc["numberOfTests"]:
        failures += 1
        print(f"numberOfTests is {doc['numberOfTests']}, the file has {checked} tests")
    print(f"{path.name}: {checked} tests, {failures} problems")
    return 0 if failures == 0 and checked > 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
