"""Model loading: presets, hub ids, local directories, GGUF files, LoRA adapters."""

from krel_interp.models.fingerprint import Fingerprint
from krel_interp.models.loading import (
    LoadedModel,
    LoadedPair,
    load_model,
    load_pair,
    resolve_source,
    resolve_spec,
)
from krel_interp.models.presets import (
    Preset,
    get_preset,
    is_pair_preset,
    is_preset,
    list_presets,
)
from krel_interp.models.spec import ModelSpec, PairSpec

__all__ = [
    "Fingerprint",
    "LoadedModel",
    "LoadedPair",
    "ModelSpec",
    "PairSpec",
    "Preset",
    "get_preset",
    "is_pair_preset",
    "is_preset",
    "list_presets",
    "load_model",
    "load_pair",
    "resolve_source",
    "resolve_spec",
]
