"""`chatflow_client.compat` has `dify-oapi2`'s names: the same resource tree under
`client.chatflow.v1`, `client.chat.v1` and `client.dify.v1` with the same method names, and
every request/body class of those groups with the same builder methods. Checked against the
installed `dify-oapi2` (a test dependency), so a program only changes its imports."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from typing import Any

import pytest
from dify_oapi.core.model.config import Config as DifyConfig

import chatflow_client.compat as compat

GROUPS = ["chatflow", "chat", "dify"]
# What a program builds and sends (response models have builders too; they are not sent).
SENT = ("Request", "Body", "ChatFile")


def _public_methods(obj: object) -> set[str]:
    return {n for n, v in inspect.getmembers(obj) if callable(v) and not n.startswith("_")}


def _dify_request_classes(group: str) -> dict[str, type[Any]]:
    package = importlib.import_module(f"dify_oapi.api.{group}.v1.model")
    found: dict[str, type[Any]] = {}
    for info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        for name, cls in vars(module).items():
            if (
                inspect.isclass(cls)
                and cls.__module__ == module.__name__
                and hasattr(cls, "builder")
                and name.endswith(SENT)
            ):
                found[name] = cls
    return found


def _builder_methods(cls: type[Any]) -> set[str]:
    builder = cls.builder()
    return {n for n in _public_methods(builder) if n != "build"}


@pytest.mark.parametrize("group", GROUPS)
def test_resource_tree_and_method_names_match(group: str) -> None:
    version = importlib.import_module(f"dify_oapi.api.{group}.v1.version")
    theirs = version.V1(DifyConfig())
    ours = getattr(compat.Client.builder().domain("http://x").build(), group).v1
    for attr, resource in vars(theirs).items():
        assert hasattr(ours, attr), f"client.{group}.v1.{attr} is missing"
        missing = _public_methods(resource) - _public_methods(getattr(ours, attr))
        assert not missing, f"client.{group}.v1.{attr} lacks {sorted(missing)}"


@pytest.mark.parametrize("group", GROUPS)
def test_request_classes_and_builders_match(group: str) -> None:
    for name, cls in _dify_request_classes(group).items():
        ours = getattr(compat, name, None)
        assert ours is not None, f"compat.{name} ({group}) is missing"
        missing = _builder_methods(cls) - _builder_methods(ours)
        assert not missing, f"compat.{name}.builder() lacks {sorted(missing)}"
