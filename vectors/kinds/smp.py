"""The Socialist Millionaires' Protocol: whole exchanges with fixed exponents, and single-message checks.

Spec: "Socialist Millionaires' Protocol (SMP)" ("Secret information", "SMP
Hash function", "Receiving a type 2 ... 5 TLV").  Every value here is
computed by this module from the spec's formulas with fixed 1536-bit
exponents (192 bytes each, as the engine draws them); the engine's SMP code
is used only to replay.

``SmpExchange`` tests give both parties' fingerprints, the ssid, both user
secrets and the resulting x and y, every exponent, every TLV value (hex)
and both results.  An implementation given the same exponents must send
the same bytes.

``SmpMessageCheck`` tests give one TLV value for the party that expects it,
after the honest prefix of the group's base exchange.  ``invalid`` ones
have one group element outside 2..p-2, one D value outside 1..q-1, or a
proof hash that does not match; the receiver must abort (TLV 6) and report
cheating.  Where an element is degenerate the proofs are rebuilt so that
the spec's hash equations still hold when a verifier evaluates them
literally (flag ``RangeCheckOnly``): then only the range check stands
between the receiver and a forged comparison.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import gmpy2

from implementations import fixtures
from implementations.engine._crypto import MODULUS
from implementations.engine._deps import ScriptedEntropy
from implementations.engine._smp import SmpMachine, SmpOutcome, smp_secret
from implementations.engine._tlv import Tlv, TlvType

from ..model import Target, Vector, Verdict
from ._common import notes_used, number_groups

KIND = "smp"
FILENAME = "otr_smp.json"
SCHEMA = "smp.schema.json"
GENERATOR_VERSION = "otrcheck-vectors 1"
SEED = b"otrcheck vectors smp v1"

P = MODULUS
Q = (P - 1) // 2
G = 2
EXPONENT_BYTES = 192  # "The random exponents are 1536-bit numbers."
SMP_VERSION = 1

ALICE_EXPONENTS = ("a2", "a3", "r2", "r3", "r4", "r5", "r6", "r7")  # message 1: four, message 3: four
BOB_EXPONENTS = ("b2", "b3", "r2", "r3", "r4", "r5", "r6", "r7")  # message 2: seven, message 4: one
FIELDS = {
    1: ("g2a", "c2", "d2", "g3a", "c3", "d3"),
    2: ("g2b", "c2", "d2", "g3b", "c3", "d3", "pb", "qb", "cp", "d5", "d6"),
    3: ("pa", "qa", "cp", "d5", "d6", "ra", "cr", "d7"),
    4: ("rb", "cr", "d7"),
}
GROUP_FIELDS = {1: ("g2a", "g3a"), 2: ("g2b", "g3b", "pb", "qb"), 3: ("pa", "qa", "ra"), 4: ("rb",)}
EXPONENT_FIELDS = {1: ("d2", "d3"), 2: ("d2", "d3", "d5", "d6"), 3: ("d5", "d6", "d7"), 4: ("d7",)}
HASH_FIELDS = {1: ("c2", "c3"), 2: ("c2", "c3", "cp"), 3: ("cp", "cr"), 4: ("cr",)}
TLV_TYPE = {1: 2, 2: 3, 3: 4, 4: 5}
RECEIVER = {1: "bob", 2: "alice", 3: "bob", 4: "alice"}

NOTES = {
    "SameSecret": {"bugType": "BASIC", "description": "x = y: both parties report success."},
    "DifferentSecret": {
        "bugType": "BASIC",
        "description": "x != y: all four messages are still sent; both parties report failure.",
    },
    "Question": {
        "bugType": "FUNCTIONALITY",
        "description": "SMP message 1Q (TLV 7): the UTF-8 question, a NUL, then the SMP message 1 payload.",
    },
    "ShortMpi": {
        "bugType": "EDGE_CASE",
        "description": "Exponents chosen so that some values (a hash c, a D value, a group element) have "
        "leading zero bytes: their MPIs are shorter, in the TLV and inside the SMP hashes.",
    },
    "SmallExponents": {
        "bugType": "EDGE_CASE",
        "description": "Every random exponent is a small integer: the group elements are tiny numbers "
        "with one-byte MPIs.",
    },
    "LargeExponents": {
        "bugType": "EDGE_CASE",
        "description": "Every random exponent is above q (the spec's exponents are 1536-bit numbers, "
        "not reduced mod q).",
    },
    "EmptySecret": {"bugType": "EDGE_CASE", "description": "Both user secrets are the empty string."},
    "LeadingZeroFingerprint": {
        "bugType": "EDGE_CASE",
        "description": "A fingerprint in the secret's hash starts with 0x00 (still 20 bytes), and the "
        "ssid starts with zero bytes (still 8).",
    },
    "Honest": {"bugType": "BASIC", "description": "The base exchange's own message: the receiver proceeds."},
    "GroupElementRange": {
        "bugType": "MISSING_STEP",
        "description": "A group element is 0, 1, p-1 or p; the spec requires 2 <= value <= p-2 "
        "(0 and p are also not in the group; 1 and p-1 make the comparison meaningless).",
    },
    "ExponentRange": {
        "bugType": "MISSING_STEP",
        "description": "A D value is 0, q, p-1 or p: outside 1 .. q-1, where D = r - e c mod q lies.",
    },
    "ProofMismatch": {
        "bugType": "AUTH_BYPASS",
        "description": "A zero-knowledge proof's hash does not match: the check c = SHA256(version, ...) "
        "fails.",
    },
    "RangeCheckOnly": {
        "bugType": "AUTH_BYPASS",
        "description": "Every hash equation of the message holds when evaluated literally; only the "
        "range check rejects it.",
    },
    "UnreducedExponent": {
        "bugType": "EDGE_CASE",
        "description": "acceptable: a D value replaced by D + q. Its proof still holds (g has order q); "
        "the spec lists no range check for D, libotr and the engine reject it.",
    },
}

HEADER = [
    "OTR SMP (protocol v3 TLVs 2-7): complete exchanges with fixed exponents, and single messages "
    "with one value out of range or one proof broken.",
    "Spec: 'Socialist Millionaires' Protocol (SMP)'. p is the 1536-bit modulus, q = (p-1)/2, g = 2.",
    "Exponents are 192-byte hex strings, drawn in the order the spec lists them; x and y are hex "
    "integers; TLV values are hex.",
    "Alice initiates; x = SHA256(0x01 || initiator fp || responder fp || ssid || Alice's secret), y "
    "likewise with Bob's.",
    "Generated by vectors/kinds/smp.py from the spec's formulas (not by the engine).",
]


# ----------------------------------------------------------------- arithmetic


def _pow(base: int, exponent: int) -> int:
    return int(gmpy2.powmod(base, exponent, P))


def _inv(value: int) -> int:
    return int(gmpy2.invert(value, P))


def _mpi(value: int) -> bytes:
    body = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return len(body).to_bytes(4, "big") + body


def _hash(version: int, first: int, second: int | None = None) -> int:
    """SHA256(version BYTE || MPI(first) [|| MPI(second)]), spec "SMP Hash function"."""
    body = bytes((version,)) + _mpi(first) + (b"" if second is None else _mpi(second))
    return int.from_bytes(hashlib.sha256(body).digest(), "big")


def _encode(values: list[int]) -> bytes:
    return len(values).to_bytes(4, "big") + b"".join(_mpi(v) for v in values)


def _secret(initiator_fp: bytes, responder_fp: bytes, ssid: bytes, user_secret: bytes) -> int:
    digest = hashlib.sha256(bytes((SMP_VERSION,)) + initiator_fp + responder_fp + ssid + user_secret).digest()
    return int.from_bytes(digest, "big")


def _in_group(value: int) -> bool:
    return 2 <= value <= P - 2


def _is_exponent(value: int) -> bool:
    return 1 <= value <= Q - 1


def _stream(label: str) -> Iterator[bytes]:
    counter = 0
    while True:
        yield hashlib.sha256(SEED + b"\0" + label.encode() + b"\0" + counter.to_bytes(8, "big")).digest()
        counter += 1


def _random_exponent(label: str) -> int:
    out = b""
    source = _stream(label)
    while len(out) < EXPONENT_BYTES:
        out += next(source)
    return int.from_bytes(out[:EXPONENT_BYTES], "big")


# -------------------------------------------------------------- the protocol


@dataclass
class Party:
    """One side's fixed exponents and what it has computed so far."""

    secret: int
    exponents: dict[str, int]
    state: dict[str, int] = field(default_factory=dict)

    def e(self, name: str) -> int:
        return self.exponents[name]


