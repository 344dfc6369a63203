"""Local sentence embeddings (no network, no PyTorch): `StaticEmbedder` over WordLlama."""

from chatflow.providers.embeddings.static import StaticEmbedder

__all__ = ["StaticEmbedder"]
