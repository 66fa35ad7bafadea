"""PeerProcess: an adapter whose implementation runs in a subprocess speaking the peer protocol."""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import json
import os
import selectors
import signal
import subprocess
import threading
import time
import types
import typing
from collections.abc import Mapping, Sequence
from typing import IO, Any, Literal

from implementations.api import (
    ERROR_CODES,
    MSGSTATES,
    SMP_RESULTS,
    SMP_STATES,
    AdapterError,
    BadRequest,
    ErrorRaised,
    Event,
    Hello,
    InitConfig,
    Outgoing,
    Result,
    SmpUpdated,
    Status,
    Unsupported,
    event_from_json,
)

from .protocol import _RESERVED, EXTENSION_PREFIX, _is_hex, _is_int

# ------------------------------------------------------------------- client


class PeerCrashed(AdapterError):
    """The peer process is gone or unusable: it exited, closed its output, or missed the timeout.

    ``reason`` is one of ``start`` (could not be started), ``exited``,
    ``closed`` (closed a pipe but kept running; it was killed), ``timeout``
    (no answer in time; it was killed) or ``stopped`` (a request after the
    peer had already ended).  ``request`` is the request being answered.
    """

    kind = "crashed"

    def __init__(
        self,
        detail: str,
        *,
        reason: str,
        returncode: int | None = None,
        request: Mapping[str, Any] | None = None,
        stderr_tail: str = "",
    ) -> None:
        super().__init__(detail)
        self.reason = reason
        self.returncode = returncode
        self.request = None if request is None else dict(request)
        self.stderr_tail = stderr_tail

    @property
    def signal(self) -> int | None:
        """The signal that ended the process (a :class:`signal.Signals` when known), or ``None``."""
        if self.returncode is None or self.returncode >= 0:
            return None
        try:
            return signal.Signals(-self.returncode)
        except ValueError:
            return -self.returncode


class PeerProtocolError(AdapterError):
    """The peer answered outside the protocol (bad JSON, wrong id, malformed fields).

    ``fatal`` is true when the exchange could not be resynchronized (the
    answer was not a JSON object or carried the wrong id); the process was
    then killed and later requests raise :class:`PeerCrashed`.
    """

    kind = "protocol"

    def __init__(self, detail: str, *, fatal: bool = False, response: object = None) -> None:
        super().__init__(detail)
        self.fatal = fatal
        self.response = response


_ERROR_CLASSES: dict[str, type[AdapterError]] = {
    "unsupported": Unsupported,
    "bad_request": BadRequest,
    "internal": AdapterError,
}


_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls)
    return _HINTS[cls]


