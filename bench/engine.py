"""Engine speed: the five benchmark apps run in-process on our engine and on graphon.

Both engines get the same stand-ins: a fake model that streams a fixed 20-token reply
instantly, and a Python `exec` code executor in the benchmark's own process (graphon's
DSL importer otherwise needs Dify's HTTP sandbox). Our engine is also timed with its
real, out-of-process code sandbox for the two apps that have code nodes.

Per workload and engine we time N runs after a warm-up:
- run: from a loaded app to the terminal event of one request (fresh variable pool;
  graphon also builds its nodes and engine, which it cannot reuse across runs, and after
  the terminal event spends ~10 ms more joining its worker threads, not counted here);
- load: DSL text to a runnable app (ours: `load_app` + `to_graph`; graphon: `inspect`).

Per-node overhead is (chain50 - echo) / 50 on the run p50s. Every figure is a ratio to
graphon measured in the same run; chain50's per-node overhead is also compared with
rendering the same 50 templates directly with Jinja2 (the least work a node can do).

Usage: python -m bench.engine [--runs N] [--graphon-runs N] [--no-graphon]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2

from bench import _graphon
from bench._stats import Row, Section, Summary, fmt
from chatflow.dsl import load_app, to_graph
from chatflow.engine.events import RunFinished, TextChunk
from chatflow.engine.graph import Graph
from chatflow.engine.limits import EngineLimits
from chatflow.engine.nodes.base import CodeExecutor, EngineServices
from chatflow.engine.runner import run_graph
from chatflow.engine.variables import VariablePool
from chatflow.errors import DSLError
from chatflow.providers.fake import FakeLLM, FakeRegistry

DSL_DIR = Path(__file__).resolve().parent / "dsl"
WORKLOADS = ("echo", "llm", "chain50", "branch", "iter100")
CODE_WORKLOADS = ("branch", "iter100")
QUERY = "hello?"
TOKENS = 20
CHAIN = 50


class InProcessCodeExecutor:
    """`CodeExecutor` that runs `main(**inputs)` with `exec` in this process (bench only).

    The same stand-in graphon gets; it compiles on every call, as a sandbox would.
    """

    # `timeout` is part of the CodeExecutor protocol; exec in process cannot honour it.
    async def run(
        self,
        language: str,
        code: str,
        inputs: Mapping[str, Any],
        *,
        timeout: float,  # noqa: ASYNC109
    ) -> dict[str, Any]:
        namespace: dict[str, Any] = {}
        exec(compile(code, "<code-node>", "exec"), namespace)
        result = namespace["main"](**inputs)
        if not isinstance(result, dict):
            raise TypeError("main() must return a dict")
        return result


def fake_tokens(count: int = TOKENS) -> list[str]:
    return [f"t{i} " for i in range(count)]


def make_services(code: CodeExecutor | None = None) -> EngineServices:
    # iter100's code node returns 100 strings; Dify's default cap is 30.
    limits = EngineLimits(code_max_string_array_length=1000)
    registry = FakeRegistry(FakeLLM(fake_tokens()))
    return EngineServices(models=registry, limits=limits, code=code or InProcessCodeExecutor())


async def run_once(graph: Graph, services: EngineServices, query: str = QUERY) -> tuple[str, float]:
    """One request on a loaded app: the answer and the seconds to its `RunFinished`."""
    started = time.perf_counter()
    pool = VariablePool(
        system={"query": query, "files": [], "conversation_id": "c", "user_id": "u"}
    )
    parts: list[str] = []
    final: RunFinished | None = None
    async for event in run_graph(graph, pool=pool, services=services):
        if isinstance(event, TextChunk):
            parts.append(event.text)
        elif isinstance(event, RunFinished):
            final = event
            elapsed = time.perf_counter() - started
    if final is None or final.status != "succeeded":
        raise RuntimeError(f"run did not succeed: {final}")
    return "".join(parts), elapsed


def load(name: str) -> Graph:
    return to_graph(load_app((DSL_DIR / f"{name}.yml").read_text()))


@dataclass(slots=True)
class Timings:
    answer: str = ""
    run_us: list[float] = field(default_factory=list)
    load_us: list[float] = field(default_factory=list)


async def time_workload(name: str, services: EngineServices, *, runs: int, warmup: int) -> Timings:
    timings = Timings()
    text = (DSL_DIR / f"{name}.yml").read_text()
    for _ in range(max(3, runs // 10)):
        started = time.perf_counter()
        graph = to_graph(load_app(text))
        timings.load_us.append((time.perf_counter() - started) * 1e6)
    for _ in range(warmup):
        timings.answer, _ = await run_once(graph, services)
    for _ in range(runs):
        timings.run_us.append((await run_once(graph, services))[1] * 1e6)
    return timings


async def time_ours(
    names: tuple[str, ...], *, runs: int, warmup: int, sandbox: bool, notes: list[str]
) -> tuple[dict[str, Timings], dict[str, Timings]]:
    """Our engine with the in-process executor, then (if `sandbox`) with the real one.

    A workload our engine cannot run yet is left out with a note saying why.
    """
    services = make_services()
    ours: dict[str, Timings] = {}
    for name in names:
        try:
            ours[name] = await time_workload(name, services, runs=runs, warmup=warmup)
        except (DSLError, RuntimeError) as exc:
            notes.append(f"{name}: our engine could not run it: {exc}")
    sandboxed: dict[str, Timings] = {}
    code_names = [name for name in ours if name in CODE_WORKLOADS]
    if sandbox and code_names:
        from chatflow.sandbox import SandboxExecutor

        async with SandboxExecutor() as executor:
            real = make_services(executor)
            for name in code_names:
                # Each sandboxed job forks a confined child: fewer runs keep this quick.
                sandboxed[name] = await time_workload(
                    name, real, runs=max(10, runs // 4), warmup=warmup
                )
    return ours, sandboxed


def direct_render_us(runs: int) -> list[float]:
    """chain50's work done directly: 50 renders of its template, each on the last output."""
    template = jinja2.Environment(autoescape=False).from_string("{{ arg1 }}.")
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        value = QUERY
        for _ in range(CHAIN):
            value = template.render(arg1=value)
        samples.append((time.perf_counter() - started) * 1e6 / CHAIN)
    return samples