def _prove_log(version: int, r: int, exponent: int, sent: int) -> tuple[int, int]:
    """(c, D) with c = SHA256(version, g^D sent^c) holding literally.

    Honest when ``sent`` = g^exponent.  For a degenerate ``sent`` a cheater
    can still satisfy the equation: 0 (or p) zeroes the product; 1 needs
    D = r; p-1 needs D = r and an even c, found by stepping r.
    """
    if sent % P == 0:
        c = _hash(version, 0)
        return c, (r - exponent * c) % Q
    if sent in (1, P - 1):
        while True:
            c = _hash(version, _pow(G, r))
            if sent == 1 or c % 2 == 0:
                return c, r % Q
            r += 1
    c = _hash(version, _pow(G, r))
    return c, (r - exponent * c) % Q


def message1(alice: Party, force: dict[str, int] | None = None) -> dict[str, int]:
    force = force or {}
    a2, a3, r2, r3 = (alice.e(n) for n in ("a2", "a3", "r2", "r3"))
    g2a = force.get("g2a", _pow(G, a2))
    g3a = force.get("g3a", _pow(G, a3))
    c2, d2 = _prove_log(1, r2, a2, g2a)
    c3, d3 = _prove_log(2, r3, a3, g3a)
    return {"g2a": g2a, "c2": c2, "d2": d2, "g3a": g3a, "c3": c3, "d3": d3}


