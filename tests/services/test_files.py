"""`FileService` on an in-memory database and a temp upload directory: upload checks
(per-type sizes from the app's rules, refused types, names), previews scoped to the
uploader, and reads scoped to the run's app and end user."""

from __future__ import annotations

import pytest

from chatflow.engine.files import File
from chatflow.errors import InvalidRequest, NotFound
from chatflow.net.ssrf import SSRFBlocked
from chatflow.services import Services
from chatflow.services.apps import LoadedApp
from chatflow.services.files import FileNotFound, FileScope, FileTooLarge, UnsupportedFileType

from .conftest import DSL, load

MB = 1024 * 1024


@pytest.fixture
async def files_app(services: Services) -> LoadedApp:
    return await load(services, (DSL / "files_chat.yml").read_text())


async def _upload(
    services: Services,
    app: LoadedApp,
    name: str,
    data: bytes,
    *,
    user: str = "alice",
    mime: str = "",
) -> str:
    async def content() -> bytes:
        return data

    row = await services.files.upload(
        app, user, filename=name, mime_type=mime, size=len(data), content=content
    )
    return row.id


async def test_an_upload_is_stored_and_read_back_by_its_own_run(
    services: Services, files_app: LoadedApp
) -> None:
    file_id = await _upload(services, files_app, "notes.TXT", b"hello", mime="text/plain")
    row = await services.files.find(files_app, "alice", file_id)
    assert (row.name, row.extension, row.size, row.mime_type) == (
        "notes.TXT",
        "txt",
        5,
        "text/plain",
    )
    file = File(type="document", transfer_method="local_file", id=file_id)
    assert await services.files.read(file, FileScope(files_app.id, "alice")) == b"hello"
    streamed = b"".join([part async for part in services.files.stream(row)])
    assert streamed == b"hello"


async def test_other_end_users_and_apps_never_see_the_file(
    services: Services, files_app: LoadedApp, echo: LoadedApp
) -> None:
    file_id = await _upload(services, files_app, "a.txt", b"x")
    with pytest.raises(FileNotFound):
        await services.files.find(files_app, "bob", file_id)
    with pytest.raises(FileNotFound):
        await services.files.find(echo, None, file_id)
    assert (await services.files.find(files_app, None, file_id)).id == file_id  # the app's own
    file = File(type="document", transfer_method="local_file", id=file_id)
    for scope in (FileScope(files_app.id, "bob"), FileScope(echo.id, "alice")):
        with pytest.raises(NotFound):
            await services.files.read(file, scope)
    with pytest.raises(NotFound):  # not an id the server made
        await services.files.read(
            File(type="document", transfer_method="local_file", id="../etc/passwd"),
            FileScope(files_app.id, "alice"),
        )


async def test_sizes_are_checked_per_type_declared_and_actual(
    services: Services, files_app: LoadedApp
) -> None:
    # files_chat.yml: 1 MB for documents and for images.
    with pytest.raises(FileTooLarge) as declared:

        async def never() -> bytes:
            raise AssertionError("the body is not read when the declared size is too large")

        await services.files.upload(
            files_app, "alice", filename="big.pdf", mime_type="", size=2 * MB, content=never
        )
    assert (declared.value.code, declared.value.status) == ("file_too_large", 413)
    with pytest.raises(FileTooLarge):  # a declared size that lies is caught on the bytes

        async def lying() -> bytes:
            return b"x" * (MB + 1)

        await services.files.upload(
            files_app, "alice", filename="a.png", mime_type="", size=10, content=lying
        )
    assert await _upload(services, files_app, "ok.png", b"x" * MB)


async def test_types_the_app_does_not_accept_and_bad_names_are_refused(
    services: Services, files_app: LoadedApp, echo: LoadedApp
) -> None:
    with pytest.raises(UnsupportedFileType) as refused:
        await _upload(services, files_app, "song.mp3", b"x")
    assert refused.value.status == 415
    assert await _upload(services, echo, "song.mp3", b"x")  # no file rules: accepted
    with pytest.raises(InvalidRequest, match="invalid characters"):
        await _upload(services, files_app, "../x.txt", b"x")
    long_id = await _upload(services, files_app, "n" * 300 + ".txt", b"x")
    row = await services.files.find(files_app, "alice", long_id)
    assert row.name.endswith(".txt") and len(row.name) < 300


async def test_a_run_fetches_at_most_its_share_of_remote_files(services: Services) -> None:
    read = services.files.reader(FileScope("app", "alice"))
    blocked = File(type="image", transfer_method="remote_url", url="http://127.0.0.1:1/x.png")
    for _ in range(services.settings.remote_files_per_run_max):
        with pytest.raises(SSRFBlocked):  # fetches count even when the guard refuses
            await read(blocked)
    with pytest.raises(InvalidRequest, match="at most"):
        await read(blocked)
    with pytest.raises(NotFound, match="neither an upload id nor a URL"):
        await read(File(type="image", transfer_method="remote_url"))
