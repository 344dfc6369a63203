"""The question-classifier node: asks the model which class a query belongs to.

Matches Dify's `QuestionClassifierNode`: the same few-shot prompt (chat mode: a system
prompt with the memory, two worked examples, then the query with the categories as
JSON; completion mode: one prompt), class names and the instruction may hold
`{{#node.var#}}` references, `<think>` blocks are ignored, and the reply's JSON
`category_id` picks the branch. An unknown id, or a reply with no usable JSON, falls
back to the first class. Outputs: `class_name`, `class_id`, `usage`; the handle is the
chosen class id.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from chatflow.engine.nodes._model_call import (
    complete,
    json_dumps,
    memory_text,
    query_text,
    serialize_prompts,
    strip_think,
    vision_images,
    with_images,
)
from chatflow.engine.nodes.base import NodeConfig, NodeContext, NodeEvent, NodeResult
from chatflow.engine.nodes.llm.config import MemoryConfig, ModelConfig, VisionConfig
from chatflow.engine.template import render
from chatflow.errors import NodeError
from chatflow.providers.base import ChatMessage

TYPE = "question-classifier"

SYSTEM_PROMPT = (
    "\n### Job Description',\n"
    "You are a text classification engine that analyzes text data and assigns categories "
    "based on user input or automatically determined categories.\n"
    "### Task\n"
    "Your task is to assign one categories ONLY to the input text and only one category "
    "may be assigned returned in the output.\n"
    "Additionally, you need to extract the key words from the text that are related to "
    "the classification.\n"
    "### Format\n"
    "The input text is in the variable input_text. Categories are specified as a category "
    "list with two filed category_id and category_name in the variable categories. "
    "Classification instructions may be included to improve the classification accuracy.\n"
    "### Constraint\n"
    "DO NOT include anything other than the JSON array in your response.\n"
    "### Memory\n"
    "Here are the chat histories between human and assistant, inside "
    "<histories></histories> XML tags.\n"
    "<histories>\n{histories}\n</histories>\n"
)
EXAMPLES: tuple[tuple[str, str], ...] = (
    (
        '\n    {"input_text": ["I recently had a great experience with your company. The '
        'service was prompt and the staff was very friendly."],\n'
        '    "categories": [{"category_id":"f5660049-284f-41a7-b301-fd24176a711c",'
        '"category_name":"Customer Service"},{"category_id":"8d007d06-f2c9-4be5-8ff6-'
        'cd4381c13c60","category_name":"Satisfaction"},{"category_id":"5fbbbb18-9843-466d-'
        '9b8e-b9bfbb9482c8","category_name":"Sales"},{"category_id":"23623c75-7184-4a2e-'
        '8226-466c2e4631e4","category_name":"Product"}],\n'
        '    "classification_instructions": ["classify the text based on the feedback '
        'provided by customer"]}\n',
        '\n```json\n    {"keywords": ["recently", "great experience", "company", "service", '
        '"prompt", "staff", "friendly"],\n'
        '    "category_id": "f5660049-284f-41a7-b301-fd24176a711c",\n'
        '    "category_name": "Customer Service"}\n```\n',
    ),
    (
        '\n    {"input_text": ["bad service, slow to bring the food"],\n'
        '    "categories": [{"category_id":"80fb86a0-4454-4bf5-924c-f253fdd83c02",'
        '"category_name":"Food Quality"},{"category_id":"f6ff5bc3-aca0-4e4a-8627-'
        'e760d0aca78f","category_name":"Experience"},{"category_id":"cc771f63-74e7-4c61-'
        '882e-3eda9d8ba5d7","category_name":"Price"}],\n'
        '    "classification_instructions": []}\n',
        '\n```json\n    {"keywords": ["bad service", "slow", "food", "tip", "terrible", '
        '"waitresses"],\n'
        '    "category_id": "f6ff5bc3-aca0-4e4a-8627-e760d0aca78f",\n'
        '    "category_name": "Experience"}\n```\n',
    ),
)
USER_PROMPT = (
    '\n    {{"input_text": ["{input_text}"],\n'
    '    "categories": {categories},\n'
    '    "classification_instructions": ["{classification_instructions}"]}}\n'
)
COMPLETION_PROMPT = (
    "\n"
    "### Job Description\n"
    "You are a text classification engine that analyzes text data and assigns "
    "categories based on user input or automatically determined categories.\n"
    "### Task\n"
    "Your task is to assign one categories ONLY to the input text and only one "
    "category may be assigned returned in the output.\n"
    "Additionally, you need to extract the key words from the text that are related "
    "to the classification.\n"
    "### Format\n"
    "The input text is in the variable input_text. Categories are specified as a "
    "category list  with two filed category_id and category_name in the variable "
    "categories. Classification instructions may be included to improve the "
    "classification accuracy.\n"
    "### Constraint\n"
    "DO NOT include anything other than the JSON array in your response.\n"
    "### Example\n"
    "Here is the chat example between human and assistant, inside <example></example> "
    "XML tags.\n"
    "<example>\n"
    'User:{{"input_text": ["I recently had a great experience with your company. The '
    'service was prompt and the staff was very friendly."], "categories": '
    '[{{"category_id":"f5660049-284f-41a7-b301'
    '-fd24176a711c","category_name":"Customer '
    'Service"}},{{"category_id":"8d007d06-f2c9'
    '-4be5-8ff6-cd4381c13c60","category_name":'
    '"Satisfaction"}},{{"category_id":"5fbbbb1'
    '8-9843-466d-9b8e-b9bfbb9482c8","category_'
    'name":"Sales"}},{{"category_id":"23623c75'
    '-7184-4a2e-8226-466c2e4631e4","category_name":"Product"}}], '
    '"classification_instructions": ["classify the text based on the feedback '
    'provided by customer"]}}\n'
    'Assistant:{{"keywords": ["recently", "great experience", "company", "service", '
    '"prompt", "staff", "friendly"],"category_id": '
    '"f5660049-284f-41a7-b301-fd24176a711c","category_name": "Customer Service"}}\n'
    'User:{{"input_text": ["bad service, slow to bring the food"], "categories": '
    '[{{"category_id":"80fb86a0-4454-4bf5-924c-f253fdd83c02","category_name":"Food '
    'Quality"}},{{"category_id":"f6ff5bc3-aca0'
    '-4e4a-8627-e760d0aca78f","category_name":'
    '"Experience"}},{{"category_id":"cc771f63-'
    '74e7-4c61-882e-3eda9d8ba5d7","category_name":"Price"}}], '
    '"classification_instructions": []}}\n'
    'Assistant:{{"keywords": ["bad service", "slow", "food", "tip", "terrible", '
    '"waitresses"],"category_id": "f6ff5bc3-ac'
    'a0-4e4a-8627-e760d0aca78f","category_name": "Experience"}}\n'
    "</example>\n"
    "### Memory\n"
    "Here are the chat histories between human and assistant, inside "
    "<histories></histories> XML tags.\n"
    "<histories>\n"
    "{histories}\n"
    "</histories>\n"
    "### User Input\n"
    '{{"input_text" : ["{input_text}"], "categories" : '
    '{categories},"classification_instruction" : ["{classification_instructions}"]}}\n'
    "### Assistant Output\n"
)


class ClassConfig(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str
    name: str = ""


class Config(NodeConfig):
    query_variable_selector: list[str] = Field(default_factory=list)
    model: ModelConfig
    classes: list[ClassConfig] = Field(min_length=1)
    instruction: str | None = None
    instructions: str | None = None  # the field's name in old DSLs
    memory: MemoryConfig | None = None
    vision: VisionConfig = Field(default_factory=VisionConfig)


async def run(ctx: NodeContext, config: Config) -> AsyncIterator[NodeEvent]:
    query = query_text(ctx.pool, config.query_variable_selector)
    instruction = render(config.instruction or config.instructions or "", ctx.pool)
    classes = [(c.id, render(c.name, ctx.pool)) for c in config.classes]
    categories = json_dumps([{"category_id": i, "category_name": n} for i, n in classes])
    histories = memory_text(ctx, config.memory)
    fields = {
        "input_text": query,
        "categories": categories,
        "classification_instructions": instruction,
    }
    if config.model.mode == "completion":
        prompt = COMPLETION_PROMPT.format(histories=histories, **fields)
        messages = [ChatMessage("user", prompt)]
    else:
        messages = [ChatMessage("system", SYSTEM_PROMPT.format(histories=histories))]
        for user, assistant in EXAMPLES:
            messages += [ChatMessage("user", user), ChatMessage("assistant", assistant)]
        messages.append(ChatMessage("user", USER_PROMPT.format(**fields)))
    messages = with_images(messages, await vision_images(ctx, config.vision))

    try:
        reply = await complete(ctx, config.model, messages)
    except NodeError:
        raise
    except Exception as exc:
        raise NodeError(f"question classifier model call failed: {exc}") from exc
    class_id, class_name = choose(reply.text, classes)
    usage = reply.usage.to_dict()
    yield NodeResult(
        outputs={"class_name": class_name, "class_id": class_id, "usage": usage},
        inputs={
            "query": query,
            "model_provider": config.model.provider,
            "model_name": config.model.name,
        },
        process_data={
            "model_mode": config.model.mode,
            "prompts": serialize_prompts(messages),
            "usage": usage,
            "finish_reason": reply.finish_reason,
            "model_provider": config.model.provider,
            "model_name": config.model.name,
        },
        handle=class_id,
        usage=reply.usage,
    )


def choose(reply: str, classes: list[tuple[str, str]]) -> tuple[str, str]:
    """The class the reply names by `category_id`; the first class otherwise."""
    names = dict(classes)
    parsed = _json_object(strip_think(reply))
    if parsed is not None:
        category_id = parsed.get("category_id")
        if isinstance(category_id, str | int) and str(category_id) in names:
            return str(category_id), names[str(category_id)]
        # Small models sometimes answer with the name only.
        category_name = parsed.get("category_name")
        for class_id, name in classes:
            if isinstance(category_name, str) and category_name.strip() == name:
                return class_id, name
    return classes[0]


_FENCE = re.compile(r"```(?:json)?\s*([\s\S]*?)```", re.IGNORECASE)


def _json_object(text: str) -> dict[str, Any] | None:
    """Dify's `parse_json_markdown`, made lenient: fenced block, else the outermost
    braces; a one-element list holding an object counts as that object."""
    fenced = _FENCE.search(text)
    candidates = [fenced.group(1)] if fenced else []
    start, end = text.find("{"), text.rfind("}")
    if start != -1 and end > start:
        candidates.append(text[start : end + 1])
    for candidate in candidates:
        try:
            value = json.loads(candidate.strip())
        except ValueError:
            continue
        if isinstance(value, list) and len(value) == 1:
            value = value[0]
        if isinstance(value, dict):
            return value
    return None
