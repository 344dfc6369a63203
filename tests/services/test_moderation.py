"""`ModerationService`: keyword lists, an OpenAI-compatible `/moderations` backend on a
real loopback server, and the errors (Dify's envelope codes) for what cannot be run."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from chatflow.errors import InvalidRequest, ProviderError
from chatflow.services.moderation import API_NOT_SUPPORTED, ModerationService
from chatflow.settings import Settings
from tests.tools.loopback import serve

SEEN: list[tuple[str, dict[str, Any]]] = []


def _feature(kind: str, **config: Any) -> dict[str, Any]:
    sides = {
        "inputs_config": {"enabled": True, "preset_response": "no input"},
        "outputs_config": {"enabled": True, "preset_response": "no output"},
    }
    return {"enabled": True, "type": kind, "config": {**sides, **config}}


async def _moderations(request: Request) -> Response:
    body = await request.json()
    SEEN.append((request.headers.get("authorization", ""), body))
    if "crash" in body["input"]:
        return Response("oops", status_code=500)
    return JSONResponse({"results": [{"flagged": "attack" in body["input"].lower()}]})


@pytest.fixture(scope="module")
def backend() -> Iterator[str]:
    app = Starlette(routes=[Route("/v1/moderations", _moderations, methods=["POST"])])
    with serve(app) as url:
        yield f"{url}/v1"


async def test_keywords_flag_inputs_query_and_answer_case_insensitively(tmp_path: Path) -> None:
    service = ModerationService(Settings(data_dir=tmp_path))
    feature = _feature("keywords", keywords="Forbidden\n  \nsecret ")
    assert await service.check_inputs(feature, {"topic": "FORBIDDEN fruit"}, "hi") == "no input"
    assert await service.check_inputs(feature, {"n": 3, "x": None}, "a Secret plan") == "no input"
    assert await service.check_inputs(feature, {"topic": "fruit"}, "hi") is None
    assert await service.check_output(feature, "the secret is out") == "no output"
    assert await service.check_output(feature, "") is None


async def test_disabled_features_and_sides_check_nothing(tmp_path: Path) -> None:
    service = ModerationService(Settings(data_dir=tmp_path))
    off = {**_feature("keywords", keywords="bad"), "enabled": False}
    assert await service.check_inputs(off, {}, "bad") is None
    one_side = _feature("keywords", keywords="bad", inputs_config={"enabled": False})
    assert await service.check_inputs(one_side, {}, "bad") is None
    assert await service.check_output(one_side, "bad") == "no output"


async def test_api_and_unknown_types_are_refused_readably(tmp_path: Path) -> None:
    service = ModerationService(Settings(data_dir=tmp_path))
    with pytest.raises(InvalidRequest) as refused:
        await service.check_inputs(_feature("api"), {}, "q")
    assert str(refused.value) == API_NOT_SUPPORTED
    with pytest.raises(InvalidRequest, match="Unknown sensitive_word_avoidance type 'magic'"):
        await service.check_output(_feature("magic"), "text")


async def test_openai_moderation_over_loopback(tmp_path: Path, backend: str) -> None:
    settings = Settings(data_dir=tmp_path, moderation_base_url=backend, moderation_api_key="sk-mod")
    service = ModerationService(settings)
    try:
        SEEN.clear()
        feature = _feature("openai_moderation")
        assert await service.check_inputs(feature, {"a": "plan an Attack"}, "now") == "no input"
        assert await service.check_output(feature, "a kind answer") is None
        assert SEEN[0] == (
            "Bearer sk-mod",
            {"model": settings.moderation_model, "input": "plan an Attack\nnow"},
        )
        with pytest.raises(ProviderError, match="Moderation request failed"):
            await service.check_output(feature, "crash")
    finally:
        await service.close()


async def test_openai_moderation_without_a_backend_is_a_provider_error(tmp_path: Path) -> None:
    service = ModerationService(Settings(data_dir=tmp_path, openai_base_url=""))
    with pytest.raises(ProviderError) as missing:
        await service.check_output(_feature("openai_moderation"), "text")
    assert missing.value.code == "provider_not_initialize"
