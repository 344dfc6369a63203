"""Apps: importing DSL files, Service API keys, and the cache of loaded (parsed) apps.

Importing is idempotent by app name: importing a file whose `app.name` already exists
updates that app in place and keeps its keys. Keys are Dify-style (`app-` + 24 letters
and digits), stored only as sha256; a key can be shown once, when it is minted.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field

from sqlalchemy import select

from chatflow.dsl import AppDSL, load_app, to_graph
from chatflow.engine.graph import Graph
from chatflow.engine.nodes.start import InputVariable
from chatflow.errors import InvalidRequest, NotFound, Unauthorized
from chatflow.services.generation import app_model
from chatflow.services.secrets import SecretMasker, masker_for
from chatflow.services.single_flight import SingleFlight
from chatflow.store import Database
from chatflow.store import apps as repo
from chatflow.store.models import ApiKey, App
from chatflow.tools.references import missing as missing_tools
from chatflow.tools.registry import ToolRegistry

# Bearer-key lookups are cached this long, so a revoked key stops working within it.
_KEY_CACHE_SECONDS = 30.0


@dataclass(frozen=True, slots=True)
class LoadedApp:
    """An app ready to run: its row's metadata plus the parsed DSL and graph."""

    id: str
    name: str
    mode: str
    description: str
    icon: str
    icon_type: str | None
    icon_background: str | None
    use_icon_as_answer_icon: bool
    dsl: AppDSL
    graph: Graph
    dsl_hash: str
    # A stable UUID per DSL version (Dify's `workflow_id` is the workflow's UUID).
    workflow_id: str = field(init=False)
    # The start node's input variables, parsed once (every message checks its inputs).
    input_variables: tuple[InputVariable, ...] = field(init=False)
    # Whether any input variable takes files (those inputs need a database read).
    takes_file_inputs: bool = field(init=False)
    # The (provider, model) conversation names are generated with; None: no model.
    model: tuple[str, str] | None = field(init=False)
    # Whether a run can pause for a human-input form (its rows must exist meanwhile).
    can_pause: bool = field(init=False)
    # Masks the app's secret environment values in its runs' events (built once).
    masker: SecretMasker = field(init=False)

    def __post_init__(self) -> None:
        variables = tuple(InputVariable.model_validate(v) for v in self.dsl.start_variables())
        object.__setattr__(self, "workflow_id", str(uuid.UUID(self.dsl_hash[:32])))
        object.__setattr__(self, "input_variables", variables)
        object.__setattr__(
            self, "takes_file_inputs", any(v.type in ("file", "file-list") for v in variables)
        )
        object.__setattr__(self, "model", app_model(self.graph))
        pausing = any(node.type == "human-input" for node in self.graph.nodes.values())
        object.__setattr__(self, "can_pause", pausing)
        object.__setattr__(self, "masker", masker_for(self.dsl))

    @property
    def chat_mode(self) -> str:
        """The `mode` the chat API reports: basic chat apps say "chat", agent apps
        "agent-chat" (their streams carry agent events)."""
        if self.mode in ("chat", "agent-chat"):
            return self.mode
        return "advanced-chat"


@dataclass(frozen=True, slots=True)
class ImportResult:
    app_id: str
    name: str
    mode: str
    created: bool
    # The plain key, only when one was minted or given by this import.
    api_key: str | None
    key_prefixes: tuple[str, ...]
    # Tool references that cannot run here, each with the command or setting that fixes it.
    missing_tools: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class AppSummary:
    id: str
    name: str
    mode: str
    key_prefixes: tuple[str, ...]


def _info(dsl: AppDSL) -> repo.AppInfo:
    app = dsl.app
    return repo.AppInfo(
        name=app.name,
        mode=app.mode,
        description=app.description,
        icon=app.icon or "",
        icon_type=app.icon_type,
        icon_background=app.icon_background,
        use_icon_as_answer_icon=app.use_icon_as_answer_icon,
    )


def _loaded(row: App) -> LoadedApp:
    dsl = load_app(row.dsl_text)
    return LoadedApp(
        id=row.id,
        name=row.name,
        mode=row.mode,
        description=row.description,
        icon=row.icon,
        icon_type=row.icon_type,
        icon_background=row.icon_background,
        use_icon_as_answer_icon=row.use_icon_as_answer_icon,
        dsl=dsl,
        graph=to_graph(dsl),
        dsl_hash=row.dsl_hash,
    )


