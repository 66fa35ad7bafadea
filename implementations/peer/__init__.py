"""The peer protocol, version 1: a JSON-lines server and client for :class:`~implementations.api.Adapter`.

``docs/peer-protocol.md`` is the normative description.  This module holds
both ends of it:

* :func:`serve` (and :func:`serve_stdio`) turn an in-process adapter into a
  peer: one JSON request per input line, exactly one JSON response per
  request, in order.  :func:`decode_request` validates a request and
  :func:`dispatch` answers one.
* :class:`PeerProcess` is an adapter whose implementation runs in a
  subprocess speaking the protocol, so the harness treats a shim written in
  any language exactly like an in-process adapter.

Invariants:

* A request that cannot be honoured yields an ``ok: false`` response, never
  a dead server: bad requests are ``bad_request``, exceptions escaping the
  adapter are ``internal``.  Only ``quit`` and end of input stop the loop.
* The client never waits longer than its timeout for one answer.  A peer
  that dies, closes its output, or overruns the timeout raises
  :class:`PeerCrashed`; one that answers out of protocol raises
  :class:`PeerProtocolError`.  Either way the caller regains control.
"""

from .client import (
    PeerCrashed,
    PeerProcess,
    PeerProtocolError,
    StderrSpec,
    parse_event,
    parse_hello,
    parse_result,
    parse_status,
)
from .protocol import ERROR_KINDS, EXTENSION_PREFIX, OPS, decode_request, dispatch, request_id
from .server import serve, serve_stdio

__all__ = [
    "ERROR_KINDS",
    "EXTENSION_PREFIX",
    "OPS",
    "PeerCrashed",
    "PeerProcess",
    "PeerProtocolError",
    "StderrSpec",
    "decode_request",
    "dispatch",
    "parse_event",
    "parse_hello",
    "parse_result",
    "parse_status",
    "request_id",
    "serve",
    "serve_stdio",
]