def _prove_coords(
    version: int, g2: int, g3: int, r4: int, secret: int, r5: int, r6: int, p_sent: int, q_sent: int
) -> tuple[int, int, int]:
    """cP, D5, D6 for P = g3^r4, Q = g1^r4 g2^secret, literal where P, Q, g2 or g3 vanish mod p."""
    first = 0 if p_sent % P == 0 or g3 % P == 0 else _pow(g3, r5)
    second = 0 if q_sent % P == 0 or g2 % P == 0 else _pow(G, r5) * _pow(g2, r6) % P
    c = _hash(version, first, second)
    return c, (r5 - r4 * c) % Q, (r6 - secret * c) % Q


def message2(
    bob: Party, g2a: int, g3a: int, alice: Party | None = None, force: dict[str, int] | None = None
) -> dict[str, int]:
    """Bob's reply.  With ``force``, the values Alice will compute (she is passed in) shape the proofs."""
    force = force or {}
    b2, b3, r2, r3, r4, r5, r6 = (bob.e(n) for n in ("b2", "b3", "r2", "r3", "r4", "r5", "r6"))
    g2b = force.get("g2b", _pow(G, b2))
    g3b = force.get("g3b", _pow(G, b3))
    c2, d2 = _prove_log(3, r2, b2, g2b)
    c3, d3 = _prove_log(4, r3, b3, g3b)
    g2, g3 = _pow(g2a, b2), _pow(g3a, b3)
    pb, qb = _pow(g3, r4), _pow(G, r4) * _pow(g2, bob.secret) % P
    if alice is not None and ("g2b" in force or "g3b" in force):
        # A cheater's g2b or g3b changes the g2, g3 Alice checks the proof against: prove for hers.
        g2, g3 = _pow(g2b, alice.e("a2")), _pow(g3b, alice.e("a3"))
        pb_alt, qb_alt = _pow(g3, r4), _pow(G, r4) * _pow(g2, bob.secret) % P
        pb = pb_alt if _in_group(pb_alt) else pb
        qb = qb_alt if _in_group(qb_alt) else qb
    bob.state.update(g3a=g3a, g2=g2, g3=g3, pb=pb, qb=qb)
    pb, qb = force.get("pb", pb), force.get("qb", qb)
    cp, d5, d6 = _prove_coords(5, g2, g3, r4, bob.secret, r5, r6, pb, qb)
    values = (g2b, c2, d2, g3b, c3, d3, pb, qb, cp, d5, d6)
    return dict(zip(FIELDS[2], values, strict=True))


def message3(alice: Party, m2: dict[str, int], force: dict[str, int] | None = None) -> dict[str, int]:
    force = force or {}
    a3, r4, r5, r6, r7 = (alice.e(n) for n in ("a3", "r4", "r5", "r6", "r7"))
    g2, g3 = _pow(m2["g2b"], alice.e("a2")), _pow(m2["g3b"], a3)
    pa = force.get("pa", _pow(g3, r4))
    qa = force.get("qa", _pow(G, r4) * _pow(g2, alice.secret) % P)
    cp, d5, d6 = _prove_coords(6, g2, g3, r4, alice.secret, r5, r6, pa, qa)
    qab = qa * _inv(m2["qb"]) % P
    ra = _pow(qab, a3)
    if not _in_group(ra):  # a forced Qa of 0 or p: keep an honest-looking Ra, the proof still holds
        ra = _pow(_pow(G, r4) * _pow(g2, alice.secret) * _inv(m2["qb"]) % P, a3)
    ra = force.get("ra", ra)
    second = 0 if qab == 0 or ra % P == 0 else _pow(qab, r7)
    cr = _hash(7, _pow(G, r7), second)
    d7 = (r7 - a3 * cr) % Q
    alice.state.update(g3b=m2["g3b"], pab=pa * _inv(m2["pb"]) % P, qab=qab)
    return {"pa": pa, "qa": qa, "cp": cp, "d5": d5, "d6": d6, "ra": ra, "cr": cr, "d7": d7}


