"""Triage (harness/fuzz/triage.py) and crash signatures (fuzz/crashes.py), without writing to the repo.

* signatures name the exception and the implementation's frames, or the sanitizer's bug type;
* the known-crash table names POTR-001 and POTR-004 from their stacks;
* ``minimize`` shrinks while the predicate holds;
* ``triage_one`` (dry run) reproduces a POTR-001 input in a child process, minimizes it to a few
  characters with the same signature, names the finding, and recognises a signature already filed;
* a divergence entry triage writes is one ``vectors.divergences`` reads.
"""

from __future__ import annotations

import potr.proto
import pytest

from fuzz import crashes, regressions
from harness.fuzz import triage
from vectors import divergences

ASAN_REPORT = """==4242==ERROR: AddressSanitizer: heap-buffer-overflow on address 0x602000000011
READ of size 1 at 0x602000000011 thread T0
    #0 0x7f1 in __interceptor_strlen (/usr/lib/libasan.so+0x1)
    #1 0x7f2 in otrl_base64_otr_decode /src/libotr/src/b64.c:190:5
    #2 0x7f3 in otrl_proto_data_read_flags /src/libotr/src/proto.c:700:2
    #3 0x7f4 in otrl_message_receiving /src/libotr/src/message.c:1200:3
    #4 0x7f5 in ffi_call_unix64
"""


def test_a_python_signature_is_the_exception_and_the_implementations_frames() -> None:
    with pytest.raises(Exception) as caught:
        potr.proto.TLV.parse(bytes.fromhex("0100000178"))
    signature = crashes.of_exception(caught.value, "potr")
    assert signature.kind == "exception" and signature.type == "potr.proto.UnknownTLV"
    assert signature.frames[0] == "potr/proto.py:TLV.parse"
    assert crashes.finding_of(signature, "potr").finding == "POTR-004"  # type: ignore[union-attr]


def test_a_native_signature_is_the_sanitizers_bug_type_and_the_first_named_frames() -> None:
    signature = crashes.of_native(ASAN_REPORT, -6)
    assert signature.kind == "native" and signature.type == "heap-buffer-overflow"
    assert signature.frames == (
        "otrl_base64_otr_decode",
        "otrl_proto_data_read_flags",
        "otrl_message_receiving",
    )
    assert crashes.of_native("", -11).type == "signal-11"


def test_the_known_table_is_well_formed_and_names_only_written_up_findings() -> None:
    index = divergences.finding_ids(triage.REPO_ROOT / "docs" / "findings" / "README.md")
    rows = crashes.known()
    assert rows and all(row.finding in index for row in rows)


def test_minimize_keeps_the_property_and_removes_everything_else() -> None:
    data = b"hello there ?OTR: then ! and more text"
    smallest = triage.minimize(data, lambda d: b"?OTR:" in d and b"!" in d)
    assert smallest in (b"?OTR:!", b"!?OTR:") or len(smallest) <= 7
    assert b"?OTR:" in smallest and b"!" in smallest


def test_triage_reproduces_minimizes_and_names_a_potr_crash(tmp_path) -> None:
    crash = tmp_path / "crash-potr-001"
    crash.write_bytes(b"some text before ?OTR:A!!!QUJD more after")
    result = triage.triage_one(crash, "potr_parse", tmp_path, write=False, tries=500)
    assert result.finding == "POTR-001"
    assert result.signature["type"] == "binascii.Error"
    assert len(result.minimized) < 12 and result.minimized.startswith(b"?OTR:")
    filed = any(
        r["fuzz_target"] == "potr_parse" and r["signature"] == result.signature["key"]
        for r in regressions.read()
    )
    assert result.status == ("duplicate" if filed else "filed")


def test_triage_says_when_an_input_does_not_reproduce(tmp_path) -> None:
    crash = tmp_path / "crash-nothing"
    crash.write_bytes(b"just a plain message")
    assert triage.triage_one(crash, "potr_parse", tmp_path, write=False).status == "passes"


def test_a_divergence_entry_triage_writes_is_read_back(tmp_path, monkeypatch) -> None:
    (tmp_path / "vectors" / "divergences").mkdir(parents=True)
    (tmp_path / "vectors" / "divergences" / "potr.toml").write_text('implementation = "potr"\n')
    monkeypatch.setattr(triage, "REPO_ROOT", tmp_path)
    triage.add_divergence("potr", "POTR-001", 501, 'exception:binascii.Error@potr/context.py:"x"')
    (entry,) = divergences.load(tmp_path / "vectors" / "divergences")
    assert entry.finding == "POTR-001" and entry.matches("regression/regressions.json#501")
