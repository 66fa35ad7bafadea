"""A per-user cache of things fetched or built on first use (shared by the otr.js and otr3 shims).

``${XDG_CACHE_HOME:-~/.cache}/otrcheck/<name>/...``, as libotr's provisioning
uses it (:mod:`implementations.libotr.provision`).

Invariants:

* A component is either complete or absent: it is filled in a temporary
  directory beside it, its marker (a JSON file) written last, then renamed
  into place, all under an exclusive ``flock``, so that concurrent first
  uses (two matrix workers, two pytest processes) neither corrupt nor
  duplicate it.
* Nothing is written outside the cache directory.
* A failure is a :class:`ProvisionError` whose message says why, never a
  half-filled component.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

MARKER = ".otrcheck-complete.json"
LOCK_TIMEOUT = 900.0


class ProvisionError(Exception):
    """Something could not be found, fetched or built; the message says why."""


def cache_base() -> Path:
    """``${XDG_CACHE_HOME:-~/.cache}/otrcheck``; a relative XDG_CACHE_HOME is ignored."""
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    base = Path(xdg) if os.path.isabs(xdg) else Path.home() / ".cache"
    return base / "otrcheck"


def read_marker(component: Path) -> dict[str, Any] | None:
    try:
        meta: dict[str, Any] = json.loads((component / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return meta


def component(
    final: Path, fill: Callable[[Path], dict[str, Any]], what: str, *, create: bool = True
) -> tuple[dict[str, Any], bool]:
    """The marker of the complete component at ``final``, filling it with ``fill(tmpdir)`` if needed.

    Returns ``(marker, fresh)``; ``fresh`` is true when this call filled it.
    ``fill`` gets an empty directory and returns the marker's contents.
    """
    meta = read_marker(final)
    if meta is not None:
        return meta, False
    if not create:
        raise ProvisionError(f"{what} is not in the cache {final}")
    base = final.parent
    try:
        base.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ProvisionError(f"cannot create the cache {base}: {exc}") from exc
    with exclusive(base / ".lock", what):
        meta = read_marker(final)
        if meta is not None:  # another process filled it while we waited
            return meta, False
        if final.exists():  # under the lock nobody else is filling it: debris of a killed run
            shutil.rmtree(final, ignore_errors=True)
        log.warning("%s: filling %s", what, final)
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=base))
        try:
            tree = tmp / "tree"
            tree.mkdir()
            meta = fill(tree)
            (tree / MARKER).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n", encoding="utf-8")
            os.rename(tree, final)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return meta, True


@contextmanager
def exclusive(lock: Path, what: str) -> Iterator[None]:
    with open(lock, "a+b") as handle:
        deadline = time.monotonic() + LOCK_TIMEOUT
        waiting = False
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not waiting:
                    log.warning("%s: waiting for another process that is filling %s", what, lock.parent)
                    waiting = True
                if time.monotonic() > deadline:
                    raise ProvisionError(f"{lock} stayed locked for {LOCK_TIMEOUT:.0f} s") from None
                time.sleep(0.2)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def run(
    command: list[str],
    what: str,
    *,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 600.0,
) -> str:
    """Run a command; its standard output, or a ProvisionError quoting the end of what it said."""
    log.info("running %s", " ".join(command))
    try:
        proc = subprocess.run(
            command,
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env={**os.environ, "LC_ALL": "C", **(env or {})},
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ProvisionError(f"{what}: {exc}") from exc
    if proc.returncode != 0:
        raise ProvisionError(f"{what} exited {proc.returncode}: {tail(proc.stderr or proc.stdout)}")
    return proc.stdout


def tail(text: str, lines: int = 3) -> str:
    kept = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return " | ".join(kept[-lines:]) or "(no output)"


def apt_download(packages: list[str], dest: Path, state: Path) -> list[Path]:
    """``apt-get download`` the packages into ``dest``; on failure again with private package lists.

    A fresh container or CI image may have no (or stale) package lists; a
    private, throwaway list directory (``Dir::State::Lists``, ``Dir::Cache``,
    ``Debug::NoLocking``) works for an ordinary user, as libotr's provisioning does.
    """
    if shutil.which("apt-get") is None or shutil.which("dpkg-deb") is None:
        raise ProvisionError("apt-get and dpkg-deb are needed to fetch Debian packages")
    try:
        _apt(["download", *packages], [], dest)
        return sorted(dest.glob("*.deb"))
    except ProvisionError as exc:
        first = exc
    log.warning("apt-get download failed (%s); retrying with private package lists in %s", first, state)
    for leftover in dest.iterdir():
        leftover.unlink()
    lists, archives = state / "lists", state / "cache"
    (lists / "partial").mkdir(parents=True)
    (archives / "archives" / "partial").mkdir(parents=True)
    private = ["-o", f"Dir::State::Lists={lists}", "-o", f"Dir::Cache={archives}", "-o", "Debug::NoLocking=1"]
    try:
        _apt(["update"], private, dest)
        _apt(["download", *packages], private, dest)
    except ProvisionError as exc:
        raise ProvisionError(f"{first}; with private package lists: {exc}") from exc
    return sorted(dest.glob("*.deb"))


def apt_depends(package: str) -> list[str]:
    """The names ``package`` depends on (``apt-cache depends``), or [] when apt cannot tell."""
    try:
        out = run(["apt-cache", "depends", "--no-recommends", "--no-suggests", package], "apt-cache depends")
    except ProvisionError:
        return []
    return [line.split(":", 1)[1].strip() for line in out.splitlines() if line.strip().startswith("Depends:")]


def _apt(args: list[str], options: list[str], cwd: Path) -> None:
    command = ["apt-get", "-q", *options, *args]
    if os.geteuid() == 0:
        # apt drops to _apt for downloads, which cannot write into root's private cache.
        command[2:2] = ["-o", "APT::Sandbox::User=root"]
    run(command, " ".join(["apt-get", *args]), cwd=cwd)


def deb_fields(deb: Path) -> tuple[str, str]:
    """A .deb's package name and version."""
    out = run(["dpkg-deb", "-f", str(deb), "Package", "Version"], f"dpkg-deb -f {deb.name}")
    fields = dict(line.split(": ", 1) for line in out.splitlines() if ": " in line)
    return fields.get("Package", deb.name), fields.get("Version", "?")
