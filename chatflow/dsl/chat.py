"""Turn a `chat` / `agent-chat` app's `model_config` into an equivalent graph.

The result is what Dify's "convert to workflow" produces: start (the input form) ->
llm (system prompt = `pre_prompt`, memory on, the query as the user turn) -> answer
`{{#llm.text#}}`. An agent-chat app with tools gets an `agent` node instead of the llm.
An app with knowledge (`dataset_configs`) gets a knowledge-retrieval node before the llm,
whose result is the llm's context (`{{#context#}}`, and the answer's citations).
Nodes are built as Dify DSL dicts and validated by the node modules like any other DSL.
`{{var}}` placeholders become references to the start node's variables.
"""

from __future__ import annotations

import itertools
import re
from typing import Any

from chatflow.dsl.models import ModelConfig
from chatflow.errors import DSLError

START, LLM, AGENT, ANSWER = "start", "llm", "agent", "answer"
KNOWLEDGE = "knowledge"

_PLACEHOLDER = re.compile(r"\{\{([a-zA-Z_][a-zA-Z0-9_]{0,29})\}\}")
_SPECIAL = {"#query#": "{{#sys.query#}}", "#context#": "{{#context#}}", "#histories#": ""}
# Put before a simple-mode prompt when the app has knowledge: where the retrieved text goes.
_CONTEXT_PROMPT = (
    "Answer with the help of the knowledge between the <context> tags. If it does not "
    "hold the answer, say that you do not know rather than guessing, and answer in the "
    "language of the question.\n<context>\n{{#context#}}\n</context>\n\n"
)

Dicts = list[dict[str, Any]]


def chat_graph(config: ModelConfig, *, agent: bool = False) -> tuple[Dicts, Dicts]:
    """Nodes and edges, in `workflow.graph` shape, for a model_config app."""
    variables = [
        {**inner, "type": kind}
        for item in config.user_input_form
        for kind, inner in item.items()
        if isinstance(inner, dict) and kind != "external_data_tool"
    ]
    names = {str(v.get("variable")) for v in variables}
    tools = [t for t in config.agent_mode.get("tools") or [] if t.get("enabled", True)]
    use_agent = agent and bool(config.agent_mode.get("enabled")) and bool(tools)
    retrieval = None if use_agent else _knowledge_node(config, names)
    worker = (
        _agent_node(config, names, tools)
        if use_agent
        else _llm_node(config, names, with_context=retrieval is not None)
    )
    worker_id = worker["id"]
    chain = [START, *([KNOWLEDGE] if retrieval else []), worker_id, ANSWER]
    nodes = [
        {"id": START, "data": {"type": "start", "title": "Start", "variables": variables}},
        *([retrieval] if retrieval else []),
        worker,
        {
            "id": ANSWER,
            "data": {"type": "answer", "title": "Answer", "answer": f"{{{{#{worker_id}.text#}}}}"},
        },
    ]
    edges = [{"id": f"{a}-{b}", "source": a, "target": b} for a, b in itertools.pairwise(chain)]
    return nodes, edges


def _dataset_ids(configs: dict[str, Any]) -> list[str]:
    """`dataset_configs.datasets.datasets[].dataset.id` of the enabled datasets."""
    items = (configs.get("datasets") or {}).get("datasets") or []
    ids: list[str] = []
    for item in items:
        dataset = item.get("dataset") if isinstance(item, dict) else None
        if isinstance(dataset, dict) and dataset.get("id") and dataset.get("enabled", True):
            ids.append(str(dataset["id"]))
    return ids


def _knowledge_node(config: ModelConfig, names: set[str]) -> dict[str, Any] | None:
    """Dify's converter: the app's dataset settings as a knowledge-retrieval node."""
    configs = config.dataset_configs
    ids = _dataset_ids(configs)
    if not ids:
        return None
    query_variable = str((config.model_extra or {}).get("dataset_query_variable") or "")
    selector = [START, query_variable] if query_variable in names else ["sys", "query"]
    reranking = configs.get("reranking_model") or {}
    threshold = configs.get("score_threshold") if configs.get("score_threshold_enabled") else None
    data: dict[str, Any] = {
        "type": "knowledge-retrieval",
        "title": "Knowledge Retrieval",
        "query_variable_selector": selector,
        "dataset_ids": ids,
        "retrieval_mode": "single" if configs.get("retrieval_model") == "single" else "multiple",
        "single_retrieval_config": {
            "model": config.model.model_dump(
                include={"provider", "name", "mode", "completion_params"}
            )
        },
        "multiple_retrieval_config": {
            "top_k": int(configs.get("top_k") or 4),
            "score_threshold": threshold,
            "reranking_enable": bool(configs.get("reranking_enable")),
            "reranking_mode": configs.get("reranking_mode") or "reranking_model",
            "reranking_model": {
                "provider": reranking.get("reranking_provider_name", ""),
                "model": reranking.get("reranking_model_name", ""),
            },
            "weights": configs.get("weights"),
        },
    }
    for key in ("metadata_filtering_mode", "metadata_filtering_conditions"):
        if configs.get(key):
            data[key] = configs[key]
    if configs.get("metadata_model_config"):
        data["metadata_model_config"] = configs["metadata_model_config"]
    return {"id": KNOWLEDGE, "data": data}


