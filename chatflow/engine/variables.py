"""The variable pool: values addressed by selectors `[node_id, name, *path]`.

Reserved first elements: `sys` (system variables), `env` (environment variables) and
`conversation` (conversation variables, persisted per conversation by the caller).
Values are plain Python values (str, int, float, bool, dict, list) and `File`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from chatflow.engine.files import File

SYSTEM = "sys"
ENVIRONMENT = "env"
CONVERSATION = "conversation"


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


class VariablePool:
    """Node outputs and system/env/conversation variables for one run."""

    __slots__ = ("_values",)

    def __init__(
        self,
        *,
        system: Mapping[str, Any] | None = None,
        environment: Mapping[str, Any] | None = None,
        conversation: Mapping[str, Any] | None = None,
    ) -> None:
        self._values: dict[str, dict[str, Any]] = {
            SYSTEM: dict(system or {}),
            ENVIRONMENT: dict(environment or {}),
            CONVERSATION: dict(conversation or {}),
        }

    def set(self, node_id: str, name: str, value: Any) -> None:
        self._values.setdefault(node_id, {})[name] = value

    def set_outputs(self, node_id: str, outputs: Mapping[str, Any]) -> None:
        self._values.setdefault(node_id, {}).update(outputs)

    def get(self, selector: Sequence[str], default: Any = MISSING) -> Any:
        """Resolve `[node_id, name, *path]`; path steps index dicts, lists and files."""
        if len(selector) < 2:
            return default
        scope = self._values.get(selector[0])
        if scope is None or selector[1] not in scope:
            # Dify also accepts the legacy `sys.query` spelled as `["sys", "query"]` only;
            # nothing else to try.
            return default
        value: Any = scope[selector[1]]
        for step in selector[2:]:
            if isinstance(value, Mapping):
                if step not in value:
                    return default
                value = value[step]
            elif isinstance(value, File):
                value = value.attribute(step)
            elif isinstance(value, list) and step.lstrip("-").isdigit():
                index = int(step)
                if not -len(value) <= index < len(value):
                    return default
                value = value[index]
            else:
                return default
        return value

    def has(self, selector: Sequence[str]) -> bool:
        return self.get(selector) is not MISSING

    def node_outputs(self, node_id: str) -> Mapping[str, Any]:
        return self._values.get(node_id, {})

    def conversation_variables(self) -> dict[str, Any]:
        return dict(self._values[CONVERSATION])

    def fork(self) -> VariablePool:
        """A child pool for one iteration/loop step: sees everything, writes stay local
        except conversation variables, which are shared with the parent."""
        child = VariablePool.__new__(VariablePool)
        child._values = {key: dict(scope) for key, scope in self._values.items()}
        child._values[CONVERSATION] = self._values[CONVERSATION]
        return child
