"""Runs the benchmark DSLs on graphon (Dify's own graph engine) and prints JSON timings.

This script runs in its own Python 3.12 virtualenv (`bench/.venv-graphon`, see
`bench/graphon_env.py`), never in the server's; it imports nothing from `chatflow`.

graphon's DSL importer wires LLM nodes to its Slim plugin runtime and code nodes to an
HTTP sandbox, so we build the engine the way `graphon.dsl.loads` does but with a node
factory that swaps in two in-process stand-ins (a fake LLM that streams a fixed reply
and a Python `exec` code executor), the same stand-ins our engine gets in `bench/engine.py`.

Timings per workload:
- `load_us`: DSL text -> import plan (YAML parse, normalisation, node validation);
- `run_us`: import plan -> terminal event (`GraphRunSucceededEvent`): pool + runtime
  state + nodes + `Engine`, then the events up to the last. graphon binds nodes to one
  run's state, so an engine (and its nodes) cannot be reused across runs; building them
  is part of each request, as in Dify;
- `end_us`: the same until `Engine.run()` returns (it then joins its worker threads).

Usage: python graphon_driver.py DSL_DIR --runs N --warmup W [--tokens 20] [names...]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Generator, Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar

from graphon.dsl import inspect
from graphon.dsl.entities import DslCredentials
from graphon.dsl.node_factory import (
    SlimDslNodeFactory,
    _code_limits,
    _NodeBuildRequest,
    _PassthroughPromptMessageSerializer,
    _TextOnlyFileSaver,
)
from graphon.engine import Engine
from graphon.engine_events.graph import GraphRunSucceededEvent
from graphon.engine_events.node import NodeRunStreamChunkEvent
from graphon.enums import BuiltinNodeTypes
from graphon.graph.graph import Graph
from graphon.model_runtime.entities.common_entities import I18nObject
from graphon.model_runtime.entities.llm_entities import (
    LLMResult,
    LLMResultChunk,
    LLMResultChunkDelta,
    LLMUsage,
)
from graphon.model_runtime.entities.message_entities import (
    AssistantPromptMessage,
    PromptMessage,
)
from graphon.model_runtime.entities.model_entities import (
    AIModelEntity,
    FetchFrom,
    ModelPropertyKey,
    ModelType,
)
from graphon.nodes.code.code_node import CodeNode
from graphon.nodes.code.entities import CodeNodeData
from graphon.nodes.llm import LLMNode, LLMNodeData
from graphon.runtime.init_params import InitParams
from graphon.runtime.runtime_state import RuntimeState
from graphon.runtime.variable_pool import VariablePool

QUERY = "hello?"
# graphon's Slim LLM validation needs a plugin credential; nothing is ever called with it.
CREDENTIALS = DslCredentials.model_validate(
    {
        "model_credentials": [{"vendor": "openai", "values": {"openai_api_key": "bench"}}],
        # iter100's code node returns 100 strings; Dify's default cap is 30.
        "code": {"max_string_array_length": 1000},
    }
)


class FakeLLM:
    """graphon's `LLMProtocol`: streams a fixed token list, instantly."""

    def __init__(self, tokens: Sequence[str], model: str, parameters: Mapping[str, Any]) -> None:
        self._tokens = tuple(tokens)
        self._model = model
        self._parameters = dict(parameters)
        self._schema = AIModelEntity(
            model=model,
            label=I18nObject(en_US=model),
            model_type=ModelType.LLM,
            fetch_from=FetchFrom.PREDEFINED_MODEL,
            model_properties={ModelPropertyKey.MODE: "chat", ModelPropertyKey.CONTEXT_SIZE: 16384},
        )

    @property
    def provider(self) -> str:
        return "openai"

    @property
    def model_name(self) -> str:
        return self._model

    @property
    def parameters(self) -> Mapping[str, Any]:
        return dict(self._parameters)

    @parameters.setter
    def parameters(self, value: Mapping[str, Any]) -> None:
        self._parameters = dict(value)

    @property
    def stop(self) -> Sequence[str] | None:
        return None

    def get_model_schema(self) -> AIModelEntity:
        return self._schema

    def get_llm_num_tokens(self, prompt_messages: Sequence[PromptMessage]) -> int:
        return sum(len(str(m.content or "").split()) for m in prompt_messages)

    def _usage(self, prompt_messages: Sequence[PromptMessage]) -> LLMUsage:
        prompt = self.get_llm_num_tokens(prompt_messages)
        zero = Decimal(0)
        return LLMUsage(
            prompt_tokens=prompt,
            prompt_unit_price=zero,
            prompt_price_unit=zero,
            prompt_price=zero,
            completion_tokens=len(self._tokens),
            completion_unit_price=zero,
            completion_price_unit=zero,
            completion_price=zero,
            total_tokens=prompt + len(self._tokens),
            total_price=zero,
            currency="USD",
            latency=0.0,
        )

    def _chunks(self, prompt_messages: Sequence[PromptMessage]) -> Generator[LLMResultChunk]:
        last = len(self._tokens) - 1
        for index, token in enumerate(self._tokens):
            done = index == last
            yield LLMResultChunk(
                model=self._model,
                prompt_messages=prompt_messages,
                delta=LLMResultChunkDelta(
                    index=index,
                    message=AssistantPromptMessage(content=token),
                    usage=self._usage(prompt_messages) if done else None,
                    finish_reason="stop" if done else None,
                ),
            )

    def invoke_llm(
        self,
        *,
        prompt_messages: Sequence[PromptMessage],
        model_parameters: Mapping[str, Any],
        tools: Any,
        stop: Sequence[str] | None,
        stream: bool,
    ) -> LLMResult | Generator[LLMResultChunk]:
        if stream:
            return self._chunks(prompt_messages)
        return LLMResult(
            model=self._model,
            prompt_messages=list(prompt_messages),
            message=AssistantPromptMessage(content="".join(self._tokens)),
            usage=self._usage(prompt_messages),
        )

    def invoke_llm_with_structured_output(self, **kwargs: Any) -> Any:
        raise NotImplementedError("the benchmark apps use no structured output")

    def is_structured_output_parse_error(self, error: Exception) -> bool:
        return False


