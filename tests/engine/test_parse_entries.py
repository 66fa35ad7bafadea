"""The engine's x-parse entry points agree with its own wire parser and answer the shared shapes."""

from __future__ import annotations

from typing import Any

import pytest

from implementations.api import BadRequest, Unsupported
from implementations.engine import EngineAdapter
from implementations.engine._wire import TAG_BASE, TAG_VERSIONS

TAG23 = TAG_BASE + TAG_VERSIONS[2] + TAG_VERSIONS[3]


def x_parse(entry: str, data: str) -> Any:
    return EngineAdapter().extension("x-parse", {"entry": entry, "input": data}).fields["result"]


@pytest.mark.parametrize(
    ("wire", "kind"),
    [
        ("hello", "plaintext"),
        ("hello" + TAG23, "tagged_plaintext"),
        ("?OTRv23?", "query"),
        ("?OTR?", "query"),
        ("?OTR Error: oops", "error"),
        ("?OTR|00000100|00000101,00001,00002,abc,", "fragment"),
        ("?OTR,00001,00002,abc,", "fragment"),
        ("?OTR:AAMD.", "malformed"),
        ("?OTR:===.", "malformed"),
        ("?OTR:AAIKAAAAAQI=.", "dh_key"),
    ],
)
def test_message_type_names_every_kind(wire: str, kind: str) -> None:
    assert x_parse("message_type", wire) == kind


def test_message_version_comes_from_the_decoded_header() -> None:
    assert x_parse("message_version", "?OTR:AAIKAAAAAQI=.") == 2
    assert x_parse("message_version", "?OTR:AAMD.") == 3  # truncated, but the version was read
    assert x_parse("message_version", "plain") == 0


def test_base64_decodes_strictly() -> None:
    assert x_parse("base64", "?OTR:AAMD.") == {"ok": True, "data": "000303"}
    assert x_parse("base64", "?OTR:===.") == {"ok": False, "data": None}
    assert x_parse("base64", "?OTR:AAMD") == {"ok": False, "data": None}


def test_tlv_keeps_the_records_before_damage() -> None:
    assert x_parse("tlv", "000100000002000161") == [{"type": 1, "value": ""}, {"type": 2, "value": "61"}]
    assert x_parse("tlv", "00010000000200ff61") == [{"type": 1, "value": ""}]


def test_query_and_whitespace_versions_pick_the_best_common_version() -> None:
    assert x_parse("query_version", "?OTRv23?") == 3
    assert x_parse("query_version", "?OTR?v2?") == 2
    assert x_parse("query_version", "?OTR?") == 0
    assert x_parse("whitespace_version", "a" + TAG23 + "b") == {"version": 3, "stripped": "ab"}
    assert x_parse("whitespace_version", "ab") == {"version": 0, "stripped": None}


def test_bad_requests_and_unknown_ops_are_refused() -> None:
    with pytest.raises(BadRequest):
        EngineAdapter().extension("x-parse", {"entry": "nope", "input": ""})
    with pytest.raises(BadRequest):
        EngineAdapter().extension("x-parse", {"entry": "tlv", "input": "zz"})
    with pytest.raises(Unsupported):
        EngineAdapter().extension("x-other", {})
