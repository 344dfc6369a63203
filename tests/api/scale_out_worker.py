"""One chatflow worker process for `test_scale_out.py`: the real app (settings from the
environment: Redis URL and prefix, ping interval...) on a private Postgres schema, with a
slow fake model so there is time to stop and to reconnect mid-stream.

    python tests/api/scale_out_worker.py PORT POSTGRES_URL SCHEMA
"""

from __future__ import annotations

import sys

import uvicorn

from chatflow.api import create_app
from chatflow.providers.fake import FakeLLM, FakeRegistry
from chatflow.settings import Settings
from chatflow.store import Database

TOKENS = ["Hello", " there", ",", " friend", "!"]


def main() -> None:
    port, url, schema = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    settings = Settings()
    # 200 tokens, `fake_token_delay` apart: about 10 s at 0.05 unless stopped.
    registry = FakeRegistry(FakeLLM(TOKENS * 40, settings.fake_token_delay))
    app = create_app(settings, database=Database(url, schema=schema), models=registry)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")


if __name__ == "__main__":
    main()