class InProcessCodeExecutor:
    """graphon's `CodeExecutorProtocol`: runs `main(**inputs)` with `exec`, in process.

    The code is compiled on every call, as a sandbox would receive it fresh each time.
    """

    def execute(self, *, language: Any, code: str, inputs: Mapping[str, Any]) -> Mapping[str, Any]:
        namespace: dict[str, Any] = {}
        exec(compile(code, "<code-node>", "exec"), namespace)
        result = namespace["main"](**inputs)
        if not isinstance(result, dict):
            raise TypeError("main() must return a dict")
        return result

    def is_execution_error(self, error: Exception) -> bool:
        return True


class BenchNodeFactory(SlimDslNodeFactory):
    """graphon's DSL node factory with the fake LLM and the in-process code executor."""

    __slots__ = ()
    tokens: ClassVar[tuple[str, ...]] = ()
    executor: ClassVar[InProcessCodeExecutor] = InProcessCodeExecutor()

    def _create_llm_node(self, request: _NodeBuildRequest) -> LLMNode:
        data = dict(request.data_payload)
        model = dict(data.get("model") or {})
        data["model"] = {**model, "provider": "openai"}
        return LLMNode(
            node_id=request.node_id,
            data=LLMNodeData.model_validate(data),
            init_params=self.init_params,
            runtime_state=self.runtime_state,
            model_instance=FakeLLM(
                self.tokens, str(model.get("name") or ""), model.get("completion_params") or {}
            ),
            llm_file_saver=_TextOnlyFileSaver(),
            prompt_message_serializer=_PassthroughPromptMessageSerializer(),
            default_query_selector=("sys", "query"),
        )

    def _create_code_node(self, request: _NodeBuildRequest) -> CodeNode:
        return CodeNode(
            node_id=request.node_id,
            data=CodeNodeData.model_validate(request.data_payload),
            init_params=self.init_params,
            runtime_state=self.runtime_state,
            code_executor=self.executor,
            code_limits=_code_limits(self.credentials.code),
        )

    NODE_BUILDERS: ClassVar[Mapping[Any, Any]] = {
        **SlimDslNodeFactory.NODE_BUILDERS,
        BuiltinNodeTypes.LLM: _create_llm_node,
        BuiltinNodeTypes.CODE: _create_code_node,
    }


