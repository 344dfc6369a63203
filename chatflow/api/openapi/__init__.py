"""The OpenAPI document this server publishes and the offline Swagger UI that shows it."""

from chatflow.api.openapi.docs import DOCS_URL, install_docs
from chatflow.api.openapi.document import build_document, load_seed, operation_id, seed_operations

__all__ = [
    "DOCS_URL",
    "build_document",
    "install_docs",
    "load_seed",
    "operation_id",
    "seed_operations",
]
