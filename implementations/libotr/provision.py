"""Find libotr 4.1.1 (``libotr.so.5``), or fetch it into a per-user cache; never needs root.

Lookup order of :func:`locate`:

1. ``OTRCHECK_LIBOTR``: an explicit path.  It is used as given or reported
   as a problem; a broken override never silently falls back to another copy.
2. The system library (``ldconfig -p``, :func:`ctypes.util.find_library`,
   well-known directories), unless ``system=False`` or
   ``OTRCHECK_LIBOTR_SYSTEM=0``.  Only a copy that reports version 4.1.1 counts.
3. The cache, ``${XDG_CACHE_HOME:-~/.cache}/otrcheck/libotr/4.1.1/lib``.
4. A download: ``apt-get download`` of the Debian package, unpacked with
   ``dpkg-deb -x`` into the cache.  Where the machine's package lists are
   missing or stale (fresh containers, CI images), apt runs again against a
   private, throwaway list directory (``Dir::State::Lists``, ``Dir::Cache``,
   ``Debug::NoLocking``), which works for an ordinary user.

:func:`include_dirs` does the same for the C headers (``libotr5-dev`` plus
``libgcrypt20-dev`` and ``libgpg-error-dev``, which ``libotr/*.h`` include),
so that a layout test can compile against them without root.

Invariants:

* Nothing is written outside the cache directory.
* A cache component is either complete or absent: it is unpacked into a
  temporary directory, its marker written last, then renamed into place,
  all under an exclusive ``flock`` so that concurrent first uses neither
  corrupt nor duplicate it.
* A library's version is asked of the library itself (``otrl_version()``),
  in a child process, so a broken or foreign ``.so`` cannot take the caller
  down.  The version check matters: Debian's ``otrl_init`` accepts any API
  version, so nothing downstream would notice a different libotr.
"""

from __future__ import annotations

import ctypes.util
import fcntl
import json
import logging
import os
import platform
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "ENV_PATH",
    "ENV_SYSTEM",
    "LIBOTR_VERSION",
    "LibotrLocation",
    "ProvisionError",
    "cache_root",
    "headers_dir",
    "include_dirs",
    "library_version",
    "locate",
]

log = logging.getLogger(__name__)

LIBOTR_VERSION = "4.1.1"
SONAME = "libotr.so.5"
ENV_PATH = "OTRCHECK_LIBOTR"
ENV_SYSTEM = "OTRCHECK_LIBOTR_SYSTEM"

# Each group lists alternative package names, tried in order.  Debian 13 and
# Ubuntu 24.04 renamed the runtime package in the 64-bit time_t transition;
# on amd64 its ABI did not change.
LIB_PACKAGES: tuple[tuple[str, ...], ...] = (("libotr5", "libotr5t64"),)
HEADER_PACKAGES: tuple[tuple[str, ...], ...] = (("libotr5-dev",), ("libgcrypt20-dev",), ("libgpg-error-dev",))

MARKER = ".otrcheck-complete.json"
LOCK_TIMEOUT = 900.0
APT_TIMEOUT = 600.0
PROBE_TIMEOUT = 60.0

# Runs in a child process: argv[1] is the library to ask.
_PROBE = (
    "import ctypes, sys\n"
    "f = ctypes.CDLL(sys.argv[1]).otrl_version\n"
    "f.restype = ctypes.c_char_p\n"
    "sys.stdout.write(f().decode('ascii'))\n"
)


class ProvisionError(Exception):
    """libotr or its headers could not be found or fetched; the message says why."""


@dataclass(frozen=True)
class LibotrLocation:
    """Where libotr was found (``source``: env, system, cache or downloaded), or why not (``problem``)."""

    path: str | None
    version: str | None
    source: str
    problem: str | None

    @property
    def usable(self) -> bool:
        return self.problem is None and self.path is not None


# ------------------------------------------------------------------ locate


def locate(download: bool = True, *, system: bool | None = None) -> LibotrLocation:
    """Find libotr 4.1.1, downloading it into the cache if ``download``; never raises.

    ``system`` (default: ``OTRCHECK_LIBOTR_SYSTEM`` is not ``0``) allows the
    system library; turning it off exercises the path of a machine where
    libotr is not installed.
    """
    explicit = os.environ.get(ENV_PATH)
    if explicit:
        return _from_env(explicit)
    if _system_allowed(system):
        found = _system_library()
        if found is not None:
            return found
    else:
        log.info("libotr: system library lookup is off")
    try:
        root, meta, fresh = _component("lib", LIB_PACKAGES, _finish_lib, download=download)
    except ProvisionError as exc:
        log.warning("libotr %s unavailable: %s", LIBOTR_VERSION, exc)
        return LibotrLocation(None, None, "downloaded" if download else "cache", str(exc))
    path = str(root / meta["library"])
    source = "downloaded" if fresh else "cache"
    log.info("libotr: using %s (%s)", path, source)
    return LibotrLocation(path, str(meta["version"]), source, None)


