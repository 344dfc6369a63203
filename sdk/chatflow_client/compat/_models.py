"""Request bodies and requests of the `dify-oapi2` interface, with their builders.

Chatflow group (15 APIs): chat message send/stop/suggested, conversations (list, messages,
variables, rename, delete), annotations (list, create, update, delete, reply settings and
status). The chat group (`client.chat.v1.chat`) reuses the same shapes under its own names.
"""

from __future__ import annotations

from typing import Any, Generic, Literal, Self, TypeVar

from pydantic import BaseModel

from .._models import AnnotationAction, FileType, SortBy, TransferMethod
from ._core import BaseRequest, RequestBuilder

ResponseMode = Literal["streaming", "blocking"]

B = TypeVar("B", bound=BaseModel)


class _BodyBuilder(Generic[B]):
    def __init__(self, body: B) -> None:
        self._b = body

    def _set(self, name: str, value: Any) -> Self:
        setattr(self._b, name, value)
        return self

    def build(self) -> B:
        return self._b


class ChatFile(BaseModel):
    type: FileType | None = None
    transfer_method: TransferMethod | None = None
    url: str | None = None
    upload_file_id: str | None = None

    @staticmethod
    def builder() -> ChatFileBuilder:
        return ChatFileBuilder(ChatFile())


class ChatFileBuilder(_BodyBuilder[ChatFile]):
    def type(self, v: FileType) -> Self:
        return self._set("type", v)

    def transfer_method(self, v: TransferMethod) -> Self:
        return self._set("transfer_method", v)

    def url(self, v: str) -> Self:
        return self._set("url", v)

    def upload_file_id(self, v: str) -> Self:
        return self._set("upload_file_id", v)


class _ChatBody(BaseModel):
    query: str | None = None
    inputs: dict[str, Any] | None = None
    response_mode: ResponseMode | None = None
    user: str | None = None
    conversation_id: str | None = None
    files: list[ChatFile] | None = None
    auto_generate_name: bool | None = None
    workflow_id: str | None = None


CB = TypeVar("CB", bound=_ChatBody)


class ChatBodyBuilder(_BodyBuilder[CB]):
    def query(self, v: str) -> Self:
        return self._set("query", v)

    def inputs(self, v: dict[str, Any]) -> Self:
        return self._set("inputs", v)

    def response_mode(self, v: ResponseMode) -> Self:
        return self._set("response_mode", v)

    def user(self, v: str) -> Self:
        return self._set("user", v)

    def conversation_id(self, v: str) -> Self:
        return self._set("conversation_id", v)

    def files(self, v: list[ChatFile]) -> Self:
        return self._set("files", v)

    def auto_generate_name(self, v: bool) -> Self:
        return self._set("auto_generate_name", v)

    def workflow_id(self, v: str) -> Self:
        return self._set("workflow_id", v)


class SendChatMessageRequestBody(_ChatBody):
    @staticmethod
    def builder() -> ChatBodyBuilder[SendChatMessageRequestBody]:
        return ChatBodyBuilder(SendChatMessageRequestBody())


class ChatRequestBody(_ChatBody):
    @staticmethod
    def builder() -> ChatBodyBuilder[ChatRequestBody]:
        return ChatBodyBuilder(ChatRequestBody())


class UserBody(BaseModel):
    """`{"user": ...}` bodies (stop, delete conversation) and upload form fields."""

    user: str | None = None

    @staticmethod
    def builder() -> UserBodyBuilder:
        return UserBodyBuilder(UserBody())


class UserBodyBuilder(_BodyBuilder[UserBody]):
    def user(self, v: str) -> Self:
        return self._set("user", v)


StopChatMessageRequestBody = StopChatRequestBody = DeleteConversationRequestBody = UserBody


class RenameConversationRequestBody(BaseModel):
    name: str | None = None
    auto_generate: bool | None = None
    user: str | None = None

    @staticmethod
    def builder() -> RenameBodyBuilder:
        return RenameBodyBuilder(RenameConversationRequestBody())