def message4(bob: Party, m3: dict[str, int], force: dict[str, int] | None = None) -> dict[str, int]:
    force = force or {}
    b3, r7 = bob.e("b3"), bob.e("r7")
    qab = m3["qa"] * _inv(bob.state["qb"]) % P
    rb = force.get("rb", _pow(qab, b3))
    second = 0 if rb % P == 0 else _pow(qab, r7)
    cr = _hash(8, _pow(G, r7), second)
    return {"rb": rb, "cr": cr, "d7": (r7 - b3 * cr) % Q}


def bob_result(bob: Party, m3: dict[str, int]) -> str:
    """Pa / Pb == Ra^b3."""
    pab = m3["pa"] * _inv(bob.state["pb"]) % P
    return "success" if pab == _pow(m3["ra"], bob.e("b3")) else "failure"


def alice_result(alice: Party, m4: dict[str, int]) -> str:
    """Pa / Pb == Rb^a3."""
    return "success" if alice.state["pab"] == _pow(m4["rb"], alice.e("a3")) else "failure"


def literal_check(n: int, m: dict[str, int], alice: Party, bob: Party) -> bool:
    """The spec's hash equations for message n, evaluated as written, without the range checks.

    The receiver's state is that of the base exchange (``alice.state`` after
    message 3 was built, ``bob.state`` after message 2).
    """

    def log_ok(version: int, c: int, d: int, value: int) -> bool:
        return c == _hash(version, _pow(G, d) * _pow(value, c) % P)

    def coords_ok(version: int, c: int, d5: int, d6: int, pv: int, qv: int, g2: int, g3: int) -> bool:
        first = _pow(g3, d5) * _pow(pv, c) % P
        second = _pow(G, d5) * _pow(g2, d6) % P * _pow(qv, c) % P
        return c == _hash(version, first, second)

    def equal_ok(version: int, c: int, d7: int, g3o: int, qab: int, r: int) -> bool:
        return c == _hash(version, _pow(G, d7) * _pow(g3o, c) % P, _pow(qab, d7) * _pow(r, c) % P)

    if n == 1:
        return log_ok(1, m["c2"], m["d2"], m["g2a"]) and log_ok(2, m["c3"], m["d3"], m["g3a"])
    if n == 2:
        g2, g3 = _pow(m["g2b"], alice.e("a2")), _pow(m["g3b"], alice.e("a3"))
        return (
            log_ok(3, m["c2"], m["d2"], m["g2b"])
            and log_ok(4, m["c3"], m["d3"], m["g3b"])
            and coords_ok(5, m["cp"], m["d5"], m["d6"], m["pb"], m["qb"], g2, g3)
        )
    if n == 3:
        s = bob.state
        qab = m["qa"] * _inv(s["qb"]) % P
        return coords_ok(6, m["cp"], m["d5"], m["d6"], m["pa"], m["qa"], s["g2"], s["g3"]) and equal_ok(
            7, m["cr"], m["d7"], s["g3a"], qab, m["ra"]
        )
    s = alice.state
    return equal_ok(8, m["cr"], m["d7"], s["g3b"], s["qab"], m["rb"])


def in_range(n: int, m: dict[str, int]) -> bool:
    return all(_in_group(m[f]) for f in GROUP_FIELDS[n]) and all(
        _is_exponent(m[f]) for f in EXPONENT_FIELDS[n]
    )


def _values(n: int, m: dict[str, int]) -> list[int]:
    return [m[f] for f in FIELDS[n]]


# --------------------------------------------------------------- exchanges


@dataclass(frozen=True)
class Exchange:
    name: str
    comment: str
    flags: tuple[str, ...]
    initiator: str  # fixture key names
    responder: str
    ssid: bytes
    alice_secret: str
    bob_secret: str
    question: str | None
    alice_exponents: dict[str, int]
    bob_exponents: dict[str, int]


def _exponents(label: str, names: tuple[str, ...]) -> dict[str, int]:
    return {n: _random_exponent(f"{label}/{n}") for n in names}


