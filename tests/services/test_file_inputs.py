"""Request files and file inputs as engine `File`s (Dify's file factory rules, failing
with its 400 `invalid_param`), and stored inputs read back."""

from __future__ import annotations

from typing import Any

import pytest

from chatflow.engine.files import File, to_json
from chatflow.engine.nodes.start import InputVariable
from chatflow.errors import InvalidRequest
from chatflow.services import Services
from chatflow.services.apps import LoadedApp
from chatflow.services.file_inputs import build_files, build_inputs, restore, restore_inputs

from .conftest import DSL, load


@pytest.fixture
async def files_app(services: Services) -> LoadedApp:
    return await load(services, (DSL / "files_chat.yml").read_text())


async def _upload(
    services: Services, app: LoadedApp, name: str, user: str = "alice"
) -> tuple[str, str]:
    """(file id, end user id) of a fresh upload."""

    async def content() -> bytes:
        return b"data"

    row = await services.files.upload(
        app, user, filename=name, mime_type="", size=4, content=content
    )
    return row.id, row.end_user_id


async def _files(
    services: Services, app: LoadedApp, end_user: str, mappings: list[Any], **kw: Any
) -> list[File]:
    async with services.db.session() as session:
        return await build_files(session, app, end_user, mappings, **kw)


async def test_local_and_remote_files_become_file_values(
    services: Services, files_app: LoadedApp
) -> None:
    file_id, end_user = await _upload(services, files_app, "report.pdf")
    built = await _files(
        services,
        files_app,
        end_user,
        [
            {"type": "document", "transfer_method": "local_file", "upload_file_id": file_id},
            {"type": "image", "transfer_method": "remote_url", "url": "https://x.test/a%20b.png"},
        ],
    )
    local, remote = built
    assert (local.id, local.filename, local.extension, local.size) == (
        file_id,
        "report.pdf",
        ".pdf",
        4,
    )
    assert (remote.url, remote.filename, remote.mime_type, remote.size) == (
        "https://x.test/a%20b.png",
        "a b.png",
        "image/png",
        -1,
    )


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        ("not an object", "each file must be an object"),
        (
            {"type": "weird", "transfer_method": "remote_url", "url": "https://x/y"},
            "Invalid file type",
        ),
        ({"type": "image", "transfer_method": "ftp"}, "Invalid transfer method"),
        (
            {"type": "image", "transfer_method": "remote_url", "url": "file:///etc/x"},
            "Invalid file url",
        ),
        ({"type": "image", "transfer_method": "local_file"}, "Invalid upload file id"),
        (
            {"type": "image", "transfer_method": "local_file", "upload_file_id": "nope"},
            "Invalid upload file: nope",
        ),
        # files_chat.yml accepts documents and images only.
        (
            {"type": "audio", "transfer_method": "remote_url", "url": "https://x/a.mp3"},
            "validation",
        ),
    ],
)
async def test_bad_files_fail_with_a_readable_invalid_param(
    services: Services, files_app: LoadedApp, mapping: Any, message: str
) -> None:
    _, end_user = await _upload(services, files_app, "a.txt")
    with pytest.raises(InvalidRequest, match=message) as failed:
        await _files(services, files_app, end_user, [mapping])
    assert (failed.value.code, failed.value.status) == ("invalid_param", 400)


async def test_another_end_users_upload_is_not_usable(
    services: Services, files_app: LoadedApp
) -> None:
    file_id, _ = await _upload(services, files_app, "mine.txt", user="alice")
    _, bob = await _upload(services, files_app, "his.txt", user="bob")
    mapping = {"type": "document", "transfer_method": "local_file", "upload_file_id": file_id}
    with pytest.raises(InvalidRequest, match="Invalid upload file"):
        await _files(services, files_app, bob, [mapping])


async def test_request_files_are_ignored_when_the_app_takes_none(
    services: Services, echo: LoadedApp
) -> None:
    mapping = {"type": "image", "transfer_method": "remote_url", "url": "https://x/a.png"}
    assert await _files(services, echo, "anyone", [mapping]) == []


def _variable(**data: Any) -> InputVariable:
    return InputVariable.model_validate({"label": data["variable"], **data})


async def test_file_inputs_follow_their_variables_rules(
    services: Services, files_app: LoadedApp
) -> None:
    _, end_user = await _upload(services, files_app, "a.txt")
    one = _variable(variable="doc", type="file", allowed_file_types=["document"])
    many = _variable(variable="pics", type="file-list", allowed_file_types=["image"], max_length=2)
    pic = {"type": "image", "transfer_method": "remote_url", "url": "https://x/p.png"}
    doc = {"type": "document", "transfer_method": "remote_url", "url": "https://x/d.pdf"}

    async def build(inputs: dict[str, Any]) -> dict[str, Any]:
        async with services.db.session() as session:
            return await build_inputs(session, files_app, end_user, [one, many], inputs)

    built = await build({"doc": doc, "pics": [pic, pic], "other": 1})
    assert isinstance(built["doc"], File) and [f.filename for f in built["pics"]] == ["p.png"] * 2
    assert built["other"] == 1
    assert await build({"doc": None, "pics": []}) == {"doc": None, "pics": []}
    with pytest.raises(InvalidRequest, match="at most 2 files"):
        await build({"pics": [pic, pic, pic]})
    with pytest.raises(InvalidRequest, match="validation"):
        await build({"pics": [doc]})
    with pytest.raises(InvalidRequest, match="must be a file"):
        await build({"doc": [doc, doc]})


def test_stored_files_come_back_only_where_a_file_is_declared() -> None:
    file = File(type="image", transfer_method="remote_url", url="https://x/p.png", filename="p.png")
    stored = to_json(file)
    variables = [_variable(variable="pic", type="file"), _variable(variable="data", type="json")]
    back = restore_inputs(variables, {"pic": stored, "data": stored, "n": 1})
    assert isinstance(back["pic"], File) and back["pic"].url == "https://x/p.png"
    assert back["data"] == stored  # user JSON shaped like a file stays data
    assert restore([stored, {"k": stored}])[1]["k"].filename == "p.png"
