"""The JSON-lines server loop: an in-process adapter served on stdin/stdout."""

from __future__ import annotations

import contextlib
import json
import os
import sys
from typing import Any, TextIO

from implementations.api import (
    Adapter,
)

from .protocol import _error_response, _handle, _log

# -------------------------------------------------------------------- server


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _encode(response: dict[str, Any]) -> str:
    try:
        return json.dumps(response, ensure_ascii=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        _log.error("response to request %r does not serialize", response.get("id"), exc_info=True)
        detail = f"unserializable response: {exc!r}"
        return json.dumps(_error_response(response.get("id"), "internal", detail))


def serve(adapter: Adapter, stdin: TextIO | None = None, stdout: TextIO | None = None) -> int:
    """Run the JSON-lines loop until end of input or ``quit``; return the process exit code.

    ``stdin`` and ``stdout`` default to the process's streams at call time.
    Blank lines are skipped; every other line gets exactly one response line,
    flushed at once.  While the adapter runs, Python-level writes to
    ``sys.stdout`` go to ``sys.stderr`` if ``stdout`` is ``sys.stdout``, so
    stray prints cannot corrupt the protocol stream.  The exit code is 0,
    or 1 when ``quit`` failed or the output stream broke.
    """
    inp = sys.stdin if stdin is None else stdin
    out = sys.stdout if stdout is None else stdout
    guard: contextlib.AbstractContextManager[Any] = (
        contextlib.redirect_stdout(sys.stderr) if out is sys.stdout else contextlib.nullcontext()
    )
    while True:
        line = inp.readline()
        if not line:
            return 0
        if not line.strip():
            continue
        op: str | None = None
        try:
            request = json.loads(line, parse_constant=_reject_constant)
        except ValueError as exc:
            response = _error_response(None, "bad_request", f"not JSON: {exc}")
        else:
            with guard:
                response, op = _handle(adapter, request)
        try:
            out.write(_encode(response) + "\n")
            out.flush()
        except OSError:
            _log.error("cannot write the response to request %r", response.get("id"), exc_info=True)
            return 1
        if op == "quit":
            return 0 if response["ok"] else 1


def serve_stdio(adapter: Adapter) -> int:
    """:func:`serve` on the process's stdin and stdout, with file descriptor 1 kept for the protocol.

    Writes to descriptor 1 from anywhere else (a C library, ``print``) are
    sent to standard error instead, so only responses reach the client.
    Streams are UTF-8; undecodable input bytes become U+FFFD.
    """
    sys.stdout.flush()
    protocol_fd = os.dup(1)
    os.dup2(2, 1)
    try:
        with (
            open(protocol_fd, "w", encoding="utf-8", newline="\n", closefd=False) as out,
            open(sys.stdin.fileno(), encoding="utf-8", errors="replace", closefd=False) as inp,
        ):
            return serve(adapter, inp, out)
    finally:
        os.dup2(protocol_fd, 1)
        os.close(protocol_fd)
