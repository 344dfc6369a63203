"""Schemathesis checks for the conformance run (loaded through `SCHEMATHESIS_HOOKS`).

Two built-in checks are swapped for versions that skip exactly the findings listed in
deviations.py: an undocumented status the deviation allows for that operation, and a
response schema that the seed gets wrong for that operation and media type. Everything
else is the built-in check's verdict, failure message included.
"""

from __future__ import annotations

from typing import Any

import schemathesis
from schemathesis.specs.openapi.checks import (
    response_schema_conformance,
    status_code_conformance,
)

from tests.api.deviations import SCHEMA, STATUS, allowed


@schemathesis.check
def status_code_conformance_with_deviations(
    ctx: schemathesis.CheckContext, response: schemathesis.Response, case: schemathesis.Case[Any]
) -> Any:
    if str(response.status_code) in allowed(STATUS, case.operation.label):
        return None
    return status_code_conformance(ctx, response, case)


@schemathesis.check
def response_schema_conformance_with_deviations(
    ctx: schemathesis.CheckContext, response: schemathesis.Response, case: schemathesis.Case[Any]
) -> Any:
    media_type = response.headers.get("content-type", [""])[0].split(";")[0].strip()
    if media_type in allowed(SCHEMA, case.operation.label):
        return None
    return response_schema_conformance(ctx, response, case)
