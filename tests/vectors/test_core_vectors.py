"""The core vector kinds (parse, base64, tlv, fragment, regression) and the corpus machinery.

* the committed files lint clean and equal their generators' output;
* every kind with files replays against the engine with no failure;
* parse, base64 and tlv replay against libotr (one worker for the module)
  and potr with only the expected disagreements of vectors/divergences,
  each tied to a finding of docs/findings/README.md (or marked proposed);
* the regression file replays against every implementation it names;
* the runner's settling (expected, unexpectedly agreeing), the lint, the
  divergence files, the reassemble entry and the CLI behave as documented.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import json
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness import cli, impls
from implementations.api import BadRequest, Result, Unsupported
from implementations.engine import EngineAdapter
from implementations.peer import PeerProcess
from vectors import divergences, generate, kinds, lint, loader, runner
from vectors.divergences import Disagreement
from vectors.model import Target, Vector, Verdict

ROOT = Path(__file__).resolve().parents[2]
FINDINGS = ROOT / "docs" / "findings" / "README.md"
CORE = ("parse", "base64", "tlv", "fragment", "regression")
MINIMUM = {"parse": 200, "base64": 40, "tlv": 40, "fragment": 40, "regression": 15}
PARSER_KINDS = ("parse", "base64", "tlv")


@functools.cache
def corpus(kind: str) -> tuple[Vector, ...]:
    return tuple(v for v in loader.load() if v.kind == kind)


@functools.cache
def entries() -> tuple[Disagreement, ...]:
    return tuple(divergences.load())


@pytest.fixture(scope="module")
def targets() -> Iterator[dict[str, Target]]:
    """engine and potr in-process, libotr in one worker process for the whole module."""
    made: dict[str, Target] = {}
    for name in ("engine", "libotr", "potr"):
        impl = impls.get(name)
        if impl.available:
            made[name] = runner.target_for(name, impl.make())
    yield made
    for target in made.values():
        if isinstance(target.adapter, PeerProcess):
            target.adapter.close()


def need(targets: dict[str, Target], name: str) -> Target:
    if name not in targets:
        pytest.fail(f"{name} is unavailable: {impls.get(name).unavailable}", pytrace=False)
    return targets[name]


def replayed(kind: str, target: Target) -> runner.Run:
    return runner.replay(corpus(kind), target, entries())


def explain(run: runner.Run) -> str:
    return "\n".join(
        f"{o.status} {o.vector.ident} {o.vector.comment}: {o.verdict.detail}" for o in run.failed
    )


# ------------------------------------------------------------------ the files


def test_the_committed_files_lint_clean() -> None:
    assert lint.lint_files() == []


def test_the_divergence_files_lint_clean_against_the_findings_index() -> None:
    assert lint.lint_divergences(findings_index=FINDINGS) == []


@pytest.mark.parametrize("kind", CORE)
def test_the_committed_file_equals_what_the_generator_writes(kind: str) -> None:
    assert generate.differences([kind]) == []


@pytest.mark.parametrize("kind", CORE)
def test_each_core_kind_has_at_least_the_required_number_of_vectors(kind: str) -> None:
    assert len(corpus(kind)) >= MINIMUM[kind]


def test_the_core_kinds_hold_at_least_400_vectors_together() -> None:
    assert sum(len(corpus(kind)) for kind in CORE) >= 400


def test_every_file_lives_in_the_directory_of_its_kind_with_the_matching_schema() -> None:
    for path in loader.vector_files():
        document = loader.read_document(path)
        assert document["schema"] == f"{path.parent.name}.schema.json", path
        assert (loader.SCHEMA_DIR / document["schema"]).is_file()


def test_generation_is_deterministic() -> None:
    for kind in ("parse", "tlv"):
        module = kinds.load(kind)
        assert module is not None
        assert module.generate() == module.generate()


# ---------------------------------------------------------------- the engine


def kinds_with_files() -> list[str]:
    return sorted({loader.kind_of(path) for path in loader.vector_files()})


@pytest.mark.parametrize("kind", kinds_with_files())
def test_every_kind_replays_against_the_engine_without_a_failure(
    targets: dict[str, Target], kind: str
) -> None:
    run = replayed(kind, need(targets, "engine"))
    assert run.ok, explain(run)
    assert run.count(runner.PASSED) > 0


def test_the_engine_is_compared_on_every_core_vector(targets: dict[str, Target]) -> None:
    engine = need(targets, "engine")
    for kind in CORE:
        run = replayed(kind, engine)
        assert run.count(runner.SKIPPED) == 0, [
            o.verdict.detail for o in run.outcomes if o.status == "skipped"
        ]


# ----------------------------------------------------- libotr and potr parsers


@pytest.mark.interop
@pytest.mark.parametrize("name", ["libotr", "potr"])
@pytest.mark.parametrize("kind", PARSER_KINDS)
def test_parser_vectors_replay_with_only_expected_disagreements(
    targets: dict[str, Target], name: str, kind: str
) -> None:
    run = replayed(kind, need(targets, name))
    assert run.ok, explain(run)
    if name == "libotr" or kind != "base64":  # potr has no base64 parser of its own
        assert run.count(runner.PASSED) > 0


@pytest.mark.interop
def test_every_expected_disagreement_names_a_finding_of_the_index_or_says_it_is_proposed() -> None:
    known = divergences.finding_ids(FINDINGS)
    proposed = sorted({e.finding for e in entries() if e.proposed})
    for entry in entries():
        assert entry.finding in known or entry.proposed, entry
        assert not (entry.proposed and entry.finding in known), (
            f"{entry.finding} is written up: drop `proposed`"
        )
    if proposed:
        warnings.warn(f"proposed findings not yet in docs/findings: {proposed}", stacklevel=1)


@pytest.mark.interop
def test_libotr_disagrees_where_its_findings_say(targets: dict[str, Target]) -> None:
    run = runner.replay([*corpus("parse"), *corpus("base64")], need(targets, "libotr"), entries())
    findings = {o.divergence.finding for o in run.outcomes if o.status == runner.EXPECTED and o.divergence}
    assert findings == {"LIBOTR-004", "LIBOTR-006"}


# ---------------------------------------------------------------- regressions


def regression_cells() -> list[tuple[Vector, str]]:
    return [(v, name) for v in corpus("regression") for name in v.test["replay_on"]]


@pytest.mark.interop
@pytest.mark.parametrize(
    ("vector", "name"), regression_cells(), ids=[f"{v.tc_id}-{n}" for v, n in regression_cells()]
)
def test_every_regression_replays_against_every_implementation_it_names(
    targets: dict[str, Target], vector: Vector, name: str
) -> None:
    target = need(targets, name)
    outcome = runner.settle(vector, name, runner.replay_one(vector, target), entries())
    if outcome.status == runner.SKIPPED:
        assert "speaks OTR" in outcome.verdict.detail or "no parser" in outcome.verdict.detail, outcome
    else:
        assert outcome.status in (runner.PASSED, runner.EXPECTED), (
            f"{outcome.status}: {outcome.verdict.detail}"
        )


def test_every_finding_with_an_input_has_a_regression_vector() -> None:
    named = {v.test["finding"] for v in corpus("regression")}
    wanted = {"ENGINE-001", "ENGINE-002", "ENGINE-003", "POTR-001", "POTR-004", "LIBOTR-004"}
    wanted |= {"LIBOTR-005", "LIBOTR-006", "LIBOTR-012", "CVE-2012-3461", "CVE-2016-2851"}
    assert wanted <= named
    for vector in corpus("regression"):
        assert vector.test["implementation"] and vector.test["version"], vector.ident


def test_the_recorded_engine_regression_fails_when_the_answer_changes(targets: dict[str, Target]) -> None:
    [vector, *_] = [v for v in corpus("regression") if v.test["mode"] == "steps"]
    test = copy.deepcopy(vector.test)
    test["steps"][1]["events"] = ["secure"]
    verdict = runner.replay_one(dataclasses.replace(vector, test=test), need(targets, "engine"))
    assert verdict.status == "failed" and "step 2" in verdict.detail


# -------------------------------------------------------------- the replayers


def tweaked(vector: Vector, **changes: Any) -> Vector:
    test = copy.deepcopy(vector.test)
    for path, value in changes.items():
        node = test
        *parents, last = path.split("__")
        for key in parents:
            node = node[key]
        node[last] = value
    return dataclasses.replace(vector, test=test)


def by_id(kind: str, tc_id: int) -> Vector:
    return next(v for v in corpus(kind) if v.tc_id == tc_id)


@pytest.mark.parametrize(
    ("kind", "tc_id", "changes"),
    [
        ("parse", 1, {"expected__message_type": "query"}),
        ("parse", 401, {"expected__fields__hashed_gx": "00" * 32}),
        ("parse", 801, {"expected__reason": "trailing_bytes"}),
        ("parse", 101, {"expected__whitespace_version__stripped": "other"}),
        ("base64", 1, {"expected": {"ok": False, "data": None}}),
        ("tlv", 1, {"expected": []}),
        ("fragment", 1, {"expected": []}),
    ],
)
def test_a_changed_expectation_fails_the_engine(
    targets: dict[str, Target], kind: str, tc_id: int, changes: dict[str, Any]
) -> None:
    vector = by_id(kind, tc_id)
    assert runner.replay_one(vector, need(targets, "engine")).status == "passed"
    assert runner.replay_one(tweaked(vector, **changes), need(targets, "engine")).status == "failed"


def test_classifier_answers_apply_only_to_the_classifiers_named(targets: dict[str, Target]) -> None:
    truncated = next(v for v in corpus("parse") if v.test.get("prefix_answers", {}).get("message_type"))
    prefix = truncated.test["prefix_answers"]["message_type"]
    assert "malformed" not in prefix
    engine_like = Target("engine", _Answers({"message_type": prefix[0]}), True)
    assert runner.replay_one(truncated, engine_like).status == "failed"
    libotr_like = Target("libotr", _Answers({"message_type": prefix[0]}), False)
    assert runner.replay_one(truncated, libotr_like).status != "failed"


def test_lenient_answers_count_only_for_acceptable_vectors() -> None:
    vector = next(
        v
        for v in corpus("parse")
        if v.result == "acceptable" and "message_type" in v.test.get("lenient_answers", {})
    )
    other = vector.test["lenient_answers"]["message_type"][0]
    target = Target("someone", _Answers({"message_type": other}), False)
    assert runner.replay_one(vector, target).status == "passed"
    strict = dataclasses.replace(vector, result="valid")
    assert runner.replay_one(strict, target).status == "failed"


class _Answers:
    """An adapter whose x-parse answers from a table (and serves nothing else)."""

    def __init__(self, answers: dict[str, Any]) -> None:
        self.answers = answers

    def extension(self, op: str, fields: dict[str, Any]) -> Result:
        if fields["entry"] not in self.answers:
            raise Unsupported(f"no {fields['entry']}")
        return Result(fields={"result": self.answers[fields["entry"]]})


def test_a_crash_reported_by_the_implementation_fails_even_an_acceptable_vector() -> None:
    vector = next(v for v in corpus("tlv") if v.result == "acceptable")
    target = Target("potr", _Answers({"tlv": {"x-crash": "struct.error"}}), True)
    verdict = runner.replay_one(vector, target)
    assert verdict.status == "failed" and "raised" in verdict.detail


# ------------------------------------------------------------------- runner


def test_settling_against_a_divergence_entry() -> None:
    vector = by_id("parse", 1)
    entry = Disagreement("x", "LIBOTR-004", "because", (vector.ident,))
    failed, passed = Verdict("failed", "no"), Verdict("passed")
    assert runner.settle(vector, "x", failed, [entry]).status == runner.EXPECTED
    assert runner.settle(vector, "x", passed, [entry]).status == runner.UNEXPECTED
    assert runner.settle(vector, "y", failed, [entry]).status == runner.FAILED
    assert runner.settle(vector, "x", Verdict("skipped", "n/a"), [entry]).status == runner.SKIPPED


def test_the_summary_line_has_the_documented_form_and_unexpected_agreement_fails_the_run() -> None:
    vector = by_id("parse", 1)
    run = runner.Run(
        "x",
        [
            runner.Outcome(vector, "x", Verdict("passed"), runner.PASSED),
            runner.Outcome(vector, "x", Verdict("passed"), runner.UNEXPECTED),
            runner.Outcome(vector, "x", Verdict("failed"), runner.EXPECTED),
            runner.Outcome(vector, "x", Verdict("skipped", "why"), runner.SKIPPED),
        ],
    )
    assert run.summary_line() == "1 passed, 1 failed, 1 skipped"
    assert not run.ok


def test_a_missing_kind_module_skips_its_vectors_with_the_reason() -> None:
    vector = dataclasses.replace(by_id("parse", 1), kind="nosuchkind")
    verdict = runner.replay_one(vector, Target("engine", EngineAdapter(), True))
    assert verdict.status == "skipped" and "nosuchkind" in verdict.detail


def test_the_differential_groups_vectors_by_who_disagrees() -> None:
    a, b = by_id("parse", 1), by_id("parse", 2)

    def run(name: str, failing: set[int]) -> runner.Run:
        return runner.Run(
            name,
            [
                runner.Outcome(v, name, Verdict("failed" if v.tc_id in failing else "passed"), "x")
                for v in (a, b)
            ],
        )

    diff = runner.differential([run("p", {1, 2}), run("q", {1})])
    assert diff.groups() == {("p", "q"): [a.ident], ("p",): [b.ident]}
    page = runner.markdown(diff)
    assert "## Disagreeing: p, q (1 vectors)" in page and "**no finding**" in page


# ------------------------------------------------------------- divergences


def write(tmp_path: Path, name: str, text: str) -> Path:
    (tmp_path / f"{name}.toml").write_text(text, encoding="utf-8")
    return tmp_path


ENTRY = 'implementation = "x"\n[[disagreement]]\n'


@pytest.mark.parametrize(
    "body",
    [
        'implementation = "other"\n',
        ENTRY + 'finding = "X-1"\nreason = "r"\nvectors = ["a#1"]\n',
        ENTRY + 'finding = "X-001"\nvectors = ["a#1"]\n',
        ENTRY + 'finding = "X-001"\nreason = "r"\n',
        ENTRY + 'finding = "X-001"\nreason = "r"\nfile = "a"\n',
        ENTRY + 'finding = "X-001"\nreason = "r"\nvectors = ["a#1"]\nwhen = 1\n',
    ],
)
def test_malformed_divergence_files_are_refused(tmp_path: Path, body: str) -> None:
    with pytest.raises(divergences.DivergenceError):
        divergences.load(write(tmp_path, "x", body))


def test_divergence_entries_take_globs_and_tc_id_lists(tmp_path: Path) -> None:
    body = (
        'implementation = "x"\n[[disagreement]]\nfinding = "X-001"\nreason = "r"\n'
        'vectors = ["base64/*#2*"]\nfile = "parse/otr_parse.json"\ntcIds = [5]\n'
    )
    [entry] = divergences.load(write(tmp_path, "x", body))
    assert entry.matches("base64/otr_base64.json#201")
    assert entry.matches("parse/otr_parse.json#5")
    assert not entry.matches("parse/otr_parse.json#50")


def test_lint_reports_unknown_findings_and_entries_that_match_nothing(tmp_path: Path) -> None:
    body = (
        'implementation = "x"\n[[disagreement]]\nfinding = "NOPE-999"\nreason = "r"\nvectors = ["none#1"]\n'
    )
    problems = lint.lint_divergences(write(tmp_path, "x", body), FINDINGS)
    assert any("matches no vector" in p for p in problems)
    assert any("NOPE-999 is not in" in p for p in problems)


# ---------------------------------------------------------------------- lint


def test_lint_catches_ids_counts_flags_results_and_schema_errors() -> None:
    path = loader.ROOT / "tlv" / "otr_tlv.json"
    document = json.loads(path.read_text(encoding="utf-8"))
    tests = document["testGroups"][0]["tests"]
    tests[1]["tcId"] = tests[0]["tcId"]
    tests[2]["flags"] = ["Unexplained"]
    tests[3]["result"] = "maybe"
    tests[4]["tcId"] = 0
    tests[5]["surprise"] = True
    document["numberOfTests"] += 1
    schemas, registry = lint._schemas(loader.SCHEMA_DIR)
    problems = "\n".join(lint.lint_document("tlv", path.name, document, schemas["tlv.schema.json"], registry))
    for expected in ("is used twice", "not explained in notes", "'maybe' not in", "not a positive integer"):
        assert expected in problems
    assert "numberOfTests is" in problems and "surprise" in problems


# ------------------------------------------------------------ reassemble entry


def reassemble(value: Any) -> Any:
    answer = EngineAdapter().extension("x-parse", {"entry": "reassemble", "input": json.dumps(value)})
    return answer.fields["result"]


def test_the_reassemble_entry_follows_the_spec_rules() -> None:
    assert reassemble(["?OTR,1,2,ab,", "?OTR,2,2,cd,"]) == ["abcd"]
    assert reassemble(["?OTR,2,2,cd,", "?OTR,1,2,ab,"]) == []
    assert reassemble(["?OTR,1,2,ab,", "hello", "?OTR,2,2,cd,"]) == []
    assert reassemble({"fragments": ["?OTR,1,2,ab,", "?OTR,2,2,cd,"], "max_chars": 3}) == []


@pytest.mark.parametrize(
    "text", ["not json", "[1]", '{"fragments": "x"}', '{"fragments": [], "max_chars": 0}']
)
def test_the_reassemble_entry_refuses_bad_input_as_a_bad_request(text: str) -> None:
    with pytest.raises(BadRequest):
        EngineAdapter().extension("x-parse", {"entry": "reassemble", "input": text})


# ----------------------------------------------------------------------- CLI


def test_vectors_run_prints_the_summary_line_and_exits_zero_for_the_engine(
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = str(loader.ROOT / "tlv")
    assert cli.main(["vectors", "run", path, "--impl", "engine"]) == 0
    out = capsys.readouterr().out
    count = len(corpus("tlv"))
    assert f"{count} passed, 0 failed, 0 skipped\n" in out


def test_vectors_run_exits_one_when_a_vector_fails(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    document = json.loads((loader.ROOT / "tlv" / "otr_tlv.json").read_text(encoding="utf-8"))
    document["testGroups"][0]["tests"][0]["expected"] = []
    broken = tmp_path / "tlv" / "otr_tlv.json"
    broken.parent.mkdir()
    broken.write_text(json.dumps(document), encoding="utf-8")
    assert cli.main(["vectors", "run", str(broken), "--impl", "engine"]) == 1
    assert "FAILED tlv/otr_tlv.json#1" in capsys.readouterr().out


def test_vectors_run_refuses_an_unknown_implementation(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["vectors", "run", "--impl", "nosuch"]) == 2
    assert "unknown implementation" in capsys.readouterr().err


def test_vectors_lint_and_generate_check_pass_on_the_committed_files(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert cli.main(["vectors", "lint"]) == 0
    assert cli.main(["vectors", "generate", "--check", *CORE]) == 0
    assert "up to date" in capsys.readouterr().out


def test_vectors_diff_writes_the_markdown_summary(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out = tmp_path / "DIFFERENTIAL.md"
    path = str(loader.ROOT / "fragment")
    assert cli.main(["vectors", "diff", path, "--impl", "engine", "--out", str(out)]) == 0
    page = out.read_text(encoding="utf-8")
    assert page.startswith("# Differential summary") and "| engine |" in page
    assert "No implementation disagrees" in capsys.readouterr().out