def _conforms(value: object, hint: Any) -> bool:
    """Whether a decoded JSON value fits a field annotation of :mod:`implementations.api`."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_conforms(value, arg) for arg in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return _is_int(value)
    if hint is str:
        return isinstance(value, str)
    if hint is dict or origin is dict:
        return isinstance(value, dict)
    return True


def _check_fields(obj: Event | Status, what: str) -> None:
    for f in dataclasses.fields(obj):
        if f.name == "extra":
            continue
        value = getattr(obj, f.name)
        if not _conforms(value, _hints(type(obj))[f.name]):
            name = f.metadata.get("json", f.name)
            raise PeerProtocolError(f"{what}: field {name} has the wrong type: {value!r}")


def parse_event(obj: object) -> Event:
    """Rebuild and check one event from a response; :class:`PeerProtocolError` if it breaks the protocol.

    Field types must match the event class; SMP results and error codes must
    be known (error codes may also be ``x-`` names); extra fields must be
    ``x-`` fields.
    """
    if not isinstance(obj, dict):
        raise PeerProtocolError(f"event is not an object: {obj!r}")
    try:
        event = event_from_json(obj)
    except (AdapterError, TypeError) as exc:
        raise PeerProtocolError(f"bad event {obj!r}: {exc}") from exc
    _check_fields(event, f"{event.type} event")
    stray = sorted(k for k in getattr(event, "extra", {}) if not k.startswith(EXTENSION_PREFIX))
    if stray:
        raise PeerProtocolError(f"{event.type} event: unknown fields {stray} (extensions need the x- prefix)")
    if isinstance(event, SmpUpdated) and event.result not in SMP_RESULTS:
        raise PeerProtocolError(f"smp event: unknown result {event.result!r}")
    if isinstance(event, ErrorRaised) and not (
        event.code in ERROR_CODES or event.code.startswith(EXTENSION_PREFIX)
    ):
        raise PeerProtocolError(f"error event: unknown code {event.code!r}")
    return event


def _list(response: Mapping[str, Any], key: str) -> list[Any]:
    value = response.get(key)
    if not isinstance(value, list):
        raise PeerProtocolError(f"response field {key!r} must be a list, got {value!r}", response=response)
    return value


def _outgoing(obj: object) -> Outgoing:
    if not (isinstance(obj, dict) and isinstance(obj.get("to"), str) and isinstance(obj.get("wire"), str)):
        raise PeerProtocolError(f"out entries need string 'to' and 'wire': {obj!r}")
    return Outgoing(obj["to"], obj["wire"])


def parse_result(response: Mapping[str, Any]) -> Result:
    """The :class:`Result` in an ok response: ``out``, ``events``, and every other field but ``id``/``ok``."""
    out = [_outgoing(o) for o in _list(response, "out")]
    events = [parse_event(e) for e in _list(response, "events")]
    fields = {k: v for k, v in response.items() if k not in _RESERVED}
    return Result(out, events, fields)


def parse_hello(response: Mapping[str, Any]) -> Hello:
    """The :class:`Hello` in a ``hello`` response; fields beyond the protocol's go to ``extra``."""
    parse_result(response)
    obj = {k: v for k, v in response.items() if k not in _RESERVED}
    impl, version = obj.pop("impl", None), obj.pop("version", None)
    versions, features = obj.pop("protocol_versions", None), obj.pop("features", None)
    deterministic = obj.pop("deterministic", None)
    if not isinstance(impl, str) or not isinstance(version, str):
        raise PeerProtocolError("hello: impl and version must be strings", response=response)
    if not isinstance(versions, list) or not all(_is_int(v) for v in versions):
        raise PeerProtocolError("hello: protocol_versions must be a list of integers", response=response)
    if not isinstance(features, list) or not all(isinstance(f, str) for f in features):
        raise PeerProtocolError("hello: features must be a list of strings", response=response)
    if not isinstance(deterministic, bool):
        raise PeerProtocolError("hello: deterministic must be a boolean", response=response)
    return Hello(impl, version, tuple(versions), tuple(features), deterministic, obj)


def parse_status(obj: object) -> Status:
    """The :class:`Status` in a ``status`` response's ``status`` object; unknown keys go to ``extra``."""
    if not isinstance(obj, dict):
        raise PeerProtocolError(f"status must be an object: {obj!r}")
    names = [f.name for f in dataclasses.fields(Status) if f.name != "extra"]
    missing = [n for n in names if n not in obj]
    if missing:
        raise PeerProtocolError(f"status: missing fields {missing}", response=obj)
    status = Status(**{n: obj[n] for n in names}, extra={k: v for k, v in obj.items() if k not in names})
    _check_fields(status, "status")
    if status.msgstate not in MSGSTATES:
        raise PeerProtocolError(f"status: unknown msgstate {status.msgstate!r}", response=obj)
    if status.smp not in SMP_STATES:
        raise PeerProtocolError(f"status: unknown smp state {status.smp!r}", response=obj)
    return status


class _Default(enum.Enum):
    TIMEOUT = enum.auto()


StderrSpec = Literal["capture", "inherit", "devnull"] | os.PathLike[str] | int | IO[Any]
"""Where a peer's stderr goes: ``capture`` (a bounded in-memory tail, the default),
``inherit``, ``devnull``, a path (appended to), a file descriptor or an open file."""

_STDERR_TAIL = 64 * 1024
_MAX_LINE = 64 * 1024 * 1024
_TICK = 0.1
_CHUNK = 64 * 1024


def _describe_exit(returncode: int | None) -> str:
    if returncode is None:
        return "still running"
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exited with status {returncode}"


