"""libotr's parser entry points, for differential testing and fuzzing (the ``x-parse`` op).

Each entry takes a string and answers a JSON value.  The entries and the
shape of their answers are shared with the engine's ``x-parse`` (see
docs/peer-protocol.md, "Extension ops"), so the same input can be put to
every implementation and the answers compared.
"""

from __future__ import annotations

import ctypes
from ctypes import byref, c_size_t, c_void_p
from typing import Any

from ._lib import Lib, OtrlMessageType, OtrlPolicy

MESSAGE_TYPES = {
    OtrlMessageType.NOTOTR: "plaintext",
    OtrlMessageType.TAGGEDPLAINTEXT: "tagged_plaintext",
    OtrlMessageType.QUERY: "query",
    OtrlMessageType.DH_COMMIT: "dh_commit",
    OtrlMessageType.DH_KEY: "dh_key",
    OtrlMessageType.REVEALSIG: "reveal_signature",
    OtrlMessageType.SIGNATURE: "signature",
    OtrlMessageType.V1_KEYEXCH: "v1_key_exchange",
    OtrlMessageType.DATA: "data",
    OtrlMessageType.ERROR: "error",
    OtrlMessageType.UNKNOWN: "unknown",
}

_V23 = OtrlPolicy.ALLOW_V2 | OtrlPolicy.ALLOW_V3
PARSE_ENTRIES = frozenset(
    {"message_type", "message_version", "base64", "tlv", "query_version", "whitespace_version"}
)


def parse(lib: Lib, entry: str, data: str) -> Any:
    raw = data.encode("utf-8", "surrogatepass")
    if entry == "message_type":
        return MESSAGE_TYPES.get(lib.otrl_proto_message_type(raw), "unknown")
    if entry == "message_version":
        return int(lib.otrl_proto_message_version(raw))
    if entry == "base64":
        buf, length = c_void_p(), c_size_t()
        status = lib.otrl_base64_otr_decode(raw, byref(buf), byref(length))
        decoded = lib.take_malloced(buf.value, length.value) if buf.value else None
        return {"ok": status == 0, "data": None if status else (decoded or b"").hex()}
    if entry == "tlv":
        blob = bytes.fromhex(data)
        chain = lib.otrl_tlv_parse(blob, len(blob))
        records = []
        node = chain
        while node:
            tlv = node.contents
            value = ctypes.string_at(tlv.data, tlv.len) if tlv.len else b""
            records.append({"type": int(tlv.type), "value": value.hex()})
            node = tlv.next
        if chain:
            lib.otrl_tlv_free(chain)
        return records
    if entry == "query_version":
        return int(lib.otrl_proto_query_bestversion(raw, _V23))
    if entry == "whitespace_version":
        start, end = c_void_p(), c_void_p()
        text = ctypes.create_string_buffer(raw)
        version = lib.otrl_proto_whitespace_bestversion(text, byref(start), byref(end), _V23)
        stripped = None
        if start.value and end.value:
            base = ctypes.addressof(text)
            stripped = (raw[: start.value - base] + raw[end.value - base :]).decode("utf-8", "replace")
        return {"version": int(version), "stripped": stripped}
    raise ValueError(f"unknown parse entry {entry!r}")
