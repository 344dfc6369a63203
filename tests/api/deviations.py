"""Where Dify's seed spec is wrong about real Dify, one entry per (operations, check).

The conformance run (test_conformance.py) checks this server against the seed spec
unchanged and ignores exactly these findings: a status the spec does not list, a valid
request Dify rejects, an invalid one Dify accepts, a response shape the spec gets wrong.
Each entry has an id that docs/compat.md must explain (test_compat_doc_lists_every_deviation).
"""

from __future__ import annotations

from dataclasses import dataclass

ALL = "*"

# Checks a deviation can name, and what `allowed` holds for each.
STATUS = "status_code_conformance"  # allowed: extra statuses the operation may answer
POSITIVE = "positive_data_acceptance"  # allowed: statuses a schema-valid request may get
NEGATIVE = "negative_data_rejection"  # allowed: statuses a schema-invalid request may get
SCHEMA = "response_schema_conformance"  # allowed: media types whose schema is not checked


@dataclass(frozen=True)
class Deviation:
    id: str
    operations: tuple[str, ...]  # "METHOD /path" labels as in the seed, or ALL
    check: str
    allowed: tuple[str, ...]
    reason: str

    def covers(self, label: str) -> bool:
        return ALL in self.operations or label in self.operations


DEVIATIONS: tuple[Deviation, ...] = (
    Deviation(
        "no-401",
        (ALL,),
        STATUS,
        ("401",),
        "The seed documents no 401, but every operation answers a missing or wrong key "
        "with 401 `unauthorized` (a JSON envelope), as Dify does.",
    ),
    Deviation(
        "missing-400",
        (
            "GET /app/feedbacks",
            "GET /workflows/logs",
            "POST /apps/annotations",
            "PUT /apps/annotations/{annotation_id}",
            "POST /apps/annotation-reply/{action}",
            "POST /messages/{message_id}/feedbacks",
        ),
        STATUS,
        ("400",),
        "Dify validates these requests (required body fields, integer `page`/`limit`, "
        "`status` choices, JSON bodies) and answers 400 `invalid_param`/`bad_request`, "
        "which the seed does not list for them.",
    ),
    Deviation(
        "required-by-dify",
        (
            "GET /messages",
            "POST /conversations/{conversation_id}/name",
            "POST /messages/{message_id}/feedbacks",
            "POST /text-to-audio",
        ),
        POSITIVE,
        ("400",),
        "Dify requires what the seed schema leaves optional or unconstrained: "
        "`conversation_id` on GET /messages, `name` unless `auto_generate`, a non-empty "
        "`user`, `text` or `message_id` for text-to-audio.",
    ),
    Deviation(
        "needs-app-state",
        (
            "POST /audio-to-text",
            "POST /files/upload",
            "GET /apps/annotation-reply/{action}/status/{job_id}",
            "GET /workflows/logs",
        ),
        POSITIVE,
        ("400", "413", "415"),
        "Acceptance depends on things a schema cannot say: speech-to-text must be enabled "
        "for the app and the bytes must be real audio, an upload needs a file type Dify "
        "allows, a job status needs a job id this app started, and "
        "`created_by_account` must name an existing account (Dify: 400 `Account not found`).",
    ),
    Deviation(
        "lenient-paging",
        (
            "GET /app/feedbacks",
            "GET /apps/annotations",
        ),
        NEGATIVE,
        ("200",),
        "Dify reads `page`/`limit` here with Flask's `type=int`: a value below 1 or not an "
        "integer falls back to the default instead of failing, and /app/feedbacks takes "
        "`limit=101` (clients send it).",
    ),
    Deviation(
        "blank-and-null-are-not-given",
        (
            "GET /conversations",
            "GET /conversations/{conversation_id}/variables",
            "DELETE /conversations/{conversation_id}",
            "GET /workflows/logs",
            "POST /chat-messages",
            "POST /conversations/{conversation_id}/name",
            "POST /text-to-audio",
        ),
        NEGATIVE,
        ("200", "204"),
        "Published SDKs send empty query parameters (`sort_by=`, `created_at__before=`) "
        "and `null` for optional body fields (`workflow_id`, `streaming`, `files`); Dify "
        "treats both as not given, and so does this server.",
    ),
    Deviation(
        "coerced-like-dify",
        ("POST /apps/annotation-reply/{action}",),
        NEGATIVE,
        ("200",),
        "Dify parses `score_threshold` with `type=float`, so `false`/`true` become 0.0/1.0.",
    ),
    Deviation(
        "stop-needs-no-body",
        ("POST /chat-messages/{task_id}/stop",),
        NEGATIVE,
        ("200",),
        'Stop always answers `{"result": "success"}` (DESIGN.md section 2), also '
        "with no body or no `user`; clients stop streams that way.",
    ),
    Deviation(
        "unknown-message-404",
        ("POST /text-to-audio",),
        STATUS,
        ("404",),
        "A `message_id` that is not this user's message is 404 `not_found`, as for every "
        "other message lookup; the seed lists only 200/400/500.",
    ),
    Deviation(
        "nullable-site-fields",
        ("GET /site",),
        SCHEMA,
        ("application/json",),
        "Dify returns null for unset `chat_color_theme`, `copyright` and `privacy_policy`; "
        "the seed types them as non-null strings.",
    ),
    Deviation(
        "sse-as-string",
        ("POST /chat-messages",),
        SCHEMA,
        ("text/event-stream",),
        "The seed describes the whole event stream as one `string`, so every parsed event "
        "fails that schema. Only the stream's media type and status are checked here; "
        "the blocking JSON answer of the same operation is still schema-checked.",
    ),
)


def allowed(check: str, label: str) -> set[str]:
    """Everything the deviations allow `check` to accept for operation `label`."""
    return {a for d in DEVIATIONS if d.check == check and d.covers(label) for a in d.allowed}


def labelled(check: str) -> dict[str, set[str]]:
    """Operation label -> allowed values, for deviations of `check` on named operations."""
    out: dict[str, set[str]] = {}
    for deviation in DEVIATIONS:
        if deviation.check == check:
            for label in deviation.operations:
                out.setdefault(label, set()).update(deviation.allowed)
    return out
