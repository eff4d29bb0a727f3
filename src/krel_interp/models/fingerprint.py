"""Model fingerprints: what an artifact records so it can refuse a model it does not fit."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from krel_interp.errors import IncompatibleArtifactError

_VOLATILE_CONFIG_KEYS = {
    "_name_or_path",
    "name_or_path",
    "transformers_version",
    "torch_dtype",
    "dtype",
    "_attn_implementation",
    "_attn_implementation_autoset",
    "quantization_config",
    "use_cache",
    "_commit_hash",
}


def sha256_text(text: str) -> str:
    """Short SHA-256 of a string (16 hex chars)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    """Short SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()[:16]


def config_hash(config: Any) -> str:
    """Hash of a transformers config, ignoring keys that change with dtype, path or version."""
    data = {k: v for k, v in config.to_dict().items() if k not in _VOLATILE_CONFIG_KEYS}
    return sha256_text(json.dumps(data, sort_keys=True, default=str))


def tokenizer_hash(tokenizer: Any) -> str:
    """Hash of the vocabulary and added tokens (independent of the file layout on disk)."""
    vocab = sorted(tokenizer.get_vocab().items())
    return sha256_text(json.dumps(vocab, ensure_ascii=False))


def chat_template_hash(tokenizer: Any) -> str | None:
    """Hash of the chat template, or None when the tokenizer has none."""
    template = getattr(tokenizer, "chat_template", None)
    if not template:
        return None
    if isinstance(template, dict):
        template = json.dumps(template, sort_keys=True)
    return sha256_text(str(template))


def adapter_hash(adapter_dir: Path) -> str:
    """Hash of a PEFT adapter's weights and config."""
    parts = [sha256_file(p) for p in sorted(adapter_dir.glob("adapter_*")) if p.is_file()]
    return sha256_text("".join(parts))


@dataclass(frozen=True)
class Fingerprint:
    """Identity of a loaded model as seen by artifacts."""

    source: str
    architecture: str
    n_layers: int
    d_model: int
    config_hash: str
    tokenizer_hash: str
    chat_template_hash: str | None
    adapter: str | None = None
    adapter_hash: str | None = None
    base_adapters_hash: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Fingerprint:
        """Inverse of :meth:`to_dict`."""
        return cls(**{k: data.get(k) for k in cls.__dataclass_fields__})  # type: ignore[arg-type]

    @property
    def model_id(self) -> str:
        """Short id of weights + adapter (what distinguishes base from organism)."""
        return sha256_text(
            f"{self.config_hash}:{self.source}:{self.base_adapters_hash}:{self.adapter_hash}"
        )

    def check_tokens_compatible(self, other: Fingerprint, what: str = "models") -> None:
        """Refuse when tokenizer or chat template differ (token sequences would not align)."""
        if self.tokenizer_hash != other.tokenizer_hash:
            raise IncompatibleArtifactError(
                f"{what} use different tokenizers ({self.tokenizer_hash} vs {other.tokenizer_hash})"
            )
        if self.chat_template_hash != other.chat_template_hash:
            raise IncompatibleArtifactError(
                f"{what} use different chat templates "
                f"({self.chat_template_hash} vs {other.chat_template_hash})"
            )

    def check_shape_compatible(self, d_model: int, n_layers: int | None = None) -> None:
        """Refuse an artifact whose width (or depth) does not match this model."""
        if d_model != self.d_model:
            raise IncompatibleArtifactError(
                f"artifact has d_model {d_model} but model {self.source} has {self.d_model}"
            )
        if n_layers is not None and n_layers > self.n_layers:
            raise IncompatibleArtifactError(
                f"artifact needs {n_layers} layers but model {self.source} has {self.n_layers}"
            )