def _ssid(label: str, zeros: int = 0) -> bytes:
    raw = next(_stream(f"ssid/{label}"))[:8]
    return b"\0" * zeros + raw[zeros:]


def _search(label: str, start: dict[str, int], name: str, want: Callable[[int], bool]) -> dict[str, int]:
    """Replace exponent ``name`` by the first ``label/i`` value satisfying ``want``."""
    i = 0
    while True:
        value = _random_exponent(f"{label}/{name}/{i}")
        if want(value):
            return {**start, name: value}
        i += 1


def _short(value: int, width: int) -> bool:
    return value.bit_length() <= 8 * (width - 1)


def _leading_zero_exponents() -> tuple[dict[str, int], dict[str, int]]:
    label = "exchange/short-mpi"
    alice = _exponents(f"{label}/alice", ALICE_EXPONENTS)
    bob = _exponents(f"{label}/bob", BOB_EXPONENTS)
    # g2a = g^a2 with a leading zero byte; c2 = SHA256(1, g^r2) with one; D3 = r3 - a3 c3 mod q with one.
    alice = _search(label, alice, "a2", lambda a2: _short(_pow(G, a2), 192))
    alice = _search(label, alice, "r2", lambda r2: _short(_hash(1, _pow(G, r2)), 32))
    a3 = alice["a3"]
    alice = _search(label, alice, "r3", lambda r3: _short((r3 - a3 * _hash(2, _pow(G, r3))) % Q, 192))
    # Bob's c3 = SHA256(4, g^r3) with a leading zero byte.
    bob = _search(label, bob, "r3", lambda r3: _short(_hash(4, _pow(G, r3)), 32))
    return alice, bob


def _small(values: tuple[int, ...], names: tuple[str, ...]) -> dict[str, int]:
    return dict(zip(names, values, strict=True))


def _large(label: str, names: tuple[str, ...]) -> dict[str, int]:
    """Exponents in [2^1536 - 2^1400, 2^1536): all above q."""
    top = (1 << 1536) - (1 << 1400)
    return {n: top + _random_exponent(f"{label}/{n}") % (1 << 1400) for n in names}


def _exchange(
    name: str,
    comment: str,
    flags: tuple[str, ...],
    secrets: tuple[str, str],
    *,
    keys: tuple[str, str] = ("alice", "bob"),
    question: str | None = None,
    ssid_zeros: int = 0,
    exponents: tuple[dict[str, int], dict[str, int]] | None = None,
) -> Exchange:
    """An exchange whose exponents (unless given) and ssid come from the stream labelled by its name."""
    if exponents is None:
        exponents = (
            _exponents(f"exchange/{name}/alice", ALICE_EXPONENTS),
            _exponents(f"exchange/{name}/bob", BOB_EXPONENTS),
        )
    return Exchange(name, comment, flags, *keys, _ssid(name, ssid_zeros), *secrets, question, *exponents)


def exchanges() -> list[Exchange]:
    """The complete exchanges; the first is also the base of the single-message checks."""
    return [
        _exchange(
            "same-secret", "equal secrets: success on both sides", ("SameSecret",), ("correct horse",) * 2
        ),
        _exchange(
            "different-secret",
            "different secrets: failure on both sides",
            ("DifferentSecret",),
            ("correct horse", "battery staple"),
        ),
        _exchange(
            "question",
            "with a question (TLV 7), equal answers",
            ("SameSecret", "Question"),
            ("ngircd", "ngircd"),
            question="What is the name of our first server?",
        ),
        _exchange(
            "question-unicode",
            "a non-ASCII question, different answers; Alice uses carol's key, Bob dave's",
            ("DifferentSecret", "Question"),
            ("à la gare", "au café"),
            keys=("carol", "dave"),
            question="Où nous sommes-nous rencontrés ? 会った場所",
        ),
        _exchange(
            "short-mpi",
            "exponents chosen for values with leading zero bytes (g2a, Alice's c2 and D3, Bob's c3)",
            ("SameSecret", "ShortMpi"),
            ("leading zeros",) * 2,
            exponents=_leading_zero_exponents(),
        ),
        _exchange(
            "small-exponents",
            "every exponent a small integer",
            ("SameSecret", "SmallExponents"),
            ("tiny",) * 2,
            exponents=(
                _small((2, 3, 5, 7, 11, 13, 17, 19), ALICE_EXPONENTS),
                _small((23, 29, 31, 37, 41, 43, 47, 53), BOB_EXPONENTS),
            ),
        ),
        _exchange(
            "large-exponents",
            "every exponent above q",
            ("DifferentSecret", "LargeExponents"),
            ("upper", "lower"),
            exponents=(
                _large("exchange/large/alice", ALICE_EXPONENTS),
                _large("exchange/large/bob", BOB_EXPONENTS),
            ),
        ),
        _exchange(
            "empty-secret",
            "empty secrets; Alice's key (leading-zero-fp) has a fingerprint starting 00; ssid starts 0000",
            ("SameSecret", "EmptySecret", "LeadingZeroFingerprint"),
            ("", ""),
            keys=("leading-zero-fp", "carol"),
            ssid_zeros=2,
        ),
    ]


