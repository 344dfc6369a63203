"""`Client.builder().domain(...).build()` and the `client.<group>.v1.<resource>` tree.

Method names follow the `dify-oapi2` package (`send`, `stop`, `suggested`, `list`, ...),
each with its README/file-name alias (`send_chat_message`, `get_conversations`, ...);
`a`-prefixed twins are async. `stream=True` yields the raw SSE bytes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any, Generic, Literal, Self, TypeVar, overload

from ._core import (
    BaseResponse,
    Config,
    RequestOption,
    aexecute,
    aexecute_stream,
    execute,
    execute_stream,
)
from ._models import Request
from ._system import Audio, DifyV1, Feedback, File, Info

V = TypeVar("V")


class SendChatMessageResponse(BaseResponse):
    event: str | None = None
    task_id: str | None = None
    id: str | None = None
    message_id: str | None = None
    conversation_id: str | None = None
    mode: str | None = None
    answer: str | None = None
    metadata: dict[str, Any] | None = None
    created_at: int | None = None


ChatResponse = SendChatMessageResponse


class ResultResponse(BaseResponse):
    result: str | None = None


class ListResponse(BaseResponse):
    """Paged lists: conversations, messages, variables, annotations, suggested questions."""

    data: list[Any] | None = None
    has_more: bool | None = None
    limit: int | None = None
    total: int | None = None
    page: int | None = None
    result: str | None = None


class ConversationResponse(BaseResponse):
    id: str | None = None
    name: str | None = None
    inputs: dict[str, Any] | None = None
    status: str | None = None
    introduction: str | None = None
    created_at: int | None = None
    updated_at: int | None = None


class AnnotationResponse(BaseResponse):
    id: str | None = None
    question: str | None = None
    answer: str | None = None
    hit_count: int | None = None
    created_at: int | None = None


class AnnotationJobResponse(BaseResponse):
    job_id: str | None = None
    job_status: str | None = None
    error_msg: str | None = None


class _Resource:
    def __init__(self, config: Config) -> None:
        self.config = config


class Chatflow(_Resource):
    """`client.chatflow.v1.chatflow` (and `client.chat.v1.chat`)."""

    @overload
    def send(
        self, request: Request, request_option: RequestOption, stream: Literal[True]
    ) -> Iterator[bytes]: ...
    @overload
    def send(
        self, request: Request, request_option: RequestOption, stream: Literal[False] = False
    ) -> SendChatMessageResponse: ...
    def send(
        self, request: Request, request_option: RequestOption, stream: bool = False
    ) -> SendChatMessageResponse | Iterator[bytes]:
        if stream:
            return execute_stream(self.config, request, request_option)
        return execute(self.config, request, request_option, SendChatMessageResponse)

    @overload
    async def asend(
        self, request: Request, request_option: RequestOption, stream: Literal[True]
    ) -> AsyncIterator[bytes]: ...
    @overload
    async def asend(
        self, request: Request, request_option: RequestOption, stream: Literal[False] = False
    ) -> SendChatMessageResponse: ...
    async def asend(
        self, request: Request, request_option: RequestOption, stream: bool = False
    ) -> SendChatMessageResponse | AsyncIterator[bytes]:
        if stream:
            return aexecute_stream(self.config, request, request_option)
        return await aexecute(self.config, request, request_option, SendChatMessageResponse)

    def stop(self, request: Request, request_option: RequestOption) -> ResultResponse:
        return execute(self.config, request, request_option, ResultResponse)

    async def astop(self, request: Request, request_option: RequestOption) -> ResultResponse:
        return await aexecute(self.config, request, request_option, ResultResponse)

    def suggested(self, request: Request, request_option: RequestOption) -> ListResponse:
        return execute(self.config, request, request_option, ListResponse)

    async def asuggested(self, request: Request, request_option: RequestOption) -> ListResponse:
        return await aexecute(self.config, request, request_option, ListResponse)

    send_chat_message = chat = send
    asend_chat_message = achat = asend
    stop_chat_message = stop_generation = stop
    astop_chat_message = astop
    get_suggested_questions = suggested
    aget_suggested_questions = asuggested


class Conversation(_Resource):
    """`client.chatflow.v1.conversation`."""

    def list(self, request: Request, request_option: RequestOption) -> ListResponse:
        return execute(self.config, request, request_option, ListResponse)

    async def alist(self, request: Request, request_option: RequestOption) -> ListResponse:
        return await aexecute(self.config, request, request_option, ListResponse)

    def messages(self, request: Request, request_option: RequestOption) -> ListResponse:
        return execute(self.config, request, request_option, ListResponse)

    async def amessages(self, request: Request, request_option: RequestOption) -> ListResponse:
        return await aexecute(self.config, request, request_option, ListResponse)

    def variables(self, request: Request, request_option: RequestOption) -> ListResponse:
        return execute(self.config, request, request_option, ListResponse)

    async def avariables(self, request: Request, request_option: RequestOption) -> ListResponse:
        return await aexecute(self.config, request, request_option, ListResponse)

    def rename(self, request: Request, request_option: RequestOption) -> ConversationResponse:
        return execute(self.config, request, request_option, ConversationResponse)

    async def arename(
        self, request: Request, request_option: RequestOption
    ) -> ConversationResponse:
        return await aexecute(self.config, request, request_option, ConversationResponse)

    def delete(self, request: Request, request_option: RequestOption) -> ResultResponse:
        return execute(self.config, request, request_option, ResultResponse)

    async def adelete(self, request: Request, request_option: RequestOption) -> ResultResponse:
        return await aexecute(self.config, request, request_option, ResultResponse)

    get_conversations, aget_conversations = list, alist
    get_conversation_messages, aget_conversation_messages = messages, amessages
    history, ahistory = messages, amessages
    get_conversation_variables, aget_conversation_variables = variables, avariables
    rename_conversation, arename_conversation = rename, arename
    delete_conversation, adelete_conversation = delete, adelete


class Annotation(_Resource):
    """`client.chatflow.v1.annotation`."""

    def list(self, request: Request, request_option: RequestOption) -> ListResponse:
        return execute(self.config, request, request_option, ListResponse)

    async def alist(self, request: Request, request_option: RequestOption) -> ListResponse:
        return await aexecute(self.config, request, request_option, ListResponse)

    def create(self, request: Request, request_option: RequestOption) -> AnnotationResponse:
        return execute(self.config, request, request_option, AnnotationResponse)

    async def acreate(self, request: Request, request_option: RequestOption) -> AnnotationResponse:
        return await aexecute(self.config, request, request_option, AnnotationResponse)

    def update(self, request: Request, request_option: RequestOption) -> AnnotationResponse:
        return execute(self.config, request, request_option, AnnotationResponse)

    async def aupdate(self, request: Request, request_option: RequestOption) -> AnnotationResponse:
        return await aexecute(self.config, request, request_option, AnnotationResponse)

    def delete(self, request: Request, request_option: RequestOption) -> ResultResponse:
        return execute(self.config, request, request_option, ResultResponse)

    async def adelete(self, request: Request, request_option: RequestOption) -> ResultResponse:
        return await aexecute(self.config, request, request_option, ResultResponse)

    def reply_settings(
        self, request: Request, request_option: RequestOption
    ) -> AnnotationJobResponse:
        return execute(self.config, request, request_option, AnnotationJobResponse)

    async def areply_settings(
        self, request: Request, request_option: RequestOption
    ) -> AnnotationJobResponse:
        return await aexecute(self.config, request, request_option, AnnotationJobResponse)

    def reply_status(
        self, request: Request, request_option: RequestOption
    ) -> AnnotationJobResponse:
        return execute(self.config, request, request_option, AnnotationJobResponse)

    async def areply_status(
        self, request: Request, request_option: RequestOption
    ) -> AnnotationJobResponse:
        return await aexecute(self.config, request, request_option, AnnotationJobResponse)

    get_annotations, aget_annotations = list, alist
    create_annotation, acreate_annotation = create, acreate
    update_annotation, aupdate_annotation = update, aupdate
    delete_annotation, adelete_annotation = delete, adelete
    annotation_reply_settings, configure, aconfigure = (
        reply_settings,
        reply_settings,
        areply_settings,
    )
    annotation_reply_status, status, astatus = reply_status, reply_status, areply_status


class Message(_Resource):
    """`client.chat.v1.message`: suggested questions and history, as in `dify-oapi2`."""

    def suggested(self, request: Request, request_option: RequestOption) -> ListResponse:
        return execute(self.config, request, request_option, ListResponse)

    async def asuggested(self, request: Request, request_option: RequestOption) -> ListResponse:
        return await aexecute(self.config, request, request_option, ListResponse)

    def history(self, request: Request, request_option: RequestOption) -> ListResponse:
        return execute(self.config, request, request_option, ListResponse)

    async def ahistory(self, request: Request, request_option: RequestOption) -> ListResponse:
        return await aexecute(self.config, request, request_option, ListResponse)


class ChatflowV1:
    """`client.chatflow.v1`: the chatflow group plus the system resources under its names."""

    def __init__(self, config: Config) -> None:
        self.chatflow = Chatflow(config)
        self.conversation = Conversation(config)
        self.annotation = Annotation(config)
        self.file = File(config)
        self.tts = Audio(config)
        self.application = Info(config)
        self.feedback = Feedback(config)


class ChatV1:
    """`client.chat.v1`: the chat group plus the system resources under its names."""

    def __init__(self, config: Config) -> None:
        self.chat = Chatflow(config)
        self.conversation = Conversation(config)
        self.annotation = Annotation(config)
        self.message = Message(config)
        self.file = File(config)
        self.audio = Audio(config)
        self.app = Info(config)
        self.feedback = Feedback(config)


class Service(Generic[V]):
    def __init__(self, v1: V) -> None:
        self.v1 = v1


class Client:
    """`Client.builder().domain(DOMAIN).build()`; `client.chatflow`, `.chat` and `.dify`."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.chatflow = Service(ChatflowV1(config))
        self.chat = Service(ChatV1(config))
        self.dify = Service(DifyV1(config))

    @staticmethod
    def builder() -> ClientBuilder:
        return ClientBuilder()

    def close(self) -> None:
        """Connections are per call; nothing stays open."""

    async def aclose(self) -> None:
        """Connections are per call; nothing stays open."""


class ClientBuilder:
    def __init__(self) -> None:
        self._config = Config()

    def domain(self, domain: str) -> Self:
        """The server root (`https://api.dify.ai`); `/v1` is added to every path."""
        self._config.domain = domain
        return self

    def timeout(self, seconds: float) -> Self:
        self._config.timeout = seconds
        return self

    def max_retry_count(self, count: int) -> Self:
        self._config.max_retry_count = count
        return self

    def build(self) -> Client:
        return Client(self._config)
