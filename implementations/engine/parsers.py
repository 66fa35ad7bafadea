"""The engine's parser entry points for the ``x-parse`` extension op.

Same entries and answer shapes as libotr's (``implementations/libotr/parsers.py``,
docs/peer-protocol.md "Extension ops"), so one input can be put to every
implementation and the answers compared.  Where the engine knows more than
a classifier can (it decodes the whole message), it says so with values
libotr never gives: ``fragment`` and ``malformed``.
"""

from __future__ import annotations

import json
from typing import Any

from . import _wire
from ._codec import DecodeError
from ._fragments import MAX_REASSEMBLED_CHARS, FragmentError, Reassembler, ReassemblyStatus, parse_fragment
from ._tlv import decode_plaintext

PARSE_ENTRIES = frozenset(
    {"message_type", "message_version", "base64", "tlv", "query_version", "whitespace_version", "reassemble"}
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
    if entry == "reassemble":
        fragments, max_chars = reassemble_input(data)
        return reassemble(fragments, max_chars)
    raise ValueError(f"unknown parse entry {entry!r}")


def reassemble_input(data: str) -> tuple[list[str], int]:
    """The ``reassemble`` input: a JSON list of strings, or ``{"fragments": [...], "max_chars": N}``.

    Raises :class:`ValueError` for anything else.
    """
    try:
        value = json.loads(data)
    except json.JSONDecodeError as exc:
        raise ValueError(f"reassemble input is not JSON: {exc}") from None
    max_chars = MAX_REASSEMBLED_CHARS
    if isinstance(value, dict):
        if set(value) - {"fragments", "max_chars"} or "fragments" not in value:
            raise ValueError("reassemble input object has fragments and optionally max_chars")
        max_chars = value.get("max_chars", max_chars)
        if not isinstance(max_chars, int) or isinstance(max_chars, bool) or max_chars < 1:
            raise ValueError("max_chars must be a positive integer")
        value = value["fragments"]
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValueError("reassemble input must be a JSON list of strings")
    return value, max_chars


def reassemble(wires: list[str], max_chars: int = MAX_REASSEMBLED_CHARS) -> list[str]:
    """Receive ``wires`` in order with the spec's fragment rules; the messages completed, in order.

    As :class:`~._engine.Engine` routes them, without a session: one
    :class:`Reassembler` per (version, sender instance tag); a string that
    is not a fragment makes its sender forget any stored fragment (an
    encoded v3 message: that instance; an encoded v2 message: the v2
    state; anything else: all); a malformed fragment is discarded and the
    stored state kept.  No instance-tag checks (there is no local account)
    and completed messages are not parsed again.
    """
    reassemblers: dict[tuple[int, int], Reassembler] = {}
    completed: list[str] = []
    for wire in wires:
        message = _wire.parse(wire)
        if not isinstance(message, _wire.FragmentMarker):
            header = getattr(message, "header", None)
            if header is None:
                reassemblers.clear()
            else:
                reassemblers.pop((header.version, header.sender_tag if header.version == 3 else 0), None)
            continue
        fragment = parse_fragment(wire)
        if isinstance(fragment, FragmentError):
            continue
        key = (fragment.version, fragment.sender_tag)
        result = reassemblers.setdefault(key, Reassembler(max_chars)).feed(fragment)
        if result.status is ReassemblyStatus.COMPLETE:
            assert result.message is not None
            completed.append(result.message)
    return completed
