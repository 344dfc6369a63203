"""The `maths` provider (Dify's `maths` / `eval_expression`), also reachable as `calculator`.

Expressions are parsed with `ast` and evaluated by walking the tree: numbers, arithmetic,
comparisons, a fixed set of math functions and constants. Nothing is ever `eval`ed;
names, attributes, calls of anything else and oversized numbers are refused.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import AsyncIterator, Callable, Mapping
from typing import TYPE_CHECKING, Any

from chatflow.tools.base import TextMessage, ToolContext, ToolDescriptor, ToolError, ToolParameter

if TYPE_CHECKING:
    from chatflow.settings import Settings

from chatflow.tools.builtin._kit import BuiltinProvider, FunctionTool, required_text

ID = "maths"
MAX_LENGTH = 1000
MAX_DEPTH = 50
MAX_EXPONENT = 10_000  # `9**9**9` would hang the worker
MAX_INT_BITS = 4096

Number = int | float

_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY: dict[type[ast.unaryop], Callable[[Any], Any]] = {
    ast.UAdd: operator.pos,
    ast.USub: operator.neg,
}
_COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], bool]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
}
FUNCTIONS: dict[str, Callable[..., Any]] = {
    "abs": abs,
    "round": round,
    "min": min,
    "max": max,
    "sqrt": math.sqrt,
    "exp": math.exp,
    "log": math.log,
    "log10": math.log10,
    "log2": math.log2,
    "sin": math.sin,
    "cos": math.cos,
    "tan": math.tan,
    "asin": math.asin,
    "acos": math.acos,
    "atan": math.atan,
    "sinh": math.sinh,
    "cosh": math.cosh,
    "tanh": math.tanh,
    "floor": math.floor,
    "ceil": math.ceil,
    "factorial": math.factorial,
}
CONSTANTS: dict[str, Number] = {"pi": math.pi, "e": math.e, "tau": math.tau}


class _Evaluator:
    def __init__(self) -> None:
        self.depth = 0

    def eval(self, node: ast.AST) -> Number:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ToolError("expression is nested too deeply")
        try:
            return self._eval(node)
        finally:
            self.depth -= 1

    def _eval(self, node: ast.AST) -> Number:
        if isinstance(node, ast.Expression):
            return self.eval(node.body)
        if isinstance(node, ast.Constant) and type(node.value) in (int, float):
            return _checked(node.value)
        if isinstance(node, ast.Name) and node.id in CONSTANTS:
            return CONSTANTS[node.id]
        if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
            return _checked(_UNARY[type(node.op)](self.eval(node.operand)))
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            left, right = self.eval(node.left), self.eval(node.right)
            if isinstance(node.op, ast.Pow) and abs(right) > MAX_EXPONENT:
                raise ToolError("exponent too large")
            return _checked(_BINARY[type(node.op)](left, right))
        if isinstance(node, ast.Compare) and all(type(op) in _COMPARE for op in node.ops):
            left = self.eval(node.left)
            for op, comparator in zip(node.ops, node.comparators, strict=True):
                right = self.eval(comparator)
                if not _COMPARE[type(op)](left, right):
                    return 0
                left = right
            return 1
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in FUNCTIONS
            and not node.keywords
        ):
            args = [self.eval(arg) for arg in node.args]
            if node.func.id == "factorial" and args and args[0] > 1000:
                raise ToolError("factorial argument too large")
            return _checked(FUNCTIONS[node.func.id](*args))
        raise ToolError(f"unsupported element in expression: {ast.dump(node)[:60]}")


def _checked(value: Any) -> Number:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
        raise ToolError("result too large")
    if not isinstance(value, int | float):
        raise ToolError("expression did not give a number")
    return value


def evaluate(expression: str) -> Number:
    """The value of an arithmetic expression; `ToolError` for anything else."""
    if len(expression) > MAX_LENGTH:
        raise ToolError(f"expression longer than {MAX_LENGTH} characters")
    text = expression.strip().replace("^", "**").replace("×", "*").replace("÷", "/")
    try:
        tree = ast.parse(text, mode="eval")
    except (SyntaxError, RecursionError, MemoryError) as error:
        raise ToolError(f"Invalid expression: {expression}") from error
    try:
        return _Evaluator().eval(tree)
    except (ArithmeticError, ValueError, TypeError) as error:
        raise ToolError(f"Invalid expression: {expression}: {error}") from error


def format_number(value: Number) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    return str(value)


async def eval_expression(
    params: Mapping[str, Any], ctx: ToolContext
) -> AsyncIterator[TextMessage]:
    yield TextMessage(format_number(evaluate(required_text(params, "expression"))))


def provider(settings: Settings) -> BuiltinProvider:
    descriptor = ToolDescriptor(
        ID,
        "eval_expression",
        "Evaluate expression",
        "Evaluate an arithmetic expression, e.g. (2 + 3) * sqrt(16) / 2.",
        (ToolParameter("expression", "string", "Expression", "The expression", required=True),),
    )
    return BuiltinProvider(
        ID,
        ("calculator", "langgenius/maths/maths", "langgenius/maths"),
        "Maths",
        [FunctionTool(descriptor, eval_expression)],
    )
