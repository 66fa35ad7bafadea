"""Find coyim/otr3 and a Go toolchain, and build the otr3 shim into a per-user cache on first use.

otr3 comes as Debian packages it (``golang-github-twstrike-otr3-dev``, a
2016 snapshot, GOPATH layout under ``/usr/share/gocode``), built with Go in
GOPATH mode: ``GO111MODULE=off GOPATH=<own>:<gocode>``.

Lookup order of :func:`locate`:

1. ``OTRCHECK_OTR3_SHIM``: an already built shim binary, used as given.
2. The system's ``go`` and ``/usr/share/gocode/src/github.com/twstrike/otr3``
   when both are installed (``apt-get install golang-go
   golang-github-twstrike-otr3-dev``), unless ``OTRCHECK_OTR3_SYSTEM=0``.
3. Otherwise the same packages fetched without root, as libotr is:
   ``apt-get download`` of the Go toolchain ``golang-go`` depends on
   (``golang-1.19-go`` and ``golang-1.19-src`` on Debian 12) and of
   ``golang-github-twstrike-otr3-dev``, unpacked with ``dpkg-deb -x`` into
   ``${XDG_CACHE_HOME:-~/.cache}/otrcheck/otr3/``; Go runs from there with
   ``GOROOT`` pointing at it.

The shim (``shim/*.go``) is then built into the cache, in a directory named
after a hash of its sources and of the toolchain, so an edited shim is
rebuilt and an unchanged one is not.

Invariant: :func:`locate` never raises; a :class:`Location` either carries
the shim's command or the problem, and the problem ends with the exact
command that installs what is missing.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from implementations.otrjs.cache import (
    ProvisionError,
    apt_depends,
    apt_download,
    cache_base,
    component,
    deb_fields,
    run,
)

log = logging.getLogger(__name__)

OTR3_PACKAGE = "golang-github-twstrike-otr3-dev"
OTR3_IMPORT = "github.com/twstrike/otr3"
SYSTEM_GOCODE = Path("/usr/share/gocode")
INSTALL_COMMAND = f"apt-get install golang-go {OTR3_PACKAGE}"
ENV_SHIM = "OTRCHECK_OTR3_SHIM"
ENV_SYSTEM = "OTRCHECK_OTR3_SYSTEM"
FALLBACK_TOOLCHAIN = ("golang-1.19-go", "golang-1.19-src")
SHIM_DIR = Path(__file__).resolve().parent / "shim"
BINARY = "otr3-shim"
BUILD_TIMEOUT = 600.0


@dataclass(frozen=True)
class Location:
    """The shim's command and the otr3 it was built against (``source``), or the ``problem``."""

    command: tuple[str, ...] | None
    version: str | None
    source: str
    problem: str | None
    package: Path | None = None


@dataclass(frozen=True)
class Toolchain:
    go: Path
    goroot: Path | None  # None: the system's go knows its own
    gocode: Path  # the GOPATH entry holding src/github.com/twstrike/otr3
    otr3_version: str
    go_version: str
    source: str


def cache_dir() -> Path:
    return cache_base() / "otr3"


def locate(download: bool = True) -> Location:
    """Find or fetch the toolchain and otr3, build the shim if needed; never raises."""
    explicit = os.environ.get(ENV_SHIM)
    if explicit:
        if not os.access(explicit, os.X_OK):
            return Location(None, None, "env", f"{ENV_SHIM}={explicit} is not an executable")
        return Location((explicit,), "env", "env", None, Path(explicit))
    try:
        tools = toolchain(download)
        binary = build(tools)
    except ProvisionError as exc:
        log.warning("otr3 unavailable: %s", exc)
        return Location(None, None, "none", f"{exc}; to install: {INSTALL_COMMAND}")
    command = (str(binary), tools.otr3_version)
    return Location(command, tools.otr3_version, tools.source, None, tools.gocode / "src" / OTR3_IMPORT)


def toolchain(download: bool = True) -> Toolchain:
    if os.environ.get(ENV_SYSTEM, "1").strip().lower() not in ("0", "no", "false", "off"):
        found = _system_toolchain()
        if found is not None:
            return found
    meta, _fresh = component(cache_dir() / "toolchain", _fetch_toolchain, "otr3 toolchain", create=download)
    root = cache_dir() / "toolchain"
    return Toolchain(
        go=root / meta["go"],
        goroot=root / meta["goroot"],
        gocode=root / meta["gocode"],
        otr3_version=meta["otr3_version"],
        go_version=meta["go_version"],
        source="cache",
    )


