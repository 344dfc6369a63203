"""A/B engine rows: two checkouts' `bench.engine` rows, measured alternately, as medians.

A loaded machine drifts; running the two checkouts in turn, round after round, exposes
both to the same drift, and the median of the rounds drops the outliers. Each round is
one `python -m bench.engine --no-graphon --no-sandbox --runs N` per checkout, in a fresh
interpreter with that checkout first on `PYTHONPATH`.

Usage: python -m bench.ab BEFORE_DIR AFTER_DIR [--rounds 7] [--runs 300]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
from pathlib import Path

# `print_section`'s row lines: "<name>   <value> µs  vs ..."
ROW = re.compile(r"^(?P<name>\S.*?)\s{2,}(?P<value>[\d,.]+) µs\s+vs (?P<base>[^:]+):")
ROWS = ("echo run p50", "llm run p50", "chain50 run p50", "branch run p50", "iter100 run p50")


def rows_of(checkout: Path, runs: int) -> dict[str, float]:
    """One `bench.engine` run of `checkout`: row name -> µs (first per-node row only)."""
    env = {**os.environ, "PYTHONPATH": f"{checkout}{os.pathsep}{checkout / 'sdk'}"}
    command = [sys.executable, "-m", "bench.engine", "--no-graphon", "--no-sandbox"]
    output = subprocess.run(
        [*command, "--runs", str(runs)],
        cwd=checkout, env=env, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    found: dict[str, float] = {}
    for line in output.splitlines():
        match = ROW.match(line)
        if match and match["name"] not in found:
            found[match["name"]] = float(match["value"].replace(",", ""))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--runs", type=int, default=300)
    args = parser.parse_args()
    samples: dict[str, dict[str, list[float]]] = {"before": {}, "after": {}}
    for _ in range(args.rounds):
        for side in ("before", "after"):
            for name, value in rows_of(getattr(args, side).resolve(), args.runs).items():
                samples[side].setdefault(name, []).append(value)
    names = [*ROWS, "per-node overhead"]
    print(f"rounds: {args.rounds}, runs per workload: {args.runs}; medians in µs")
    print(f"| row | before ({args.before}) | after ({args.after}) | after/before |")
    print("|---|---:|---:|---:|")
    for name in names:
        before = statistics.median(samples["before"].get(name, [float("nan")]))
        after = statistics.median(samples["after"].get(name, [float("nan")]))
        print(f"| {name} | {before:,.1f} | {after:,.1f} | {after / before:.3f} |")


if __name__ == "__main__":
    main()
