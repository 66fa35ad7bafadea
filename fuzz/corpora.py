"""Seed corpora and dictionaries, generated from the vectors (never written by hand).

``fuzz/corpus/<target>/<sha1>`` holds one seed per file (libFuzzer's
naming); ``fuzz/dictionaries/<target>.dict`` the tokens its mutations
insert.  Both are a deterministic function of the vector corpus and the
engine's constants, so :func:`differences` can tell when the committed
files drift (``otrcheck fuzz corpus --check``, and a test).

Where the seeds come from:

* text inputs: every ``input`` of the parse, base64 and regression vectors,
  every wire of the transcripts, of the regression vectors' recorded steps
  and of the captured engine conversations (v3, v2, fragmented);
* fragment sequences: the fragment vectors (one string per line);
* TLV bodies: the tlv vectors and the SMP vectors' TLVs, after a NUL;
* SMP: the SMP vectors' message values and the TLVs of the exchange that
  built each state of :func:`fuzz.states.smp_machines`, for every state;
* targets with a selector byte (a state, an entry) get each seed once,
  under a selector chosen by a hash of the seed (stable when inputs are
  added), and the first captured wires under every
  selector; the receive targets take the captured conversations' wires,
  not every transcript's (each input there costs a session copy).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from functools import cache
from pathlib import Path

from implementations.engine import _wire
from vectors import loader
from vectors.kinds import _capture

from . import registry, states, targets

MAX_SEED = 4096
"""libFuzzer's default -max_len: longer seeds would only be cut."""


# ------------------------------------------------------------------ sources


@cache
def _vectors() -> tuple[loader.Vector, ...]:
    return tuple(loader.load())


