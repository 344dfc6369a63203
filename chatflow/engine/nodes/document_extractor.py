"""The document-extractor node: turns uploaded files into text.

Matches Dify's `DocumentExtractorNode`: `variable_selector` names a file (output `text`
is a string) or a file list (output `text` is an array of strings). The conversions
themselves live in `nodes/_documents.py`, shared with the LLM node; here a file that
cannot be read or parsed fails the node, as in Dify.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from pydantic import Field

from chatflow.engine.files import File
from chatflow.engine.nodes._documents import extract_text
from chatflow.engine.nodes.base import NodeConfig, NodeContext, NodeEvent, NodeResult
from chatflow.engine.variables import MISSING
from chatflow.errors import NodeError

TYPE = "document-extractor"


class Config(NodeConfig):
    variable_selector: list[str] = Field(default_factory=list)
    is_array_file: bool = False  # UI hint only; the value's shape decides


async def run(ctx: NodeContext, config: Config) -> AsyncIterator[NodeEvent]:
    value = ctx.pool.get(config.variable_selector)
    if value is MISSING:
        raise NodeError(f"File variable not found for selector: {config.variable_selector}")
    inputs = {"variable_selector": config.variable_selector}
    if isinstance(value, list):
        files = [item for item in value if item]
        if not all(isinstance(item, File) for item in files):
            raise NodeError(f"Variable {config.variable_selector} is not an array of files")
        texts = [await _extract(ctx, file) for file in files]
        process = {"documents": [file.to_dict() for file in files]}
        yield NodeResult(outputs={"text": texts}, inputs=inputs, process_data=process)
        return
    if value is None:
        yield NodeResult(outputs={"text": []}, inputs=inputs, process_data={"documents": []})
        return
    if not isinstance(value, File):
        raise NodeError(f"Variable {config.variable_selector} is not a file")
    text = await _extract(ctx, value)
    process = {"documents": [value.to_dict()]}
    yield NodeResult(outputs={"text": text}, inputs=inputs, process_data=process)


async def _extract(ctx: NodeContext, file: File) -> str:
    reader = ctx.services.file_reader
    if reader is None:
        raise NodeError("document-extractor: no file reader is configured for this run")
    return await extract_text(reader, file, ctx.services.limits)
