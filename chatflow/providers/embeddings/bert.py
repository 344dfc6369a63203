"""A BERT encoder forward pass in NumPy: the transformer inside sentence-transformers models.

Owns the maths only: token ids in, hidden states out. It follows Hugging Face's
`BertModel` (absolute position embeddings, post-LayerNorm blocks, exact erf GELU) in
float32, so a safetensors checkpoint such as all-MiniLM-L6-v2 gives the vectors PyTorch
gives, up to float rounding. No PyTorch and no ONNX Runtime: every projection is one
BLAS matmul over the whole batch, which is all a 6-layer, 384-wide model needs.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from safetensors.numpy import load_file

Array = npt.NDArray[np.float32]

_LAYER_KEYS = {
    "query": "attention.self.query",
    "key": "attention.self.key",
    "value": "attention.self.value",
    "attn_out": "attention.output.dense",
    "attn_norm": "attention.output.LayerNorm",
    "ffn_in": "intermediate.dense",
    "ffn_out": "output.dense",
    "ffn_norm": "output.LayerNorm",
}


@dataclass(frozen=True, slots=True)
class BertConfig:
    hidden_size: int
    num_heads: int
    num_layers: int
    max_positions: int
    layer_norm_eps: float

    @classmethod
    def from_file(cls, path: Path) -> BertConfig:
        raw = json.loads(path.read_text(encoding="utf-8"))
        if raw.get("hidden_act", "gelu") != "gelu":
            raise ValueError(f"unsupported hidden_act {raw['hidden_act']!r} (only gelu)")
        if raw.get("position_embedding_type", "absolute") != "absolute":
            raise ValueError("only absolute position embeddings are supported")
        return cls(
            hidden_size=int(raw["hidden_size"]),
            num_heads=int(raw["num_attention_heads"]),
            num_layers=int(raw["num_hidden_layers"]),
            max_positions=int(raw["max_position_embeddings"]),
            layer_norm_eps=float(raw.get("layer_norm_eps", 1e-12)),
        )


@dataclass(frozen=True, slots=True)
class _Linear:
    weight_t: Array  # (in, out): transposed once at load so the hot path is x @ w
    bias: Array

    def __call__(self, x: Array) -> Array:
        out: Array = x @ self.weight_t
        out += self.bias
        return out


@dataclass(frozen=True, slots=True)
class _Norm:
    weight: Array
    bias: Array
    eps: float

    def __call__(self, x: Array) -> Array:
        mean = x.mean(axis=-1, keepdims=True)
        centred = x - mean
        var = np.mean(centred * centred, axis=-1, keepdims=True)
        out: Array = centred / np.sqrt(var + self.eps) * self.weight + self.bias
        return out


def _erf(x: Array) -> Array:
    """erf to |error| < 1.5e-7 (Abramowitz & Stegun 7.1.26): below float32 precision."""
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t
            + 0.254829592) * t  # fmt: skip
    out: Array = np.sign(x) * (1.0 - poly * np.exp(-a * a))
    return out


def _gelu(x: Array) -> Array:
    """BERT's exact GELU, not the tanh approximation (they differ by up to 1e-3)."""
    out: Array = 0.5 * x * (1.0 + _erf(x * np.float32(1.0 / math.sqrt(2.0))))
    return out


class BertEncoder:
    """BERT weights held as NumPy arrays; `forward` maps padded token ids to hidden states."""

    def __init__(self, config: BertConfig, tensors: dict[str, npt.NDArray[np.generic]]) -> None:
        self.config = config
        eps = config.layer_norm_eps
        # Checkpoints saved from BertForX prefix every name with "bert.".
        w = {k.removeprefix("bert."): v.astype(np.float32) for k, v in tensors.items()}

        def linear(name: str) -> _Linear:
            return _Linear(np.ascontiguousarray(w[f"{name}.weight"].T), w[f"{name}.bias"])

        def norm(name: str) -> _Norm:
            return _Norm(w[f"{name}.weight"], w[f"{name}.bias"], eps)

        try:
            self._words = w["embeddings.word_embeddings.weight"]
            self._positions = w["embeddings.position_embeddings.weight"]
            self._token_type = w["embeddings.token_type_embeddings.weight"][0]
            self._embed_norm = norm("embeddings.LayerNorm")
            self._layers = [
                {
                    part: (norm if part.endswith("norm") else linear)(f"encoder.layer.{i}.{key}")
                    for part, key in _LAYER_KEYS.items()
                }
                for i in range(config.num_layers)
            ]
        except KeyError as exc:
            raise ValueError(f"checkpoint is not a BERT encoder: missing tensor {exc}") from exc

    @classmethod
    def load(cls, model_dir: Path) -> BertEncoder:
        """Read `config.json` and `model.safetensors` from a Hugging Face model folder."""
        config = BertConfig.from_file(model_dir / "config.json")
        return cls(config, load_file(str(model_dir / "model.safetensors")))

    def forward(self, ids: npt.NDArray[np.int64], mask: npt.NDArray[np.int64]) -> Array:
        """Hidden states (batch, seq, hidden) for ids/mask of shape (batch, seq)."""
        batch, seq = ids.shape
        if seq > self.config.max_positions:
            raise ValueError(f"sequence of {seq} tokens exceeds {self.config.max_positions}")
        hidden = self.config.hidden_size
        heads = self.config.num_heads
        head_dim = hidden // heads
        x = self._words[ids] + self._positions[:seq] + self._token_type
        x = self._embed_norm(x).reshape(batch * seq, hidden)
        # Padding keys get a huge negative score, so softmax gives them zero weight.
        bias = ((1.0 - mask[:, None, None, :]) * np.finfo(np.float32).min).astype(np.float32)
        scale = np.float32(1.0 / math.sqrt(head_dim))

        def split(t: Array) -> Array:  # (batch*seq, hidden) -> (batch, heads, seq, head_dim)
            return t.reshape(batch, seq, heads, head_dim).transpose(0, 2, 1, 3)

        for layer in self._layers:
            q = split(layer["query"](x))
            k = split(layer["key"](x))
            v = split(layer["value"](x))
            scores = (q @ k.transpose(0, 1, 3, 2)) * scale + bias
            scores -= scores.max(axis=-1, keepdims=True)
            probs = np.exp(scores)
            probs /= probs.sum(axis=-1, keepdims=True)
            context = (probs @ v).transpose(0, 2, 1, 3).reshape(batch * seq, hidden)
            x = layer["attn_norm"](layer["attn_out"](context) + x)
            x = layer["ffn_norm"](layer["ffn_out"](_gelu(layer["ffn_in"](x))) + x)
        out: Array = x.reshape(batch, seq, hidden)
        return out
