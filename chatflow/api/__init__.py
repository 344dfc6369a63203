"""The HTTP layer: Dify's Service API on FastAPI (`create_app`)."""

from chatflow.api.app import create_app

__all__ = ["create_app"]
