"""`python -m bench` (`make bench`): every benchmark, then `bench/RESULTS.md` and charts.

A benchmark that cannot run here (no server yet, no Python 3.12 for graphon, no
embedded model) is reported as not measured, with the reason, instead of failing the run.

Options: --quick (fewer runs; a smoke run), --streams N (concurrent streams, default
2000), --only engine,http,embedded,tools,retrieval,mcp (a partial run keeps the other
sections of the previous RESULTS.md, marked with the run that measured them).
"""

from __future__ import annotations

import argparse
import asyncio
import shlex
import sys
import time
import traceback
from collections.abc import Callable

from bench import _report
from bench._stats import Section
from bench.engine import print_section


def _guard(key: str, title: str, measure: Callable[[], Section]) -> Section:
    try:
        return measure()
    except Exception as exc:  # one benchmark failing must not lose the others' results
        traceback.print_exc()
        return Section(key, title, error=f"{type(exc).__name__}: {exc}")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--streams", type=int, default=2000)
    parser.add_argument("--only", default="engine,http,embedded,tools,retrieval,mcp")
    args = parser.parse_args()
    only = set(args.only.split(","))
    started = time.monotonic()
    sections: list[Section] = []

    if "engine" in only:
        from bench import engine

        runs = 50 if args.quick else 200
        graphon_runs = 10 if args.quick else 40
        sections.append(
            _guard(
                "engine",
                "Engine speed",
                lambda: asyncio.run(engine.measure(runs=runs, graphon_runs=graphon_runs)),
            )
        )
        print_section(sections[-1])
    if "http" in only:
        from bench import http

        sections.append(
            _guard("http", "HTTP API", lambda: http.measure(quick=args.quick, streams=args.streams))
        )
        print_section(sections[-1])
    if "embedded" in only:
        from bench import embedded

        sections.append(
            _guard(
                "embedded",
                "Embedded model pass-through",
                lambda: embedded.measure(quick=args.quick),
            )
        )
        print_section(sections[-1])

    if "tools" in only:
        from bench import tools

        runs = 300 if args.quick else 2000
        sections.append(
            _guard(
                "tools",
                "Built-in tool node overhead",
                lambda: asyncio.run(tools.measure(runs=runs)),
            )
        )
        print_section(sections[-1])

    if "retrieval" in only:
        from bench import retrieval

        sections.append(
            _guard(
                "retrieval_quality",
                "Knowledge retrieval quality (evaluation set)",
                retrieval.quality_section,
            )
        )
        print_section(sections[-1])
        sections.append(
            _guard(
                "retrieval_speed",
                "Knowledge retrieval speed (SQLite, WordLlama)",
                lambda: retrieval.speed_section(quick=args.quick),
            )
        )
        print_section(sections[-1])

    if "mcp" in only:
        from bench import mcp_tools

        runs = 60 if args.quick else 300
        sections.append(
            _guard(
                "mcp",
                "MCP tool call",
                lambda: asyncio.run(mcp_tools.measure(runs=runs, warmup=10 if args.quick else 20)),
            )
        )
        print_section(sections[-1])
    command = "python -m bench " + shlex.join(sys.argv[1:])
    path = _report.write(sections, command.strip(), time.monotonic() - started)
    print(f"\nwrote {path} in {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
