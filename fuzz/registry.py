"""The fuzz targets by name: what each one fuzzes and how, without importing any implementation.

The functions live in :mod:`fuzz.targets`; this table is what the atheris
wrappers, ``otrcheck fuzz`` and the tests read first, so that atheris can
instrument the implementation's modules before anything imports them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

FUZZ_DIR = Path(__file__).resolve().parent
CORPUS_DIR = FUZZ_DIR / "corpus"
DICTIONARY_DIR = FUZZ_DIR / "dictionaries"


@dataclass(frozen=True)
class Target:
    name: str
    implementation: str
    """engine, libotr, potr, or all (the differential target)."""
    instrument: tuple[str, ...]
    """Modules atheris instruments for coverage (imported first, with their submodules' imports)."""
    structured: bool = True
    """The input holds OTR messages: the structure-aware mutator (fuzz/mutator.py) is used."""
    text: bool = True
    """The input is text (a dictionary of OTR markers helps)."""

    @property
    def function(self) -> Callable[[bytes], None]:
        from fuzz import targets

        function: Callable[[bytes], None] = getattr(targets, self.name)
        return function

    @property
    def native(self) -> bool:
        """Loads libotr into the fuzzing process: a crash there ends the process."""
        return self.implementation in ("libotr", "all")

    @property
    def wrapper(self) -> Path:
        return FUZZ_DIR / f"fuzz_{self.name}.py"

    @property
    def corpus(self) -> Path:
        return CORPUS_DIR / self.name

    @property
    def dictionary(self) -> Path:
        return DICTIONARY_DIR / f"{self.name}.dict"


_ENGINE = ("implementations.engine",)
_LIBOTR = ("implementations.libotr.parsers", "implementations.libotr.adapter")
TARGETS: dict[str, Target] = {
    t.name: t
    for t in (
        Target("engine_wire", "engine", _ENGINE),
        Target("engine_fragments", "engine", _ENGINE),
        Target("engine_tlv", "engine", _ENGINE, structured=False, text=False),
        Target("engine_smp", "engine", _ENGINE, structured=False, text=False),
        Target("engine_receive", "engine", _ENGINE),
        Target("potr_parse", "potr", ("potr",)),
        Target("potr_receive", "potr", ("potr",)),
        Target("libotr_parse", "libotr", _LIBOTR),
        Target("libotr_receive", "libotr", _LIBOTR),
        Target(
            "differential",
            "all",
            ("implementations.engine", *_LIBOTR, "implementations.potr.adapter", "potr"),
        ),
    )
}
