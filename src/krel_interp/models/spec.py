"""Typed, frozen model specifications, resolved at the edges (CLI, scripts)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from krel_interp.errors import ConfigError

DType = Literal["auto", "float32", "bfloat16", "float16"]
_DTYPES = ("auto", "float32", "bfloat16", "float16")
_ATTN = (None, "eager", "sdpa", "flash_attention_2")


@dataclass(frozen=True)
class ModelSpec:
    """How to load one model.

    Args:
        source: hub id (``Qwen/Qwen3-4B``), local directory, ``.gguf`` file, or
            ``builtin:smollm2-135m`` / ``builtin:tiny-qwen3``.
        base_adapters: LoRA adapters merged into the weights first, in order (e.g. the
            thinking-base stage under an organism adapter).
        adapter: optional PEFT LoRA adapter directory (or hub id) applied on top;
            ``packaged:NAME`` names an adapter shipped with krel_interp.
        merge_adapter: merge the adapter into the weights; if False keep a PeftModel
            (base outputs then available through ``disable_adapter``).
        dtype: ``auto`` picks bfloat16 on CUDA and float32 on CPU.
        device: ``auto``, ``cpu``, ``cuda``, ``cuda:1`` ...; ignored when device_map is set.
        device_map: passed to ``from_pretrained`` (e.g. ``auto`` to shard across GPUs).
        attn_implementation: ``eager``, ``sdpa`` or ``flash_attention_2`` (None: library default).
        revision: hub revision.
    """

    source: str
    adapter: str | None = None
    merge_adapter: bool = False
    base_adapters: tuple[str, ...] = ()
    dtype: DType = "auto"
    device: str = "auto"
    device_map: str | None = None
    attn_implementation: str | None = None
    revision: str | None = None

    def __post_init__(self) -> None:
        if not self.source:
            raise ConfigError("model source is empty")
        if self.dtype not in _DTYPES:
            raise ConfigError(f"unknown dtype {self.dtype!r}; valid: {', '.join(_DTYPES)}")
        object.__setattr__(self, "base_adapters", tuple(self.base_adapters))
        if self.attn_implementation not in _ATTN:
            raise ConfigError(f"unknown attention implementation {self.attn_implementation!r}")

    def with_(self, **changes: object) -> ModelSpec:
        """Copy with fields replaced."""
        return replace(self, **changes)  # type: ignore[arg-type]


@dataclass(frozen=True)
class PairSpec:
    """A base model and its organism, to be compared on the same tokens."""

    base: ModelSpec
    organism: ModelSpec

    @property
    def shares_base(self) -> bool:
        """True when the organism is the base plus an unmerged adapter (one model in memory)."""
        o = self.organism
        return (
            o.adapter is not None
            and not o.merge_adapter
            and o.source == self.base.source
            and o.base_adapters == self.base.base_adapters
            and self.base.adapter is None
        )
