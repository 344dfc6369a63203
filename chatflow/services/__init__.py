"""Application services: what the HTTP routers and the CLI call. They own transactions
(through `chatflow.store` repositories) and start runs (through `chatflow.runtime`)."""

from chatflow.services.container import Services

__all__ = ["Services"]