def convert_placeholders(text: str, names: set[str]) -> str:
    """`{{name}}` -> `{{#start.name#}}`; `{{#query#}}` -> `{{#sys.query#}}`."""
    for special, replacement in _SPECIAL.items():
        text = text.replace("{{" + special + "}}", replacement)

    def swap(match: re.Match[str]) -> str:
        name = match.group(1)
        return f"{{{{#{START}.{name}#}}}}" if name in names else match.group(0)

    return _PLACEHOLDER.sub(swap, text)


def _llm_node(config: ModelConfig, names: set[str], *, with_context: bool) -> dict[str, Any]:
    query_template = "{{#sys.query#}}"
    if config.prompt_type == "advanced":
        messages = _prompt_messages(config)
        prompt = [
            {"role": m.get("role") or "user", "text": convert_placeholders(m["text"], names)}
            for m in messages
        ]
        if any("{{#query#}}" in m["text"] for m in messages):
            query_template = ""  # the prompt places the query itself
    else:
        pre_prompt = convert_placeholders(config.pre_prompt, names)
        if with_context and "{{#context#}}" not in pre_prompt:
            pre_prompt = _CONTEXT_PROMPT + pre_prompt
        prompt = [{"role": "system", "text": pre_prompt}] if pre_prompt.strip() else []
    image = (config.model_extra or {}).get("file_upload", {}).get("image", {}) or {}
    return {
        "id": LLM,
        "data": {
            "type": "llm",
            "title": "LLM",
            "model": config.model.model_dump(
                include={"provider", "name", "mode", "completion_params"}
            ),
            "prompt_template": prompt,
            # Dify's converter keeps the whole history (no window), trimmed by tokens.
            "memory": {
                "role_prefix": {"user": "", "assistant": ""},
                "window": {"enabled": False, "size": 50},
                "query_prompt_template": query_template,
            },
            "context": {
                "enabled": with_context,
                "variable_selector": [KNOWLEDGE, "result"] if with_context else [],
            },
            "vision": {
                "enabled": bool(image.get("enabled")),
                "configs": {
                    "detail": image.get("detail", "high"),
                    "variable_selector": ["sys", "files"],
                },
            },
        },
    }


def _prompt_messages(config: ModelConfig) -> Dicts:
    """`chat_prompt_config.prompt`, with `text: null` read as empty (as Dify does)."""
    messages = (config.chat_prompt_config or {}).get("prompt") or []
    if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
        raise DSLError("model_config.chat_prompt_config.prompt: must be a list of messages")
    return [{**m, "text": m.get("text") or ""} for m in messages]


def _agent_node(config: ModelConfig, names: set[str], tools: Dicts) -> dict[str, Any]:
    """Dify's agent node with the function-calling (or ReAct) strategy."""
    react = config.agent_mode.get("strategy") == "react"
    model = config.model
    return {
        "id": AGENT,
        "data": {
            "type": "agent",
            "title": "Agent",
            "agent_strategy_provider_name": "langgenius/agent/agent",
            "agent_strategy_name": "ReAct" if react else "function_calling",
            "agent_strategy_label": "ReAct" if react else "FunctionCalling",
            "agent_parameters": {
                "model": {
                    "type": "constant",
                    "value": {
                        "provider": model.provider,
                        "model": model.name,
                        "mode": model.mode,
                        "model_type": "llm",
                        "completion_params": model.completion_params,
                        "type": "model-selector",
                    },
                },
                "instruction": {
                    "type": "constant",
                    "value": convert_placeholders(config.pre_prompt, names),
                },
                "query": {"type": "constant", "value": "{{#sys.query#}}"},
                "maximum_iterations": {
                    "type": "constant",
                    "value": int(config.agent_mode.get("max_iteration") or 5),
                },
                "tools": {
                    "type": "constant",
                    "value": [
                        {
                            "enabled": True,
                            "provider_name": t.get("provider_id") or t.get("provider_name", ""),
                            "tool_name": t.get("tool_name", ""),
                            "type": t.get("provider_type", "builtin"),
                            "parameters": t.get("tool_parameters") or {},
                            "extra": {"description": t.get("tool_label", "")},
                        }
                        for t in tools
                    ],
                },
            },
            "memory": {"window": {"enabled": False, "size": 50}},
        },
    }
