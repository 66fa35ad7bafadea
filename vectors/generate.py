"""Write the vector files from their generators, or check that the committed files match them.

Each kind's ``generate()`` is deterministic (seeded engines, fixed inputs),
so the committed files must equal its output byte for byte;
:func:`differences` is what the test and ``otrcheck vectors generate
--check`` use to keep them from drifting.
"""

from __future__ import annotations

from pathlib import Path

from . import kinds, loader


def rendered(kind: str) -> dict[Path, str]:
    """The files ``kind``'s generator produces: path -> text."""
    module = kinds.load(kind)
    if module is None:
        raise KeyError(kinds.problems().get(kind, f"no vector kind {kind!r}"))
    return {
        loader.ROOT / kind / name: loader.canonical_json(doc) for name, doc in kinds.documents(module).items()
    }


def write(selected: list[str] | None = None) -> list[Path]:
    """(Re)write the files of the ``selected`` kinds (default: every kind with a module)."""
    written: list[Path] = []
    for kind in selected or list(kinds.available()):
        for path, text in rendered(kind).items():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            written.append(path)
    return written


def differences(selected: list[str] | None = None) -> list[str]:
    """Files that differ from their generator's output (or are missing)."""
    problems: list[str] = []
    for kind in selected or list(kinds.available()):
        for path, text in rendered(kind).items():
            rel = path.relative_to(loader.ROOT)
            if not path.exists():
                problems.append(f"{rel}: missing (run `otrcheck vectors generate {kind}`)")
            elif path.read_text(encoding="utf-8") != text:
                problems.append(
                    f"{rel}: differs from {kind}.generate() (run `otrcheck vectors generate {kind}`)"
                )
    return problems
