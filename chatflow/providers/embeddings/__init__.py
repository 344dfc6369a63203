"""Local sentence embeddings (no network, no PyTorch): `LocalEmbedder` over a NumPy BERT."""

from chatflow.providers.embeddings.local import LocalEmbedder, default_model_dir

__all__ = ["LocalEmbedder", "default_model_dir"]
