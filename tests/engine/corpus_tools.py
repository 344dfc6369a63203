"""The tools a corpus run gets: every built-in provider, as an operator would configure
them, with a real SQLite database behind the SQL tools (seeded with the tables the corpus
apps query) and tool files kept on disk under the run's temp dir."""

from __future__ import annotations

import sqlite3
import uuid
from datetime import datetime
from pathlib import Path

from chatflow.engine.files import File
from chatflow.engine.nodes.base import ToolCaller
from chatflow.providers.base import ModelRegistry
from chatflow.services.file_types import extension_of, file_type
from chatflow.settings import Settings
from chatflow.store.storage import LocalFileStorage
from chatflow.tools.catalog import build_registry
from chatflow.tools.runtime import ToolRuntimeService
from chatflow.tools.signing import FileSigner

# The wrong-answer book of math-mistakes-similar-questions.yml (its SQL names these columns).
ERROR_QUESTIONS = [
    ("3 + 4 × 2 = ?", "数学", "填空题", "1"),
    ("12 ÷ 4 + 5 = ?", "数学", "填空题", "2"),
]


def seed_sql(path: Path) -> str:
    with sqlite3.connect(path) as conn:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS error_questions (id INTEGER PRIMARY KEY, "
            "question_text TEXT, subject TEXT, question_type TEXT, difficulty TEXT, "
            "created_at TEXT)"
        )
        now = datetime.now().strftime("%Y-%m-%d %H:%M:%S")
        conn.executemany(
            "INSERT INTO error_questions (question_text, subject, question_type, difficulty, "
            "created_at) VALUES (?, ?, ?, ?, ?)",
            [(*row, now) for row in ERROR_QUESTIONS],
        )
    return f"sqlite:///{path}"


class DiskToolFiles:
    """Stores tool files under a directory (the corpus runs have no database)."""

    def __init__(self, root: Path) -> None:
        self.storage = LocalFileStorage(root)
        self.signer = FileSigner(b"corpus")
        self.saved: list[File] = []

    async def save(
        self, content: bytes, filename: str, mime_type: str, caller: ToolCaller | None = None
    ) -> File:
        file_id = str(uuid.uuid4())
        await self.storage.save(f"tool-files/{file_id}", content)
        extension = extension_of(filename)
        file = File(
            type=file_type(extension, mime_type),
            transfer_method="tool_file",
            id=file_id,
            url=self.signer.url(file_id, f".{extension}"),
            filename=filename,
            extension=f".{extension}",
            mime_type=mime_type,
            size=len(content),
        )
        self.saved.append(file)
        return file


# Keys the web tools send to their loopback stand-ins (the cases' routes).
PERPLEXITY_KEY = "pplx-corpus"
SERPAPI_KEY = "serp-corpus"
TAVILY_KEY = "tvly-corpus"


def web_settings(base: str) -> dict[str, str]:
    """The web tools pointed at the corpus's loopback server: a request for
    `https://host/path` goes to `{base}/host/path`, as http-request nodes' URLs are
    rewritten, so the cases declare the web tools' answers as routes."""
    return {
        "tools_duckduckgo_url": f"{base}/html.duckduckgo.com/html/",
        "tools_searxng_url": f"{base}/searx.example",
        "tools_tavily_url": f"{base}/api.tavily.com",
        "tools_tavily_api_key": TAVILY_KEY,
        "tools_perplexity_url": f"{base}/api.perplexity.ai",
        "tools_perplexity_api_key": PERPLEXITY_KEY,
        "tools_google_search_url": f"{base}/serpapi.com/search",
        "tools_google_search_api_key": SERPAPI_KEY,
        "tools_wikipedia_url": f"{base}/{{language}}.wikipedia.org/w/api.php",
        "tools_google_translate_url": f"{base}/translate.googleapis.com/translate_a/single",
        "ssrf_allow": "127.0.0.1",
    }


def corpus_tools(
    root: Path, models: ModelRegistry, web_base: str = ""
) -> tuple[ToolRuntimeService, DiskToolFiles]:
    root.mkdir(parents=True, exist_ok=True)
    web: dict[str, str] = web_settings(web_base) if web_base else {}
    settings = Settings(data_dir=root, tools_sql_url=seed_sql(root / "operator.db"), **web)
    files = DiskToolFiles(root / "files")
    runtime = ToolRuntimeService(
        build_registry(settings), files=files, settings=settings, services={"models": models}
    )
    return runtime, files
