"""Drive `dify-client-python` (typed models, sync + async, typed stream events)."""

from __future__ import annotations

import asyncio
import io

from dify_client import AsyncClient, Client, models
from tally import BASE_URL, KEY, SPEECH_KEY, USER, WORKFLOW_KEY, Tally

t = Tally("dify-client-python")
client = Client(api_key=KEY, api_base=BASE_URL)
speech = Client(api_key=SPEECH_KEY, api_base=BASE_URL)
workflow = Client(api_key=WORKFLOW_KEY, api_base=BASE_URL)


def chat(mode: models.ResponseMode, query: str = "Hello", conversation_id: str = "") -> object:
    req = models.ChatRequest(
        query=query, inputs={}, user=USER, response_mode=mode, conversation_id=conversation_id
    )
    result = client.chat_messages(req, timeout=60.0)
    return result if mode == models.ResponseMode.BLOCKING else list(result)  # type: ignore[arg-type]


blocking = t.call(
    "chat_messages(blocking)",
    lambda: chat(models.ResponseMode.BLOCKING),
    lambda r: r.answer and r.metadata.usage.total_tokens >= 0,
)
events = t.call(
    "chat_messages(streaming)",
    lambda: chat(models.ResponseMode.STREAMING, "Stream this answer"),
    lambda evs: (
        evs[-1].event in ("message_end", "workflow_finished")
        and "".join(getattr(e, "answer", "") or "" for e in evs)
    ),
)
message_id = blocking.message_id if blocking else ""
task_id = events[0].task_id if events else ""
t.call(
    "stop_chat_messages",
    lambda: client.stop_chat_messages(task_id, models.StopRequest(user=USER)),
    lambda r: r.result == "success",
)
t.call(
    "suggest_messages",
    lambda: client.suggest_messages(message_id, models.ChatSuggestRequest(user=USER)),
    lambda r: r.result == "success",
)
t.call(
    "feedback_messages",
    lambda: client.feedback_messages(
        message_id, models.FeedbackRequest(rating=models.Rating.LIKE, user=USER)
    ),
    lambda r: r.result == "success",
)
png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
t.call(
    "upload_files",
    lambda: client.upload_files(
        ("panda.png", io.BytesIO(png), "image/png"), models.UploadFileRequest(user=USER)
    ),
    lambda r: r.id and r.extension == "png",
)
audio = t.call(
    "text_to_audio",
    lambda: speech.text_to_audio(models.TextToAudioRequest(text="Hello world", user=USER)),
    lambda b: len(b) > 100,
)
t.call(
    "audio_to_text",
    lambda: speech.audio_to_text(
        ("speech.mp3", io.BytesIO(audio or b""), "audio/mpeg"), models.AudioToTextRequest(user=USER)
    ),
    lambda r: isinstance(r.text, str),
)
run = t.call(
    "run_workflows(blocking)",
    lambda: workflow.run_workflows(
        models.WorkflowsRunRequest(
            inputs={"topic": "tea"}, user=USER, response_mode=models.ResponseMode.BLOCKING
        )
    ),
    lambda r: r.data.status == "succeeded",
)
wf_events = t.call(
    "run_workflows(streaming)",
    lambda: list(
        workflow.run_workflows(
            models.WorkflowsRunRequest(
                inputs={"topic": "tea"}, user=USER, response_mode=models.ResponseMode.STREAMING
            )
        )
    ),
    lambda evs: evs[-1].event == "workflow_finished",
)
t.call(
    "stop_workflows",
    lambda: workflow.stop_workflows(
        wf_events[0].task_id if wf_events else "x", models.StopRequest(user=USER)
    ),
    lambda r: r.result == "success",
)


async def async_calls() -> None:
    aclient = AsyncClient(api_key=KEY, api_base=BASE_URL)
    req = models.ChatRequest(
        query="Hello async", inputs={}, user=USER, response_mode=models.ResponseMode.BLOCKING
    )
    try:
        result = await aclient.achat_messages(req, timeout=60.0)
        assert result.answer
        t.passed.append("achat_messages(blocking)")
    except Exception as exc:
        t.failed["achat_messages(blocking)"] = f"{type(exc).__name__}: {exc}"
    stream_req = req.model_copy(update={"response_mode": models.ResponseMode.STREAMING})
    try:
        seen = [e async for e in await aclient.achat_messages(stream_req, timeout=60.0)]
        assert seen and seen[-1].event in ("message_end", "workflow_finished")
        t.passed.append("achat_messages(streaming)")
    except Exception as exc:
        t.failed["achat_messages(streaming)"] = f"{type(exc).__name__}: {exc}"


asyncio.run(async_calls())
t.report()
