"""Find otr.js (npm ``otr`` 0.2.16) and Node.js, installing the package into a per-user cache on first use.

Lookup order of :func:`locate`:

1. ``OTRCHECK_OTRJS``: the directory of an installed ``otr`` package (the
   one holding its ``package.json``), used as given or reported as a
   problem; a broken override never silently falls back to another copy.
2. The cache, ``${XDG_CACHE_HOME:-~/.cache}/otrcheck/otrjs/0.2.16``.
3. ``npm install otr@0.2.16`` into the cache (no root needed).  The optional
   dependency ``webworker-threads`` (a native addon otr.js uses only for its
   experimental web-worker mode) is left out: nothing to compile.

Node.js itself comes from the machine (``node`` on PATH, or
``OTRCHECK_NODE``); without it the implementation is unavailable, and the
reason names the install command.

Invariant: :func:`locate` never raises; a :class:`Location` either carries
the command that serves otr.js over the peer protocol or the problem.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from .cache import ProvisionError, cache_base, component, run

log = logging.getLogger(__name__)

OTRJS_VERSION = "0.2.16"
ENV_PACKAGE = "OTRCHECK_OTRJS"
ENV_NODE = "OTRCHECK_NODE"
SHIM = Path(__file__).resolve().parent / "shim" / "main.js"
INSTALL_HINT = "install Node.js and npm (Debian: apt-get install nodejs npm)"
NPM_TIMEOUT = 600.0


@dataclass(frozen=True)
class Location:
    """Where otr.js was found (``source``: env, cache or downloaded) and how to run it, or ``problem``."""

    command: tuple[str, ...] | None
    version: str | None
    source: str
    problem: str | None
    package: Path | None = None


def cache_dir() -> Path:
    return cache_base() / "otrjs" / OTRJS_VERSION


def node() -> str | None:
    explicit = os.environ.get(ENV_NODE)
    return explicit or shutil.which("node") or shutil.which("nodejs")


def package_version(package: Path) -> str | None:
    try:
        meta = json.loads((package / "package.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    version = meta.get("version") if meta.get("name") == "otr" else None
    return version if isinstance(version, str) else None


def locate(download: bool = True) -> Location:
    """Find otr.js and node, installing otr@0.2.16 into the cache if ``download``; never raises."""
    runtime = node()
    if runtime is None:
        return Location(None, None, "none", f"node not found: {INSTALL_HINT}")
    explicit = os.environ.get(ENV_PACKAGE)
    if explicit:
        package = Path(explicit)
        version = package_version(package)
        if version is None:
            return Location(None, None, "env", f"{ENV_PACKAGE}={explicit} is not the npm package otr")
        return Location((runtime, str(SHIM), str(package)), version, "env", None, package)
    try:
        meta, fresh = component(cache_dir(), _npm_install, f"otr.js {OTRJS_VERSION}", create=download)
    except ProvisionError as exc:
        log.warning("otr.js %s unavailable: %s", OTRJS_VERSION, exc)
        return Location(None, None, "cache", str(exc))
    package = cache_dir() / meta["package"]
    version = package_version(package)
    if version != OTRJS_VERSION:
        return Location(None, version, "cache", f"{package} holds otr {version}, not {OTRJS_VERSION}")
    return Location(
        (runtime, str(SHIM), str(package)), version, "downloaded" if fresh else "cache", None, package
    )


def _npm_install(tree: Path) -> dict[str, str]:
    npm = shutil.which("npm")
    if npm is None:
        raise ProvisionError(f"npm not found: {INSTALL_HINT}")
    run(
        [
            npm, "install", "--prefix", str(tree), "--no-audit", "--no-fund", "--no-package-lock",
            "--omit=optional", "--ignore-scripts", "--no-save", f"otr@{OTRJS_VERSION}",
        ],
        f"npm install otr@{OTRJS_VERSION}",
        cwd=tree,
        env={"npm_config_update_notifier": "false"},
        timeout=NPM_TIMEOUT,
    )  # fmt: skip
    package = tree / "node_modules" / "otr"
    version = package_version(package)
    if version != OTRJS_VERSION:
        raise ProvisionError(f"npm installed otr {version}, not {OTRJS_VERSION}")
    return {"package": "node_modules/otr", "version": version}
