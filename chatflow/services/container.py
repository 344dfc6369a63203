"""`Services`: everything a running server (or the CLI) needs, built from `Settings`.

Opening connects the database (running migrations), builds the model registry and the
in-process runtime, and wires the services together; closing stops running turns and
releases the database. The HTTP app's lifespan and the CLI both go through here.
"""

from __future__ import annotations

from dataclasses import dataclass

from chatflow.engine.limits import EngineLimits
from chatflow.engine.nodes.base import EngineServices
from chatflow.knowledge.index import ChunkIndex
from chatflow.knowledge.rerank import build_reranker
from chatflow.providers.base import ModelRegistry
from chatflow.runtime.base import EventStream, TaskRegistry
from chatflow.sandbox.executor import SandboxExecutor
from chatflow.services.admission import RunAdmission
from chatflow.services.agent_mcp import AgentMcpServers
from chatflow.services.annotations import AnnotationService
from chatflow.services.apps import AppService
from chatflow.services.audio import AudioService
from chatflow.services.chat import ChatService
from chatflow.services.console import ConsoleService
from chatflow.services.console_tools import ConsoleTools
from chatflow.services.conversation_variables import ConversationVariableService
from chatflow.services.conversations import ConversationService
from chatflow.services.end_users import EndUserService
from chatflow.services.features import TurnFeatures
from chatflow.services.feedbacks import FeedbackService
from chatflow.services.files import FileService
from chatflow.services.human_input import HumanInputService
from chatflow.services.knowledge import KnowledgeService
from chatflow.services.knowledge_base import DatasetKnowledgeBase
from chatflow.services.moderation import ModerationService
from chatflow.services.operators import OperatorService
from chatflow.services.request_limits import RequestLimits
from chatflow.services.run_slots import RunSlots, open_run_slots
from chatflow.services.runtime import Runtime, open_runtime
from chatflow.services.sites import SiteService
from chatflow.services.tool_files import ToolFileService
from chatflow.services.turn import RunDeps, StreamItem
from chatflow.services.workflows import WorkflowService
from chatflow.settings import Settings
from chatflow.store import Database
from chatflow.store.storage import LocalFileStorage
from chatflow.store.turns import TurnStore
from chatflow.tools.catalog import build_registry as build_tool_registry
from chatflow.tools.file_sync import ToolFileSync
from chatflow.tools.remote import close as close_remote_tools
from chatflow.tools.runtime import ToolRuntimeService
from chatflow.tools.signing import FileSigner, load_secret


def engine_limits(settings: Settings) -> EngineLimits:
    """The engine's limits from settings; every code-output limit is a setting."""
    return EngineLimits(
        max_steps=settings.max_execution_steps,
        max_run_seconds=settings.max_execution_seconds,
        code_max_string_length=settings.code_max_string_length,
        code_max_string_array_length=settings.code_max_string_array_length,
        code_max_object_array_length=settings.code_max_object_array_length,
        code_max_number_array_length=settings.code_max_number_array_length,
        code_max_depth=settings.code_max_depth,
        code_max_number=settings.code_max_number,
        code_min_number=settings.code_min_number,
        code_max_precision=settings.code_max_precision,
        code_timeout_seconds=settings.code_timeout_seconds,
        template_max_length=settings.template_max_length,
        extract_timeout_seconds=settings.extract_timeout_seconds,
        extract_memory_mb=settings.extract_memory_mb,
    )