def per_node_us(chain: list[float], echo: list[float]) -> float:
    return (Summary.of(chain).p50 - Summary.of(echo).p50) / CHAIN


def build_section(
    ours: dict[str, Timings],
    sandboxed: dict[str, Timings],
    graphon: dict[str, Any] | None,
    direct: list[float],
) -> Section:
    section = Section("engine", "Engine speed (in-process, fake model)")
    theirs: dict[str, Any] = (graphon or {}).get("workloads", {})

    def g(name: str, key: str) -> list[float]:
        return list(theirs.get(name, {}).get(key, []))

    for name, timing in ours.items():
        mine, other = Summary.of(timing.run_us), Summary.of(g(name, "run_us"))
        for label, a, b in (("p50", mine.p50, other.p50), ("p95", mine.p95, other.p95)):
            row = Row(f"{name} run {label}", "µs", a, b, "graphon")
            if name == "iter100" and label == "p50":
                row.target, row.met = "< 5,000 µs", a < 5000
            section.rows.append(row)
        if name in theirs and theirs[name]["answer"] != timing.answer:
            section.notes.append(
                f"{name}: answers differ: ours {timing.answer[:60]!r}, "
                f"graphon {theirs[name]['answer'][:60]!r}"
            )
    if "chain50" in ours and "echo" in ours:
        mine_node = per_node_us(ours["chain50"].run_us, ours["echo"].run_us)
        their_node = (
            per_node_us(g("chain50", "run_us"), g("echo", "run_us")) if theirs else float("nan")
        )
        section.rows.append(
            Row(
                "per-node overhead",
                "µs",
                mine_node,
                their_node,
                "graphon",
                target="<= 0.1x graphon and < 30 µs",
                met=mine_node < 30 and (not theirs or mine_node <= 0.1 * their_node),
            )
        )
        section.rows.append(
            Row(
                "per-node overhead",
                "µs",
                mine_node,
                Summary.of(direct).p50,
                "direct Jinja2 render of the node's template",
            )
        )
    for name, timing in sandboxed.items():
        section.rows.append(
            Row(
                f"{name} run p50, real code sandbox",
                "µs",
                Summary.of(timing.run_us).p50,
                Summary.of(g(name, "run_us")).p50,
                "graphon (in-process code)",
            )
        )
    for name, timing in ours.items():
        section.rows.append(
            Row(
                f"{name} load (DSL text -> runnable)",
                "µs",
                Summary.of(timing.load_us).p50,
                Summary.of(g(name, "load_us")).p50,
                "graphon",
            )
        )
    n_ours = len(next(iter(ours.values())).run_us) if ours else 0
    n_theirs = len(next(iter(theirs.values()))["run_us"]) if theirs else 0
    section.notes.append(
        f"Runs per workload: ours {n_ours}, graphon {n_theirs} (after warm-up). "
        f"graphon {graphon.get('version') if graphon else 'n/a'} on Python "
        f"{graphon.get('python') if graphon else 'n/a'}. Run times stop at the terminal "
        "event; graphon's `Engine.run()` then joins worker threads that poll their queue "
        f"every 10 ms (echo until run end: p50 {fmt(Summary.of(g('echo', 'end_us')).p50, 'µs')})."
    )
    return section


