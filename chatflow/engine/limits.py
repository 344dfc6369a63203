"""Engine limits, with Dify's defaults. The server fills them from settings."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class EngineLimits:
    max_steps: int = 500  # WORKFLOW_MAX_EXECUTION_STEPS
    max_run_seconds: float = 1200.0  # WORKFLOW_MAX_EXECUTION_TIME
    max_call_depth: int = 5
    code_max_string_length: int = 400_000  # CODE_MAX_STRING_LENGTH
    code_max_string_array_length: int = 30  # CODE_MAX_STRING_ARRAY_LENGTH
    code_max_object_array_length: int = 30  # CODE_MAX_OBJECT_ARRAY_LENGTH
    code_max_number_array_length: int = 1000  # CODE_MAX_NUMBER_ARRAY_LENGTH
    code_max_depth: int = 5  # CODE_MAX_DEPTH
    code_max_number: int = 9_223_372_036_854_775_807  # CODE_MAX_NUMBER
    code_min_number: int = -9_223_372_036_854_775_807  # CODE_MIN_NUMBER
    code_max_precision: int = 20  # CODE_MAX_PRECISION
    code_timeout_seconds: float = 15.0
    template_max_length: int = 400_000  # TEMPLATE_TRANSFORM_MAX_LENGTH
    http_max_text_size: int = 1024 * 1024
    http_max_binary_size: int = 10 * 1024 * 1024
    http_timeout_seconds: float = 60.0
    max_iteration_parallelism: int = 10
    loop_max_count: int = 100  # LOOP_NODE_MAX_COUNT
    # Characters of one document's extracted text an LLM prompt may carry (ours; Dify
    # sends documents natively and has no such cap).
    llm_document_max_chars: int = 100_000
    # Parsing one document (PDF, DOCX, spreadsheet...) in its child process.
    extract_timeout_seconds: float = 30.0
    extract_memory_mb: int = 512