@dataclass(slots=True)
class Services:
    settings: Settings
    db: Database
    models: ModelRegistry
    tasks: TaskRegistry
    streams: EventStream[StreamItem]
    apps: AppService
    chat: ChatService
    conversations: ConversationService
    sandbox: SandboxExecutor
    files: FileService
    end_users: EndUserService
    feedbacks: FeedbackService
    conversation_variables: ConversationVariableService
    workflows: WorkflowService
    annotations: AnnotationService
    moderation: ModerationService
    audio: AudioService
    human_input: HumanInputService
    runtime: Runtime
    admission: RunAdmission
    knowledge: KnowledgeService
    tools: ToolRuntimeService
    agent_mcp: AgentMcpServers
    tool_files: ToolFileService
    sites: SiteService
    operators: OperatorService
    console: ConsoleService
    run_slots: RunSlots  # how many runs go at once, per app, key and web session

    @classmethod
    async def open(
        cls,
        settings: Settings,
        *,
        database: Database | None = None,
        models: ModelRegistry | None = None,
        sweep: bool = False,
    ) -> Services:
        """Connect and wire everything; `database`/`models` override the settings' ones.

        `sweep` (servers, not the CLI) runs the sweeper that fails runs of dead workers.
        """
        db = database or Database(
            settings.resolved_database_url(),
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_pool_overflow,
            pool_timeout=settings.db_pool_timeout_seconds,
            sqlite_cache_mb=settings.sqlite_cache_mb,
        )
        await db.connect()
        if models is None:
            from chatflow.providers.registry import build_registry

            models = build_registry(settings)
        # User code runs in the sandbox's fork server, never in this process.
        sandbox = SandboxExecutor.from_settings(settings)
        await sandbox.start()
        files = FileService(
            db,
            LocalFileStorage(settings.data_dir / "uploads"),
            upload_max_mb=settings.upload_max_mb,
            ssrf_allow=settings.ssrf_allow,
            remote_max_mb=settings.remote_file_max_mb,
            remote_per_run=settings.remote_files_per_run_max,
        )
        embedder = models.embedder()
        knowledge = KnowledgeService(
            db,
            files.storage,
            ChunkIndex(db, embedder, reranker=build_reranker(settings)),
            upload_max_mb=settings.upload_max_mb,
            # Reported as the datasets' embedding model: (backend, model name).
            embedding_model=(
                settings.embedding_backend,
                str(getattr(embedder, "model", "") or settings.embedding_backend),
            ),
            extract_seconds=settings.extract_timeout_seconds,
            extract_memory_mb=settings.extract_memory_mb,
        )
        signer = FileSigner(
            load_secret(settings.secret_key, settings.data_dir),
            base_url=settings.files_url,
            timeout=settings.files_access_timeout,
        )
        tool_files = ToolFileService(db, files.storage, signer)
        knowledge_base = DatasetKnowledgeBase(db, knowledge)
        tools = ToolRuntimeService(
            build_tool_registry(settings),
            files=tool_files,
            settings=settings,
            # Tools read files as the run that calls them (`FileService.reader_for_caller`).
            services={
                "models": models,
                "file_reader_for": files.reader_for_caller,
                "knowledge": knowledge_base,
            },
        )
        # Tool files another worker (its console) or the CLI writes reach this one too.
        tools.sync = ToolFileSync(settings, tools.registry)
        console_tools = ConsoleTools(settings, tools.registry, tools.sync)
        agent_mcp = AgentMcpServers(settings.ssrf_allow, tool_files)
        engine = EngineServices(
            models=models,
            limits=engine_limits(settings),
            code=sandbox,
            tools=tools,
            mcp=agent_mcp,
            # Files are read and saved per run, scoped to its app and end user
            # (`RunsWithFiles`); http-request bodies become tool files (`tool_files` rows).
            ssrf_allow=settings.ssrf_allow,
            knowledge=knowledge_base,
        )
        # In-process, or shared by every worker through Redis (`settings.redis_url`).
        runtime = await open_runtime(settings, db, sweep=sweep)
        tasks, streams = runtime.tasks, runtime.streams
        conversations = ConversationService(db, models)
        annotations = AnnotationService(db, models)
        moderation = ModerationService(settings)
        features = TurnFeatures(annotations, moderation)
        apps = AppService(db, tools=tools.registry)
        # One count for both routes: an app's chat turns and workflow runs together.
        run_slots = open_run_slots(settings)
        deps = RunDeps(
            db, TurnStore(db), engine, tasks, streams, files=files, tool_files=tool_files,
            limits=RequestLimits.from_settings(settings), run_slots=run_slots,
        )  # fmt: skip
        human_input = HumanInputService(deps, apps)
        chat = ChatService(
            deps, human_input, features, naming_backlog=settings.conversation_naming_backlog
        )
        workflows = WorkflowService(deps, human_input)
        sites = SiteService(db, apps, session_days=settings.web_session_days)
        if sweep:  # servers ingest documents; the CLI starts it when it needs it
            await knowledge.start()
        return cls(
            settings=settings,
            db=db,
            models=models,
            tasks=tasks,
            streams=streams,
            apps=apps,
            chat=chat,
            conversations=conversations,
            sandbox=sandbox,
            files=files,
            end_users=EndUserService(db),
            feedbacks=FeedbackService(db),
            conversation_variables=ConversationVariableService(db, conversations),
            workflows=workflows,
            annotations=annotations,
            moderation=moderation,
            audio=AudioService(db, settings),
            human_input=human_input,
            runtime=runtime,
            admission=RunAdmission(settings.model_queue_max),
            knowledge=knowledge,
            tools=tools,
            tool_files=tool_files,
            agent_mcp=agent_mcp,
            sites=sites,
            console=ConsoleService(db, apps, sites, console_tools),
            operators=OperatorService(db),
            run_slots=run_slots,
        )

    async def close(self) -> None:
        await self.knowledge.close()
        await self.runtime.close()
        await self.chat.close()
        await self.run_slots.close()
        await self.annotations.close()
        await self.moderation.close()
        await self.sandbox.close()
        await close_remote_tools(self.tools.registry.providers)
        await self.agent_mcp.aclose()
        await self.db.close()
