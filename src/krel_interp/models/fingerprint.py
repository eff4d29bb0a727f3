"""Model fingerprints: what an artifact records so it can refuse a model it does not fit."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from krel_interp._logging import get_logger
from krel_interp.errors import IncompatibleArtifactError

log = get_logger("models.fingerprint")
WEIGHT_PATTERNS = ("*.safetensors", "*.bin", "*.gguf", "*.pt", "*.pth")

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


def _file_key(path: Path) -> str:
    stat = path.stat()
    return f"{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}"


def cached_file_hash(path: Path) -> str:
    """SHA-256 of a (large) file, cached in the user cache by path, size and mtime.

    Weight files are hashed once per machine (seconds for a few GB); later loads read the
    index. The hash is of the bytes, so the same weights in another directory match.
    """
    from krel_interp.io import write_json_atomic
    from krel_interp.paths import cache_dir

    index_path = cache_dir() / "weight-hashes.json"
    try:
        index = json.loads(index_path.read_text())
    except (OSError, json.JSONDecodeError):
        index = {}
    key = _file_key(path)
    if key not in index:
        log.info("hashing %s (once; cached by path, size and mtime)", path.name)
        index[key] = sha256_file(path)
        write_json_atomic(index_path, index)
    return str(index[key])


def weights_hash(directory: Path) -> str | None:
    """Content hash over a model directory's weight files (None when it holds none)."""
    files = sorted({f for pat in WEIGHT_PATTERNS for f in Path(directory).glob(pat) if f.is_file()})
    files = [f for f in files if not f.name.startswith(("adapter_", "training_args"))]
    if not files:
        return None
    return "sha256:" + sha256_text("".join(f"{f.name}={cached_file_hash(f)};" for f in files))


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
    weights_id: str | None = None  # "hub:REPO@COMMIT" or "sha256:..." of the weight files

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Fingerprint:
        """Inverse of :meth:`to_dict`."""
        return cls(**{k: data.get(k) for k in cls.__dataclass_fields__})  # type: ignore[arg-type]

    @property
    def model_id(self) -> str:
        """Short id of weights + adapters (what distinguishes base from organism).

        Fingerprints from before weight identities were recorded fall back to the source string.
        """
        weights = self.weights_id or self.source
        return sha256_text(
            f"{self.config_hash}:{weights}:{self.base_adapters_hash}:{self.adapter_hash}"
        )

    @property
    def legacy(self) -> bool:
        """True for fingerprints written before weight identities existed."""
        return self.weights_id is None

    def same_weights(self, other: Fingerprint) -> bool:
        """Whether both fingerprints name the same weights and adapters.

        A legacy fingerprint (no weight identity) is compared by source, config and adapters.
        """
        if self.legacy or other.legacy:
            keys = ("source", "config_hash", "base_adapters_hash", "adapter_hash")
            return all(getattr(self, k) == getattr(other, k) for k in keys)
        return self.model_id == other.model_id

    def check_fits(
        self, model: Fingerprint, *, same_weights: bool, what: str = "artifact"
    ) -> list[str]:
        """Refuse a ``model`` this artifact does not fit; return notes on what differs.

        Fits means the same width, depth bound, tokenizer and chat template. Other weights are
        refused only when ``same_weights`` is asked (e.g. a probe applied to its own organism);
        otherwise they are returned as a note to record (a vector from an organism applied to
        its base on purpose). A legacy artifact loads with a warning.
        """
        model.check_shape_compatible(self.d_model)
        if self.tokenizer_hash != model.tokenizer_hash:
            raise IncompatibleArtifactError(
                f"{what} was made with another tokenizer ({self.tokenizer_hash} vs "
                f"{model.tokenizer_hash})"
            )
        notes = []
        if self.chat_template_hash != model.chat_template_hash:
            notes.append("chat template differs")
        if self.legacy:
            log.warning("%s predates weight fingerprints: its weights cannot be verified", what)
            notes.append("legacy fingerprint: weights not verified")
        if not self.same_weights(model):
            if same_weights:
                raise IncompatibleArtifactError(
                    f"{what} was made on {self.source} (model id {self.model_id}), not "
                    f"{model.source} ({model.model_id}); it asks for the same weights "
                    "(pass allow_other_weights / --allow-other-weights to apply it anyway)"
                )
            notes.append(f"other weights: made on {self.source} ({self.model_id})")
        return notes

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
