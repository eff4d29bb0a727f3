"""Capture configuration: a frozen dataclass resolved at the edge and saved with every store."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from krel_interp.errors import ConfigError
from krel_interp.segments.labels import Segment

STORE_DTYPES = ("auto", "float32", "bfloat16", "float16")


@dataclass(frozen=True)
class CaptureConfig:
    """What to record and how.

    Args:
        sites: hook kinds, e.g. ``("hook_resid_post",)``.
        layers: ``all``, ``0,4,8``, ``10-20`` or a relative depth ``0.5``.
        segments: segment names to keep (None keeps every token).
        pooling: a registered pooling method (token, last, mean, segment_mean, sentence_mean).
        dtype: storage dtype of activations; ``auto`` follows the model (bf16 on GPU).
        batch_size: traces per forward pass.
        max_tokens: traces longer than this are truncated (flagged ``truncated``).
        shard_mb: approximate shard size on disk.
        thinking: render prompts with ``enable_thinking`` (where the template supports it).
    """

    sites: tuple[str, ...] = ("hook_resid_post",)
    layers: str = "all"
    segments: tuple[str, ...] | None = None
    pooling: str = "token"
    dtype: str = "auto"
    batch_size: int = 8
    max_tokens: int = 2048
    shard_mb: float = 256.0
    thinking: bool = True

    def __post_init__(self) -> None:
        from krel_interp.capture.pooling import get_pooler

        get_pooler(self.pooling)
        if self.dtype not in STORE_DTYPES:
            raise ConfigError(f"unknown store dtype {self.dtype!r}; valid: {STORE_DTYPES}")
        if self.batch_size < 1 or self.max_tokens < 1:
            raise ConfigError("batch_size and max_tokens must be positive")
        for name in self.segments or ():
            Segment.parse(name)

    @property
    def segment_filter(self) -> tuple[Segment, ...] | None:
        """Parsed segment filter."""
        if self.segments is None:
            return None
        return tuple(Segment.parse(s) for s in self.segments)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (saved in the store manifest)."""
        return asdict(self)
