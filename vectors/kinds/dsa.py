"""DSA as OTR uses it: signatures over the 32-byte M taken mod q, SIG and PUBKEY encodings, fingerprints.

Spec: "Public keys, signatures, and fingerprints" (PUBKEY is SHORT 0x0000
then MPIs p, q, g, y; SIG is r and s, each exactly len(q) = 20 bytes; the
fingerprint is SHA-1 of PUBKEY without its type SHORT) and "Reveal
Signature Message" (sigB(MB) signs "the 32-byte MB (taken modulo q instead
of being truncated (as described in FIPS-186), and not hashed again)").

The signatures are computed here from the DSA formulas with fixed nonces,
not by the engine: h = M mod q, r = (g^k mod p) mod q, s = k^-1 (h + x r)
mod q.  The "truncated" variants sign h = the leftmost 160 bits instead,
in the two forms deployed libraries use (the leftmost bits of the 32-byte
string, as OpenSSL's prehashed signing does, and the leftmost bits of the
integer, as libgcrypt normalises an MPI).  A truncated signature verifies
under the spec's rule exactly when both values of h agree mod q; the test's
result is decided by that arithmetic, not by running a verifier.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from typing import Any

from implementations import fixtures
from implementations.api import DsaKey
from implementations.engine import DsaPublic

from ..model import Target, Vector, Verdict
from ._common import notes_used, number_groups

KIND = "dsa"
FILENAME = "otr_dsa.json"
SCHEMA = "dsa.schema.json"
GENERATOR_VERSION = "otrcheck-vectors 1"
SEED = b"otrcheck vectors dsa v1"
KEY_NAMES = ("alice", "bob", "carol", "dave", "eve", "leading-zero-y", "leading-zero-fp")
WIDTH = 20  # len(q) for every OTR key: r and s are 20 bytes each

NOTES = {
    "ModQ": {
        "bugType": "BASIC",
        "description": "Signed as the spec says: h = M mod q. Must verify.",
    },
    "Truncated": {
        "bugType": "KNOWN_BUG",
        "description": "Signed FIPS-186 style, h = the leftmost 160 bits of M (of the 32-byte string, "
        "or of the integer where the test says so). Does not verify under the mod-q rule unless "
        "both values agree mod q.",
    },
    "TruncationAgrees": {
        "bugType": "EDGE_CASE",
        "description": "A truncated signature whose h happens to equal M mod q (M below 2^160, "
        "truncating the integer): valid, and a verifier cannot tell how it was made.",
    },
    "SmallMessage": {
        "bugType": "EDGE_CASE",
        "description": "M < q: 12 or more leading zero bytes; M mod q = M.",
    },
    "MessageAboveQ": {
        "bugType": "EDGE_CASE",
        "description": "q <= M < 2^160: the integer truncation keeps M, which reduces to M - q.",
    },
    "LeadingZeroMessage": {
        "bugType": "EDGE_CASE",
        "description": "M starts with one or two zero bytes (still above q): the two truncation styles "
        "differ, and an implementation that strips the zeros before signing signs another value.",
    },
    "CongruentMessage": {
        "bugType": "EDGE_CASE",
        "description": "The signature was made over M and is checked over M + q (also 32 bytes): under "
        "the mod-q rule both have the same h, so it verifies.",
    },
    "LeadingZeroR": {
        "bugType": "EDGE_CASE",
        "description": "r < 2^152: its 20-byte field starts with 0x00 (fixed width, as the spec says).",
    },
    "LeadingZeroS": {
        "bugType": "EDGE_CASE",
        "description": "s < 2^152: its 20-byte field starts with 0x00.",
    },
    "StrippedLeadingZero": {
        "bugType": "KNOWN_BUG",
        "description": "The same signature with the leading zero byte of r or s dropped (39 bytes): a "
        "minimal-length encoding where the spec wants fixed width. Must be rejected.",
    },
    "PaddedSignature": {
        "bugType": "MODIFIED_PARAMETER",
        "description": "r and s each written in 21 bytes (42 in all). Must be rejected.",
    },
    "SignatureRange": {
        "bugType": "EDGE_CASE",
        "description": "r or s is 0 or q (outside 1 .. q-1). Must be rejected.",
    },
    "WrongKey": {
        "bugType": "BASIC",
        "description": "A valid signature by another key. Must be rejected.",
    },
    "ModifiedMessage": {
        "bugType": "BASIC",
        "description": "A valid signature checked over M with one bit flipped. Must be rejected.",
    },
    "SwappedRS": {
        "bugType": "MODIFIED_PARAMETER",
        "description": "r and s exchanged. Must be rejected.",
    },
    "PubkeyEncoding": {
        "bugType": "BASIC",
        "description": "PUBKEY: type 0x0000 then minimal MPIs p, q, g, y; fingerprint = SHA-1 of it "
        "without the type SHORT.",
    },
    "LeadingZeroY": {
        "bugType": "EDGE_CASE",
        "description": "The key's y is 127 bytes long: its MPI is shorter than p's.",
    },
    "LeadingZeroFingerprint": {
        "bugType": "EDGE_CASE",
        "description": "The fingerprint starts with 0x00: it is still 20 bytes (40 hex digits).",
    },
    "FingerprintWithType": {
        "bugType": "KNOWN_BUG",
        "description": "invalid: the fingerprint hashed with the type SHORT included, against the "
        "spec's exception for DSA keys.",
    },
    "PaddedMpi": {
        "bugType": "KNOWN_BUG",
        "description": "invalid: y written in as many bytes as p (a leading 0x00 in the MPI); the "
        "encoding and fingerprint of such a PUBKEY are not the key's.",
    },
}

HEADER = [
    "DSA in OTR (protocol v2/v3): 32-byte messages M signed mod q, SIG fixed-width encodings, "
    "PUBKEY encodings and fingerprints of the fixture keys (implementations/fixtures/dsa_keys.json).",
    "Spec: 'Public keys, signatures, and fingerprints', 'Reveal Signature Message'.",
    "msg, sig, pubkey, fingerprint are hex; key parameters are unpadded big-endian hex integers.",
    "Generated by vectors/kinds/dsa.py from the DSA formulas with fixed nonces (not by the engine).",
]


# ------------------------------------------------------------ arithmetic


def _stream(label: str) -> Iterator[bytes]:
    counter = 0
    while True:
        yield hashlib.sha256(SEED + b"\0" + label.encode() + b"\0" + counter.to_bytes(8, "big")).digest()
        counter += 1


def _take(label: str, n: int) -> bytes:
    out = b""
    source = _stream(label)
    while len(out) < n:
        out += next(source)
    return out[:n]


def _mpi(value: int) -> bytes:
    body = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return len(body).to_bytes(4, "big") + body


def _pubkey(key: DsaKey) -> bytes:
    return b"\0\0" + b"".join(_mpi(v) for v in (key.p, key.q, key.g, key.y))


def _h_mod_q(key: DsaKey, msg: bytes) -> int:
    return int.from_bytes(msg, "big") % key.q


def _h_truncated_string(key: DsaKey, msg: bytes) -> int:
    """FIPS 186-4 4.6 on the 32-byte string: its leftmost N bits (OpenSSL's prehashed signing)."""
    return int.from_bytes(msg, "big") >> (8 * len(msg) - key.q.bit_length())


def _h_truncated_integer(key: DsaKey, msg: bytes) -> int:
    """The leftmost N bits of M as an integer: a shift only when M is longer than q (libgcrypt's MPI)."""
    m = int.from_bytes(msg, "big")
    return m >> max(0, m.bit_length() - key.q.bit_length())


def _nonce(key: DsaKey, label: str) -> int:
    return int.from_bytes(_take(label, 32), "big") % (key.q - 1) + 1


def _sign(key: DsaKey, h: int, k: int) -> tuple[int, int]:
    assert key.x is not None
    r = pow(key.g, k, key.p) % key.q
    s = pow(k, -1, key.q) * (h + key.x * r) % key.q
    if r == 0 or s == 0:
        raise ValueError("degenerate nonce")
    return r, s


def _sig(r: int, s: int, width: int = WIDTH) -> str:
    return (r.to_bytes(width, "big") + s.to_bytes(width, "big")).hex()


def _search(key: DsaKey, label: str, h: int, want: str) -> tuple[int, int]:
    """The first nonce of ``label/i`` whose signature has a leading zero byte in r or s (``want``)."""
    i = 0
    while True:
        r, s = _sign(key, h, _nonce(key, f"{label}/{i}"))
        if (r if want == "r" else s) < 1 << (8 * WIDTH - 8):
            return r, s
        i += 1


# ------------------------------------------------------------ messages


def _message(label: str, *, zeros: int = 0, below: int | None = None, above: int | None = None) -> bytes:
    """32 bytes from the stream: ``zeros`` leading zero bytes, or a value in [above, below)."""
    raw = bytearray(_take(label, 32))
    if zeros:
        raw[:zeros] = b"\0" * zeros
        raw[zeros] |= 0x01
        return bytes(raw)
    if below is not None:
        low = above or 0
        value = low + int.from_bytes(raw, "big") % (below - low)
        return value.to_bytes(32, "big")
    raw[0] |= 0x80
    return bytes(raw)


HASH_STYLES: dict[str, tuple[Callable[[DsaKey, bytes], int], str]] = {
    "mod-q": (_h_mod_q, "signed mod q"),
    "string": (_h_truncated_string, "signed with the leftmost 160 bits of the 32-byte string"),
    "integer": (_h_truncated_integer, "signed with the leftmost 160 bits of the integer"),
}


def _verify_tests(name: str, key: DsaKey, others: dict[str, DsaKey]) -> list[dict[str, Any]]:
    tests: list[dict[str, Any]] = []

    def add(comment: str, flags: list[str], msg: bytes, sig: str, valid: bool) -> None:
        result = "valid" if valid else "invalid"
        tests.append({"comment": comment, "flags": flags, "msg": msg.hex(), "sig": sig, "result": result})

    def sign_each_way(label: str, what: str, flags: list[str], msg: bytes, styles: tuple[str, ...]) -> None:
        """M signed with each way of turning it into h; valid exactly when that h is M mod q."""
        for style in styles:
            to_h, how = HASH_STYLES[style]
            h = to_h(key, msg)
            agrees = h % key.q == _h_mod_q(key, msg)
            sig = _sig(*_sign(key, h, _nonce(key, f"{name}/k/{label}/{style}")))
            if style == "mod-q":
                style_flags = ["ModQ"]
            else:
                style_flags = ["Truncated", "TruncationAgrees"] if agrees else ["Truncated"]
            add(f"{what}, {how}", style_flags + flags, msg, sig, agrees)

    # For M with its top bit set the two truncations coincide: one truncated test.
    big = _message(f"{name}/big")
    sign_each_way("big", "M > q", [], big, ("mod-q", "string"))
    r, s = _sign(key, _h_mod_q(key, big), _nonce(key, f"{name}/k/big/mod-q"))
    add(
        "M > q signed mod q, checked over M with one bit flipped",
        ["ModifiedMessage"],
        big[:1] + bytes([big[1] ^ 4]) + big[2:],
        _sig(r, s),
        False,
    )
    add("r and s swapped", ["SwappedRS"], big, _sig(s, r), False)
    add("r and s written in 21 bytes each", ["PaddedSignature"], big, _sig(r, s, WIDTH + 1), False)
    add("r = 0", ["SignatureRange"], big, _sig(0, s), False)
    add("s = 0", ["SignatureRange"], big, _sig(r, 0), False)
    add("r = q", ["SignatureRange"], big, _sig(key.q, s), False)
    add("s = q", ["SignatureRange"], big, _sig(r, key.q), False)
    for other_name, other in others.items():
        theirs = _sign(other, _h_mod_q(other, big), _nonce(other, f"{other_name}/k/for-{name}"))
        add(
            f"signed mod q by {other_name}, checked with {name}'s key",
            ["WrongKey"],
            big,
            _sig(*theirs),
            False,
        )

    styles = ("mod-q", "string", "integer")
    sign_each_way("small", "M < q", ["SmallMessage"], _message(f"{name}/small", below=key.q), styles)
    mid = _message(f"{name}/mid", above=key.q, below=1 << 160)
    sign_each_way("mid", "q <= M < 2^160", ["MessageAboveQ"], mid, styles)
    for zeros in (1, 2):
        lead = _message(f"{name}/lead{zeros}", zeros=zeros)
        sign_each_way(
            f"lead{zeros}", f"M with {zeros} leading zero byte(s)", ["LeadingZeroMessage"], lead, styles
        )

    base = _message(f"{name}/congruent", below=(1 << 256) - key.q)
    shifted = (int.from_bytes(base, "big") + key.q).to_bytes(32, "big")
    r, s = _sign(key, _h_mod_q(key, base), _nonce(key, f"{name}/k/congruent"))
    add("signed over M mod q, checked over M + q", ["ModQ", "CongruentMessage"], shifted, _sig(r, s), True)

    for part, flag in (("r", "LeadingZeroR"), ("s", "LeadingZeroS")):
        msg = _message(f"{name}/zero-{part}")
        r, s = _search(key, f"{name}/k/zero-{part}", _h_mod_q(key, msg), part)
        add(f"{part} has a leading zero byte, written in 20 bytes", ["ModQ", flag], msg, _sig(r, s), True)
        raw = bytes.fromhex(_sig(r, s))
        stripped = raw[1:] if part == "r" else raw[:WIDTH] + raw[WIDTH + 1 :]
        add(
            f"the same with the zero byte of {part} dropped (39 bytes)",
            ["StrippedLeadingZero"],
            msg,
            stripped.hex(),
            False,
        )
    return tests


def _pubkey_tests(keys: dict[str, DsaKey]) -> list[dict[str, Any]]:
    tests: list[dict[str, Any]] = []
    for name, key in keys.items():
        flags = ["PubkeyEncoding"]
        encoded = _pubkey(key)
        fp = hashlib.sha1(encoded[2:]).digest()
        if key.y.bit_length() <= key.p.bit_length() - 8:
            flags.append("LeadingZeroY")
        if fp[0] == 0:
            flags.append("LeadingZeroFingerprint")
        if fp.hex() != fixtures.fingerprint(name):
            raise AssertionError(f"fixture {name}: recorded fingerprint disagrees")
        tests.append(
            _pubkey_test(name, key, f"PUBKEY and fingerprint of {name}", flags, encoded, fp, "valid")
        )
    for name in ("alice", "leading-zero-fp"):
        key = keys[name]
        encoded = _pubkey(key)
        tests.append(
            _pubkey_test(
                name,
                key,
                f"{name}'s fingerprint hashed with the type SHORT",
                ["FingerprintWithType"],
                encoded,
                hashlib.sha1(encoded).digest(),
                "invalid",
            )
        )
    key = keys["leading-zero-y"]
    width = (key.p.bit_length() + 7) // 8
    padded = b"\0\0" + b"".join(_mpi(v) for v in (key.p, key.q, key.g))
    padded += width.to_bytes(4, "big") + key.y.to_bytes(width, "big")
    tests.append(
        _pubkey_test(
            "leading-zero-y",
            key,
            "y padded to the width of p",
            ["PaddedMpi", "LeadingZeroY"],
            padded,
            hashlib.sha1(padded[2:]).digest(),
            "invalid",
        )
    )
    return tests


def _pubkey_test(
    name: str, key: DsaKey, comment: str, flags: list[str], pubkey: bytes, fp: bytes, result: str
) -> dict[str, Any]:
    return {
        "comment": comment,
        "flags": flags,
        "key_name": name,
        "public_key": _public_json(key),
        "pubkey": pubkey.hex(),
        "fingerprint": fp.hex(),
        "result": result,
    }


def _public_json(key: DsaKey) -> dict[str, str]:
    return {"p": f"{key.p:x}", "q": f"{key.q:x}", "g": f"{key.g:x}", "y": f"{key.y:x}"}


def generate() -> dict[str, Any]:
    keys = {name: fixtures.key(name) for name in KEY_NAMES}
    blocks: list[tuple[int, int, dict[str, Any]]] = []
    for i, (name, key) in enumerate(keys.items()):
        # One wrong key with the same domain parameters and one with others, where such keys exist.
        same = [n for n in KEY_NAMES if n != name and keys[n].p == key.p]
        different = [n for n in KEY_NAMES if keys[n].p != key.p]
        others = {n: keys[n] for n in (same[:1] + different[:1])}
        group = {
            "type": "DsaVerify",
            "key_name": name,
            "public_key": _public_json(key),
            "sig_width": WIDTH,
            "tests": _verify_tests(name, key, others),
        }
        blocks.append((1 + 100 * i, 100, group))
    blocks.append((1001, 100, {"type": "DsaPublicKey", "tests": _pubkey_tests(keys)}))
    numbered = number_groups(blocks)
    return {
        "algorithm": "OTR-DSA",
        "schema": SCHEMA,
        "generatorVersion": GENERATOR_VERSION,
        "numberOfTests": sum(len(group["tests"]) for group in numbered),
        "header": HEADER,
        "notes": notes_used(numbered, NOTES),
        "testGroups": numbered,
    }


# ------------------------------------------------------------------ replay


def _engine_key(obj: dict[str, str]) -> DsaPublic:
    return DsaPublic(*(int(obj[n], 16) for n in ("p", "q", "g", "y")))


def replay(vector: Vector, target: Target) -> Verdict:
    """DsaPublic.verify for signatures; DsaPublic.encode and fingerprint for PUBKEY tests."""
    if target.name != "engine":
        return Verdict("skipped", "no DSA entry point")
    test = vector.test
    if "sig" in test:
        key = _engine_key(vector.group["public_key"])
        verified = key.verify(bytes.fromhex(test["msg"]), bytes.fromhex(test["sig"]))
        if verified != (vector.result == "valid"):
            return Verdict("failed", f"verify returned {verified} for a {vector.result} signature", verified)
        return Verdict("passed", "", verified)
    key = _engine_key(test["public_key"])
    observed = {"pubkey": key.encode().hex(), "fingerprint": key.fingerprint().hex()}
    same = observed["pubkey"] == test["pubkey"] and observed["fingerprint"] == test["fingerprint"]
    if same != (vector.result == "valid"):
        what = "differ from" if vector.result == "valid" else "reproduce"
        return Verdict("failed", f"the engine's PUBKEY and fingerprint {what} the test's", observed)
    return Verdict("passed", "", observed)
