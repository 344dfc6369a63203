"""Requests, bodies and responses of `dify-oapi2`'s system APIs (its `dify.v1` module):
file upload, audio (speech to text, text to speech), message feedback, app info.

`client.chatflow.v1`, `client.chat.v1` and `client.dify.v1` all reach them (under the
names `dify-oapi2` gives them there); see `_system.py`.
"""

from __future__ import annotations

from typing import Any, Literal, Self

from pydantic import BaseModel

from ._core import BaseResponse, RequestBuilder, UploadContent
from ._models import BodyRequest, PageQuery, Request, UserBody, UserQuery, _BodyBuilder

Rating = Literal["like", "dislike"]


# Upload form fields are the `{"user": ...}` body of `_models`.
UserOnlyBody = UploadFileBody = UploadFileRequestBody = AudioToTextRequestBody = UserBody


class UploadRequestBuilder(BodyRequest):
    def file(self, file: UploadContent, file_name: str | None = None) -> Self:
        return self._file("file", file, file_name or "upload")


class UploadFileRequest(Request):
    @staticmethod
    def builder() -> UploadRequestBuilder:
        return UploadRequestBuilder(Request("POST", "/v1/files/upload"))


class AudioToTextRequest(Request):
    @staticmethod
    def builder() -> UploadRequestBuilder:
        return UploadRequestBuilder(Request("POST", "/v1/audio-to-text"))


class TextToAudioRequestBody(BaseModel):
    message_id: str | None = None
    text: str | None = None
    user: str | None = None

    @staticmethod
    def builder() -> TextToAudioBodyBuilder:
        return TextToAudioBodyBuilder(TextToAudioRequestBody())


class TextToAudioBodyBuilder(_BodyBuilder[TextToAudioRequestBody]):
    def message_id(self, v: str) -> Self:
        return self._set("message_id", v)

    def text(self, v: str) -> Self:
        return self._set("text", v)

    def user(self, v: str) -> Self:
        return self._set("user", v)


class TextToAudioRequest(Request):
    @staticmethod
    def builder() -> BodyRequest:
        return BodyRequest(Request("POST", "/v1/text-to-audio"))


class SubmitFeedbackRequestBody(BaseModel):
    rating: Rating | None = None
    user: str | None = None
    content: str | None = None

    @staticmethod
    def builder() -> FeedbackBodyBuilder:
        return FeedbackBodyBuilder(SubmitFeedbackRequestBody())


class FeedbackBodyBuilder(_BodyBuilder[SubmitFeedbackRequestBody]):
    def rating(self, v: Rating | None) -> Self:
        return self._set("rating", v)

    def user(self, v: str) -> Self:
        return self._set("user", v)

    def content(self, v: str) -> Self:
        return self._set("content", v)


class SubmitFeedbackRequestBuilder(BodyRequest):
    def message_id(self, v: str) -> Self:
        return self._path("message_id", v)


class SubmitFeedbackRequest(Request):
    @staticmethod
    def builder() -> SubmitFeedbackRequestBuilder:
        uri = "/v1/messages/:message_id/feedbacks"
        return SubmitFeedbackRequestBuilder(Request("POST", uri))


class GetFeedbacksRequest(Request):
    @staticmethod
    def builder() -> PageQuery:
        return PageQuery(Request("GET", "/v1/app/feedbacks"))


class GetInfoRequest(Request):
    @staticmethod
    def builder() -> UserQuery:
        return UserQuery(Request("GET", "/v1/info"))


class GetParametersRequest(Request):
    @staticmethod
    def builder() -> UserQuery:
        return UserQuery(Request("GET", "/v1/parameters"))


class GetMetaRequest(Request):
    @staticmethod
    def builder() -> UserQuery:
        return UserQuery(Request("GET", "/v1/meta"))


class GetSiteRequest(Request):
    @staticmethod
    def builder() -> RequestBuilder[Request]:
        return RequestBuilder(Request("GET", "/v1/site"))


# --- responses -------------------------------------------------------------------------------


class UploadFileResponse(BaseResponse):
    id: str | None = None
    name: str | None = None
    size: int | None = None
    extension: str | None = None
    mime_type: str | None = None
    created_by: str | None = None
    created_at: int | None = None


class AudioToTextResponse(BaseResponse):
    text: str | None = None


class TextToAudioResponse(BaseResponse):
    """The audio is `raw.content` (its type `raw.content_type`)."""


class SubmitFeedbackResponse(BaseResponse):
    result: str | None = None


class GetFeedbacksResponse(BaseResponse):
    data: list[dict[str, Any]] | None = None


class GetInfoResponse(BaseResponse):
    name: str | None = None
    description: str | None = None
    tags: list[str] | None = None
    mode: str | None = None
    author_name: str | None = None


class GetParametersResponse(BaseResponse):
    opening_statement: str | None = None
    suggested_questions: list[str] | None = None
    suggested_questions_after_answer: dict[str, Any] | None = None
    speech_to_text: dict[str, Any] | None = None
    text_to_speech: dict[str, Any] | None = None
    retriever_resource: dict[str, Any] | None = None
    annotation_reply: dict[str, Any] | None = None
    user_input_form: list[dict[str, Any]] | None = None
    file_upload: dict[str, Any] | None = None
    system_parameters: dict[str, Any] | None = None


class GetMetaResponse(BaseResponse):
    tool_icons: dict[str, Any] | None = None


class GetSiteResponse(BaseResponse):
    title: str | None = None
    chat_color_theme: str | None = None
    chat_color_theme_inverted: bool | None = None
    icon_type: str | None = None
    icon: str | None = None
    icon_background: str | None = None
    icon_url: str | None = None
    description: str | None = None
    copyright: str | None = None
    privacy_policy: str | None = None
    custom_disclaimer: str | None = None
    default_language: str | None = None
    show_workflow_steps: bool | None = None
    use_icon_as_answer_icon: bool | None = None


__all__ = [
    "AudioToTextRequest",
    "AudioToTextRequestBody",
    "AudioToTextResponse",
    "GetFeedbacksRequest",
    "GetFeedbacksResponse",
    "GetInfoRequest",
    "GetInfoResponse",
    "GetMetaRequest",
    "GetMetaResponse",
    "GetParametersRequest",
    "GetParametersResponse",
    "GetSiteRequest",
    "GetSiteResponse",
    "SubmitFeedbackRequest",
    "SubmitFeedbackRequestBody",
    "SubmitFeedbackResponse",
    "TextToAudioRequest",
    "TextToAudioRequestBody",
    "TextToAudioResponse",
    "UploadFileBody",
    "UploadFileRequest",
    "UploadFileRequestBody",
    "UploadFileResponse",
]
