"""Engine bugs the fuzz targets found, pinned (docs/findings/engine.md; the vectors replay them too)."""

from __future__ import annotations

import pytest

from implementations.engine import _wire
from implementations.engine._codec import DecodeError


@pytest.mark.parametrize("body", ["QUJD==", "QUJD=", "QUJD====", "QUJDRA===", "QUJDRA==QUJD", "Q===", "QUJ"])
def test_engine_010_base64_with_padding_after_a_whole_group_or_a_cut_group_is_refused(body: str) -> None:
    with pytest.raises(DecodeError):
        _wire.decode_base64(body)


@pytest.mark.parametrize(
    ("body", "raw"), [("", b""), ("QUJD", b"ABC"), ("QUJDRA==", b"ABCD"), ("QUJDREU=", b"ABCDE")]
)
def test_engine_010_padded_base64_of_any_length_is_still_read(body: str, raw: bytes) -> None:
    assert _wire.decode_base64(body) == raw


def test_engine_010_an_encoded_message_with_extra_padding_is_malformed() -> None:
    key = _wire.encode(_wire.DHKey(_wire.Header(3, _wire.MessageType.DH_KEY, 0x101, 0x100), 5))
    assert isinstance(_wire.parse(key), _wire.DHKey)
    assert isinstance(_wire.parse(key[:-1] + "==."), _wire.Malformed)
