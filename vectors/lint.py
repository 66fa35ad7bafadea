"""Lint the corpus: schema validity, test ids, counts, flags, results, divergence files.

Checks, per vector file (``vectors/<kind>/<name>.json``):

* it validates against ``vectors/schemas/<kind>.schema.json`` (JSON Schema
  2020-12; schemas may ``$ref`` each other by ``$id`` or by file name) and
  its ``schema`` field names that file;
* every ``tcId`` is a positive integer, unique in the file;
* ``numberOfTests`` is the number of tests;
* every flag a test uses is explained in ``notes``;
* every ``result`` is one of :data:`vectors.model.RESULTS`.

And per divergence file (``vectors/divergences/<impl>.toml``), through
:func:`vectors.divergences.load`: well-formed entries, each naming vectors
that exist and, when a findings index is given, a finding listed there
(or marked ``proposed`` and not yet listed).

``jsonschema`` comes with the ``test`` extra; it is imported when needed.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from . import divergences, loader
from .model import RESULTS


def _schemas(schema_dir: Path) -> tuple[dict[str, dict[str, Any]], Any]:
    """Every schema by file name, and a ``referencing`` registry resolving ``$ref`` between them."""
    referencing = importlib.import_module("referencing")
    drafts = importlib.import_module("referencing.jsonschema")
    by_name: dict[str, dict[str, Any]] = {}
    resources: list[tuple[str, Any]] = []
    for path in sorted(schema_dir.glob("*.schema.json")):
        schema = json.loads(path.read_text(encoding="utf-8"))
        by_name[path.name] = schema
        resource = referencing.Resource.from_contents(schema, default_specification=drafts.DRAFT202012)
        resources.append((path.name, resource))
        if isinstance(schema.get("$id"), str):
            resources.append((schema["$id"], resource))
    return by_name, referencing.Registry().with_resources(resources)


def lint_document(
    kind: str, name: str, document: dict[str, Any], schema: dict[str, Any] | None, registry: Any
) -> list[str]:
    """Problems in one vector document, each prefixed with ``kind/name``."""
    where = f"{kind}/{name}"
    problems: list[str] = []
    if schema is None:
        problems.append(f"{where}: no schema vectors/schemas/{kind}.schema.json")
    else:
        jsonschema = importlib.import_module("jsonschema")
        validator = jsonschema.Draft202012Validator(schema, registry=registry)
        for error in sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path)):
            path = "/".join(str(p) for p in error.absolute_path) or "(top)"
            problems.append(f"{where}: schema: at {path}: {error.message[:300]}")
    if document.get("schema") != f"{kind}.schema.json":
        problems.append(f"{where}: schema field is {document.get('schema')!r}, expected '{kind}.schema.json'")
    raw_notes = document.get("notes")
    notes: dict[str, Any] = raw_notes if isinstance(raw_notes, dict) else {}
    seen: set[int] = set()
    count = 0
    for g, group in enumerate(document.get("testGroups", [])):
        for t, test in enumerate(group.get("tests", []) if isinstance(group, dict) else []):
            count += 1
            at = f"{where}: testGroups[{g}].tests[{t}]"
            tc_id = test.get("tcId") if isinstance(test, dict) else None
            if not isinstance(tc_id, int) or isinstance(tc_id, bool) or tc_id < 1:
                problems.append(f"{at}: tcId {tc_id!r} is not a positive integer")
            elif tc_id in seen:
                problems.append(f"{at}: tcId {tc_id} is used twice")
            else:
                seen.add(tc_id)
            if not isinstance(test, dict):
                continue
            for flag in test.get("flags", []):
                if flag not in notes:
                    problems.append(f"{at} (tcId {tc_id}): flag {flag!r} is not explained in notes")
            if test.get("result") not in RESULTS:
                problems.append(f"{at} (tcId {tc_id}): result {test.get('result')!r} not in {RESULTS}")
    if document.get("numberOfTests") != count:
        problems.append(f"{where}: numberOfTests is {document.get('numberOfTests')!r}, the file has {count}")
    return problems


def lint_files(
    paths: Iterable[Path | str] | None = None,
    schema_dir: Path = loader.SCHEMA_DIR,
) -> list[str]:
    """Problems in the vector files under ``paths`` (default: the whole corpus)."""
    schemas, registry = _schemas(schema_dir)
    problems: list[str] = []
    for path in loader.vector_files(paths):
        kind = loader.kind_of(path)
        try:
            document = loader.read_document(path)
        except loader.VectorFileError as exc:
            problems.append(str(exc))
            continue
        problems.extend(
            lint_document(kind, path.name, document, schemas.get(f"{kind}.schema.json"), registry)
        )
    return problems


def lint_divergences(
    directory: Path = divergences.DIVERGENCE_DIR,
    findings_index: Path | None = None,
) -> list[str]:
    """Problems in the divergence files: malformed entries, unknown vectors, unknown findings."""
    try:
        entries = divergences.load(directory)
    except divergences.DivergenceError as exc:
        return [str(exc)]
    idents = {vector.ident for vector in loader.load()}
    known = divergences.finding_ids(findings_index) if findings_index is not None else None
    problems: list[str] = []
    for entry in entries:
        where = f"divergences/{entry.implementation}.toml ({entry.finding})"
        if not any(entry.matches(ident) for ident in idents):
            problems.append(f"{where}: matches no vector: {list(entry.patterns)}")
        if known is None:
            continue
        if entry.proposed and entry.finding in known:
            problems.append(f"{where}: {entry.finding} is written up now; drop `proposed`")
        if not entry.proposed and entry.finding not in known:
            problems.append(f"{where}: finding {entry.finding} is not in {findings_index}")
    return problems


def lint(findings_index: Path | None = None) -> list[str]:
    """Everything: the vector files, then the divergence files."""
    return lint_files() + lint_divergences(findings_index=findings_index)
