"""Find vector files and read them into :class:`~vectors.model.Vector` objects.

Layout: ``vectors/<kind>/<name>.json``; the directory names the kind.  A
path given by the user may be a file or a directory (searched recursively);
``vectors/schemas`` and ``vectors/divergences`` hold no vectors and are
never searched.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from .model import Vector

ROOT = Path(__file__).resolve().parent
"""The corpus: this package's directory."""

SCHEMA_DIR = ROOT / "schemas"
NOT_VECTORS = frozenset({"schemas", "divergences", "kinds", "tools", "__pycache__"})


class VectorFileError(ValueError):
    """A file that cannot be read as a vector document."""


def vector_files(paths: Iterable[Path | str] | None = None) -> list[Path]:
    """Every vector file under ``paths`` (default: the whole corpus), sorted, each once."""
    found: dict[Path, None] = {}
    for raw in paths or [ROOT]:
        path = Path(raw).resolve()
        if path.is_file():
            found[path] = None
        elif path.is_dir():
            for candidate in sorted(path.rglob("*.json")):
                base = ROOT if candidate.is_relative_to(ROOT) else path
                if not NOT_VECTORS & set(candidate.relative_to(base).parts[:-1]):
                    found[candidate] = None
        else:
            raise VectorFileError(f"{raw}: no such file or directory")
    return sorted(found)


def kind_of(path: Path) -> str:
    """The kind of a vector file: the name of its directory."""
    return path.resolve().parent.name


def read_document(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise VectorFileError(f"{path}: {exc}") from exc
    if not isinstance(document, dict) or not isinstance(document.get("testGroups"), list):
        raise VectorFileError(f"{path}: not a vector document (no testGroups)")
    return document


def vectors_of(path: Path, document: dict[str, Any] | None = None) -> Iterator[Vector]:
    """The tests of one file, each with its group's other fields in ``group``."""
    document = read_document(path) if document is None else document
    kind = kind_of(path)
    for group in document["testGroups"]:
        shared = {key: value for key, value in group.items() if key != "tests"}
        for test in group["tests"]:
            yield Vector(
                kind=kind,
                file=path.name,
                tc_id=int(test["tcId"]),
                comment=str(test.get("comment", "")),
                flags=tuple(test.get("flags", ())),
                result=str(test["result"]),
                test=test,
                group=shared,
            )


def load(paths: Iterable[Path | str] | None = None) -> list[Vector]:
    """Every vector under ``paths`` (default: the whole corpus), file by file, in file order."""
    return [vector for path in vector_files(paths) for vector in vectors_of(path)]


def canonical_json(document: dict[str, Any]) -> str:
    """How vector files are written: two-space indent, keys in the generator's order, ASCII-safe."""
    return json.dumps(document, indent=2, ensure_ascii=True) + "\n"
