"""The fuzz targets: their shape, and every seed of every corpus replayed through them.

* each registered target is a function of :mod:`fuzz.targets` whose docstring starts with a
  one-line invariant, wrapped by ``fuzz/fuzz_<name>.py``, with a committed dictionary that
  equals its generator's;
* every generated seed (``fuzz/corpora.py``) passes its target, or crashes as a known finding
  (``fuzz/known_crashes.toml``) of the implementation under test; the engine's seeds all pass;
  targets that load libotr replay in a child process (a crash in C must not end the test run);
* the targets can fail: a broken engine breaks the invariants that guard it.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys

import pytest

from fuzz import corpora, crashes, registry, targets
from implementations.engine import _wire

ROOT = registry.FUZZ_DIR.parent
IN_PROCESS = [name for name, t in registry.TARGETS.items() if not t.native]
NATIVE = [name for name, t in registry.TARGETS.items() if t.native]


@pytest.mark.parametrize("name", list(registry.TARGETS))
def test_every_target_is_a_plain_function_with_a_one_line_invariant_on_top(name: str) -> None:
    function = getattr(targets, name)
    first = (function.__doc__ or "").strip().splitlines()[0]
    assert first.startswith("Invariant: ") and first.endswith("."), first
    assert len(first) + 8 <= 110, "the invariant fits on one line of the docstring"


@pytest.mark.parametrize("name", list(registry.TARGETS))
def test_every_target_has_a_thin_atheris_wrapper(name: str) -> None:
    wrapper = registry.TARGETS[name].wrapper
    tree = ast.parse(wrapper.read_text(encoding="utf-8"))
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "main"]
    assert [c.args[0].value for c in calls if isinstance(c.args[0], ast.Constant)] == [name]
    assert len(wrapper.read_text(encoding="utf-8").splitlines()) < 15


def test_the_committed_corpora_and_dictionaries_equal_their_generator() -> None:
    assert corpora.differences() == [], "run `otrcheck fuzz corpus`"


def test_every_text_dictionary_holds_the_markers_and_the_base64_prefixes() -> None:
    tokens = set(corpora.dictionary("engine_wire"))
    for token in (b"?OTR", b"?OTR:", b"?OTR|", b"?OTR,", b"?OTRv23?", b"AAMC", b"AAID", b"?OTR Error:"):
        assert token in tokens
    assert _wire.TAG_BASE.encode() in tokens


@pytest.mark.parametrize("name", list(registry.TARGETS))
def test_every_target_has_seeds_drawn_from_the_vectors(name: str) -> None:
    seeds = corpora.seeds(name)
    assert len(seeds) >= 50 and len(set(seeds)) == len(seeds)
    assert all(0 < len(seed) <= corpora.MAX_SEED for seed in seeds)


@pytest.mark.parametrize("name", IN_PROCESS)
def test_every_seed_passes_or_crashes_as_a_known_finding(name: str) -> None:
    target = registry.TARGETS[name]
    unknown = []
    known = set()
    for seed in corpora.seeds(name):
        try:
            target.function(seed)
        except Exception as exc:
            row = crashes.finding_of(crashes.of_exception(exc, target.implementation), target.implementation)
            if row is None:
                unknown.append((seed[:80], repr(exc)[:200]))
            else:
                known.add(row.finding)
    assert unknown == []
    if target.implementation == "engine":
        assert known == set(), "the engine has no open finding"


@pytest.mark.parametrize("name", NATIVE)
def test_every_seed_of_a_target_loading_libotr_passes_in_a_child_process(name: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "fuzz.repro", name, "--seeds"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["unknown"] == 0 and summary["seeds"] > 50


# ------------------------------------------------------------ the targets can fail


def test_engine_wire_fails_when_the_engine_accepts_what_the_spec_reader_refuses(monkeypatch) -> None:
    key = _wire.encode(_wire.DHKey(_wire.Header(3, _wire.MessageType.DH_KEY, 0x101, 0x100), 5))
    spaced = key[:9] + " " + key[9:]
    assert targets.engine_wire(spaced.encode()) is None
    monkeypatch.setattr(_wire, "decode_base64", lambda body: _wire.binascii.a2b_base64(body.encode()))
    with pytest.raises(targets.Broken, match="the spec reader reads an encoded message otherwise"):
        targets.engine_wire(spaced.encode())


def test_engine_receive_fails_when_the_session_breaks(monkeypatch) -> None:
    from implementations.engine import _keys

    state = next(i for i, s in enumerate(targets.states.engine_states()) if s.name == "v3/encrypted")
    assert targets.engine_receive(bytes((state,)) + b"?OTR:AAMDjunk.") is None
    monkeypatch.setattr(_keys.DataKeyState, "open", lambda self, message: "broken on purpose")
    with pytest.raises(targets.Broken, match="a received string breaks the session"):
        targets.engine_receive(bytes((state,)) + b"?OTR:AAMDjunk.")


def test_engine_fragments_fails_when_reassembly_ignores_the_order(monkeypatch) -> None:
    from implementations.engine import parsers

    monkeypatch.setattr(parsers, "reassemble", lambda wires, cap: [])
    wires = b"?OTR,1,2,ab,\n?OTR,2,2,cd,"
    with pytest.raises(targets.Broken, match="reassembly differs"):
        targets.engine_fragments(b"\x00" + wires)


def test_potr_parse_lets_potrs_own_crash_escape() -> None:
    with pytest.raises(Exception) as caught:
        targets.potr_parse(b"?OTR:A!!!")
    row = crashes.finding_of(crashes.of_exception(caught.value, "potr"), "potr")
    assert row is not None and row.finding == "POTR-001"