async def measure(
    *,
    runs: int = 200,
    graphon_runs: int = 50,
    warmup: int = 5,
    with_graphon: bool = True,
    sandbox: bool = True,
    names: tuple[str, ...] = WORKLOADS,
) -> Section:
    notes: list[str] = []
    ours, sandboxed = await time_ours(names, runs=runs, warmup=warmup, sandbox=sandbox, notes=notes)
    graphon: dict[str, Any] | None = None
    error = None
    if with_graphon:
        try:
            graphon = await asyncio.to_thread(
                _graphon.run_driver,
                DSL_DIR,
                list(names),
                runs=graphon_runs,
                warmup=warmup,
                tokens=TOKENS,
            )
        except _graphon.GraphonUnavailable as exc:
            error = f"graphon not measured: {exc}"
    section = build_section(ours, sandboxed, graphon, direct_render_us(runs))
    section.notes.extend(notes)
    if error:
        section.notes.append(error)
    return section


def print_section(section: Section) -> None:
    print(f"\n## {section.title}")
    for row in section.rows:
        met = "" if row.met is None else ("  OK" if row.met else "  MISSED")
        print(
            f"{row.name:<42} {fmt(row.ours, row.unit):>12}  vs {row.baseline_name}: "
            f"{fmt(row.baseline, row.unit):>12}  ratio {fmt(row.ratio)}x"
            f"{'  target ' + row.target if row.target else ''}{met}"
        )
    for line in section.markdown:
        print(line)
    for note in section.notes:
        print(f"- {note}")


def main() -> None:
    parser = argparse.ArgumentParser(description="Engine speed: ours vs graphon.")
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--graphon-runs", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--no-graphon", action="store_true")
    parser.add_argument("--no-sandbox", action="store_true")
    parser.add_argument("names", nargs="*", default=list(WORKLOADS))
    args = parser.parse_args()
    section = asyncio.run(
        measure(
            runs=args.runs,
            graphon_runs=args.graphon_runs,
            warmup=args.warmup,
            with_graphon=not args.no_graphon,
            sandbox=not args.no_sandbox,
            names=tuple(args.names),
        )
    )
    print_section(section)


if __name__ == "__main__":
    main()