class RenameBodyBuilder(_BodyBuilder[RenameConversationRequestBody]):
    def name(self, v: str) -> Self:
        return self._set("name", v)

    def auto_generate(self, v: bool) -> Self:
        return self._set("auto_generate", v)

    def user(self, v: str) -> Self:
        return self._set("user", v)


class AnnotationBody(BaseModel):
    question: str | None = None
    answer: str | None = None

    @staticmethod
    def builder() -> AnnotationBodyBuilder:
        return AnnotationBodyBuilder(AnnotationBody())


class AnnotationBodyBuilder(_BodyBuilder[AnnotationBody]):
    def question(self, v: str) -> Self:
        return self._set("question", v)

    def answer(self, v: str) -> Self:
        return self._set("answer", v)


CreateAnnotationRequestBody = UpdateAnnotationRequestBody = AnnotationBody


class AnnotationReplySettingsRequestBody(BaseModel):
    embedding_provider_name: str | None = None
    embedding_model_name: str | None = None
    score_threshold: float | None = None

    @staticmethod
    def builder() -> ReplySettingsBodyBuilder:
        return ReplySettingsBodyBuilder(AnnotationReplySettingsRequestBody())


class ReplySettingsBodyBuilder(_BodyBuilder[AnnotationReplySettingsRequestBody]):
    def embedding_provider_name(self, v: str) -> Self:
        return self._set("embedding_provider_name", v)

    def embedding_model_name(self, v: str) -> Self:
        return self._set("embedding_model_name", v)

    def score_threshold(self, v: float) -> Self:
        return self._set("score_threshold", v)


# --- requests -------------------------------------------------------------------------------


class Request(BaseRequest):
    """Every request type below; the builder fixes method, path and parameters."""


# Pieces every request builder of the compat layer (here and in `_system_models`) is
# made of, each once: a JSON or form body, and the query parameters several requests
# share under the same names (as in Dify's API).
class BodyRequest(RequestBuilder[Request]):
    def request_body(self, body: BaseModel) -> Self:
        return self._body(body)


class UserQuery(RequestBuilder[Request]):
    def user(self, v: str) -> Self:
        return self._query("user", v)


class LimitQuery(RequestBuilder[Request]):
    def limit(self, v: int) -> Self:
        return self._query("limit", v)


class PageQuery(LimitQuery):
    def page(self, v: int) -> Self:
        return self._query("page", v)


class LastIdQuery(LimitQuery):
    def last_id(self, v: str) -> Self:
        return self._query("last_id", v)


class ChatMessageRequestBuilder(RequestBuilder[Request]):
    def request_body(self, body: _ChatBody) -> Self:
        return self._body(body)


class SendChatMessageRequest(Request):
    @staticmethod
    def builder() -> ChatMessageRequestBuilder:
        return ChatMessageRequestBuilder(Request("POST", "/v1/chat-messages"))


ChatRequest = SendChatMessageRequest


class StopRequestBuilder(RequestBuilder[Request]):
    def task_id(self, v: str) -> Self:
        return self._path("task_id", v)

    def request_body(self, body: UserBody) -> Self:
        return self._body(body)


class StopChatMessageRequest(Request):
    @staticmethod
    def builder() -> StopRequestBuilder:
        return StopRequestBuilder(Request("POST", "/v1/chat-messages/:task_id/stop"))


StopChatRequest = StopChatMessageRequest


class SuggestedRequestBuilder(UserQuery):
    def message_id(self, v: str) -> Self:
        return self._path("message_id", v)


class GetSuggestedQuestionsRequest(Request):
    @staticmethod
    def builder() -> SuggestedRequestBuilder:
        return SuggestedRequestBuilder(Request("GET", "/v1/messages/:message_id/suggested"))


