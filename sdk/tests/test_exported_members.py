"""The public surface is exactly `__all__`, and every name in it exists."""

from __future__ import annotations

import chatflow_client
import chatflow_client.compat


def test_all_is_pinned() -> None:
    public = {n for n in vars(chatflow_client) if not n.startswith("_") and n != "compat"}
    assert set(chatflow_client.__all__) == public | {"__version__"}
    assert len(chatflow_client.__all__) == len(set(chatflow_client.__all__))


def test_exported_members_resolve_and_come_from_private_modules() -> None:
    for name in chatflow_client.__all__:
        member = getattr(chatflow_client, name)
        module = getattr(member, "__module__", "chatflow_client._")
        if isinstance(member, type):
            assert module.startswith("chatflow_client._"), name


def test_core_names_users_need() -> None:
    for name in ["Client", "AsyncClient", "ChatStream", "APIError", "StreamEvent", "InputFile"]:
        assert name in chatflow_client.__all__


def test_compat_all_resolves() -> None:
    for name in chatflow_client.compat.__all__:
        assert getattr(chatflow_client.compat, name) is not None