def _system_toolchain() -> Toolchain | None:
    go = shutil.which("go")
    if go is None or not (SYSTEM_GOCODE / "src" / OTR3_IMPORT / "conversation.go").is_file():
        return None
    try:
        version = run(["dpkg-query", "-W", "-f", "${Version}", OTR3_PACKAGE], "dpkg-query").strip()
    except ProvisionError:
        version = "unknown"
    go_version = run([go, "env", "GOVERSION"], "go env GOVERSION").strip()
    return Toolchain(Path(go), None, SYSTEM_GOCODE, version, go_version, "system")


def _toolchain_packages() -> list[str]:
    """The versioned Go packages ``golang-go`` stands for here (``golang-1.19-go`` + ``-src``)."""
    versioned = [d for d in apt_depends("golang-go") if re.fullmatch(r"golang-1\.\d+-go", d)]
    if not versioned:
        return list(FALLBACK_TOOLCHAIN)
    go = versioned[0]
    return [go, go.removesuffix("-go") + "-src"]


def _fetch_toolchain(tree: Path) -> dict[str, Any]:
    debs, state, root = tree / ".debs", tree / ".apt-state", tree / "root"
    debs.mkdir()
    root.mkdir()
    packages: dict[str, str] = {}
    for deb in apt_download([*_toolchain_packages(), OTR3_PACKAGE], debs, state):
        name, version = deb_fields(deb)
        run(["dpkg-deb", "-x", str(deb), str(root)], f"dpkg-deb -x {deb.name}")
        packages[name] = version
    shutil.rmtree(debs, ignore_errors=True)
    shutil.rmtree(state, ignore_errors=True)
    gos = sorted(root.glob("usr/lib/go-*/bin/go"))
    if not gos:
        raise ProvisionError(f"no Go toolchain in the unpacked packages {sorted(packages)}")
    go = gos[-1]
    goroot = go.parent.parent
    gocode = root / "usr" / "share" / "gocode"
    if not (gocode / "src" / OTR3_IMPORT / "conversation.go").is_file():
        raise ProvisionError(f"otr3's sources are not in the unpacked packages {sorted(packages)}")
    go_version = run([str(go), "env", "GOVERSION"], "go env GOVERSION", env={"GOROOT": str(goroot)}).strip()
    return {
        "go": str(go.relative_to(tree)),
        "goroot": str(goroot.relative_to(tree)),
        "gocode": str(gocode.relative_to(tree)),
        "go_version": go_version,
        "otr3_version": packages.get(OTR3_PACKAGE, "unknown"),
        "packages": packages,
    }


def shim_sources() -> list[Path]:
    return sorted(SHIM_DIR.glob("*.go"))


def build(tools: Toolchain) -> Path:
    """The shim binary built from ``shim/*.go`` with ``tools``, building it when its hash is new."""
    digest = hashlib.sha256()
    for path in shim_sources():
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    digest.update(f"{tools.go_version}/{tools.otr3_version}/{tools.gocode}".encode())
    final = cache_dir() / f"shim-{digest.hexdigest()[:16]}"

    def compile_into(tree: Path) -> dict[str, Any]:
        env = {
            "GO111MODULE": "off",
            "GOPATH": f"{tree / 'gopath'}:{tools.gocode}",
            "GOCACHE": str(cache_dir() / "gocache"),
            "CGO_ENABLED": "0",
            "GOFLAGS": "",
            "GOTOOLCHAIN": "local",
        }
        if tools.goroot is not None:
            env["GOROOT"] = str(tools.goroot)
        run([str(tools.go), "build", "-o", str(tree / BINARY), "."], "go build (otr3 shim)",
            cwd=SHIM_DIR, env=env, timeout=BUILD_TIMEOUT)  # fmt: skip
        shutil.rmtree(tree / "gopath", ignore_errors=True)
        return {"binary": BINARY, "go_version": tools.go_version, "otr3_version": tools.otr3_version}

    component(final, compile_into, "otr3 shim")
    return final / BINARY
