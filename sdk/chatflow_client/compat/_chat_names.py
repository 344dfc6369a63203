"""The names `dify-oapi2`'s chat group (`client.chat.v1`) gives to requests that the chatflow
group also has under other names; the shapes are the same, so these are aliases."""

from ._models import (
    AnnotationReplySettingsRequest,
    AnnotationReplySettingsRequestBody,
    AnnotationReplyStatusRequest,
    GetAnnotationsRequest,
    GetConversationMessagesRequest,
    GetConversationsRequest,
)

ListAnnotationsRequest = GetAnnotationsRequest
ConfigureAnnotationReplyRequest = AnnotationReplySettingsRequest
ConfigureAnnotationReplyRequestBody = AnnotationReplySettingsRequestBody
GetAnnotationReplyStatusRequest = AnnotationReplyStatusRequest
GetConversationsListRequest = GetConversationsRequest
GetMessageHistoryRequest = GetConversationMessagesRequest

__all__ = [
    "ConfigureAnnotationReplyRequest",
    "ConfigureAnnotationReplyRequestBody",
    "GetAnnotationReplyStatusRequest",
    "GetConversationsListRequest",
    "GetMessageHistoryRequest",
    "ListAnnotationsRequest",
]
