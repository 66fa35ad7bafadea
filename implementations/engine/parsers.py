"""The engine's parser entry points for the ``x-parse`` extension op.

Same entries and answer shapes as libotr's (``implementations/libotr/parsers.py``,
docs/peer-protocol.md "Extension ops"), so one input can be put to every
implementation and the answers compared.  Where the engine knows more than
a classifier can (it decodes the whole message), it says so with values
libotr never gives: ``fragment`` and ``malformed``.
"""

from __future__ import annotations

from typing import Any

from . import _wire
from ._codec import DecodeError
from ._tlv import decode_plaintext

PARSE_ENTRIES = frozenset(
    {"message_type", "message_version", "base64", "tlv", "query_version", "whitespace_version"}
)

_TYPE_NAMES = {
    _wire.MessageType.DH_COMMIT: "dh_commit",
    _wire.MessageType.DH_KEY: "dh_key",
    _wire.MessageType.REVEAL_SIGNATURE: "reveal_signature",
    _wire.MessageType.SIGNATURE: "signature",
    _wire.MessageType.DATA: "data",
}
_OURS = frozenset({2, 3})


def message_type(wire: str) -> str:
    message = _wire.parse(wire)
    if isinstance(message, _wire.PlainText):
        return "plaintext" if message.tag_versions is None else "tagged_plaintext"
    if isinstance(message, _wire.QueryMessage):
        return "query"
    if isinstance(message, _wire.ErrorMessage):
        return "error"
    if isinstance(message, _wire.FragmentMarker):
        return "fragment"
    if isinstance(message, _wire.Malformed):
        return "malformed"
    return _TYPE_NAMES[message.header.type]


def parse(entry: str, data: str) -> Any:
    if entry == "message_type":
        return message_type(data)
    message = _wire.parse(data)
    if entry == "message_version":
        if isinstance(message, _wire.Malformed):
            return message.version or 0
        header = getattr(message, "header", None)
        return header.version if header is not None else 0
    if entry == "base64":
        start = data.find(_wire.ENCODED_PREFIX)
        end = data.find(".", start + len(_wire.ENCODED_PREFIX)) if start >= 0 else -1
        if end < 0:
            return {"ok": False, "data": None}
        try:
            decoded = _wire.decode_base64(data[start + len(_wire.ENCODED_PREFIX) : end])
        except DecodeError:
            return {"ok": False, "data": None}
        return {"ok": True, "data": decoded.hex()}
    if entry == "tlv":
        records = decode_plaintext(b"\0" + bytes.fromhex(data)).tlvs
        return [{"type": t.type, "value": t.value.hex()} for t in records]
    if entry == "query_version":
        if isinstance(message, _wire.QueryMessage):
            return max(message.versions & _OURS, default=0)
        return 0
    if entry == "whitespace_version":
        if isinstance(message, _wire.PlainText) and message.tag_versions is not None:
            return {"version": max(message.tag_versions & _OURS, default=0), "stripped": message.text}
        return {"version": 0, "stripped": None}
    raise ValueError(f"unknown parse entry {entry!r}")