@cache
def real_wires() -> tuple[str, ...]:
    """Wires of real conversations: the captured engine conversations, then the transcripts' and the
    recorded regression steps', one per (message type, length in 64-character steps)."""
    from implementations.engine import parsers

    wires: dict[str, None] = dict.fromkeys(captured_wires())
    seen = {(parsers.message_type(w), len(w) // 64) for w in wires}
    for vector in _vectors():
        for step in vector.test.get("steps", ()) if vector.kind in ("transcript", "regression") else ():
            candidates = [out["wire"] if isinstance(out, dict) else out for out in step.get("out", ())]
            candidates += [w for w in ((step.get("deliver") or {}).get("wire"), step.get("receive")) if w]
            for wire in candidates:
                shape = (parsers.message_type(wire), len(wire) // 64)
                if shape not in seen:
                    seen.add(shape)
                    wires[wire] = None
    return tuple(wires)


@cache
def captured_wires() -> tuple[str, ...]:
    """The wires of the captured engine conversations only (v3, v2, fragmented)."""
    wires: dict[str, None] = {}
    for version, size in ((3, 0), (2, 0), (3, 200)):
        for sent in _capture.conversation(version, size):
            wires[sent.wire] = None
    return tuple(wires)


@cache
def text_inputs(every_transcript: bool = True) -> tuple[str, ...]:
    """Every received string the vectors name, then the real wires (or only the captured ones)."""
    found: dict[str, None] = {}
    for vector in _vectors():
        test = vector.test
        parser = vector.kind in ("parse", "base64") or (
            vector.kind == "regression" and test.get("entry") != "tlv"
        )
        if parser and isinstance(test.get("input"), str):
            found[test["input"]] = None
        for wire in test.get("inputs", ()) if vector.kind == "regression" else ():
            found[wire] = None
    for wire in real_wires() if every_transcript else captured_wires():
        found[wire] = None
    return tuple(found)


@cache
def tlv_blobs() -> tuple[bytes, ...]:
    """TLV record lists: the tlv vectors, the SMP exchanges' TLVs, regression TLV inputs."""
    found: dict[bytes, None] = {}
    for vector in _vectors():
        test = vector.test
        if vector.kind == "tlv" or (vector.kind == "regression" and test.get("entry") == "tlv"):
            found[bytes.fromhex(test["input"])] = None
        if vector.kind == "smp" and "messages" in test:
            for message in test["messages"]:
                if isinstance(message, dict) and "type" in message and "value" in message:
                    value = bytes.fromhex(message["value"])
                    found[message["type"].to_bytes(2, "big") + len(value).to_bytes(2, "big") + value] = None
    return tuple(found)


@cache
def plaintexts() -> tuple[bytes, ...]:
    """Data Message bodies: texts, a heartbeat, TLVs after a NUL, regression bodies."""
    found: dict[bytes, None] = {b"": None, b"hello": None, "héllo ☕".encode(): None}
    for blob in tlv_blobs():
        found[b"\0" + blob] = None
        found[b"hi\0" + blob] = None
    for vector in _vectors():
        if "plaintext_hex" in vector.test:
            found[bytes.fromhex(vector.test["plaintext_hex"])] = None
    return tuple(found)


def _smp_values() -> list[tuple[int, bytes]]:
    """(TLV type, value) from the SMP vectors' single-message checks and exchanges."""
    found: dict[tuple[int, bytes], None] = {}
    for vector in _vectors():
        test = vector.test
        if vector.kind != "smp":
            continue
        if "value" in test and "type" in test:
            found[(int(test["type"]), bytes.fromhex(test["value"]))] = None
        for message in test.get("messages", ()):
            if isinstance(message, dict) and "type" in message and "value" in message:
                found[(int(message["type"]), bytes.fromhex(message["value"]))] = None
    return list(found)


# ---------------------------------------------------------------- per target


def _spread(data: bytes, selectors: Sequence[int]) -> int:
    """The selector a seed gets: chosen by a hash of the seed, so that adding an input to the vectors
    changes no other seed (and no other file of the corpus)."""
    return selectors[hashlib.sha1(data).digest()[0] % len(selectors)]


def _receive_seeds(all_states: tuple[states.State, ...]) -> list[bytes]:
    raw = [i for i, s in enumerate(all_states) if not s.sealed]
    sealed = [i for i, s in enumerate(all_states) if s.sealed]
    texts = text_inputs(every_transcript=False)
    seeds = [bytes((_spread(t.encode(), raw),)) + t.encode() for t in texts]
    seeds += [bytes((s,)) + w.encode() for w in captured_wires()[:12] for s in raw]
    seeds += [bytes((_spread(p, sealed),)) + p for p in plaintexts()]
    return seeds


def seeds(name: str) -> list[bytes]:
    """The seed inputs of target ``name``, deduplicated, in a stable order."""
    texts = [t.encode() for t in text_inputs()]
    if name in ("engine_wire", "potr_parse"):
        found = texts
    elif name == "engine_fragments":
        found = []
        for vector in _vectors():
            if vector.kind == "fragment":
                cap = vector.test.get("max_chars")
                selector = targets.FRAGMENT_CAPS.index(cap) if cap in targets.FRAGMENT_CAPS else 0
                found.append(bytes((selector,)) + "\n".join(vector.test["input"]).encode())
    elif name == "engine_tlv":
        found = list(plaintexts())
    elif name == "engine_smp":
        found = _smp_seeds()
    elif name in ("engine_receive", "libotr_receive"):
        found = _receive_seeds(states.engine_states())
    elif name == "potr_receive":
        found = _receive_seeds(_potr_states())
    elif name in ("libotr_parse", "differential"):
        entries = targets.DIFFERENTIAL_ENTRIES
        tlv = entries.index("tlv")
        text_entries = [i for i, e in enumerate(entries) if e != "tlv"]
        found = [bytes((_spread(t, text_entries),)) + t for t in texts]
        found += [bytes((tlv,)) + blob for blob in tlv_blobs()]
    else:
        raise KeyError(f"no target {name!r}")
    unique: dict[bytes, None] = {}
    for seed in found:
        if 0 < len(seed) <= MAX_SEED:
            unique[seed] = None
    return list(unique)


def _potr_states() -> tuple[states.State, ...]:
    from . import drivers

    return drivers.potr_states()


def _smp_seeds() -> list[bytes]:
    machines = states.smp_machines()
    types: list[int] = [int(t) for t in targets.SMP_TLV_TYPES]
    found = []
    exchange = [(int(t.type), t.value) for t in machines[0].tlvs]
    for index in range(len(machines)):
        for ttype, value in [*exchange, (6, b"")]:
            found.append(bytes((index, types.index(ttype))) + value)
    for ttype, value in _smp_values():
        if ttype in types:
            found.append(bytes((_spread(value, range(len(machines))), types.index(ttype))) + value)
    return found


# ------------------------------------------------------------- dictionaries


def dictionary(name: str) -> list[bytes]:
    """libFuzzer dictionary tokens for target ``name``."""
    if registry.TARGETS[name].text:
        tokens = [
            b"?OTR",
            b"?OTR:",
            b"?OTR|",
            b"?OTR,",
            b"?OTR?",
            b"?OTRv",
            b"?OTRv2?",
            b"?OTRv3?",
            b"?OTRv23?",
            b"?OTR Error:",
            b"?OTR Error: ",
            b".",
            b",",
            b"|",
            b"==",
            b"00000100",
            b"00000101",
            b"00001,00002,",
            b"00002,00002,",
            b"65535",
            _wire.TAG_BASE.encode(),
            *(tag.encode() for tag in _wire.TAG_VERSIONS.values()),
        ]
        for version, prefix in ((2, "AAI"), (3, "AAM")):
            for letter in "CKRSD":
                tokens.append(f"{prefix}{letter}".encode())
            tokens.append(f"?OTRv{version}?".encode())
        return tokens
    tokens = [b"\x00", b"\x00\x00\x00\x00", b"\x00\x00\x00\xc0", b"\xff\xff\xff\xff", b"\x00\x00\x00\x06"]
    for ttype in range(9):
        tokens.append(ttype.to_bytes(2, "big"))
        tokens.append(b"\x00" + ttype.to_bytes(2, "big"))
    tokens += [(11).to_bytes(4, "big"), (8).to_bytes(4, "big"), (3).to_bytes(4, "big")]
    return tokens


def _escape(token: bytes) -> str:
    return (
        '"' + "".join(chr(b) if 0x20 <= b < 0x7F and b not in b'"\\' else f"\\x{b:02x}" for b in token) + '"'
    )


def dictionary_text(name: str) -> str:
    lines = [f"# Generated by fuzz/corpora.py for {name}; do not edit (otrcheck fuzz corpus)."]
    lines += [_escape(token) for token in dict.fromkeys(dictionary(name))]
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------- files


def rendered(name: str) -> dict[Path, bytes]:
    target = registry.TARGETS[name]
    files = {target.corpus / hashlib.sha1(seed).hexdigest(): seed for seed in seeds(name)}
    files[target.dictionary] = dictionary_text(name).encode()
    return files


def write(names: Iterable[str] | None = None) -> list[Path]:
    """(Re)write the corpora and dictionaries of ``names`` (default: every target)."""
    written: list[Path] = []
    for name in names or registry.TARGETS:
        files = rendered(name)
        corpus = registry.TARGETS[name].corpus
        corpus.mkdir(parents=True, exist_ok=True)
        for stale in set(corpus.iterdir()) - set(files):
            stale.unlink()
        for path, content in files.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            if not path.exists() or path.read_bytes() != content:
                path.write_bytes(content)
            written.append(path)
    return written


def differences(names: Iterable[str] | None = None) -> list[str]:
    """What differs between the committed corpora and dictionaries and their generator."""
    problems: list[str] = []
    for name in names or registry.TARGETS:
        files = rendered(name)
        corpus = registry.TARGETS[name].corpus
        present = set(corpus.iterdir()) if corpus.is_dir() else set()
        for path in sorted(set(files) - present - {registry.TARGETS[name].dictionary}):
            problems.append(f"{path.relative_to(registry.FUZZ_DIR)}: missing")
        for path in sorted(present - set(files)):
            problems.append(f"{path.relative_to(registry.FUZZ_DIR)}: not generated")
        dictionary_path = registry.TARGETS[name].dictionary
        if not dictionary_path.is_file() or dictionary_path.read_bytes() != files[dictionary_path]:
            problems.append(f"{dictionary_path.relative_to(registry.FUZZ_DIR)}: differs")
    return problems


def summary() -> str:
    return json.dumps({name: len(seeds(name)) for name in registry.TARGETS})
