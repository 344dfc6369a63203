"""The corpus run cases: for each real DSL export, the inputs that drive it down a path,
the model replies that path needs, and how the run must end.

Shared by `test_corpus_runs.py` and the script that times the runs for
`docs/coverage.md`. A case that ends `failed` names the node where the run reaches a
provider this engine does not ship (tool, agent, knowledge base) and that node's error.
Remote hosts of http-request nodes are answered by a loopback server (`routes`); their
URLs are rewritten to it, nothing leaves the machine.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chatflow.engine.files import File

DSL_DIR = str(Path(__file__).resolve().parents[3] / "shared" / "dsl")


def upload(name: str = "bill.txt", *, url: str | None = None) -> File:
    """A local upload (the test's file reader serves its bytes)."""
    extension = "." + name.rsplit(".", 1)[-1]
    return File(
        "document", "local_file", id=f"upload-{name}", url=url, filename=name,
        extension=extension, mime_type="text/plain", size=64,
    )  # fmt: skip


@dataclass(frozen=True)
class Route:
    """A canned answer of the loopback server for one `host` + `path`."""

    body: str
    status: int = 200
    content_type: str = "application/json"


@dataclass(frozen=True)
class Case:
    file: str
    label: str = ""
    inputs: dict[str, Any] = field(default_factory=dict)
    query: str = "hello"
    dialogue_count: int = 0
    conversation: dict[str, Any] = field(default_factory=dict)
    # (needle, reply): a model request whose messages contain `needle` gets `reply`.
    replies: tuple[tuple[str, str], ...] = ()
    routes: dict[tuple[str, str], Route] = field(default_factory=dict)
    status: str = "succeeded"
    # For runs that reach a provider boundary: the node that fails, and its error.
    failed_node: str | None = None
    error: str | None = None
    # Nodes inside a container whose failures the container drops
    # (`remove-abnormal-output`): they fail at the boundary, the run goes on.
    dropped: frozenset[str] = frozenset()
    # Text the streamed answer must contain.
    answer: str | None = None
    # Tool nodes (by tool name) that must have run and succeeded.
    tools_ran: tuple[str, ...] = ()
    why: str = ""

    @property
    def id(self) -> str:
        name = self.file.removesuffix(".yml")
        return f"{name}[{self.label}]" if self.label else name


def _category(class_id: str, name: str) -> str:
    return json.dumps({"category_id": class_id, "category_name": name}, ensure_ascii=False)


OCR = Route(json.dumps({"markdown_content": "GPU ready\\n## Page 1\\n发票号码 0042"}))
EXA_SEARCH = Route(
    json.dumps(
        {
            "results": [
                {"title": "Dify docs", "url": "https://docs.dify.ai/"},
                {"title": "Graphon", "url": "https://example.org/graphon"},
            ]
        }
    )
)
# The web tools' services (see corpus_tools.web_settings), as they answer.
ARTICLE = Route(
    "<html><head><title>Solar power explained</title></head><body><nav>Home</nav><article>"
    "<h1>Solar power explained</h1><p>Solar panels convert sunlight into electricity through "
    "the photovoltaic effect; prices fell ninety percent in a decade.</p></article></body></html>",
    content_type="text/html; charset=utf-8",
)
DUCKDUCKGO = Route(
    "<html><body>"
    + "".join(
        f'<div class="result"><a class="result__a" href="/pages.example/{n}.html">Solar {n}</a>'
        f'<a class="result__snippet">Snippet {n}</a></div>'
        for n in range(1, 5)
    )
    + "</body></html>",
    content_type="text/html; charset=utf-8",
)
DUCKDUCKGO_ROUTES = {
    ("html.duckduckgo.com", "/html/"): DUCKDUCKGO,
    **{("pages.example", f"/{n}.html"): ARTICLE for n in range(1, 5)},
}
# Both MediaWiki calls (list=search, then prop=extracts) read their part of one answer.
WIKIPEDIA = Route(
    json.dumps(
        {
            "query": {
                "search": [{"title": "Solar power"}],
                "pages": [{"title": "Solar power", "extract": "Solar power is energy."}],
            }
        }
    )
)
PERPLEXITY = Route(
    json.dumps(
        {
            "citations": ["https://docs.dify.ai/"],
            "choices": [{"message": {"role": "assistant", "content": "Dify.AI ships agents."}}],
        }
    )
)
TRANSLATE = Route(json.dumps([[["Hello", "你好", None, None, 10]], None, "zh-CN"]))
EXA_CONTENTS = Route(json.dumps({"results": [{"highlights": ["Dify runs workflows."]}]}))

# deep-researcher's extractors run in prompt mode: they read JSON from the reply text.
DEEP_RESEARCH_REPLIES = (
    *((f"Keyword{n}", json.dumps({f"Keyword{n}": ["solar cost", "panel"]})) for n in range(1, 5)),
    (
        "subtitle1",
        json.dumps({f"subtitle{n}": f"angle {n}" for n in range(1, 5)}),
    ),
)

# math-mistakes' iteration LLM answers with a fenced JSON block its next code node parses.
SIMILAR_QUESTIONS = (
    "```json\n"
    + json.dumps(
        {
            "original_question": "3 + 4 × 2 = ?",
            "generated_questions": [
                {
                    "question_text": "5 + 2 × 3 = ?",
                    "question_type": "填空题",
                    "subject": "数学",
                    "difficulty_level": "1",
                    "answer": "11",
                    "explanation": "先乘后加",
                }
            ],
        },
        ensure_ascii=False,
    )
    + "\n```"
)

CASES: tuple[Case, ...] = (
    Case(
        "admin-assistant-qc-kr.yml",
        "other",
        inputs={"name": "Ada"},
        replies=(("考勤问题", _category("1711528737066", "其他问题")),),
        why="classifier -> 其他问题 -> answer",
    ),
    Case(
        "admin-assistant-qc-kr.yml",
        "attendance",
        inputs={"name": "Ada"},
        replies=(("考勤问题", _category("1711528736036", "考勤问题")),),
        status="failed",
        failed_node="1750391712771",
        error="knowledge base is not configured",
        why="classifier -> 考勤问题 -> knowledge-retrieval",
    ),
    Case(
        "ai-agent-multi-tools.yml",
        why=(
            "agent-chat: the agent calls its first tool, time.current_time (built in); "
            "searxng, siliconflow flux and audio are offered too"
        ),
    ),
    Case(
        "audit-data-analysis.yml",
        "document",
        inputs={"query": "summarise", "files": [upload("ledger.txt")], "sql": "", "sql_batch": ""},
        why="files given: document-extractor -> llm -> end",
    ),
    Case(
        "audit-data-analysis.yml",
        "sql",
        inputs={"query": "q", "files": [], "sql": "select 1", "sql_batch": ""},
        tools_ran=("rookie_excute_sql",),
        why="sql given: rookie_excute_sql on the operator's database -> llm -> end",
    ),
    Case(
        "audit-data-analysis.yml",
        "text2data",
        inputs={"query": "最近的错题", "files": [], "sql": "", "sql_batch": ""},
        replies=(
            ("SQL query that answers", "```sql\nSELECT question_text FROM error_questions\n```"),
        ),
        tools_ran=("rookie_text2data", "rookie_excute_sql"),
        why="question only: rookie_text2data writes SQL with the model -> rookie_excute_sql -> llm",
    ),
    Case(
        "bill-recognition-http.yml",
        "invoice",
        inputs={
            "file": upload("bill.png", url="https://files.example/bill.png"),
            "typebill": "发票",
        },
        routes={("pizhapi.duckcloud.fun", "/ocr-extract/"): OCR},
        answer="Hello world!",
        why="http-request (loopback OCR) -> code -> llm -> answer",
    ),
    Case(
        "bill-recognition-http.yml",
        "ocr-down",
        inputs={
            "file": upload("bill.png", url="https://files.example/bill.png"),
            "typebill": "发票",
        },
        routes={
            ("pizhapi.duckcloud.fun", "/ocr-extract/"): Route("upstream down", 502, "text/plain")
        },
        status="partial-succeeded",
        why="OCR answers 502: the code node's default-value strategy handles it",
    ),
    Case(
        "billpic2web.yml",
        inputs={"File": upload("invoice.txt")},
        query="增值税电子普通发票",
        conversation={"BillType": ""},
        replies=(
            ("发票识别专家", "增值税电子普通发票"),
            (
                "JSON 格式的发票数据",
                json.dumps({"发票名称": "增值税电子普通发票"}, ensure_ascii=False),
            ),
        ),
        routes={("host.docker.internal:5001", "/invoice"): Route('{"url": "/invoice/1"}')},
        why="llm type check -> code -> if-else -> llm -> http-request (loopback) -> answer",
    ),
    Case("conv-var-overwrite-v1.yml", why="assigner v1 overwrite -> answer"),
    *(
        Case(
            "deep-researcher.yml",
            f"turn{turn}",
            inputs={"Research_Theme": "solar power"},
            dialogue_count=turn,
            why="dialogue turns 0-3: llm, extractor, assigners, answers",
        )
        for turn in range(4)
    ),
    Case(
        "deep-researcher.yml",
        "turn4",
        inputs={"Research_Theme": "solar power"},
        dialogue_count=4,
        replies=DEEP_RESEARCH_REPLIES,
        routes={("en.wikipedia.org", "/w/api.php"): WIKIPEDIA},
        dropped=frozenset(("1739288338449", "1739288362314", "1739288378358")),
        answer="报告已生成",
        tools_ran=("wikipedia_search",),
        why=(
            "turn 4: four research iterations call knowledge-retrieval (not configured: "
            "remove-abnormal-output drops those passes) and wikipedia_search (loopback "
            "MediaWiki); the report is written"
        ),
    ),
    Case(
        "document-chat-qc-kr.yml",
        "direct",
        inputs={"input": "hi"},
        replies=(("意图分析系统", "询问结束"),),
        why="llm answer does not ask for documents: template -> end",
    ),
    Case(
        "document-chat-qc-kr.yml",
        "documents",
        inputs={"input": "how to install?"},
        replies=(("意图分析系统", "需要查询文档：安装"), ("安装", _category("1", "安装"))),
        status="failed",
        failed_node="1720800425522",
        error="knowledge base is not configured",
        why="classifier -> 安装 -> knowledge-retrieval",
    ),
    Case(
        "doubao-image-video-pay.yml",
        inputs={"prompt": "a cat", "type": "文生图像"},
        status="failed",
        failed_node="1749805551292",
        error="MCP client is not configured in this engine",
        why=(
            "文生图像 -> mcp_agent: its MCP server list needs the server's MCP client (an "
            "engine-only run has none; tests/engine/test_corpus_agents.py runs it against a "
            "loopback FastMCP server)"
        ),
    ),
    Case(
        "english-words-speaking.yml",
        inputs={"file": upload("words.txt")},
        replies=(("请提取大模输出的html部分代码", json.dumps({"html": "<h1>apple</h1>"})),),
        tools_ran=("md_to_html",),
        answer=".html",
        why="llm -> llm -> extractor -> md_to_html: the answer shows the HTML file",
    ),
    Case(
        "financial-report-html.yml",
        inputs={"file": upload("report.txt")},
        status="failed",
        failed_node="1747105471978",
        error="tool provider 'langgenius/mineru/mineru' is not configured",
        why="first node after start is tool mineru parse-file",
    ),
    Case("game-llm-surrounded.yml", why="if-else on conversation vars -> llm -> answers"),
    Case(
        "json-translate-iteration.yml",
        "translate",
        inputs={"json_data": '{"title": "你好"}'},
        routes={("translate.googleapis.com", "/translate_a/single"): TRANSLATE},
        tools_ran=("translate",),
        why="iteration body calls google_translate (loopback translate endpoint)",
    ),
    Case(
        "json-translate-iteration.yml",
        "nothing",
        inputs={"json_data": '{"n": 1, "id": "42"}'},
        why="nothing translatable: empty iteration -> code -> end",
    ),
    Case(
        "knowledge-web-search.yml",
        query="What is Dify?",
        routes={("api.exa.ai", "/search"): EXA_SEARCH, ("api.exa.ai", "/contents"): EXA_CONTENTS},
        answer="NO.1 [Dify docs](https://docs.dify.ai/)",
        why="llm -> code -> http-request (loopback Exa) -> iteration(code, http, llm, answer)",
    ),
    Case(
        "line-concierge-phaseflow.yml",
        query="東京都で会社員、年収600万です",
        replies=(("JSON", '{"prefecture": "東京都", "employment_type": "会社員"}'),),
        why="llm (JSON slots) -> code phase manager -> assigner -> answer",
    ),
    Case("loop-increment-break.yml", why="loop with break condition and assigner -> end"),
    Case(
        "loop-perplexity-search.yml",
        routes={("api.perplexity.ai", "/chat/completions"): PERPLEXITY},
        tools_ran=("perplexity",),
        why="loop body calls perplexity (loopback Perplexity API, key from settings)",
    ),
    Case(
        "math-mistakes-similar-questions.yml",
        "query",
        inputs={"time": "今天", "subject": "数学", "count": "1", "questionsCount": "1"},
        replies=(("查询错题本", _category("1", "查询错题本")),),
        tools_ran=("sql_execute",),
        answer="3 + 4 × 2 = ?",
        why="查询错题本: code builds SQL -> sql_execute (md) on the operator's database -> answer",
    ),
    Case(
        "math-mistakes-similar-questions.yml",
        "generate",
        inputs={"time": "今天", "subject": "数学", "count": "1", "questionsCount": "1"},
        conversation={"error_questions_result": ["3 + 4 × 2 = ?"]},
        replies=(
            ("错题同类型生成专家", SIMILAR_QUESTIONS),
            ("查询错题本", _category("2", "生成同类型错题")),
        ),
        tools_ran=("current_time", "md_to_pdf"),
        answer=".pdf",
        why="生成同类型错题: iteration (llm) -> code -> current_time -> md_to_pdf -> answer file",
    ),
    Case(
        "simple-kimi.yml",
        "chat",
        inputs={"web_search": "关闭", "role_def": ""},
        why="web search off, no files: list-operator -> llm -> answer",
    ),
    Case(
        "simple-kimi.yml",
        "web-search",
        inputs={"web_search": "开启", "role_def": ""},
        routes=DUCKDUCKGO_ROUTES,
        tools_ran=("ddgo_search", "webscraper"),
        why="web search on: ddgo_search -> four results scraped by webscraper -> llm -> answer",
    ),
    Case("smart-study-planner.yml", why="first turn: extractor -> assigners -> code -> llm"),
    Case(
        "travel-agent-demo.yml",
        routes={("html.duckduckgo.com", "/html/"): DUCKDUCKGO},
        why="agent calls the built-in ddgo_search (DuckDuckGo on the loopback server), answers",
    ),
    Case("workflow-generator-prompt-chat.yml", why="chat app: start -> llm -> answer"),
)
