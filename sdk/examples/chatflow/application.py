"""Chatflow group's app resource (`client.chatflow.v1.application`): info, params, meta, site."""

import os

from chatflow_client.compat import (
    Client,
    GetInfoRequest,
    GetMetaRequest,
    GetParametersRequest,
    GetSiteRequest,
    RequestOption,
)

client = Client.builder().domain(os.environ["DOMAIN"]).build()
req_option = RequestOption.builder().api_key(os.environ["CHATFLOW_KEY"]).build()
app = client.chatflow.v1.application

info = app.get(GetInfoRequest.builder().user("user-123").build(), req_option)
assert info.success and info.mode == "advanced-chat", info.msg

params = app.parameters(GetParametersRequest.builder().user("user-123").build(), req_option)
assert params.success and params.user_input_form is not None, params.msg

meta = app.meta(GetMetaRequest.builder().user("user-123").build(), req_option)
assert meta.success and meta.tool_icons is not None, meta.msg

site = app.site(GetSiteRequest.builder().build(), req_option)
assert site.success and site.title, site.msg
print(info.name, "|", params.opening_statement, "|", site.title)
