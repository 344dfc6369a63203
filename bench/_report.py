"""Writes `bench/RESULTS.md` and one chart per benchmark (`bench/charts/<key>.png`).

Every row is shown as ours / baseline, the baseline measured in the same run, so the
figures compare across machines; the absolute numbers are there for reference only.
"""

from __future__ import annotations

import math
import os
import platform
import subprocess
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from bench._stats import Section, fmt

HERE = Path(__file__).resolve().parent
CHARTS = HERE / "charts"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def commit() -> str:
    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", *args], cwd=HERE.parent, capture_output=True, text=True, check=False
        )
        return done.stdout.strip()

    head = git("rev-parse", "--short", "HEAD") or "unknown"
    return head + (" (with uncommitted changes)" if git("status", "--porcelain") else "")


def machine_lines(command: str) -> list[str]:
    return [
        f"- Date: {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- CPU: {cpu_model()}, {os.cpu_count()} cores visible",
        f"- OS: {platform.system()} {platform.release()}",
        f"- Python: {sys.version.split()[0]} ({platform.python_implementation()})",
        f"- Commit: {commit()}",
        f"- Command: `{command}`",
    ]


def chart(section: Section) -> str | None:
    """A horizontal bar per row: ours / baseline, log scale, 1x marked. None if no rows."""
    rows = [row for row in section.rows if not math.isnan(row.ratio) and row.ratio > 0]
    if not rows:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [f"{row.name}\n(vs {row.baseline_name})" for row in rows]
    ratios = [row.ratio for row in rows]
    colors = [
        "#999999" if row.met is None else ("#2a9d5c" if row.met else "#d1495b") for row in rows
    ]
    fig, ax = plt.subplots(figsize=(9, 0.55 * len(rows) + 1.4))
    ax.barh(range(len(rows)), ratios, color=colors)
    ax.set_yticks(range(len(rows)), labels, fontsize=7)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.axvline(1.0, color="black", linewidth=0.8)
    for index, value in enumerate(ratios):
        ax.text(value, index, f" {value:.3g}x", va="center", fontsize=7)
    ax.set_xlabel("ours / baseline (log scale; < 1 is better for times, > 1 for rates)")
    ax.set_title(section.title, fontsize=10)
    fig.tight_layout()
    CHARTS.mkdir(exist_ok=True)
    path = CHARTS / f"{section.key}.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return f"charts/{path.name}"


def section_markdown(section: Section) -> list[str]:
    lines = [f"## {section.title}", ""]
    if section.error:
        lines += [f"Not measured: {section.error}", ""]
    if section.rows:
        lines += [
            "| measure | ours | baseline | baseline is | ratio | target | met |",
            "|---|---:|---:|---|---:|---|---|",
        ]
        for row in section.rows:
            met = "" if row.met is None else ("yes" if row.met else "**no**")
            lines.append(
                f"| {row.name} | {fmt(row.ours, row.unit)} | {fmt(row.baseline, row.unit)} "
                f"| {row.baseline_name} | {fmt(row.ratio)}x | {row.target} | {met} |"
            )
        lines.append("")
    if section.markdown:
        lines += [*section.markdown, ""]
    if section.chart:
        lines += [f"![{section.title}]({section.chart})", ""]
    lines += [f"- {note}" for note in section.notes]
    if section.notes:
        lines.append("")
    return lines


KEPT = "Sections kept from an earlier run"


def _previous_sections(path: Path) -> list[tuple[list[str], list[list[str]]]]:
    """An existing report's sections as groups: (the machine lines of the run that
    measured them, their blocks). A report written by a partial run has two groups."""
    groups: list[tuple[list[str], list[list[str]]]] = []
    block: list[str] | None = None
    for line in path.read_text().splitlines():
        if line.startswith("## "):
            title = line[3:].strip()
            if title in ("Machine", KEPT):
                groups.append(([], []))
                block = None
                continue
            block = [line]
            if groups:
                groups[-1][1].append(block)
            continue
        if block is None:
            if groups and line.startswith("- "):
                groups[-1][0].append(line)
        else:
            block.append(line)
    return groups


def write(sections: Sequence[Section], command: str, elapsed: float) -> Path:
    for section in sections:
        section.chart = chart(section)
    path = HERE / "RESULTS.md"
    kept: list[str] = []
    if "--only" in command and path.exists():
        # A partial run: sections it did not measure stay as the last full run wrote
        # them, after a note saying which run that was.
        measured = {f"## {s.title}" for s in sections}
        for machine, blocks in _previous_sections(path):
            others = [b for b in blocks if b[0] not in measured]
            if others:
                kept += [f"## {KEPT}", "", *machine, ""]
                for other in others:
                    kept += other
    lines = [
        "# Benchmark results",
        "",
        "Written by `python -m bench` (`make bench`); do not edit by hand. Every figure is",
        "shown next to a baseline measured in the same run, and as the ratio ours / baseline.",
        "Performance fixes with before/after figures: [FIXES.md](FIXES.md).",
        "",
        "## Machine",
        "",
        *machine_lines(command),
        f"- Whole run: {elapsed:.0f} s",
        "",
    ]
    for section in sections:
        lines += section_markdown(section)
    if kept:
        lines += kept
    path.write_text("\n".join(lines))
    return path
