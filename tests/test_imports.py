"""The dependency direction of the source tree (style.md, "Layout"), read from the source with ``ast``.

* ``implementations/engine/**`` imports nothing of ours but ``implementations.api``
  (and modules of the engine itself);
* ``implementations/api.py`` imports nothing of ours;
* nothing in ``implementations/``, ``vectors/`` or ``fuzz/`` imports ``harness``;
* nothing outside ``tests/`` imports ``tests``.

Files are parsed, never imported, so a module that does not import cleanly
is still checked.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
OURS = frozenset({"implementations", "harness", "vectors", "fuzz", "tests"})


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported(source: str, module: str, is_package: bool = False) -> Iterator[tuple[int, str]]:
    """(line, dotted target) for every import in ``source``, relative ones made absolute.

    ``from a.b import c`` yields ``a.b.c``: ``c`` may be a submodule, and a
    name inside ``a.b`` is still "within" ``a.b``.  Calls of
    ``importlib.import_module`` or ``__import__`` with a literal name count too.
    """
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                prefix = ".".join([*base, node.module] if node.module else base)
            else:
                prefix = node.module or ""
            for alias in node.names:
                yield node.lineno, prefix if alias.name == "*" else f"{prefix}.{alias.name}"
        elif (
            isinstance(node, ast.Call)
            and (
                (isinstance(node.func, ast.Name) and node.func.id == "__import__")
                or (isinstance(node.func, ast.Attribute) and node.func.attr == "import_module")
            )
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            yield node.lineno, node.args[0].value


def within(target: str, prefix: str) -> bool:
    return target == prefix or target.startswith(prefix + ".")


def is_ours(target: str) -> bool:
    return target.partition(".")[0] in OURS


def python_files(*relative: str) -> list[Path]:
    files: list[Path] = []
    for rel in relative:
        path = ROOT / rel
        files.extend([path] if path.is_file() else sorted(path.rglob("*.py")))
    return files


def violations(files: Iterable[Path], rule: str) -> list[str]:
    """``path:line: imports target`` for each import in ``files`` that ``RULES[rule]`` forbids."""
    found = []
    for path in files:
        module = module_name(path)
        is_package = path.name == "__init__.py"
        for line, target in imported(path.read_text(encoding="utf-8"), module, is_package):
            if RULES[rule](module, target):
                found.append(f"{path.relative_to(ROOT)}:{line}: imports {target}")
    return found


def forbidden_in_engine(module: str, target: str) -> bool:
    allowed = within(target, "implementations.api") or within(target, "implementations.engine")
    return is_ours(target) and not allowed


def forbidden_in_api(module: str, target: str) -> bool:
    return is_ours(target)


def forbidden_harness(module: str, target: str) -> bool:
    return within(target, "harness")


def forbidden_tests(module: str, target: str) -> bool:
    return within(target, "tests")


RULES = {
    "engine": forbidden_in_engine,
    "api": forbidden_in_api,
    "harness": forbidden_harness,
    "tests": forbidden_tests,
}


def test_api_exists_where_the_rules_expect_it():
    assert (ROOT / "implementations" / "api.py").is_file()


def test_engine_imports_only_the_api_of_ours():
    assert violations(python_files("implementations/engine"), "engine") == []


def test_api_imports_nothing_of_ours():
    assert violations(python_files("implementations/api.py"), "api") == []


def test_nothing_below_the_harness_imports_it():
    assert violations(python_files("implementations", "vectors", "fuzz"), "harness") == []


def test_only_tests_import_tests():
    assert violations(python_files("implementations", "vectors", "fuzz", "harness"), "tests") == []


# The checker itself: a rule that can never fire would pass vacuously.


@pytest.mark.parametrize(
    ("source", "module", "is_package", "target"),
    [
        ("import harness.cli", "vectors.loader", False, "harness.cli"),
        ("from ..api import DsaKey", "implementations.engine._ake", False, "implementations.api.DsaKey"),
        ("from . import _codec", "implementations.engine._ake", False, "implementations.engine._codec"),
        ("from . import _codec", "implementations.engine", True, "implementations.engine._codec"),
        ("from ...harness import cli", "implementations.engine._ake", False, "harness.cli"),
        ("from ..peer import *", "implementations.engine._ake", False, "implementations.peer"),
        ("importlib.import_module('harness.runner')", "fuzz.targets", False, "harness.runner"),
        ("def f():\n    from harness import cli\n", "fuzz.targets", False, "harness.cli"),
    ],
)
def test_imported_resolves_targets(source, module, is_package, target):
    assert target in [t for _, t in imported(source, module, is_package)]


@pytest.mark.parametrize(
    ("rule", "module", "target", "forbidden"),
    [
        ("engine", "implementations.engine._ake", "implementations.api.DsaKey", False),
        ("engine", "implementations.engine._ake", "implementations.api", False),
        ("engine", "implementations.engine._ake", "implementations.engine._codec", False),
        ("engine", "implementations.engine._ake", "gmpy2", False),
        ("engine", "implementations.engine._ake", "implementations.peer", True),
        ("engine", "implementations.engine._ake", "implementations.apix", True),
        ("engine", "implementations.engine._ake", "vectors.loader", True),
        ("api", "implementations.api", "implementations.engine", True),
        ("api", "implementations.api", "dataclasses.dataclass", False),
        ("harness", "vectors.loader", "harness", True),
        ("harness", "vectors.loader", "harnessed", False),
    ],
)
def test_rules(rule, module, target, forbidden):
    assert RULES[rule](module, target) is forbidden