class ConversationsRequestBuilder(UserQuery, LastIdQuery):
    def sort_by(self, v: SortBy) -> Self:
        return self._query("sort_by", v)


class GetConversationsRequest(Request):
    @staticmethod
    def builder() -> ConversationsRequestBuilder:
        return ConversationsRequestBuilder(Request("GET", "/v1/conversations"))


class MessagesRequestBuilder(UserQuery, LimitQuery):
    def conversation_id(self, v: str) -> Self:
        return self._query("conversation_id", v)

    def first_id(self, v: str) -> Self:
        return self._query("first_id", v)


class GetConversationMessagesRequest(Request):
    @staticmethod
    def builder() -> MessagesRequestBuilder:
        return MessagesRequestBuilder(Request("GET", "/v1/messages"))


class VariablesRequestBuilder(UserQuery, LastIdQuery):
    def conversation_id(self, v: str) -> Self:
        return self._path("conversation_id", v)

    def variable_name(self, v: str) -> Self:
        return self._query("variable_name", v)


class GetConversationVariablesRequest(Request):
    @staticmethod
    def builder() -> VariablesRequestBuilder:
        uri = "/v1/conversations/:conversation_id/variables"
        return VariablesRequestBuilder(Request("GET", uri))


class ConversationBodyRequestBuilder(BodyRequest):
    def conversation_id(self, v: str) -> Self:
        return self._path("conversation_id", v)


class RenameConversationRequest(Request):
    @staticmethod
    def builder() -> ConversationBodyRequestBuilder:
        uri = "/v1/conversations/:conversation_id/name"
        return ConversationBodyRequestBuilder(Request("POST", uri))


class DeleteConversationRequest(Request):
    @staticmethod
    def builder() -> ConversationBodyRequestBuilder:
        uri = "/v1/conversations/:conversation_id"
        return ConversationBodyRequestBuilder(Request("DELETE", uri))


class AnnotationsRequestBuilder(PageQuery):
    def keyword(self, v: str) -> Self:
        return self._query("keyword", v)


class GetAnnotationsRequest(Request):
    @staticmethod
    def builder() -> AnnotationsRequestBuilder:
        return AnnotationsRequestBuilder(Request("GET", "/v1/apps/annotations"))


class AnnotationRequestBuilder(RequestBuilder[Request]):
    def annotation_id(self, v: str) -> Self:
        return self._path("annotation_id", v)

    def request_body(self, body: AnnotationBody) -> Self:
        return self._body(body)


class CreateAnnotationRequest(Request):
    @staticmethod
    def builder() -> AnnotationRequestBuilder:
        return AnnotationRequestBuilder(Request("POST", "/v1/apps/annotations"))


class UpdateAnnotationRequest(Request):
    @staticmethod
    def builder() -> AnnotationRequestBuilder:
        uri = "/v1/apps/annotations/:annotation_id"
        return AnnotationRequestBuilder(Request("PUT", uri))


class DeleteAnnotationRequest(Request):
    @staticmethod
    def builder() -> AnnotationRequestBuilder:
        uri = "/v1/apps/annotations/:annotation_id"
        return AnnotationRequestBuilder(Request("DELETE", uri))


class ReplyRequestBuilder(RequestBuilder[Request]):
    def action(self, v: AnnotationAction) -> Self:
        return self._path("action", v)

    def job_id(self, v: str) -> Self:
        return self._path("job_id", v)

    def request_body(self, body: AnnotationReplySettingsRequestBody) -> Self:
        return self._body(body)


class AnnotationReplySettingsRequest(Request):
    @staticmethod
    def builder() -> ReplyRequestBuilder:
        return ReplyRequestBuilder(Request("POST", "/v1/apps/annotation-reply/:action"))


class AnnotationReplyStatusRequest(Request):
    @staticmethod
    def builder() -> ReplyRequestBuilder:
        uri = "/v1/apps/annotation-reply/:action/status/:job_id"
        return ReplyRequestBuilder(Request("GET", uri))
