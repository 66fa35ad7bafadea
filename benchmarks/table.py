"""The report as Markdown: printed at the end of a run and pasted into BENCHMARKS.md as it is.

Rows of the pair table are figures, columns ordered pairs (alice's
implementation -> bob's); each cell is the median and, in parentheses, its
ratio to libotr against itself in the same run.  A figure that failed
shows ``error`` and a numbered note with the reason.
"""

from __future__ import annotations

from typing import Any

from .model import FIGURES, Measurement, Report, Section


def _number(value: float, unit: str) -> str:
    if unit == "ms":
        return f"{value:.3g} ms" if value < 100 else f"{value:.0f} ms"
    return f"{value:,.0f} {unit}" if value >= 100 else f"{value:.3g} {unit}"


def _cell(measurement: Measurement | None, unit: str, notes: list[str]) -> str:
    if measurement is None:
        return "-"
    if measurement.value is None:
        notes.append(measurement.error or "no value")
        return f"error [{len(notes)}]"
    ratio = "" if measurement.ratio is None else f" ({measurement.ratio:.2f}x)"
    return _number(measurement.value, unit) + ratio


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def pair_table(report: Report) -> list[str]:
    if not report.pairs:
        return ["No protocol figures in this run."]
    notes: list[str] = []
    transports = {p.name: p.transport for p in report.participants}
    heads = []
    for pair in report.pairs:
        pipe = " (pipe)" if pair.transport == "pipe" else ""
        heads.append(f"{pair.alice}→{pair.bob} v{pair.version}{pipe}")
    lines = [_row(["figure", *heads]), _row(["---"] * (len(heads) + 1))]
    for spec in FIGURES:
        if not any(spec.id in p.figures for p in report.pairs):
            continue
        cells = [_cell(p.figures.get(spec.id), spec.unit, notes) for p in report.pairs]
        lines.append(_row([f"{spec.title} [{spec.unit}]", *cells]))
    lines.append("")
    lines.append(
        "Medians of repeated runs; in parentheses the ratio to libotr→libotr's figure in the same run "
        "(times: lower is better; rates: higher is better)."
    )
    if any(t == "pipe" for t in transports.values()):
        lines.append(
            "Columns marked (pipe) reach a peer through the peer protocol: JSON-lines overhead included."
        )
    for i, note in enumerate(notes, 1):
        lines.append(f"[{i}] {note}")
    for pair in report.pairs:
        lines.extend(f"* {pair.alice}→{pair.bob}: {note}" for note in pair.notes)
    failed_akes = [
        f"{p.alice}→{p.bob}: {p.figures['ake'].note}"
        for p in report.pairs
        if "ake" in p.figures and "failed" in p.figures["ake"].note
    ]
    lines.extend(f"* AKE {note}" for note in failed_akes)
    return lines


def _section_line(name: str, section: Section | None, render: Any) -> str:
    if section is None:
        return f"* {name}: not measured in this run"
    if section.status != "ok":
        return f"* {name}: {section.status}: {section.detail}"
    return f"* {name}: {render(section.values)}"


def _flood(v: dict[str, Any]) -> str:
    return (
        f"{v['fragments']:,} fragments ({v['fed_mib']} MiB of pieces): peak {v['peak_mib']} MiB above "
        f"baseline while flooded, {v['retained_mib']} MiB retained after "
        f"(reassembly cap {v['cap_mib']} MiB); "
        f"{v['seconds']} s"
    )


def _session(v: dict[str, Any]) -> str:
    readings = ", ".join(f"{r['messages']:,}: {r['traced_kib']} KiB" for r in v["readings"])
    verdict = "flat" if v["flat"] else "GROWS"
    return (
        f"{v['messages']:,} messages: traced memory {readings}; growth {v['growth_bytes']:+,} bytes "
        f"from message {v['growth_from']:,} ({verdict}, tolerance {v['flat_tolerance_bytes']:,}); "
        f"{v['seconds']} s"
    )