@dataclass
class Run:
    alice: Party
    bob: Party
    messages: dict[int, dict[str, int]]
    results: dict[str, str]


def run(ex: Exchange) -> Run:
    fp_a = bytes.fromhex(fixtures.fingerprint(ex.initiator))
    fp_b = bytes.fromhex(fixtures.fingerprint(ex.responder))
    alice = Party(_secret(fp_a, fp_b, ex.ssid, ex.alice_secret.encode()), ex.alice_exponents)
    bob = Party(_secret(fp_a, fp_b, ex.ssid, ex.bob_secret.encode()), ex.bob_exponents)
    m1 = message1(alice)
    m2 = message2(bob, m1["g2a"], m1["g3a"])
    m3 = message3(alice, m2)
    m4 = message4(bob, m3)
    results = {"bob": bob_result(bob, m3), "alice": alice_result(alice, m4)}
    return Run(alice, bob, {1: m1, 2: m2, 3: m3, 4: m4}, results)


def _tlv_value(n: int, m: dict[str, int], question: str | None = None) -> str:
    payload = _encode(_values(n, m))
    if n == 1 and question is not None:
        payload = question.encode("utf-8") + b"\0" + payload
    return payload.hex()


def _tlv_type(n: int, question: str | None = None) -> int:
    return 7 if n == 1 and question is not None else TLV_TYPE[n]


def _exponents_json(values: dict[str, int]) -> dict[str, str]:
    return {n: v.to_bytes(EXPONENT_BYTES, "big").hex() for n, v in values.items()}


def _exchange_json(ex: Exchange) -> dict[str, Any]:
    r = run(ex)
    return {
        "comment": ex.comment,
        "flags": list(ex.flags),
        "initiator_fingerprint": fixtures.fingerprint(ex.initiator),
        "responder_fingerprint": fixtures.fingerprint(ex.responder),
        "ssid": ex.ssid.hex(),
        "alice_secret": ex.alice_secret,
        "bob_secret": ex.bob_secret,
        "x": f"{r.alice.secret:x}",
        "y": f"{r.bob.secret:x}",
        "question": ex.question,
        "alice_exponents": _exponents_json(ex.alice_exponents),
        "bob_exponents": _exponents_json(ex.bob_exponents),
        "messages": [
            {
                "sender": "bob" if n % 2 == 0 else "alice",
                "type": _tlv_type(n, ex.question),
                "value": _tlv_value(n, r.messages[n], ex.question),
            }
            for n in (1, 2, 3, 4)
        ],
        "alice_result": r.results["alice"],
        "bob_result": r.results["bob"],
        "result": "valid",
    }


# ------------------------------------------------------ single-message checks

DEGENERATE_GROUP = {"0": 0, "1": 1, "p-1": P - 1, "p": P}
BAD_EXPONENTS = {"0": 0, "1": 1, "q": Q, "p-1": P - 1, "p": P}


def _forged(base: Exchange, honest: Run, n: int, force: dict[str, int]) -> dict[str, int]:
    """Message n of the base exchange with ``force`` applied, proofs rebuilt where a cheater can."""
    alice = Party(honest.alice.secret, base.alice_exponents)
    bob = Party(honest.bob.secret, base.bob_exponents)
    if n == 1:
        return message1(alice, force)
    if n == 2:
        return message2(bob, honest.messages[1]["g2a"], honest.messages[1]["g3a"], alice, force)
    if n == 3:
        return message3(alice, honest.messages[2], force)
    message2(bob, honest.messages[1]["g2a"], honest.messages[1]["g3a"])
    return message4(bob, honest.messages[3], force)


def _check_test(
    n: int, comment: str, flags: list[str], m: dict[str, int], result: str, field_name: str
) -> dict[str, Any]:
    return {
        "comment": comment,
        "flags": flags,
        "field": field_name,
        "type": TLV_TYPE[n],
        "value": _tlv_value(n, m),
        "result": result,
    }


