"""The `answer` node: renders its template as the chat reply.

The text the client sees streams through the answer coordinator (`engine/answer_stream`)
while upstream nodes run; this node's own output is the rendered template (`answer`,
Markdown style, as Dify renders arrays and objects) and the files it references.
"""

from __future__ import annotations

from typing import Any

from chatflow.engine.files import File
from chatflow.engine.nodes.base import NodeConfig, NodeContext, NodeResult
from chatflow.engine.template import render, selectors

TYPE = "answer"


class Config(NodeConfig):
    answer: str = ""


def run(ctx: NodeContext, config: Config) -> NodeResult:
    text = render(config.answer, ctx.pool, "markdown")
    files: list[File] = []
    for selector in selectors(config.answer):
        value: Any = ctx.pool.get(selector, None)
        if isinstance(value, File):
            files.append(value)
        elif isinstance(value, list):
            files.extend(item for item in value if isinstance(item, File))
    return NodeResult(outputs={"answer": text, "files": files})
