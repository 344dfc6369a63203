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

    __slots__ = ("_shared", "_values")

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
        # Scopes a fork still shares with its parent (copied on first write).
        self._shared: set[str] = set()

    def _own(self, node_id: str) -> dict[str, Any]:
        """The scope `node_id` to write into, copied first if still the parent's."""
        if node_id in self._shared:
            self._shared.discard(node_id)
            scope = self._values[node_id] = dict(self._values[node_id])
            return scope
        return self._values.setdefault(node_id, {})

    def set(self, node_id: str, name: str, value: Any) -> None:
        self._own(node_id)[name] = value

    def set_outputs(self, node_id: str, outputs: Mapping[str, Any]) -> None:
        self._own(node_id).update(outputs)

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

    def written_scopes(self) -> dict[str, Mapping[str, Any]]:
        """The node scopes a fork wrote (its own nodes' outputs), without `sys`, `env`
        and `conversation`: what a loop hands back to its parent after its last round."""
        reserved = (SYSTEM, ENVIRONMENT, CONVERSATION)
        return {
            node_id: scope
            for node_id, scope in self._values.items()
            if node_id not in self._shared and node_id not in reserved
        }

    def fork(self) -> VariablePool:
        """A child pool for one iteration/loop step: sees everything, writes stay local
        except conversation variables, which are shared with the parent."""
        child = VariablePool.__new__(VariablePool)
        # Copy-on-write: the child starts with the parent's scopes and copies one only
        # when it first writes to it, so a fork costs one dict copy, not one per scope.
        # Parents do not write to existing scopes while a fork is alive (a node's
        # outputs are set once, container passes write to their own fork).
        child._values = dict(self._values)
        child._shared = set(self._values)
        child._shared.discard(CONVERSATION)
        return child