def _message_checks(base: Exchange, n: int) -> list[dict[str, Any]]:
    honest_run = run(base)
    honest = honest_run.messages[n]
    alice = honest_run.alice
    bob = honest_run.bob
    tests = [_check_test(n, f"the honest SMP message {n}", ["Honest"], honest, "valid", "")]

    def classify(m: dict[str, int], flag: str) -> list[str]:
        return [flag, "RangeCheckOnly"] if literal_check(n, m, alice, bob) else [flag]

    for name in GROUP_FIELDS[n]:
        for label, value in DEGENERATE_GROUP.items():
            m = _forged(base, honest_run, n, {name: value})
            tests.append(
                _check_test(n, f"{name} = {label}", classify(m, "GroupElementRange"), m, "invalid", name)
            )
    for name in EXPONENT_FIELDS[n]:
        for label, value in BAD_EXPONENTS.items():
            m = {**honest, name: value}
            flag = "ExponentRange" if not _is_exponent(value) else "ProofMismatch"
            tests.append(_check_test(n, f"{name} = {label}", classify(m, flag), m, "invalid", name))
        m = {**honest, name: honest[name] + Q}
        if not literal_check(n, m, alice, bob):
            raise AssertionError(f"{name} + q should still satisfy the proof")
        tests.append(
            _check_test(n, f"{name} + q (not reduced)", ["UnreducedExponent"], m, "acceptable", name)
        )
    for name in HASH_FIELDS[n]:
        m = {**honest, name: honest[name] ^ 1}
        tests.append(
            _check_test(n, f"{name} with its lowest bit flipped", ["ProofMismatch"], m, "invalid", name)
        )
    for test in tests:
        m = _decoded(n, test["value"])
        sound = in_range(n, m) and literal_check(n, m, alice, bob)
        if sound != (test["result"] == "valid"):
            raise AssertionError(f"message {n}, {test['comment']}: checks disagree with the result")
    return tests


def _decoded(n: int, value_hex: str) -> dict[str, int]:
    raw = bytes.fromhex(value_hex)
    count, pos, values = int.from_bytes(raw[:4], "big"), 4, []
    for _ in range(count):
        length = int.from_bytes(raw[pos : pos + 4], "big")
        values.append(int.from_bytes(raw[pos + 4 : pos + 4 + length], "big"))
        pos += 4 + length
    return dict(zip(FIELDS[n], values, strict=True))


def _base_json(ex: Exchange, n: int) -> dict[str, Any]:
    """What a replayer needs to put the receiver of message n in its state: the base exchange."""
    r = run(ex)
    return {
        "type": "SmpMessageCheck",
        "message": n,
        "receiver": RECEIVER[n],
        "base_exchange": ex.name,
        "x": f"{r.alice.secret:x}",
        "y": f"{r.bob.secret:x}",
        "alice_exponents": _exponents_json(ex.alice_exponents),
        "bob_exponents": _exponents_json(ex.bob_exponents),
        "prefix": [
            {
                "sender": "bob" if k % 2 == 0 else "alice",
                "type": TLV_TYPE[k],
                "value": _tlv_value(k, r.messages[k]),
            }
            for k in range(1, n)
        ],
        "expected_progress": {1: "ask", 2: "in_progress", 3: r.results["bob"], 4: r.results["alice"]}[n],
    }


def generate() -> dict[str, Any]:
    all_exchanges = exchanges()
    blocks: list[tuple[int, int, dict[str, Any]]] = [
        (1, 100, {"type": "SmpExchange", "tests": [_exchange_json(ex) for ex in all_exchanges]}),
    ]
    base = all_exchanges[0]
    for n in (1, 2, 3, 4):
        blocks.append((100 * n + 1, 100, {**_base_json(base, n), "tests": _message_checks(base, n)}))
    numbered = number_groups(blocks)
    return {
        "algorithm": "OTR-SMP",
        "schema": SCHEMA,
        "generatorVersion": GENERATOR_VERSION,
        "numberOfTests": sum(len(group["tests"]) for group in numbered),
        "header": HEADER,
        "notes": notes_used(numbered, NOTES),
        "testGroups": numbered,
    }


# ------------------------------------------------------------------ replay


class _Exhausted:
    """Entropy that refuses: every exponent must come from the test."""

    def random_bytes(self, n: int) -> bytes:
        raise RuntimeError("the engine asked for randomness the test does not script")