def cache_root() -> Path:
    """``${XDG_CACHE_HOME:-~/.cache}/otrcheck/libotr/4.1.1``; a relative XDG_CACHE_HOME is ignored."""
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    base = Path(xdg) if os.path.isabs(xdg) else Path.home() / ".cache"
    return base / "otrcheck" / "libotr" / LIBOTR_VERSION


def library_version(path: str) -> str:
    """The version a libotr reports (``otrl_version()``), asked in a child process."""
    try:
        proc = subprocess.run(
            [sys.executable, "-I", "-c", _PROBE, path],
            capture_output=True,
            text=True,
            timeout=PROBE_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ProvisionError(f"cannot ask {path} for its version: {exc}") from exc
    if proc.returncode != 0:
        raise ProvisionError(f"cannot load {path}: {_tail(proc.stderr)}")
    return proc.stdout.strip()


def _from_env(path: str) -> LibotrLocation:
    if not os.path.isfile(path):
        return LibotrLocation(path, None, "env", f"{ENV_PATH}={path} is not a file")
    try:
        version = library_version(path)
    except ProvisionError as exc:
        return LibotrLocation(path, None, "env", f"{ENV_PATH}: {exc}")
    if version != LIBOTR_VERSION:
        return LibotrLocation(
            path, version, "env", f"{ENV_PATH}={path} is libotr {version}, not {LIBOTR_VERSION}"
        )
    log.info("libotr: using %s (%s)", path, ENV_PATH)
    return LibotrLocation(path, version, "env", None)


def _system_allowed(system: bool | None) -> bool:
    if system is not None:
        return system
    return os.environ.get(ENV_SYSTEM, "1").strip().lower() not in ("0", "no", "false", "off")


def _system_library() -> LibotrLocation | None:
    for candidate in _system_candidates():
        try:
            version = library_version(candidate)
        except ProvisionError as exc:
            log.info("libotr: skipping system %s: %s", candidate, exc)
            continue
        if version == LIBOTR_VERSION:
            log.info("libotr: using system %s", candidate)
            return LibotrLocation(candidate, version, "system", None)
        log.info("libotr: skipping system %s: version %s, not %s", candidate, version, LIBOTR_VERSION)
    return None


def _system_candidates() -> list[str]:
    found: list[str] = []
    seen: set[str] = set()

    def add(path: str) -> None:
        real = os.path.realpath(path)
        if real not in seen:
            seen.add(real)
            found.append(path)

    for path in _ldconfig_paths():
        add(path)
    for directory in _library_dirs():
        path = os.path.join(directory, SONAME)
        if os.path.exists(path):
            add(path)
    name = ctypes.util.find_library("otr")
    if name is not None and os.path.basename(name) == SONAME and not found:
        # Loadable by name though no directory we know holds it: let the dynamic loader resolve it.
        add(name)
    return found


def _ldconfig_paths() -> list[str]:
    exe = shutil.which("ldconfig") or next(
        (p for p in ("/sbin/ldconfig", "/usr/sbin/ldconfig") if os.path.exists(p)), None
    )
    if exe is None:
        return []
    try:
        out = subprocess.run([exe, "-p"], capture_output=True, text=True, timeout=30, check=False).stdout
    except (OSError, subprocess.TimeoutExpired):
        return []
    paths = []
    for line in out.splitlines():
        # "\tlibotr.so.5 (libc6,x86-64) => /usr/lib/x86_64-linux-gnu/libotr.so.5"
        match = re.match(r"\s*(\S+)\s+\(([^)]*)\)\s+=>\s+(\S+)\s*$", line)
        if match and match.group(1) == SONAME:
            paths.append(match.group(3))
    return paths


def _multiarch() -> str:
    triplet = sysconfig.get_config_var("MULTIARCH")
    return str(triplet) if triplet else f"{platform.machine()}-linux-gnu"


def _library_dirs() -> list[str]:
    triplet = _multiarch()
    return [f"/usr/lib/{triplet}", f"/lib/{triplet}", "/usr/lib64", "/usr/lib", "/usr/local/lib"]


# ------------------------------------------------------------------ headers


def include_dirs(download: bool = True, *, system: bool | None = None) -> list[Path]:
    """``-I`` directories for ``#include <libotr/proto.h>`` and the gcrypt.h it needs; raises ProvisionError.

    The first one holds ``libotr/``.  System headers count only if they are
    4.1.1's and gcrypt.h is installed too; otherwise the headers come from
    the cache, fetched like the library.
    """
    if _system_allowed(system):
        found = _system_include_dirs()
        if found:
            return found
    root, meta, _fresh = _component("headers", HEADER_PACKAGES, _finish_headers, download=download)
    return [root / rel for rel in meta["include_dirs"]]


def headers_dir(download: bool = True, *, system: bool | None = None) -> Path | None:
    """The include directory holding ``libotr/*.h`` (and gcrypt.h), or None, logging why."""
    try:
        return include_dirs(download, system=system)[0]
    except ProvisionError as exc:
        log.warning("libotr %s headers unavailable: %s", LIBOTR_VERSION, exc)
        return None


def _header_version(include: Path) -> str | None:
    try:
        text = (include / "libotr" / "version.h").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    match = re.search(r'#define\s+OTRL_VERSION\s+"([^"]*)"', text)
    return match.group(1) if match else None


def _gpg_error_dirs(include: Path) -> list[Path]:
    return [d for d in (include, include / _multiarch()) if (d / "gpg-error.h").is_file()]


def _system_include_dirs() -> list[Path]:
    include = Path("/usr/include")
    if _header_version(include) != LIBOTR_VERSION or not (include / "gcrypt.h").is_file():
        return []
    extra = [d for d in _gpg_error_dirs(include) if d != include]
    if not _gpg_error_dirs(include):
        return []
    return [include, *extra]


# ------------------------------------------------------------------ the cache


def _finish_lib(tree: Path, packages: dict[str, str]) -> dict[str, Any]:
    libs = sorted(tree.glob(f"usr/lib/*/{SONAME}")) + sorted(tree.glob(f"usr/lib/{SONAME}"))
    if not libs:
        raise ProvisionError(f"{SONAME} is not in the unpacked packages {sorted(packages)}")
    version = library_version(str(libs[0]))
    if version != LIBOTR_VERSION:
        raise ProvisionError(f"the packages {packages} hold libotr {version}, not {LIBOTR_VERSION}")
    return {"library": str(libs[0].relative_to(tree)), "version": version, "packages": packages}


def _finish_headers(tree: Path, packages: dict[str, str]) -> dict[str, Any]:
    include = tree / "usr" / "include"
    version = _header_version(include)
    if version != LIBOTR_VERSION:
        raise ProvisionError(f"the packages {packages} hold libotr headers {version}, not {LIBOTR_VERSION}")
    if not (include / "gcrypt.h").is_file():
        raise ProvisionError(f"gcrypt.h is not in the unpacked packages {sorted(packages)}")
    gpg = _gpg_error_dirs(include)
    if not gpg:
        raise ProvisionError(f"gpg-error.h is not in the unpacked packages {sorted(packages)}")
    dirs = [include, *(d for d in gpg if d != include)]
    relative = [str(d.relative_to(tree)) for d in dirs]
    return {"include_dirs": relative, "version": version, "packages": packages}


def _read_marker(component: Path) -> dict[str, Any] | None:
    try:
        meta: dict[str, Any] = json.loads((component / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    wanted = meta.get("library") or next(iter(meta.get("include_dirs") or []), None)
    if not isinstance(wanted, str) or not (component / wanted).exists():
        return None
    return meta


def _component(
    name: str,
    groups: Sequence[Sequence[str]],
    finish: Callable[[Path, dict[str, str]], dict[str, Any]],
    *,
    download: bool,
) -> tuple[Path, dict[str, Any], bool]:
    """The cache directory ``name``, its marker, and whether this call filled it."""
    try:
        base = cache_root()
    except RuntimeError as exc:  # no home directory
        raise ProvisionError(f"no cache directory: {exc}") from exc
    final = base / name
    meta = _read_marker(final)
    if meta is not None:
        return final, meta, False
    if not download:
        raise ProvisionError(f"libotr {LIBOTR_VERSION} ({name}) is not in the cache {final}; download is off")
    _require_tools()
    try:
        base.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ProvisionError(f"cannot create the cache {base}: {exc}") from exc
    with _exclusive(base / ".lock"):
        meta = _read_marker(final)
        if meta is not None:  # another process filled it while we waited
            return final, meta, False
        _remove_leftovers(base, final)
        log.warning("libotr %s: fetching %s into %s", LIBOTR_VERSION, name, final)
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=base))
        try:
            tree, debs = tmp / "tree", tmp / "debs"
            tree.mkdir()
            debs.mkdir()
            packages: dict[str, str] = {}
            for deb in _apt_download(groups, debs, tmp / "apt-state"):
                package, version = _deb_fields(deb)
                log.info("libotr: unpacking %s %s", package, version)
                _run(["dpkg-deb", "-x", str(deb), str(tree)], f"dpkg-deb -x {deb.name}")
                packages[package] = version
            meta = finish(tree, packages)
            (tree / MARKER).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n", encoding="utf-8")
            os.rename(tree, final)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    log.warning("libotr %s: %s ready in %s (%s)", LIBOTR_VERSION, name, final, meta["packages"])
    return final, meta, True


def _remove_leftovers(base: Path, final: Path) -> None:
    """Under the lock nobody else is provisioning: temp directories and unmarked components are debris."""
    for debris in [*base.glob(".tmp-*"), *([final] if final.exists() else [])]:
        log.info("libotr: removing leftover %s", debris)
        if debris.is_dir() and not debris.is_symlink():
            shutil.rmtree(debris, ignore_errors=True)
        else:
            debris.unlink(missing_ok=True)


@contextmanager
def _exclusive(lock: Path) -> Iterator[None]:
    with open(lock, "a+b") as handle:
        deadline = time.monotonic() + LOCK_TIMEOUT
        waiting = False
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not waiting:
                    log.warning("libotr: waiting for another process that is filling %s", lock.parent)
                    waiting = True
                if time.monotonic() > deadline:
                    raise ProvisionError(f"{lock} stayed locked for {LOCK_TIMEOUT:.0f} s") from None
                time.sleep(0.2)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _require_tools() -> None:
    missing = [tool for tool in ("apt-get", "dpkg-deb") if shutil.which(tool) is None]
    if missing:
        raise ProvisionError(
            f"{' and '.join(missing)} not found: libotr {LIBOTR_VERSION} is fetched from Debian or "
            f"Ubuntu packages; elsewhere install it and set {ENV_PATH}=/path/to/{SONAME}"
        )


def _apt_download(groups: Sequence[Sequence[str]], dest: Path, state: Path) -> list[Path]:
    """``apt-get download`` each group into ``dest``; on failure again with private package lists."""
    try:
        return _download_groups(groups, dest, [])
    except ProvisionError as exc:
        first = exc
    log.warning(
        "libotr: apt-get download with the system's package lists failed (%s); "
        "retrying with private package lists in %s",
        first,
        state,
    )
    for leftover in dest.iterdir():
        leftover.unlink()
    lists, cache = state / "lists", state / "cache"
    (lists / "partial").mkdir(parents=True)
    (cache / "archives" / "partial").mkdir(parents=True)
    private = ["-o", f"Dir::State::Lists={lists}", "-o", f"Dir::Cache={cache}", "-o", "Debug::NoLocking=1"]
    try:
        _apt(["update"], private, dest)
        return _download_groups(groups, dest, private)
    except ProvisionError as exc:
        raise ProvisionError(f"{first}; with private package lists: {exc}") from exc


def _download_groups(groups: Sequence[Sequence[str]], dest: Path, options: list[str]) -> list[Path]:
    if len(groups) > 1:
        try:  # the usual case, first names all present, in one apt run
            _apt(["download", *(group[0] for group in groups)], options, dest)
            return sorted(dest.glob("*.deb"))
        except ProvisionError as exc:
            if all(len(group) == 1 for group in groups):
                raise
            log.info("libotr: %s; trying the alternative package names one by one", exc)
        for leftover in dest.iterdir():
            leftover.unlink()
    for group in groups:
        errors = []
        for package in group:
            try:
                _apt(["download", package], options, dest)
                break
            except ProvisionError as exc:
                errors.append(str(exc))
        else:
            raise ProvisionError("; ".join(errors))
    return sorted(dest.glob("*.deb"))


def _apt(args: list[str], options: list[str], cwd: Path) -> None:
    command = ["apt-get", "-q", *options, *args]
    if os.geteuid() == 0:
        # apt drops to _apt for downloads, which cannot write into root's private cache.
        command[2:2] = ["-o", "APT::Sandbox::User=root"]
    _run(command, " ".join(["apt-get", *args]), cwd=cwd, timeout=APT_TIMEOUT)


def _deb_fields(deb: Path) -> tuple[str, str]:
    out = _run(["dpkg-deb", "-f", str(deb), "Package", "Version"], f"dpkg-deb -f {deb.name}")
    fields = dict(line.split(": ", 1) for line in out.splitlines() if ": " in line)
    return fields.get("Package", deb.name), fields.get("Version", "?")


def _run(command: list[str], what: str, *, cwd: Path | None = None, timeout: float = 120.0) -> str:
    log.info("libotr: running %s", " ".join(command))
    try:
        proc = subprocess.run(
            command,
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env={**os.environ, "LC_ALL": "C"},
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ProvisionError(f"{what}: {exc}") from exc
    if proc.returncode != 0:
        raise ProvisionError(f"{what} exited {proc.returncode}: {_tail(proc.stderr or proc.stdout)}")
    return proc.stdout


def _tail(text: str, lines: int = 3) -> str:
    kept = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return " | ".join(kept[-lines:]) or "(no output)"
