"""`SecretMasker` on engine events and `masked` on a run's event stream: every string in
an event (nested mappings and lists, tuples, a file's URL) loses the app's secret values;
an event with none is passed on as the same object; an app without secrets is not
wrapped; and a consumer that stops early still closes the run's iterator."""

from __future__ import annotations

from collections.abc import AsyncIterator

from chatflow.engine.events import Event, NodeStarted, TextChunk
from chatflow.engine.files import File
from chatflow.services import Services
from chatflow.services.secrets import MASK, SecretMasker, masked, masker_for

from .conftest import ECHO, load

SECRET = "tok-SECRET/42"
WITH_SECRETS = ECHO.replace(
    "workflow:\n",
    f"""workflow:
  environment_variables:
  - {{name: token, value: {SECRET}, value_type: secret}}
  - {{name: region, value: eu-west-PUBLIC, value_type: string}}
  - {{name: pin, value: '123', value_type: secret}}
""",
    1,
)


def _started(inputs: dict[str, object]) -> NodeStarted:
    return NodeStarted(
        execution_id="x", node_id="n", node_type="http-request", title="Call", index=1,
        predecessor_node_id=None, inputs=inputs, started_at=0.0,
    )  # fmt: skip


async def test_only_the_apps_secret_values_are_masked(services: Services) -> None:
    app = await load(services, WITH_SECRETS)
    masker = masker_for(app.dsl)
    assert masker  # the token; the 3-character pin is too short to mask safely
    event = _started(
        {
            "headers": {"Authorization": f"Bearer {SECRET}"},
            "urls": [f"https://api/?t={SECRET}", ("x", SECRET)],
            "region": "eu-west-PUBLIC",
            "pin": "123",
            "file": File("document", "remote_url", url=f"https://files/{SECRET}.pdf"),
            "count": 3,
        }
    )
    out = masker.event(event)
    assert isinstance(out, NodeStarted) and out is not event
    inputs = out.inputs
    assert inputs["headers"] == {"Authorization": f"Bearer {MASK}"}
    assert inputs["urls"] == [f"https://api/?t={MASK}", ["x", MASK]]
    assert (inputs["region"], inputs["pin"], inputs["count"]) == ("eu-west-PUBLIC", "123", 3)
    assert inputs["file"].url == f"https://files/{MASK}.pdf"
    assert SECRET in event.inputs["headers"]["Authorization"]  # the original is untouched

    clean = _started({"region": "eu-west-PUBLIC"})
    assert masker.event(clean) is clean


def test_a_secret_containing_another_is_masked_whole() -> None:
    masker = SecretMasker(["abcd", "abcdefgh"])
    assert masker.text("xabcdefghx abcd") == f"x{MASK}x {MASK}"
    assert not SecretMasker(["abc", "", None])  # type: ignore[list-item]


async def _events(closed: list[bool]) -> AsyncIterator[Event]:
    try:
        for text in ("one ", SECRET, " three"):
            yield TextChunk(text, "answer")
    finally:
        closed.append(True)


async def test_the_stream_is_masked_and_closed_when_the_reader_stops() -> None:
    closed: list[bool] = []
    stream = masked(_events(closed), SecretMasker([SECRET]))
    seen = []
    async for event in stream:
        assert isinstance(event, TextChunk)
        seen.append(event.text)
        if len(seen) == 2:
            break
    await stream.aclose()  # type: ignore[attr-defined]
    assert seen == ["one ", MASK] and closed == [True]

    plain = _events([])
    assert masked(plain, SecretMasker([])) is plain