def _wall(v: dict[str, Any]) -> str:
    extra = []
    if "cells" in v:
        extra.append(f"{v['cells']} cells")
    if "participants" in v:
        extra.append("implementations " + ", ".join(map(str, v["participants"])))
    return f"{v['seconds']} s, exit status {v['exit_status']}" + (f" ({'; '.join(extra)})" if extra else "")


def other_sections(report: Report) -> list[str]:
    s = report.sections
    lines = [
        _section_line("engine under a fragment flood", s.get("memory_flood"), _flood),
        _section_line("engine over a long session", s.get("memory_session"), _session),
        _section_line("full matrix (`otrcheck matrix`)", s.get("matrix"), _wall),
        _section_line("default test run (`python -m pytest -q -p no:cacheprovider`)", s.get("tests"), _wall),
    ]
    for name in ("matrix", "tests"):
        section = s.get(name)
        if section is not None and section.status == "ok" and section.detail:
            lines.append(f"  * {name}: {section.detail}")
    return lines


def fuzz_table(report: Report) -> list[str]:
    section = report.sections.get("fuzz")
    if section is None:
        return ["Fuzz targets: not measured in this run."]
    if section.status != "ok":
        return [f"Fuzz targets: {section.detail}."]
    lines = [
        f"Fuzz targets, {section.values['runs']:,} inputs each after the seed corpus (10 or 100 times as "
        "many for a target that would finish them in under 2 s; libFuzzer, -seed=1): exec/s = those "
        "inputs over the time beyond a -runs=0 start-up run.",
        "",
        _row(["target", "exec/s", "inputs", "seed inputs", "cov", "ft", "peak RSS MB", "status"]),
        _row(["---"] * 8),
    ]

    def show(value: object) -> str:
        return "-" if value is None else f"{value:,}" if isinstance(value, int) else str(value)

    for t in section.values["targets"]:
        status = t["status"] + (f": {t['detail']}" if t["detail"] else "")
        cells = [t[k] for k in ("exec_per_s", "runs", "seed_inputs", "cov", "ft", "peak_rss_mb")]
        lines.append(_row([t["name"], *map(show, cells), status]))
    return lines


def goals_table(report: Report) -> list[str]:
    lines = [_row(["goal", "measured", "verdict"]), _row(["---"] * 3)]
    for goal in report.goals:
        verdict = "met" if goal.met else "NOT MET" if goal.met is False else "not judged"
        lines.append(_row([goal.text, goal.measured, verdict]))
    return lines


def machine_lines(report: Report) -> list[str]:
    m = report.machine
    parts = [
        f"{m.get('cpu')}, {m.get('cores')} cores, {m.get('memory_gib')} GiB",
        f"{m.get('os')} (kernel {m.get('kernel')})",
        f"{m.get('python')}, gmpy2 {m.get('gmpy2')} ({m.get('gmp')}), cryptography {m.get('cryptography')} "
        f"({m.get('openssl')})",
        f"load average at start {m.get('load_at_start')}, at end {m.get('load_at_end')}",
    ]
    impls = ", ".join(f"{p.name} {p.version} ({p.transport})" for p in report.participants)
    parts.append(f"implementations: {impls}")
    for name, why in report.unavailable.items():
        parts.append(f"unavailable: {name}: {why}")
    return [f"* {p}" for p in parts]


def render(report: Report) -> str:
    kind = "quick run (--quick)" if report.quick else "full run"
    lines = [
        f"## Benchmarks: {kind}, {report.started}, {report.duration_s:.0f} s",
        "",
        *machine_lines(report),
        "",
        "### Protocol, per ordered pair",
        "",
        *pair_table(report),
        "",
        "### Memory and wall time",
        "",
        *other_sections(report),
        "",
        "### Fuzz targets",
        "",
        *fuzz_table(report),
        "",
        "### Goals",
        "",
        *goals_table(report),
    ]
    return "\n".join(lines) + "\n"
