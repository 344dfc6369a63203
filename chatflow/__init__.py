"""chatflow-server: run Dify DSL apps and serve Dify's Service API."""

__version__ = "0.1.0"
