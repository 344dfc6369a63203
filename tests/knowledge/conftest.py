"""The live server of tests/api, plus a dataset key and helpers for the Knowledge API."""

from __future__ import annotations

import time
from typing import Any

import httpx

from tests.api.conftest import LiveServer, assert_envelope, live, server

__all__ = ["LiveServer", "assert_envelope", "dataset_client", "live", "server", "wait_batch"]


def dataset_client(server: LiveServer) -> httpx.Client:
    """A client with a fresh dataset key of this server."""
    token = server.call(server.services.knowledge.create_key())
    client = httpx.Client(
        base_url=server.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    server.clients.append(client)
    return client


def wait_batch(
    client: httpx.Client, dataset_id: str, batch: str, *, timeout: float = 60
) -> list[dict[str, Any]]:
    """Poll `indexing-status` until every document of the batch is completed or failed."""
    deadline = time.monotonic() + timeout
    while True:
        response = client.get(f"/datasets/{dataset_id}/documents/{batch}/indexing-status")
        assert response.status_code == 200, response.text
        data: list[dict[str, Any]] = response.json()["data"]
        if all(d["indexing_status"] in ("completed", "error") for d in data):
            return data
        assert time.monotonic() < deadline, data
        time.sleep(0.05)
