"""Validate a code node's result against its declared outputs, the way Dify does.

Declared outputs are checked by type (string, number, boolean, object, array[...]) and
missing keys fail; undeclared keys are dropped. Objects without declared children are
checked by inferring each value's type. Limits (string length, array lengths, depth,
number range and precision) come from `EngineLimits`; messages follow Dify's wording.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict

from chatflow.engine.limits import EngineLimits


class OutputValidationError(ValueError):
    """The code ran but its result does not match the node's outputs."""


class Output(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    type: str
    children: dict[str, Output] | None = None


class Validator:
    def __init__(self, limits: EngineLimits) -> None:
        self.limits = limits

    def validate(
        self,
        result: Mapping[str, Any],
        schema: Mapping[str, Output] | None,
        prefix: str = "",
        depth: int = 1,
    ) -> dict[str, Any]:
        if depth > self.limits.code_max_depth:
            raise OutputValidationError(
                f"Depth limit {self.limits.code_max_depth} reached, object too deep."
            )
        if schema is None:
            return {
                key: self._infer(value, _join(prefix, key), depth) for key, value in result.items()
            }
        validated: dict[str, Any] = {}
        for name, output in schema.items():
            path = _join(prefix, name)
            if name not in result:
                raise OutputValidationError(f"Output {path} is missing.")
            validated[name] = self._typed(result[name], output, path, depth)
        return validated

    def _typed(self, value: Any, output: Output, path: str, depth: int) -> Any:
        kind = output.type
        if value is None:
            return None  # Dify lets any declared output be null
        if kind == "string":
            return self._string(value, path)
        if kind == "number":
            return self._number(value, path)
        if kind == "boolean":
            if not isinstance(value, bool):
                raise OutputValidationError(f"Output variable `{path}` must be a boolean")
            return value
        if kind == "object":
            if not isinstance(value, dict):
                raise OutputValidationError(
                    f"Output {path} is not an object, got {type(value)} instead."
                )
            return self.validate(value, output.children, path, depth + 1)
        if kind.startswith("array[") and kind.endswith("]"):
            return self._array(value, kind[6:-1], output, path, depth)
        raise OutputValidationError(f"Output {path} has an unsupported type {kind}.")

    def _array(self, value: Any, item: str, output: Output, path: str, depth: int) -> list[Any]:
        if not isinstance(value, list):
            raise OutputValidationError(
                f"Output {path} is not an array, got {type(value)} instead."
            )
        limit = {
            "string": self.limits.code_max_string_array_length,
            "number": self.limits.code_max_number_array_length,
            "object": self.limits.code_max_object_array_length,
        }.get(item, self.limits.code_max_number_array_length)
        if len(value) > limit:
            raise OutputValidationError(
                f"The length of output variable `{path}` must be less than {limit} elements."
            )
        items: list[Any] = []
        for index, element in enumerate(value):
            at = f"{path}[{index}]"
            if element is None:
                items.append(None)
            elif item == "object":
                if not isinstance(element, dict):
                    raise OutputValidationError(
                        f"Output {at} is not an object, got {type(element)} instead "
                        f"at index {index}."
                    )
                items.append(self.validate(element, output.children, at, depth + 1))
            else:
                items.append(self._typed(element, Output(type=item), at, depth))
        return items

    def _infer(self, value: Any, path: str, depth: int) -> Any:
        if value is None or isinstance(value, bool):
            return value
        if isinstance(value, int | float):
            return self._number(value, path)
        if isinstance(value, str):
            return self._string(value, path)
        if isinstance(value, dict):
            return self.validate(value, None, path, depth + 1)
        if isinstance(value, list):
            kinds = {_kind(element) for element in value if element is not None}
            if len(kinds) > 1 or None in kinds:
                raise OutputValidationError(
                    f"Output {path} is not a valid array. "
                    "make sure all elements are of the same type."
                )
            item = next((k for k in kinds if k is not None), "string")
            return self._array(value, item, Output(type=f"array[{item}]"), path, depth)
        raise OutputValidationError(f"Output {path} is not a valid type.")

    def _string(self, value: Any, path: str) -> str:
        if not isinstance(value, str):
            raise OutputValidationError(f"Output variable `{path}` must be a string")
        limit = self.limits.code_max_string_length
        if len(value) > limit:
            raise OutputValidationError(
                f"The length of output variable `{path}` must be less than {limit} characters"
            )
        return value.replace("\x00", "")

    def _number(self, value: Any, path: str) -> int | float:
        if not isinstance(value, int | float):
            raise OutputValidationError(f"Output variable `{path}` must be a number")
        low, high = self.limits.code_min_number, self.limits.code_max_number
        if value > high or value < low:
            raise OutputValidationError(
                f"Output variable `{path}` is out of range, it must be between {low} and {high}."
            )
        if isinstance(value, float):
            text = repr(value)
            decimals = text.split(".")[1] if "." in text and "e" not in text else ""
            if len(decimals) > self.limits.code_max_precision:
                raise OutputValidationError(
                    f"Output variable `{path}` has too high precision, it must be less than "
                    f"{self.limits.code_max_precision} digits."
                )
        return value


def _kind(value: Any) -> str | None:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dict):
        return "object"
    return None


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name