def _machine(exponents: dict[str, str], names: tuple[str, ...]) -> SmpMachine:
    return SmpMachine(ScriptedEntropy(_Exhausted(), [bytes.fromhex(exponents[n]) for n in names]))


def _tlv(obj: dict[str, Any]) -> Tlv:
    return Tlv(obj["type"], bytes.fromhex(obj["value"]))


class _Mismatch(Exception):
    pass


def _expect(outcome: SmpOutcome, tlvs: list[Tlv], results: list[tuple[str, str | None]], step: str) -> None:
    got_tlvs = [(t.type, t.value.hex()) for t in outcome.tlvs]
    want_tlvs = [(t.type, t.value.hex()) for t in tlvs]
    if got_tlvs != want_tlvs:
        raise _Mismatch(f"{step}: sent TLVs {[t for t, _ in got_tlvs]} differing from the test's")
    if outcome.results != results:
        raise _Mismatch(f"{step}: reported {outcome.results}, expected {results}")


def _replay_exchange(test: dict[str, Any]) -> None:
    fps = bytes.fromhex(test["initiator_fingerprint"]), bytes.fromhex(test["responder_fingerprint"])
    ssid = bytes.fromhex(test["ssid"])
    x = smp_secret(*fps, ssid, test["alice_secret"].encode("utf-8"))
    y = smp_secret(*fps, ssid, test["bob_secret"].encode("utf-8"))
    if (f"{x:x}", f"{y:x}") != (test["x"], test["y"]):
        raise _Mismatch("smp_secret gives other x or y")
    alice = _machine(test["alice_exponents"], ALICE_EXPONENTS)
    bob = _machine(test["bob_exponents"], BOB_EXPONENTS)
    m1, m2, m3, m4 = (_tlv(m) for m in test["messages"])
    question = test["question"]
    _expect(alice.start(x, question), [m1], [], "SMP message 1")
    _expect(bob.receive(m1), [], [("ask", question)], "receiving SMP message 1")
    _expect(bob.respond(y), [m2], [], "SMP message 2")
    _expect(alice.receive(m2), [m3], [("in_progress", None)], "SMP message 3")
    _expect(bob.receive(m3), [m4], [(test["bob_result"], None)], "SMP message 4")
    _expect(alice.receive(m4), [], [(test["alice_result"], None)], "receiving SMP message 4")


def _receiver(group: dict[str, Any]) -> SmpMachine:
    """The machine expecting message n, after the honest prefix of the base exchange."""
    n = group["message"]
    prefix = [_tlv(m) for m in group["prefix"]]
    x, y = int(group["x"], 16), int(group["y"], 16)
    if group["receiver"] == "bob":
        bob = _machine(group["bob_exponents"], BOB_EXPONENTS)
        if n == 3:
            bob.receive(prefix[0])
            bob.respond(y)
        return bob
    alice = _machine(group["alice_exponents"], ALICE_EXPONENTS)
    alice.start(x)
    if n == 4:
        alice.receive(prefix[1])
    return alice


def _replay_check(vector: Vector) -> Verdict:
    group = vector.group
    machine = _receiver(group)
    outcome = machine.receive(_tlv(vector.test))
    observed = {"tlvs": [t.type for t in outcome.tlvs], "results": [r for r, _ in outcome.results]}
    aborted = outcome.tlvs == [Tlv(TlvType.SMP_ABORT)] and outcome.results == [("cheated", None)]
    progress = group["expected_progress"]
    proceeded = [r for r, _ in outcome.results] == [progress] and [t.type for t in outcome.tlvs] == (
        {2: [4], 3: [5]}.get(group["message"], [])
    )
    if vector.result == "invalid" and not aborted:
        return Verdict("failed", f"expected an abort reporting cheating, got {observed}", observed)
    if vector.result == "valid" and not proceeded:
        return Verdict("failed", f"expected {progress}, got {observed}", observed)
    if vector.result == "acceptable" and not (aborted or proceeded):
        return Verdict("failed", f"neither an abort nor {progress}: {observed}", observed)
    return Verdict("passed", "", observed)


def replay(vector: Vector, target: Target) -> Verdict:
    """SmpMachine with ScriptedEntropy: exchanges byte for byte, single messages by their outcome."""
    if target.name != "engine":
        return Verdict("skipped", "SMP is replayed through sessions by the transcript kind")
    if vector.group.get("type") == "SmpExchange":
        try:
            _replay_exchange(vector.test)
        except _Mismatch as exc:
            return Verdict("failed", str(exc))
        return Verdict("passed")
    return _replay_check(vector)
