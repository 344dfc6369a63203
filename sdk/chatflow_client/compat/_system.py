"""`dify-oapi2`'s system resources: file upload, audio, feedback, app info.

They hang off `client.dify.v1` (`file`, `audio`, `feedback`, `info`), `client.chatflow.v1`
(`file`, `tts`, `feedback`, `application`) and `client.chat.v1` (`file`, `audio`,
`feedback`, `app`), as in `dify-oapi2`. Like there, the option argument is `option` and may
be omitted in the signature, but an API key is required to send.
"""

from __future__ import annotations

from ._core import Config, RequestOption, aexecute, execute
from ._models import Request
from ._system_models import (
    AudioToTextResponse,
    GetFeedbacksResponse,
    GetInfoResponse,
    GetMetaResponse,
    GetParametersResponse,
    GetSiteResponse,
    SubmitFeedbackResponse,
    TextToAudioResponse,
    UploadFileResponse,
)

Option = RequestOption | None


class _System:
    def __init__(self, config: Config) -> None:
        self.config = config


class File(_System):
    def upload(self, request: Request, option: Option = None) -> UploadFileResponse:
        return execute(self.config, request, option, UploadFileResponse)

    async def aupload(self, request: Request, option: Option = None) -> UploadFileResponse:
        return await aexecute(self.config, request, option, UploadFileResponse)


class Audio(_System):
    def to_text(self, request: Request, option: Option = None) -> AudioToTextResponse:
        return execute(self.config, request, option, AudioToTextResponse)

    async def ato_text(self, request: Request, option: Option = None) -> AudioToTextResponse:
        return await aexecute(self.config, request, option, AudioToTextResponse)

    def from_text(self, request: Request, option: Option = None) -> TextToAudioResponse:
        """The audio comes back in `response.raw.content`."""
        return execute(self.config, request, option, TextToAudioResponse)

    async def afrom_text(self, request: Request, option: Option = None) -> TextToAudioResponse:
        return await aexecute(self.config, request, option, TextToAudioResponse)


class Feedback(_System):
    def submit(self, request: Request, option: Option = None) -> SubmitFeedbackResponse:
        return execute(self.config, request, option, SubmitFeedbackResponse)

    async def asubmit(self, request: Request, option: Option = None) -> SubmitFeedbackResponse:
        return await aexecute(self.config, request, option, SubmitFeedbackResponse)

    def list(self, request: Request, option: Option = None) -> GetFeedbacksResponse:
        return execute(self.config, request, option, GetFeedbacksResponse)

    async def alist(self, request: Request, option: Option = None) -> GetFeedbacksResponse:
        return await aexecute(self.config, request, option, GetFeedbacksResponse)


class Info(_System):
    def get(self, request: Request, option: Option = None) -> GetInfoResponse:
        return execute(self.config, request, option, GetInfoResponse)

    async def aget(self, request: Request, option: Option = None) -> GetInfoResponse:
        return await aexecute(self.config, request, option, GetInfoResponse)

    def parameters(self, request: Request, option: Option = None) -> GetParametersResponse:
        return execute(self.config, request, option, GetParametersResponse)

    async def aparameters(self, request: Request, option: Option = None) -> GetParametersResponse:
        return await aexecute(self.config, request, option, GetParametersResponse)

    def meta(self, request: Request, option: Option = None) -> GetMetaResponse:
        return execute(self.config, request, option, GetMetaResponse)

    async def ameta(self, request: Request, option: Option = None) -> GetMetaResponse:
        return await aexecute(self.config, request, option, GetMetaResponse)

    def site(self, request: Request, option: Option = None) -> GetSiteResponse:
        return execute(self.config, request, option, GetSiteResponse)

    async def asite(self, request: Request, option: Option = None) -> GetSiteResponse:
        return await aexecute(self.config, request, option, GetSiteResponse)


class DifyV1:
    """`client.dify.v1`."""

    def __init__(self, config: Config) -> None:
        self.file = File(config)
        self.audio = Audio(config)
        self.info = Info(config)
        self.feedback = Feedback(config)
