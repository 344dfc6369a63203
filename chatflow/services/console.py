"""What the operator console shows and changes: apps with their keys and sites, an app's
graph, its workflow runs with node timelines, and every user's conversations.

Operators see across end users (as Dify's console does); the chat sites never do.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import yaml
from sqlalchemy import delete, select

from chatflow.dsl import load_app, to_graph
from chatflow.errors import NotFound
from chatflow.services.apps import AppService, ImportResult
from chatflow.services.console_tools import ConsoleTools
from chatflow.services.knowledge_base import dataset_refs, map_refs
from chatflow.services.sites import SiteInfo, SiteService
from chatflow.store import Database
from chatflow.store import annotations as annotations_repo
from chatflow.store import apps as apps_repo
from chatflow.store import knowledge as knowledge_repo
from chatflow.store import sites as sites_repo
from chatflow.store._types import utcnow
from chatflow.store.models import ApiKey, App, Conversation, Message, NodeExecution, WorkflowRun

PAGE = 50


def _ts(value: datetime | None) -> int | None:
    return int(value.timestamp()) if value is not None else None


@dataclass(frozen=True, slots=True)
class CreatedKey:
    id: str
    token: str


class ConsoleService:
    def __init__(
        self, db: Database, apps: AppService, sites: SiteService, tools: ConsoleTools
    ) -> None:
        self._db = db
        self._apps = apps
        self._sites = sites
        self.tools = tools

    async def _app(self, app_id: str) -> App:
        async with self._db.session() as session:
            row = await apps_repo.get_app(session, app_id)
        if row is None:
            raise NotFound("App not found.", code="app_not_found")
        return row

    async def apps(self) -> list[dict[str, Any]]:
        out: list[tuple[App, list[ApiKey]]] = []
        async with self._db.session() as session:
            for row in await apps_repo.list_apps(session):
                out.append((row, await apps_repo.list_api_keys(session, row.id)))
        result = []
        for row, keys in out:
            site = await self._site(row.id)
            result.append(
                {
                    "id": row.id,
                    "name": row.name,
                    "mode": row.mode,
                    "description": row.description,
                    "icon": row.icon,
                    "keys": [_key(k) for k in keys],
                    "site": site,
                }
            )
        return result

    async def _site(self, app_id: str) -> dict[str, Any] | None:
        async with self._db.session() as session:
            site = await sites_repo.get_site(session, app_id)
        if site is None:
            return None
        return {"code": site.code, "enabled": site.enabled,
                "has_passcode": site.passcode_hash is not None,
                "operator_login": bool(site.operator_login)}  # fmt: skip

    async def import_dsl(self, text: str) -> ImportResult:
        return await self._apps.import_dsl(text)

    async def unmapped_datasets(self, app_id: str) -> list[str]:
        """The dataset references of the app's knowledge nodes that match no dataset."""
        row = await self._app(app_id)
        refs = dataset_refs(to_graph(load_app(row.dsl_text)))
        return await map_refs(self._db, app_id, refs, {})

    async def map_dataset(self, app_id: str, ref: str, dataset: str) -> list[str]:
        """Map one reference to a dataset (id or name); the references still unmapped."""
        row = await self._app(app_id)
        refs = dataset_refs(to_graph(load_app(row.dsl_text)))
        if ref not in refs:
            raise NotFound(f"The app has no dataset reference {ref!r}.", code="not_found")
        return await map_refs(self._db, app_id, refs, {ref: dataset})

    async def missing_tools(self, app_id: str) -> list[dict[str, str]]:
        """The app's tool references that cannot run here (to map in the console)."""
        return await self.tools.missing((await self._app(app_id)).dsl_text)

    async def annotation_reply(self, app_id: str) -> dict[str, Any]:
        """Whether annotation reply is on for the app, and its score threshold."""
        await self._app(app_id)
        async with self._db.session() as session:
            setting = await annotations_repo.get_annotation_setting(session, app_id)
        if setting is None:
            return {"enabled": False, "score_threshold": None}
        return {"enabled": setting.enabled, "score_threshold": setting.score_threshold}

    async def require_app(self, app_id: str) -> None:
        """404 `app_not_found` unless the app exists."""
        await self._app(app_id)

    async def datasets(self) -> list[dict[str, str]]:
        async with self._db.session() as session:
            page = await knowledge_repo.list_datasets(session, page=1, limit=100)
        return [{"id": d.id, "name": d.name} for d in page.items]

    async def set_site(
        self, app_id: str, enabled: bool, *, operator_login: bool | None = None
    ) -> SiteInfo:
        await self._app(app_id)
        return await self._sites.configure(app_id, enabled=enabled, operator_login=operator_login)

    async def create_key(self, app_id: str) -> CreatedKey:
        await self._app(app_id)
        async with self._db.session() as session:
            key, token = await apps_repo.create_api_key(session, app_id)
            return CreatedKey(key.id, token)

    async def revoke_key(self, app_id: str, key_id: str) -> None:
        async with self._db.session() as session:
            key = await session.scalar(
                select(ApiKey).where(ApiKey.app_id == app_id, ApiKey.id == key_id)
            )
            if key is None:
                raise NotFound("API key not found.", code="api_key_not_found")
            await session.execute(delete(ApiKey).where(ApiKey.id == key_id))
        self._apps.forget_key(key.token_hash)  # at once, not after the key cache's expiry

    async def graph(self, app_id: str) -> dict[str, Any]:
        """The app's nodes (with their editor positions) and edges, from its DSL."""
        row = await self._app(app_id)
        doc = yaml.safe_load(row.dsl_text) or {}
        graph = (doc.get("workflow") or {}).get("graph") or {}
        nodes = []
        for index, node in enumerate(graph.get("nodes") or []):
            data = node.get("data") or {}
            position = node.get("position") or {}
            nodes.append(
                {
                    "id": str(node.get("id")),
                    "type": str(data.get("type", "")),
                    "title": str(data.get("title") or node.get("id")),
                    "x": float(position.get("x", index * 260)),
                    "y": float(position.get("y", 0)),
                }
            )
        edges = [
            {"source": str(e.get("source")), "target": str(e.get("target"))}
            for e in graph.get("edges") or []
        ]
        return {"nodes": nodes, "edges": edges}

    async def runs(self, app_id: str, page: int) -> dict[str, Any]:
        await self._app(app_id)
        async with self._db.session() as session:
            rows = list(
                await session.scalars(
                    select(WorkflowRun)
                    .where(WorkflowRun.app_id == app_id)
                    .order_by(WorkflowRun.created_at.desc(), WorkflowRun.id)
                    .offset((page - 1) * PAGE)
                    .limit(PAGE + 1)
                )
            )
        return {
            "page": page,
            "has_more": len(rows) > PAGE,
            "data": [_run(r) for r in rows[:PAGE]],
        }

    async def run(self, app_id: str, run_id: str) -> dict[str, Any]:
        async with self._db.session() as session:
            row = await session.scalar(
                select(WorkflowRun).where(WorkflowRun.app_id == app_id, WorkflowRun.id == run_id)
            )
            if row is None:
                raise NotFound("Workflow run not found.", code="not_found")
            nodes = list(
                await session.scalars(
                    select(NodeExecution)
                    .where(NodeExecution.workflow_run_id == run_id)
                    .order_by(NodeExecution.index)
                )
            )
        return {**_run(row), "inputs": row.inputs, "outputs": row.outputs,
                "nodes": [_node(n) for n in nodes]}  # fmt: skip

    async def metrics(self, app_id: str, days: int) -> dict[str, Any]:
        """Per day (UTC) over the last `days`: runs, failed runs, tokens, mean latency."""
        await self._app(app_id)
        today = utcnow().date()
        first = today - timedelta(days=days - 1)
        since = datetime.combine(first, datetime.min.time(), tzinfo=UTC)
        async with self._db.session() as session:
            rows = (
                await session.execute(
                    select(
                        WorkflowRun.created_at,
                        WorkflowRun.status,
                        WorkflowRun.total_tokens,
                        WorkflowRun.elapsed_time,
                    ).where(WorkflowRun.app_id == app_id, WorkflowRun.created_at >= since)
                )
            ).all()
        buckets = {first + timedelta(days=i): [0, 0, 0, 0.0] for i in range(days)}
        for created_at, status, tokens, elapsed in rows:
            bucket = buckets.get(created_at.date())
            if bucket is None:
                continue
            bucket[0] += 1
            bucket[1] += status == "failed"
            bucket[2] += tokens or 0
            bucket[3] += elapsed or 0.0
        return {
            "days": [
                {"date": day.isoformat(), "runs": runs, "errors": errors, "tokens": tokens,
                 "latency": round(total / runs, 3) if runs else 0.0}
                for day, (runs, errors, tokens, total) in buckets.items()
            ]
        }  # fmt: skip

    async def conversations(self, app_id: str, page: int) -> dict[str, Any]:
        await self._app(app_id)
        async with self._db.session() as session:
            rows = list(
                await session.scalars(
                    select(Conversation)
                    .where(Conversation.app_id == app_id)
                    .order_by(Conversation.updated_at.desc(), Conversation.id)
                    .offset((page - 1) * PAGE)
                    .limit(PAGE + 1)
                )
            )
        data = [
            {"id": c.id, "name": c.name, "end_user_id": c.end_user_id,
             "dialogue_count": c.dialogue_count, "updated_at": _ts(c.updated_at)}
            for c in rows[:PAGE]
        ]  # fmt: skip
        return {"page": page, "has_more": len(rows) > PAGE, "data": data}

    async def messages(self, app_id: str, conversation_id: str) -> list[dict[str, Any]]:
        async with self._db.session() as session:
            rows = list(
                await session.scalars(
                    select(Message)
                    .where(Message.app_id == app_id, Message.conversation_id == conversation_id)
                    .order_by(Message.created_at, Message.id)
                    .limit(500)
                )
            )
        return [
            {"id": m.id, "query": m.query, "answer": m.answer, "status": m.status,
             "error": m.error, "workflow_run_id": m.workflow_run_id,
             "created_at": _ts(m.created_at)}
            for m in rows
        ]  # fmt: skip


def _key(key: ApiKey) -> dict[str, Any]:
    return {"id": key.id, "prefix": key.prefix, "created_at": _ts(key.created_at),
            "last_used_at": _ts(key.last_used_at)}  # fmt: skip


def _run(row: WorkflowRun) -> dict[str, Any]:
    return {"id": row.id, "status": row.status, "error": row.error,
            "elapsed_time": row.elapsed_time, "total_tokens": row.total_tokens,
            "total_steps": row.total_steps, "conversation_id": row.conversation_id,
            "created_at": _ts(row.created_at)}  # fmt: skip


def _node(row: NodeExecution) -> dict[str, Any]:
    return {"id": row.id, "node_id": row.node_id, "node_type": row.node_type,
            "title": row.title, "index": row.index, "status": row.status, "error": row.error,
            "elapsed_time": row.elapsed_time, "inputs": row.inputs, "outputs": row.outputs,
            "created_at": _ts(row.created_at)}  # fmt: skip
