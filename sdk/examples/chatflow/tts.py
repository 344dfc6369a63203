"""Chatflow group's audio resource (`client.chatflow.v1.tts`): text to speech and back."""

import mimetypes
import os
from io import BytesIO

from chatflow_client.compat import (
    AudioToTextRequest,
    AudioToTextRequestBody,
    Client,
    RequestOption,
    TextToAudioRequest,
    TextToAudioRequestBody,
)

client = Client.builder().domain(os.environ["DOMAIN"]).build()
req_option = RequestOption.builder().api_key(os.environ["CHATFLOW_KEY"]).build()

body = TextToAudioRequestBody.builder().text("Hello there.").user("user-123").build()
speech = client.chatflow.v1.tts.from_text(
    TextToAudioRequest.builder().request_body(body).build(), req_option
)
assert speech.success and speech.raw and speech.raw.content, speech.msg
content_type = speech.raw.content_type or "audio/mpeg"
print("audio:", content_type, len(speech.raw.content), "bytes")

name = "speech" + (mimetypes.guess_extension(content_type.split(";")[0]) or ".mp3")
request = (
    AudioToTextRequest.builder()
    .file(BytesIO(speech.raw.content), name)
    .request_body(AudioToTextRequestBody.builder().user("user-123").build())
    .build()
)
text = client.chatflow.v1.tts.to_text(request, req_option)
assert text.success and text.text is not None, text.msg
print("heard:", text.text)
