"""The vector kinds: one module per kind, imported lazily.

A kind module (``vectors/kinds/<kind>.py``) defines, as :mod:`vectors.model` says:

* ``KIND``: its name, which is also the directory of its files (``vectors/<kind>/``)
  and the stem of its schema (``vectors/schemas/<kind>.schema.json``);
* ``generate() -> dict``: deterministic; either one vector document (it has
  ``testGroups``), written to ``vectors/<kind>/<FILENAME>`` (the module's
  ``FILENAME``, default ``otr_<kind>.json``), or a mapping of file names to
  documents when the kind has several files;
* ``replay(vector, target) -> Verdict``.

A kind whose module is missing is simply not there (the other kinds work);
one that fails to import is reported with the reason by :func:`problems`.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

KIND_NAMES = ("parse", "base64", "tlv", "fragment", "regression", "kdf", "dsa", "smp", "transcript")
"""Every kind the corpus knows, in report order; a kind without a module is skipped."""

_loaded: dict[str, ModuleType | None] = {}
_problems: dict[str, str] = {}


def load(kind: str) -> ModuleType | None:
    """The module of ``kind``, or None when it does not exist or does not import (see :func:`problems`)."""
    if kind in _loaded:
        return _loaded[kind]
    name = f"{__name__}.{kind}"
    module: ModuleType | None
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name != name:
            _problems[kind] = f"{name} does not import: {exc!r}"
        module = None
    except Exception as exc:  # a half-written kind must not take the others down
        _problems[kind] = f"{name} does not import: {exc!r}"
        module = None
    _loaded[kind] = module
    return module


def available() -> dict[str, ModuleType]:
    """Every kind whose module imports, by name, in :data:`KIND_NAMES` order."""
    found = {kind: load(kind) for kind in KIND_NAMES}
    return {kind: module for kind, module in found.items() if module is not None}


def problems() -> dict[str, str]:
    """Kinds whose module exists but failed to import, with the reason."""
    available()
    return dict(_problems)


def documents(module: ModuleType) -> dict[str, dict[str, Any]]:
    """``generate()``'s output as {file name: document}."""
    produced: dict[str, Any] = module.generate()
    if "testGroups" in produced:
        return {getattr(module, "FILENAME", f"otr_{module.KIND}.json"): produced}
    return produced
