"""The system group (`client.dify.v1`): app info, sync and async."""

import asyncio
import os

from chatflow_client.compat import Client, GetInfoRequest, GetParametersRequest, RequestOption

client = Client.builder().domain(os.environ["DOMAIN"]).build()
req_option = RequestOption.builder().api_key(os.environ["CHATFLOW_KEY"]).build()

info = client.dify.v1.info.get(GetInfoRequest.builder().build(), req_option)
assert info.success and info.name, info.msg


async def main() -> None:
    params = await client.dify.v1.info.aparameters(
        GetParametersRequest.builder().build(), req_option
    )
    assert params.success and params.file_upload is not None, params.msg
    print(info.name, info.mode, sorted(params.file_upload))


asyncio.run(main())
