"""libotr's parser entry points (the ``x-parse`` op), through the worker and in-process.

Each table pins what libotr 4.1.1 answers (docs/peer-protocol.md, "Extension
ops"); every case runs against an ``otrcheck peer libotr`` worker and against
the in-process :class:`LibotrAdapter`, which must agree.  Encoded messages
come from real conversations between two libotr accounts, in v2 and v3, and
are fed whole, cut short and with trailing garbage.  Where libotr departs
from the specification or from the engine, the case names the finding.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from harness import impls
from harness.conversation import Duo
from implementations.api import BadRequest
from implementations.engine import _wire
from implementations.libotr.adapter import LibotrAdapter
from implementations.peer import PeerProcess
from tests.libotr.conftest import ALICE, Libotrs, establish, policy

pytestmark = pytest.mark.interop

TAG = _wire.TAG_BASE
TAG_V1, TAG_V2, TAG_V3 = (_wire.TAG_VERSIONS[v] for v in (1, 2, 3))

Parse = Callable[[str, str], Any]


@pytest.fixture(scope="module")
def worker() -> Iterator[PeerProcess]:
    started = Libotrs.start()
    yield started
    started.close()


@pytest.fixture(scope="module")
def in_process() -> Iterator[LibotrAdapter]:
    adapter = impls.get("libotr").make(isolated=False)
    assert isinstance(adapter, LibotrAdapter)
    yield adapter
    adapter.quit()


@pytest.fixture(params=["worker", "in_process"])
def parse(request: pytest.FixtureRequest, worker: PeerProcess, in_process: LibotrAdapter) -> Parse:
    adapter = worker if request.param == "worker" else in_process

    def call(entry: str, text: str) -> Any:
        return adapter.extension("x-parse", {"entry": entry, "input": text}).fields["result"]

    return call


# ------------------------------------------------------------ real wires

KINDS = {
    _wire.DHCommit: "dh_commit",
    _wire.DHKey: "dh_key",
    _wire.RevealSignature: "reveal_signature",
    _wire.Signature: "signature",
    _wire.DataMessage: "data",
}


@pytest.fixture(scope="module")
def real_wires() -> dict[tuple[int, str], str]:
    """The first wire of each encoded kind in a libotr-to-libotr AKE plus one message, per version."""
    wires: dict[tuple[int, str], str] = {}
    libotr = impls.get("libotr")
    for version in (3, 2):
        duo = Duo.create(lambda: libotr.make(isolated=False), policies=(policy(version), policy(version)))
        establish(duo, version)
        duo.act(ALICE, "send", "hello")
        duo.flush()
        for w in duo.transcript:
            kind = KINDS.get(type(_wire.parse(w.wire)))
            if kind is not None:
                wires.setdefault((version, kind), w.wire)
        for side in (duo.a, duo.b):
            side.adapter.quit()
    assert len(wires) == 10
    return wires


ENCODED = [(v, kind) for v in (3, 2) for kind in KINDS.values()]


@pytest.mark.parametrize(("version", "kind"), ENCODED, ids=[f"v{v}-{k}" for v, k in ENCODED])
def test_real_encoded_messages_are_classified_whole_cut_short_and_with_trailing_garbage(
    parse: Parse, real_wires: dict[tuple[int, str], str], version: int, kind: str
) -> None:
    wire = real_wires[(version, kind)]
    assert wire.startswith("?OTR:") and wire.endswith(".")
    body = base64.b64decode(wire[5:-1])
    header = "?OTR:" + base64.b64encode(body[:3]).decode()  # protocol version and message type
    # libotr's classifier reads the header only: a cut message keeps its type and version.
    for variant in (wire, wire[:-1], wire[: len(wire) // 2], header, wire + " and then some garbage"):
        assert parse("message_type", variant) == kind
        assert parse("message_version", variant) == version
    assert parse("base64", wire) == {"ok": True, "data": body.hex()}
    assert parse("base64", wire + "trailing, ignored") == {"ok": True, "data": body.hex()}
    assert parse("base64", "some text before " + wire) == {"ok": True, "data": body.hex()}
    assert parse("base64", wire[:-1]) == {"ok": False, "data": None}  # no closing "."


# ---------------------------------------------------------- message_type

MESSAGE_TYPES = [
    pytest.param("hello", "plaintext", id="plaintext"),
    pytest.param("", "plaintext", id="empty"),
    pytest.param("hello" + TAG + TAG_V2 + TAG_V3, "tagged_plaintext", id="tagged-v2-v3"),
    pytest.param("hello" + TAG, "tagged_plaintext", id="tag-base-only"),
    pytest.param("?OTR?", "query", id="query-v1"),
    pytest.param("?OTRv2?", "query", id="query-v2"),
    pytest.param("?OTRv23?", "query", id="query-v23"),
    pytest.param("?OTR?v2?", "query", id="query-v12"),
    pytest.param("?OTRv24x?", "query", id="query-v24x"),
    pytest.param("?OTRv?", "query", id="query-no-version"),
    pytest.param("Bob, ?OTRv23? please", "query", id="query-inside-text"),
    # finding LIBOTR-005: "?OTRv" without the closing "?" counts as a query.
    pytest.param("?OTRv2 rocks", "query", id="query-unterminated"),
    pytest.param("?OTR Error: it broke", "error", id="error"),
    pytest.param("?OTR Error:", "error", id="error-empty"),
    pytest.param("oops ?OTR Error: it broke", "error", id="error-inside-text"),
    # Fragments are reassembled before libotr classifies: its classifier does not know them.
    pytest.param("?OTR|00000100|00000101,00001,00002,?OTR:AAMD,", "unknown", id="fragment-v3"),
    pytest.param("?OTR,00001,00002,?OTR:AAID,", "unknown", id="fragment-v2"),
    pytest.param("?OTR:AAED", "data", id="v1-data"),
    pytest.param("?OTR:AAQC", "unknown", id="version-4"),
    pytest.param("?OTR:AAMX", "unknown", id="unknown-type"),
    pytest.param("?OTR:", "unknown", id="empty-encoded"),
    # finding LIBOTR-004: any other "?OTR" makes the text an unrecognised OTR message (never shown).
    pytest.param("?OTR", "unknown", id="bare-marker"),
    pytest.param("Do you use ?OTR at all?", "unknown", id="marker-in-text"),
]


@pytest.mark.parametrize(("text", "expected"), MESSAGE_TYPES)
def test_message_type(parse: Parse, text: str, expected: str) -> None:
    assert parse("message_type", text) == expected


MESSAGE_VERSIONS = [
    pytest.param("hello", 0, id="plaintext"),
    pytest.param("?OTRv23?", 0, id="query"),
    pytest.param("?OTR:AAED", 1, id="v1-data"),
    pytest.param("?OTR:AAIC", 2, id="v2-commit-header"),
    pytest.param("?OTR:AAMD", 3, id="v3-data-header"),
    pytest.param("?OTR:AAQC", 0, id="version-4"),
    pytest.param("?OTR:AAE", 1, id="header-cut-short"),
    pytest.param("?OTR:", 0, id="empty-encoded"),
]


@pytest.mark.parametrize(("text", "expected"), MESSAGE_VERSIONS)
def test_message_version(parse: Parse, text: str, expected: int) -> None:
    assert parse("message_version", text) == expected


# ----------------------------------------------------------------- base64

BASE64 = [
    pytest.param("?OTR:AAMC.", {"ok": True, "data": "000302"}, id="valid"),
    pytest.param("?OTR:.", {"ok": True, "data": ""}, id="empty"),
    pytest.param("?OTR:AAMC", {"ok": False, "data": None}, id="no-closing-dot"),
    pytest.param("hello", {"ok": False, "data": None}, id="no-marker"),
    # CVE-2012-3461 (a heap overflow on input like this) was fixed before 4.1.1: the output
    # buffer is sized from the input, and "===" decodes to nothing, reported as success.
    pytest.param("?OTR:===.", {"ok": True, "data": ""}, id="cve-2012-3461-all-padding"),
    # finding LIBOTR-006: the decoder skips characters outside the alphabet, stops at the first
    # "=", and drops an incomplete final quantum, all reported as success (the engine refuses each).
    pytest.param("?OTR:QU JD.", {"ok": True, "data": "414243"}, id="space-skipped"),
    pytest.param("?OTR:Q!JD.", {"ok": True, "data": ""}, id="bad-character-skipped"),
    pytest.param("?OTR:AA=C.", {"ok": True, "data": "00"}, id="stops-at-padding"),
    pytest.param("?OTR:A.", {"ok": True, "data": ""}, id="one-character"),
    pytest.param("?OTR:QUJDRA.", {"ok": True, "data": "414243"}, id="incomplete-quantum-dropped"),
]


@pytest.mark.parametrize(("text", "expected"), BASE64)
def test_base64(parse: Parse, text: str, expected: dict[str, Any]) -> None:
    assert parse("base64", text) == expected


# -------------------------------------------------------------------- tlv

TLVS = [
    pytest.param("", [], id="none"),
    pytest.param("00010000", [{"type": 1, "value": ""}], id="disconnected"),
    pytest.param("0008000400000001", [{"type": 8, "value": "00000001"}], id="symkey"),
    pytest.param(
        "000100016100020000",
        [{"type": 1, "value": "61"}, {"type": 2, "value": ""}],
        id="chain-of-two",
    ),
    pytest.param("ffff0002abcd", [{"type": 0xFFFF, "value": "abcd"}], id="unknown-type"),
    # A record longer than what remains ends the chain: it and all after it are dropped silently.
    pytest.param("0001", [], id="header-cut-short"),
    pytest.param("00010005616263", [], id="value-cut-short"),
    pytest.param("00010001610002000561", [{"type": 1, "value": "61"}], id="second-cut-short"),
    # Fewer than four bytes left after a record: ignored.
    pytest.param("000100016100", [{"type": 1, "value": "61"}], id="trailing-byte"),
]


@pytest.mark.parametrize(("text", "expected"), TLVS)
def test_tlv(parse: Parse, text: str, expected: list[dict[str, Any]]) -> None:
    assert parse("tlv", text) == expected


# ---------------------------------------------------------- query_version

QUERY_VERSIONS = [
    # Every spelling in the spec ("OTR Query Messages"), with a policy allowing v2 and v3.
    pytest.param("?OTR?", 0, id="v1-only"),
    pytest.param("?OTRv2?", 2, id="v2-only"),
    pytest.param("?OTRv23?", 3, id="v2-and-v3"),
    pytest.param("?OTR?v2?", 2, id="v1-and-v2"),
    pytest.param("?OTRv24x?", 2, id="v2-and-future"),
    pytest.param("?OTR?v24x?", 2, id="v1-v2-and-future"),
    pytest.param("?OTR?v?", 0, id="v1-only-odd"),
    pytest.param("?OTRv?", 0, id="no-version"),
    # Order does not matter; text around the query does not either.
    pytest.param("?OTRv32?", 3, id="v3-and-v2"),
    pytest.param("?OTRv3?", 3, id="v3-only"),
    pytest.param("alice wants ?OTRv23? with you", 3, id="inside-text"),
    # finding LIBOTR-005: no closing "?" still offers v2.
    pytest.param("?OTRv2 rocks", 2, id="unterminated"),
    pytest.param("hello", 0, id="not-a-query"),
]


@pytest.mark.parametrize(("text", "expected"), QUERY_VERSIONS)
def test_query_version(parse: Parse, text: str, expected: int) -> None:
    assert parse("query_version", text) == expected


# ----------------------------------------------------- whitespace_version

WHITESPACE_VERSIONS = [
    pytest.param("hello", {"version": 0, "stripped": None}, id="no-tag"),
    pytest.param("hello" + TAG + TAG_V2, {"version": 2, "stripped": "hello"}, id="v2"),
    pytest.param("hello" + TAG + TAG_V3, {"version": 3, "stripped": "hello"}, id="v3"),
    pytest.param("hello" + TAG + TAG_V2 + TAG_V3, {"version": 3, "stripped": "hello"}, id="v2-and-v3"),
    pytest.param("hi" + TAG + TAG_V3 + TAG_V2 + " there", {"version": 3, "stripped": "hi there"}, id="mid"),
    pytest.param("hello" + TAG, {"version": 0, "stripped": "hello"}, id="base-only"),
    pytest.param(TAG + TAG_V1, {"version": 0, "stripped": ""}, id="v1-only"),
    pytest.param("a" + TAG + TAG_V1 + TAG_V2, {"version": 2, "stripped": "a"}, id="v1-and-v2"),
    # A cut version tag is not part of the tag: it stays in the text.
    pytest.param(TAG + TAG_V2[:4], {"version": 0, "stripped": TAG_V2[:4]}, id="cut-version"),
    # Only the first tag counts, and only it is stripped.
    pytest.param(
        "a" + TAG + TAG_V2 + "b" + TAG + TAG_V3,
        {"version": 2, "stripped": "ab" + TAG + TAG_V3},
        id="two-tags",
    ),
]


@pytest.mark.parametrize(("text", "expected"), WHITESPACE_VERSIONS)
def test_whitespace_version(parse: Parse, text: str, expected: dict[str, Any]) -> None:
    assert parse("whitespace_version", text) == expected


# ----------------------------------------------------------- bad requests


BAD_REQUESTS = [
    pytest.param({"entry": "no_such_entry", "input": "x"}, id="unknown-entry"),
    pytest.param({"entry": "message_type", "input": 5}, id="non-string-input"),
    pytest.param({"entry": "base64", "input": None}, id="null-input"),
    pytest.param({"entry": "base64"}, id="missing-input"),
    pytest.param({"input": "x"}, id="missing-entry"),
    pytest.param({"entry": 3, "input": "x"}, id="number-entry"),
    pytest.param({"entry": ["tlv"], "input": "00"}, id="list-entry"),
    pytest.param({"entry": "tlv", "input": "not hex"}, id="tlv-not-hex"),
]


@pytest.mark.parametrize("fields", BAD_REQUESTS)
def test_bad_x_parse_requests_are_refused_and_the_worker_carries_on(
    worker: PeerProcess, fields: dict[str, Any]
) -> None:
    with pytest.raises(BadRequest):
        worker.extension("x-parse", fields)
    assert worker.running
    assert worker.extension("x-parse", {"entry": "message_type", "input": "?OTRv3?"}).fields == {
        "result": "query"
    }


def test_bad_x_parse_requests_are_refused_in_process_too(in_process: LibotrAdapter) -> None:
    for fields in ({"entry": "no_such_entry", "input": "x"}, {"entry": "message_type", "input": 5}, {}):
        with pytest.raises(BadRequest):
            in_process.extension("x-parse", fields)


def test_the_worker_and_the_in_process_adapter_are_the_same_libotr(
    worker: PeerProcess, in_process: LibotrAdapter
) -> None:
    assert worker.hello().version == in_process.hello().version == "4.1.1"
