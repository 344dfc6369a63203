"""OpenAPI 3 / Swagger 2 specs as tool providers: `spec` reads them, `tool` calls one
operation, `provider` holds an operator's spec."""

from chatflow.tools.openapi.provider import OpenApiProvider, read_spec
from chatflow.tools.openapi.spec import Operation, SpecError, parse_spec
from chatflow.tools.openapi.tool import OpenApiTool

__all__ = ["OpenApiProvider", "OpenApiTool", "Operation", "SpecError", "parse_spec", "read_spec"]