def root_id(graph_config: Mapping[str, Any]) -> str:
    starts = [n["id"] for n in graph_config["nodes"] if n["data"]["type"] == "start"]
    return str(starts[0])


def run_once(plan: Any, query: str) -> tuple[str, float, float]:
    """One request: build pool, state, nodes and engine from the plan, drain the events.

    Returns the answer, the seconds to the terminal event and the seconds until the
    engine's generator ended (it joins its worker threads after the terminal event).
    """
    started = time.perf_counter()
    graph_config = plan.document.graph_config
    root = root_id(graph_config)
    pool = VariablePool()
    for key, value in {"query": query, "files": [], "conversation_id": "c", "user_id": "u"}.items():
        pool.add(("sys", key), value)
    init_params = InitParams(
        workflow_id="bench", graph_config=graph_config, run_context={}, call_depth=0
    )
    state = RuntimeState(variable_pool=pool, start_at=time.time(), workflow_id="bench")
    factory = BenchNodeFactory(
        graph_config=graph_config,
        init_params=init_params,
        runtime_state=state,
        credentials=CREDENTIALS,
        dependencies=list(plan.dependencies),
    )
    graph = Graph.init(graph_config=graph_config, node_factory=factory, root_node_id=root)
    engine = Engine(graph=graph, runtime_state=state)
    answer: list[str] = []  # streamed chunks (only LLM text streams in graphon)
    final: object = None
    succeeded = False
    done = 0.0
    for event in engine.run():
        if isinstance(event, NodeRunStreamChunkEvent):
            answer.append(event.chunk)
        elif isinstance(event, GraphRunSucceededEvent):
            succeeded = True
            done = time.perf_counter() - started
            final = event.outputs.get("answer")
    elapsed = time.perf_counter() - started
    if not succeeded:
        raise RuntimeError(f"graphon run did not succeed (answer so far: {''.join(answer)!r})")
    return (final if isinstance(final, str) else "".join(answer)), done, elapsed


def bench_workload(path: Path, runs: int, warmup: int) -> dict[str, Any]:
    text = path.read_text()
    load_times: list[float] = []
    for _ in range(max(3, runs // 10)):
        started = time.perf_counter()
        plan = inspect(text)
        load_times.append(time.perf_counter() - started)
    answer = ""
    for _ in range(warmup):
        answer, _, _ = run_once(plan, QUERY)
    samples = [run_once(plan, QUERY) for _ in range(runs)]
    return {
        "answer": answer,
        "load_us": [t * 1e6 for t in load_times],
        "run_us": [done * 1e6 for _, done, _ in samples],
        "end_us": [end * 1e6 for _, _, end in samples],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dsl_dir", type=Path)
    parser.add_argument("names", nargs="*", default=["echo", "llm", "chain50", "branch", "iter100"])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--tokens", type=int, default=20)
    args = parser.parse_args()
    BenchNodeFactory.tokens = tuple(f"t{i} " for i in range(args.tokens))
    import graphon

    results: dict[str, Any] = {
        "engine": "graphon",
        "version": getattr(graphon, "__version__", None) or _dist_version(),
        "python": sys.version.split()[0],
        "workloads": {},
    }
    for name in args.names:
        results["workloads"][name] = bench_workload(
            args.dsl_dir / f"{name}.yml", args.runs, args.warmup
        )
    json.dump(results, sys.stdout)
    sys.stdout.write("\n")


def _dist_version() -> str:
    from importlib.metadata import version

    return version("graphon")


if __name__ == "__main__":
    main()
