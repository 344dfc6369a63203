"""Files sent with a chat or workflow request become engine `File` values.

`files` (the run's `sys.files`) count only when the app's `features.file_upload` is
enabled, as in Dify; file and file-list start variables use their own rules. A
`local_file` must be an upload of the same end user of the same app; a `remote_url` is
kept as a URL and fetched later, only through the SSRF guard (`FileService.read`).
Every file is checked against the rules (types, extensions, transfer methods) the way
Dify's file factory does, failing with Dify's 400 `invalid_param`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

from sqlalchemy.ext.asyncio import AsyncSession

from chatflow.engine.files import File, FileType, TransferMethod
from chatflow.engine.nodes.start import InputVariable
from chatflow.errors import InvalidRequest
from chatflow.services.apps import LoadedApp
from chatflow.services.file_types import (
    allowed,
    extension_of,
    file_type,
    guess_mime,
    remote_file_name,
)
from chatflow.store import files as files_repo

_TYPES = frozenset(("document", "image", "audio", "video", "custom"))
_IDENTITY = "__dify__file__"


async def build_files(
    session: AsyncSession,
    app: LoadedApp,
    end_user_id: str,
    mappings: Sequence[Any],
    rules: Mapping[str, Any] | None = None,
) -> list[File]:
    """`files` of a request as `File`s; [] unless the rules (the app's by default) allow
    files at all."""
    if rules is None:
        rules = app.dsl.features.file_upload
        if not rules.get("enabled"):
            return []
    out: list[File] = []
    for mapping in mappings:
        if not isinstance(mapping, Mapping):
            raise InvalidRequest("files: each file must be an object")
        out.append(await _build(session, app, end_user_id, mapping, rules))
    return out


async def _build(
    session: AsyncSession,
    app: LoadedApp,
    end_user_id: str,
    mapping: Mapping[str, Any],
    rules: Mapping[str, Any],
) -> File:
    method = mapping.get("transfer_method")
    specified = mapping.get("type") or "custom"
    if specified not in _TYPES:
        raise InvalidRequest(f"Invalid file type: {specified}")
    if method == "local_file":
        upload_id = mapping.get("upload_file_id")
        if not isinstance(upload_id, str) or not upload_id:
            raise InvalidRequest("Invalid upload file id")
        row = await files_repo.get_upload_file(
            session, app_id=app.id, end_user_id=end_user_id, file_id=upload_id
        )
        if row is None:
            raise InvalidRequest(f"Invalid upload file: {upload_id}")
        name, extension, mime, size, url = row.name, row.extension, row.mime_type, row.size, None
        file_id: str | None = row.id
    elif method == "remote_url":
        url = mapping.get("url") or mapping.get("remote_url")
        if not isinstance(url, str) or not url.lower().startswith(("http://", "https://")):
            raise InvalidRequest("Invalid file url")
        name = remote_file_name(url)
        extension, mime, size, file_id = extension_of(name), guess_mime(name), -1, None
    else:
        raise InvalidRequest(f"Invalid transfer method: {method}")
    detected = file_type(extension, mime)
    kind = cast(FileType, specified if specified != "custom" else detected)
    if not allowed(rules, kind, extension, method):
        raise InvalidRequest(f"File validation failed for file: {name}")
    return File(
        type=kind,
        transfer_method=cast(TransferMethod, method),
        id=file_id,
        url=url,
        filename=name,
        extension=f".{extension}" if extension else "",
        mime_type=mime,
        size=size,
    )


async def build_inputs(
    session: AsyncSession,
    app: LoadedApp,
    end_user_id: str,
    variables: Sequence[InputVariable],
    inputs: Mapping[str, Any],
) -> dict[str, Any]:
    """`inputs` with `file` / `file-list` start variables turned into `File`s."""
    out = dict(inputs)
    for variable in variables:
        value = inputs.get(variable.variable)
        if variable.type not in ("file", "file-list") or value in (None, "", []):
            continue
        extra = variable.model_extra or {}
        rules = {
            "allowed_file_types": extra.get("allowed_file_types") or [],
            "allowed_file_extensions": extra.get("allowed_file_extensions") or [],
            "allowed_file_upload_methods": extra.get("allowed_file_upload_methods") or [],
        }
        items = value if isinstance(value, list) else [value]
        # Dify's file-list `max_length` (its form's file count), enforced server-side.
        if variable.max_length and len(items) > variable.max_length:
            raise InvalidRequest(
                f"{variable.variable} in input form must have at most {variable.max_length} files"
            )
        files = await build_files(session, app, end_user_id, items, rules)
        if variable.type == "file":
            if len(files) != 1:
                raise InvalidRequest(f"{variable.variable} in input form must be a file")
            out[variable.variable] = files[0]
        else:
            out[variable.variable] = files
    return out


def restore_inputs(variables: Sequence[InputVariable], inputs: Mapping[str, Any]) -> dict[str, Any]:
    """Stored conversation inputs back as values: only `file` / `file-list` variables
    become `File`s again. A `json`, `number` or `checkbox` input that carries a dict
    tagged as a file stays that dict: user-shaped JSON never turns into a file (which
    would read whatever upload id it names on the next turn)."""
    kinds = {variable.variable: variable.type for variable in variables}
    return {
        name: restore(value) if kinds.get(name) in ("file", "file-list") else value
        for name, value in inputs.items()
    }


def restore(value: Any) -> Any:
    """The reverse of `files.to_json`: stored file dicts become `File`s again (for values
    that are files by declaration; see `restore_inputs`)."""
    if isinstance(value, list):
        return [restore(item) for item in value]
    if isinstance(value, Mapping):
        if value.get("dify_model_identity") == _IDENTITY:
            size = value.get("size")
            return File(
                type=value.get("type") or "custom",
                transfer_method=value.get("transfer_method") or "remote_url",
                id=value.get("related_id") or value.get("id"),
                url=value.get("url"),
                filename=value.get("filename") or "",
                extension=value.get("extension") or "",
                mime_type=value.get("mime_type") or "",
                size=size if isinstance(size, int) else -1,
            )
        return {key: restore(item) for key, item in value.items()}
    return value
