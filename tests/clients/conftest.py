"""The live server of tests/api (real port, fake model, SQLite) for the published clients."""

from tests.api.conftest import LiveServer, live, server

__all__ = ["LiveServer", "live", "server"]
