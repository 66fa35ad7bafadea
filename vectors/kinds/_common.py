"""What the core kinds share: document assembly, the ``x-parse`` call, and replay helpers.

Test ids are stable by construction: each group of a generator owns a
block of ids (its ``first_id``) and numbers its cases in order, so a case
appended to one group never renumbers another.  New cases go at the end
of their group's list; a removed case leaves a hole.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from implementations.api import AdapterError, ExtensionAdapter, Unsupported

from ..model import Target, Verdict

GENERATOR_VERSION = "otrcheck-vectors 1"
CRASH = "x-crash"


@dataclass
class Case:
    """One test before it gets its id: ``fields`` go into the test after tcId/comment/flags/result."""

    comment: str
    result: str
    fields: dict[str, Any]
    flags: Sequence[str] = ()


@dataclass
class Group:
    first_id: int
    block: int
    fields: dict[str, Any]
    cases: list[Case] = field(default_factory=list)

    def add(self, comment: str, result: str, flags: Sequence[str] = (), **fields: Any) -> None:
        self.cases.append(Case(comment, result, fields, tuple(flags)))


def document(
    kind: str,
    algorithm: str,
    header: list[str],
    notes: dict[str, dict[str, str]],
    groups: Iterable[Group],
) -> dict[str, Any]:
    """A Wycheproof-shaped document; checks id blocks and that every flag used is noted."""
    test_groups: list[dict[str, Any]] = []
    count = 0
    used: set[str] = set()
    ends: list[tuple[int, int]] = []
    for group in groups:
        if len(group.cases) > group.block:
            raise ValueError(f"group at {group.first_id} has {len(group.cases)} cases, block {group.block}")
        ends.append((group.first_id, group.first_id + group.block))
        tests = []
        for i, case in enumerate(group.cases):
            used.update(case.flags)
            tests.append(
                {
                    "tcId": group.first_id + i,
                    "comment": case.comment,
                    "flags": list(case.flags),
                    "result": case.result,
                    **case.fields,
                }
            )
        count += len(tests)
        test_groups.append({**group.fields, "tests": tests})
    ends.sort()
    for (_, end), (start, _) in itertools.pairwise(ends):
        if start < end:
            raise ValueError(f"id blocks overlap at {start}")
    missing = used - set(notes)
    if missing:
        raise ValueError(f"flags without notes: {sorted(missing)}")
    return {
        "algorithm": algorithm,
        "schema": f"{kind}.schema.json",
        "generatorVersion": GENERATOR_VERSION,
        "numberOfTests": count,
        "header": header,
        "notes": {name: notes[name] for name in sorted(used)},
        "testGroups": test_groups,
    }


def note(bug_type: str, description: str) -> dict[str, str]:
    return {"bugType": bug_type, "description": description}


# ----------------------------------------------------------------- replay


class NotServed(Exception):
    """The target does not serve this x-parse entry (it said ``unsupported``)."""


def x_parse(target: Target, entry: str, text: str) -> Any:
    """One ``x-parse`` request; :class:`NotServed` when the target has no such op or entry."""
    adapter = target.adapter
    if not isinstance(adapter, ExtensionAdapter):
        raise NotServed(f"{target.name} serves no extension ops")
    try:
        return adapter.extension("x-parse", {"entry": entry, "input": text}).fields.get("result")
    except Unsupported as exc:
        raise NotServed(exc.detail) from None


def crashed(answer: Any) -> str | None:
    """The exception an implementation reported instead of an answer (potr's ``{"x-crash": repr}``)."""
    if isinstance(answer, dict) and CRASH in answer:
        return str(answer[CRASH])
    return None


def show(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=True)
    return text if len(text) <= 120 else text[:117] + "..."


@dataclass
class Comparison:
    """Entry-by-entry comparison of one vector: each entry is strict, lenient, classifier, or wrong."""

    observed: dict[str, Any] = field(default_factory=dict)
    wrong: list[str] = field(default_factory=list)
    lenient: list[str] = field(default_factory=list)
    not_served: list[str] = field(default_factory=list)

    def check(
        self,
        entry: str,
        answer: Any,
        expected: Any,
        also: Sequence[Any] = (),
        also_kind: str = "lenient",
    ) -> None:
        self.observed[entry] = answer
        if crashed(answer) is not None:
            self.wrong.append(f"{entry}: raised {crashed(answer)}")
        elif answer == expected:
            return
        elif answer in also:
            self.lenient.append(f"{entry}: {also_kind} answer {show(answer)}")
        else:
            self.wrong.append(f"{entry}: {show(answer)}, expected {show(expected)}")

    def ask(
        self,
        target: Target,
        entry: str,
        text: str,
        expected: Any,
        also: Sequence[Any] = (),
        also_kind: str = "lenient",
    ) -> None:
        try:
            answer = x_parse(target, entry, text)
        except NotServed as exc:
            self.not_served.append(f"{entry} ({exc})")
            return
        self.check(entry, answer, expected, also, also_kind)

    def verdict(self) -> Verdict:
        if self.wrong:
            return Verdict("failed", "; ".join(self.wrong), self.observed)
        if not self.observed:
            return Verdict("skipped", "no comparable entry: " + "; ".join(self.not_served), None)
        detail = "; ".join(self.lenient)
        return Verdict("passed", f"acceptable: {detail}" if detail else "", self.observed)


def version_skip(target: Target, version: int | None) -> Verdict | None:
    """A skip when the vector needs OTR ``version`` and the target does not speak it (its ``hello``)."""
    if version is None or not target.protocol_versions or version in target.protocol_versions:
        return None
    speaks = "/".join(f"v{v}" for v in sorted(target.protocol_versions))
    return Verdict("skipped", f"{target.name} speaks OTR {speaks} only, not v{version}")


def guarded(replay: Callable[[], Verdict], what: str) -> Verdict:
    """Run a replay; an adapter error (a refused request, a crashed worker) fails the vector."""
    try:
        return replay()
    except AdapterError as exc:
        return Verdict("failed", f"{what}: {exc.kind}: {exc.detail}")


def number_groups(blocks: list[tuple[int, int, dict[str, Any]]]) -> list[dict[str, Any]]:
    """Give each group's tests the ids of its own block (first id, size), in order.

    A test keeps its id for good: new tests go at the end of their group, and
    no group's growth renumbers another.
    """
    groups = []
    for first_id, size, group in blocks:
        if len(group["tests"]) > size:
            raise ValueError(f"the group at {first_id} outgrew its block of {size} ids")
        tests = [{"tcId": first_id + i, **test} for i, test in enumerate(group["tests"])]
        groups.append({**group, "tests": tests})
    return groups


def notes_used(groups: list[dict[str, Any]], notes: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    """The notes of the flags the tests use, in the notes' order; a flag without a note is an error."""
    used = {flag for group in groups for test in group["tests"] for flag in test["flags"]}
    if used - set(notes):
        raise ValueError(f"flags without notes: {sorted(used - set(notes))}")
    return {flag: note for flag, note in notes.items() if flag in used}