class AppService:
    """Import, list and key apps; resolve bearer keys to loaded apps (cached)."""

    def __init__(self, db: Database, *, tools: ToolRegistry | None = None) -> None:
        self._db = db
        self._tools = tools
        self._apps: dict[str, LoadedApp] = {}
        self._keys: dict[str, tuple[str, float]] = {}  # token hash -> (app id, expiry)
        # Requests that miss the key cache together share one lookup.
        self._key_reads: SingleFlight[str, tuple[ApiKey, App] | None] = SingleFlight()

    async def import_dsl(self, text: str, *, api_key: str | None = None) -> ImportResult:
        """Create or update (same name) the app in `text`; mint a key for a new app.

        With `api_key`, that exact key is registered instead (if not already), which
        lets automation use a key it chose.
        """
        dsl = load_app(text)  # raises DSLError naming the node and field
        info = _info(dsl)
        if not info.name:
            raise InvalidRequest("app.name: field required")
        # Missing tools do not stop the import: they are listed, and fail their node.
        missing = await missing_tools(self._tools, dsl) if self._tools is not None else []
        token: str | None = None
        async with self._db.session() as session:
            existing = await session.scalar(
                select(App).where(App.name == info.name).order_by(App.created_at).limit(1)
            )
            created = existing is None
            if existing is None:
                row = await repo.create_app(session, info, text)
            else:
                updated = await repo.update_app(session, existing.id, info, text)
                assert updated is not None
                row = updated
            if api_key:
                found = await repo.find_api_key(session, api_key)
                if found is not None and found[1].id != row.id:
                    raise InvalidRequest("this API key already belongs to another app")
                if found is None:
                    await repo.add_api_key(session, row.id, api_key)
                token = api_key
            elif created:
                _, token = await repo.create_api_key(session, row.id)
            keys = await repo.list_api_keys(session, row.id)
            result = ImportResult(
                app_id=row.id,
                name=row.name,
                mode=row.mode,
                created=created,
                api_key=token,
                key_prefixes=tuple(k.prefix for k in keys),
                missing_tools=tuple(missing),
            )
        self._apps.pop(result.app_id, None)
        return result

    async def list_apps(self) -> list[AppSummary]:
        async with self._db.session() as session:
            rows = await repo.list_apps(session)
            return [
                AppSummary(
                    id=row.id,
                    name=row.name,
                    mode=row.mode,
                    key_prefixes=tuple(k.prefix for k in await repo.list_api_keys(session, row.id)),
                )
                for row in rows
            ]

    async def find(self, ref: str) -> LoadedApp:
        """An app by id or name."""
        async with self._db.session() as session:
            row = await repo.get_app(session, ref)
            if row is None:
                row = await session.scalar(
                    select(App).where(App.name == ref).order_by(App.created_at).limit(1)
                )
        if row is None:
            raise NotFound(f"App not found: {ref}")
        return self._cached(row)

    async def create_key(self, ref: str) -> str:
        """Mint a new key for the app `ref` (id or name); the plain key is returned once."""
        app = await self.find(ref)
        async with self._db.session() as session:
            _, token = await repo.create_api_key(session, app.id)
        return token

    async def authenticate(self, token: str) -> LoadedApp:
        """The app a bearer key belongs to; `Unauthorized` for unknown keys."""
        token_hash = repo.hash_token(token)
        now = time.monotonic()
        cached = self._keys.get(token_hash)
        if cached is not None and cached[1] > now:
            app = self._apps.get(cached[0])
            if app is not None:
                return app
        found = await self._key_reads.run(token_hash, lambda: self._find_key(token))
        if found is None:
            self._keys.pop(token_hash, None)
            raise Unauthorized("Access token is invalid")
        _, row = found
        self._keys[token_hash] = (row.id, now + _KEY_CACHE_SECONDS)
        return self._cached(row)

    async def _find_key(self, token: str) -> tuple[ApiKey, App] | None:
        async with self._db.session() as session:
            return await repo.find_api_key(session, token)

    @staticmethod
    def key_ref(token: str) -> str:
        """A key's stable, non-secret name (its hash): what run limits count it by."""
        return repo.hash_token(token)

    def forget_key(self, token_hash: str) -> None:
        """Drop a revoked key from the cache, so it stops working at once here."""
        self._keys.pop(token_hash, None)

    def _cached(self, row: App) -> LoadedApp:
        app = self._apps.get(row.id)
        if app is None or app.dsl_hash != row.dsl_hash:
            app = _loaded(row)
            self._apps[row.id] = app
        return app