class PeerProcess:
    """An :class:`Adapter` whose implementation is a subprocess speaking the peer protocol.

    Requests carry ids 1, 2, 3...; each call writes one line and reads exactly
    one answer with the same id, within ``timeout`` seconds (``None`` waits
    forever).  ``ok: false`` answers raise the matching :class:`AdapterError`
    subclass.  The subprocess gets its own session so that a kill reaches
    its children too.  Calls from several threads are serialized.  POSIX only.
    """

    def __init__(
        self,
        command: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: str | os.PathLike[str] | None = None,
        timeout: float | None = 10.0,
        stderr: StderrSpec = "capture",
        name: str | None = None,
        grace: float = 2.0,
    ) -> None:
        """Start ``command``; ``env`` replaces the environment (as in :class:`subprocess.Popen`)."""
        if not command:
            raise ValueError("empty command")
        self.command = list(command)
        self.name = name or os.path.basename(self.command[0])
        self.timeout = timeout
        self.grace = grace
        self.last_request: dict[str, Any] | None = None
        self._next_id = 1
        self._buffer = bytearray()
        self._tail = bytearray()
        self._lock = threading.Lock()
        self._stopped = False
        target: Any
        opened: IO[bytes] | None = None
        if stderr == "capture":
            target = subprocess.PIPE
        elif stderr == "inherit":
            target = None
        elif stderr == "devnull":
            target = subprocess.DEVNULL
        elif isinstance(stderr, str):
            raise ValueError(f"stderr: capture, inherit, devnull, a path, a descriptor or a file: {stderr!r}")
        elif isinstance(stderr, os.PathLike):
            target = opened = open(stderr, "ab")  # noqa: SIM115 - the child keeps its own copy
        else:
            target = stderr
        try:
            self._proc = subprocess.Popen(
                self.command,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=target,
                env=None if env is None else dict(env),
                cwd=cwd,
                bufsize=0,
                start_new_session=True,
            )
        except OSError as exc:
            raise PeerCrashed(f"{self.name}: cannot start {self.command!r}: {exc}", reason="start") from exc
        finally:
            if opened is not None:
                opened.close()
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._stdin_fd: int | None = self._proc.stdin.fileno()
        self._stdout_fd = self._proc.stdout.fileno()
        self._stderr_fd = None if self._proc.stderr is None else self._proc.stderr.fileno()
        for fd in (self._stdin_fd, self._stdout_fd, self._stderr_fd):
            if fd is not None:
                os.set_blocking(fd, False)

    # -------------------------------------------------------- introspection

    @property
    def pid(self) -> int:
        return self._proc.pid

    @property
    def returncode(self) -> int | None:
        """The exit status (negative: killed by that signal), or ``None`` while running."""
        return self._proc.poll()

    @property
    def running(self) -> bool:
        return not self._stopped and self._proc.poll() is None

    @property
    def stderr_text(self) -> str:
        """The last 64 KiB the peer wrote to stderr, when captured (read so far)."""
        self._drain_stderr()
        return self._tail.decode("utf-8", "replace")

    def __repr__(self) -> str:
        return f"<PeerProcess {self.name} pid={self._proc.pid} {_describe_exit(self._proc.poll())}>"

    # ------------------------------------------------------------ requests

    def request(
        self,
        op: str,
        fields: Mapping[str, Any] | None = None,
        *,
        timeout: float | _Default | None = _Default.TIMEOUT,
    ) -> dict[str, Any]:
        """Send ``{"id", "op", **fields}`` and return the ok response; raise the error of a failed one."""
        with self._lock:
            rid = self._next_id
            self._next_id += 1
            request = {"id": rid, "op": op, **(fields or {})}
            response = self._roundtrip(json.dumps(request, ensure_ascii=True), request, timeout)
            got = response.get("id")
            if not _is_int(got) or got != rid:
                self._kill()
                raise PeerProtocolError(
                    f"{self.name}: answer to request {rid} carries id {got!r}", fatal=True, response=response
                )
        ok = response.get("ok")
        if ok is True:
            return response
        if ok is not False:
            raise PeerProtocolError(f"{self.name}: 'ok' must be true or false: {ok!r}", response=response)
        error = response.get("error")
        if not isinstance(error, dict) or not isinstance(error.get("detail"), str):
            raise PeerProtocolError(f"{self.name}: malformed error object {error!r}", response=response)
        cls = _ERROR_CLASSES.get(error.get("kind"))  # type: ignore[arg-type]
        if cls is None:
            kind = error.get("kind")
            raise PeerProtocolError(f"{self.name}: unknown error kind {kind!r}", response=response)
        raise cls(error["detail"])

    def exchange_line(
        self, line: str, *, timeout: float | _Default | None = _Default.TIMEOUT
    ) -> dict[str, Any]:
        """Send one raw line (no id bookkeeping) and return whatever JSON object comes back.

        For conformance checks of a peer's request validation; the answer is
        not checked beyond being a JSON object.
        """
        if "\n" in line:
            raise ValueError("one line at a time")
        with self._lock:
            return self._roundtrip(line, None, timeout)

    def _roundtrip(
        self, line: str, request: dict[str, Any] | None, timeout: float | _Default | None
    ) -> dict[str, Any]:
        limit = self.timeout if isinstance(timeout, _Default) else timeout
        self.last_request = request
        if self._stopped or self._proc.poll() is not None:
            raise self._crashed("stopped" if self._stopped else "exited", request, "is not running")
        raw = self._exchange((line + "\n").encode("utf-8"), request, limit)
        try:
            response = json.loads(raw.decode("utf-8"))
        except ValueError:
            response = None
        if not isinstance(response, dict):
            self._kill()
            raise PeerProtocolError(f"{self.name}: answer is not a JSON object: {raw[:200]!r}", fatal=True)
        return response

    def _exchange(self, data: bytes, request: dict[str, Any] | None, limit: float | None) -> bytes:
        """Write ``data`` and return the next complete output line, within ``limit`` seconds."""
        deadline = None if limit is None else time.monotonic() + limit
        pending = memoryview(data)
        with selectors.DefaultSelector() as sel:
            assert self._stdin_fd is not None
            sel.register(self._stdin_fd, selectors.EVENT_WRITE)
            sel.register(self._stdout_fd, selectors.EVENT_READ)
            if self._stderr_fd is not None:
                sel.register(self._stderr_fd, selectors.EVENT_READ)
            while True:
                if not pending:
                    end = self._buffer.find(b"\n")
                    if end >= 0:
                        line = bytes(self._buffer[:end]).rstrip(b"\r")
                        del self._buffer[: end + 1]
                        return line
                if len(self._buffer) > _MAX_LINE:
                    self._kill()
                    too_long = f"{self.name}: answer line longer than {_MAX_LINE} bytes"
                    raise PeerProtocolError(too_long, fatal=True)
                wait = _TICK if deadline is None else min(_TICK, deadline - time.monotonic())
                if wait <= 0:
                    raise self._crashed("timeout", request, f"gave no answer within {limit} s")
                ready = sel.select(wait)
                for key, _ in ready:
                    fd = key.fd
                    if fd == self._stdin_fd:
                        try:
                            pending = pending[os.write(fd, pending[:_CHUNK]) :]
                        except BlockingIOError:
                            continue
                        except OSError:
                            raise self._crashed("closed", request, "stopped reading its input") from None
                        if not pending:
                            sel.unregister(fd)
                    elif fd == self._stdout_fd:
                        chunk = self._read(fd)
                        if chunk == b"":
                            if b"\n" in self._buffer and not pending:
                                break
                            raise self._crashed("closed", request, "closed its output")
                        self._buffer += chunk or b""
                    elif not self._read_stderr(fd):
                        sel.unregister(fd)
                if not ready and self._proc.poll() is not None:
                    raise self._crashed("exited", request, "ended")

    @staticmethod
    def _read(fd: int) -> bytes | None:
        """Available bytes, ``b""`` at end of file, ``None`` if nothing is ready."""
        try:
            return os.read(fd, _CHUNK)
        except BlockingIOError:
            return None

    def _read_stderr(self, fd: int) -> bool:
        """Keep what the peer wrote to stderr; false at end of file."""
        chunk = self._read(fd)
        if chunk == b"":
            self._stderr_fd = None
            return False
        if chunk:
            self._tail += chunk
            del self._tail[:-_STDERR_TAIL]
        return True

    def _drain_stderr(self) -> None:
        while self._stderr_fd is not None:
            chunk = self._read(self._stderr_fd)
            if not chunk:
                if chunk == b"":
                    self._stderr_fd = None
                return
            self._tail += chunk
            del self._tail[:-_STDERR_TAIL]

    def _kill(self) -> bool:
        """Make sure the process (and its process group) is gone and reaped; true if it had to be killed."""
        self._stopped = True
        killed = self._proc.poll() is None
        if killed:
            try:
                os.killpg(self._proc.pid, signal.SIGKILL)
            except OSError:
                self._proc.kill()
        self._proc.wait()
        return killed

    def _wait_or_kill(self) -> bool:
        """Give the process ``grace`` seconds to exit, then kill it; true if it had to be killed."""
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._proc.wait(timeout=self.grace)
        return self._kill()

    def _crashed(self, reason: str, request: dict[str, Any] | None, what: str) -> PeerCrashed:
        """Stop the peer for good and describe what happened.

        A peer that closed a pipe is given ``grace`` seconds to exit: if it
        does, the reason is ``exited``; if it has to be killed, ``closed``.
        """
        killed = False
        if reason == "timeout":
            killed = self._kill()
        elif reason != "stopped":
            killed = self._wait_or_kill()
            reason = "closed" if killed else "exited"
        self._drain_stderr()
        returncode = self._proc.poll()
        during = "" if request is None else f" during {request.get('op')} request {request.get('id')}"
        tail = self._tail.decode("utf-8", "replace")[-2000:]
        ending = "killed by otrcheck" if killed else _describe_exit(returncode)
        detail = f"{self.name} {what}{during}; {ending}"
        if tail:
            detail += f"; stderr ends: {tail.strip()}"
        return PeerCrashed(detail, reason=reason, returncode=returncode, request=request, stderr_tail=tail)

    # ------------------------------------------------------------- the Adapter

    def _result(self, op: str, fields: Mapping[str, Any]) -> Result:
        return parse_result(self.request(op, fields))

    def hello(self) -> Hello:
        return parse_hello(self.request("hello"))

    def init(self, config: InitConfig) -> Result:
        return self._result("init", config.to_json())

    def send(self, peer: str, text: str) -> Result:
        return self._result("send", {"peer": peer, "text": text})

    def receive(self, peer: str, wire: str) -> Result:
        return self._result("receive", {"peer": peer, "wire": wire})

    def query(self, peer: str) -> Result:
        return self._result("query", {"peer": peer})

    def end(self, peer: str) -> Result:
        return self._result("end", {"peer": peer})

    def smp_start(self, peer: str, secret: str, question: str | None) -> Result:
        return self._result("smp_start", {"peer": peer, "secret": secret, "question": question})

    def smp_respond(self, peer: str, secret: str) -> Result:
        return self._result("smp_respond", {"peer": peer, "secret": secret})

    def smp_abort(self, peer: str) -> Result:
        return self._result("smp_abort", {"peer": peer})

    def extension(self, op: str, fields: dict[str, Any]) -> Result:
        """Send an extension op (``x-...``); its answer's fields land in ``Result.fields``."""
        if not op.startswith(EXTENSION_PREFIX):
            raise BadRequest(f"extension ops start with {EXTENSION_PREFIX!r}: {op!r}")
        return self._result(op, fields)

    def symkey(self, peer: str, use: int, usedata: bytes) -> Result:
        result = self._result("symkey", {"peer": peer, "use": use, "usedata": usedata.hex()})
        key = result.fields.get("key")
        if key is not None and not _is_hex(key, even=True, nonempty=True):
            raise PeerProtocolError(f"{self.name}: symkey answer needs a hex or null 'key': {key!r}")
        return result

    def status(self, peer: str) -> Status:
        response = self.request("status", {"peer": peer})
        parse_result(response)
        return parse_status(response.get("status"))

    def quit(self) -> None:
        """Ask the peer to quit and wait (``grace`` seconds, then kill) for it to exit."""
        try:
            self.request("quit")
        finally:
            self._close_stdin()
            self._wait_or_kill()

    # ----------------------------------------------------------- lifecycle

    def _close_stdin(self) -> None:
        if self._stdin_fd is not None:
            self._stdin_fd = None
            assert self._proc.stdin is not None
            with contextlib.suppress(OSError):
                self._proc.stdin.close()

    def close(self) -> None:
        """Send ``quit`` if the peer still runs, wait ``grace`` seconds, kill if need be; idempotent."""
        try:
            if self.running:
                with contextlib.suppress(AdapterError):
                    limit = self.grace if self.timeout is None else min(self.grace, self.timeout)
                    self.request("quit", timeout=limit)
            self._close_stdin()
            if self._proc.poll() is None:
                self._wait_or_kill()
            self._stopped = True
            self._drain_stderr()
        finally:
            for stream in (self._proc.stdout, self._proc.stderr):
                if stream is not None:
                    with contextlib.suppress(OSError):
                        stream.close()
            self._stderr_fd = None

    def __enter__(self) -> PeerProcess:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
