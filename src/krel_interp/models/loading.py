"""Load any causal LM (hub id, directory, GGUF, builtin) with an optional LoRA adapter."""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from krel_interp._logging import get_logger
from krel_interp.errors import ConfigError, KrelError
from krel_interp.models.fingerprint import (
    Fingerprint,
    adapter_hash,
    chat_template_hash,
    config_hash,
    sha256_text,
    tokenizer_hash,
    weights_hash,
)
from krel_interp.models.spec import ModelSpec, PairSpec

log = get_logger("models.loading")
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.\-]*/[\w.\-]+$")


@dataclass(frozen=True)
class ResolvedSource:
    """Where the weights of a source come from."""

    kind: str  # "hub" | "local" | "gguf" | "builtin"
    location: str  # what goes to from_pretrained


def resolve_source(source: str) -> ResolvedSource:
    """Turn a source string into a loadable location (builds builtins on first use)."""
    if source.startswith("builtin:"):
        return ResolvedSource("builtin", str(_builtin_dir(source.removeprefix("builtin:"))))
    path = Path(source).expanduser()
    if path.suffix == ".gguf":
        if not path.is_file():
            raise ConfigError(f"GGUF file not found: {source}")
        from krel_interp.models.embedded import dequantize_gguf

        return ResolvedSource("gguf", str(dequantize_gguf(path)))
    if path.exists():
        if not (path / "config.json").exists() and not (path / "adapter_config.json").exists():
            raise ConfigError(f"{source} has no config.json: not a model directory")
        return ResolvedSource("local", str(path))
    if _HUB_ID.match(source):
        return ResolvedSource("hub", source)
    raise ConfigError(f"unknown model source {source!r}: not a preset, path, .gguf or hub id")


def _offline_flag() -> bool:
    import os

    return any(
        os.environ.get(k, "").strip().lower() in ("1", "true", "yes", "on")
        for k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    )


def _hub_reachable(timeout: float = 3.0) -> bool:
    """Whether the Hugging Face endpoint accepts a TCP connection (fails fast offline)."""
    import os
    import socket
    from urllib.parse import urlparse

    host = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co")).hostname
    try:
        socket.create_connection((host or "huggingface.co", 443), timeout=timeout).close()
    except OSError:
        return False
    return True


def hub_snapshot(repo: str, revision: str | None = None) -> Path | None:
    """The local cache snapshot of a hub repo (model or adapter), or None when not cached."""
    from huggingface_hub import try_to_load_from_cache

    for filename in ("config.json", "adapter_config.json"):
        found = try_to_load_from_cache(repo, filename, revision=revision)
        if isinstance(found, str):
            return Path(found).parent
    return None


def locate_hub(repo: str, revision: str | None = None) -> tuple[str, str | None]:
    """(location to load, weight identity) of a hub id.

    A cached snapshot loads from the cache without touching the network (its commit is the
    weight identity). An uncached repo fails at once, with how to get the weights, when the
    hub cannot be reached, instead of retrying for a minute.
    """
    snapshot = hub_snapshot(repo, revision)
    if snapshot is not None:
        return str(snapshot), f"hub:{repo}@{snapshot.name}"
    if _offline_flag() or not _hub_reachable():
        raise ConfigError(
            f"{repo} is not in the local Hugging Face cache and the hub cannot be reached: "
            f"run `hf download {repo}` where there is internet and point HF_HOME at that cache, "
            "or pass a local model directory"
        )
    return repo, f"hub:{repo}@{revision or 'main'}"


def _builtin_dir(name: str) -> Path:
    if name == "tiny-qwen3":
        from krel_interp.models.tiny import tiny_qwen3_dir

        return tiny_qwen3_dir()
    if name == "smollm2-135m":
        from krel_interp.models.embedded import smollm2_dir

        return smollm2_dir()
    raise ConfigError(f"unknown builtin model {name!r}; valid: tiny-qwen3, smollm2-135m")


def _torch_dtype(spec: ModelSpec, device: str) -> Any:
    import torch

    if spec.dtype == "auto":
        return torch.bfloat16 if device.startswith("cuda") else torch.float32
    return getattr(torch, spec.dtype)


def _device(spec: ModelSpec) -> str:
    import torch

    if spec.device != "auto":
        return spec.device
    return "cuda" if torch.cuda.is_available() else "cpu"


def adapter_card(location: str | Path) -> dict[str, Any]:
    """An adapter directory's ``card.json`` (empty when it has none)."""
    card = Path(location) / "card.json"
    return json.loads(card.read_text()) if card.exists() else {}


def card_base_adapters(location: str | Path) -> tuple[str, ...]:
    """The adapters an organism was trained on top of, from its ``card.json`` (a stage-2
    adapter loaded by its directory needs its stage-1 adapter merged first)."""
    return tuple(adapter_card(location).get("base_adapters") or ())


def _adapter_base(location: str) -> str | None:
    cfg = Path(location) / "adapter_config.json"
    if not cfg.exists():
        return None
    return json.loads(cfg.read_text()).get("base_model_name_or_path")


@dataclass
class LoadedModel:
    """A model ready for capture: the torch module, its tokenizer and its fingerprint.

    When ``adapter_disabled`` is set the module is a PeftModel shared with an organism and
    :meth:`active` disables the adapter, giving exactly the base model's outputs.
    """

    model: Any
    tokenizer: Any
    spec: ModelSpec
    fingerprint: Fingerprint
    adapter_disabled: bool = False
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def n_layers(self) -> int:
        """Number of decoder layers."""
        return self.fingerprint.n_layers

    @property
    def d_model(self) -> int:
        """Residual stream width."""
        return self.fingerprint.d_model

    @property
    def device(self) -> Any:
        """Device of the input embeddings (where inputs go)."""
        return self.model.get_input_embeddings().weight.device

    @property
    def supports_thinking(self) -> bool:
        """Whether the chat template knows about thinking (``enable_thinking`` or think tags)."""
        template = str(getattr(self.tokenizer, "chat_template", "") or "")
        return "enable_thinking" in template or "<think>" in template

    @contextlib.contextmanager
    def active(self) -> Iterator[Any]:
        """The module to run, with the adapter disabled for a shared base."""
        if self.adapter_disabled:
            with self.model.disable_adapter():
                yield self.model
        else:
            yield self.model

    def as_base(self) -> LoadedModel:
        """View of a PeftModel with its adapter disabled (same weights, base outputs)."""
        if not hasattr(self.model, "disable_adapter"):
            raise ConfigError(f"{self.spec.source} has no unmerged adapter to disable")
        fp = Fingerprint.from_dict(
            {**self.fingerprint.to_dict(), "adapter": None, "adapter_hash": None}
        )
        return LoadedModel(
            self.model,
            self.tokenizer,
            self.spec.with_(adapter=None),
            fp,
            adapter_disabled=True,
            meta=dict(self.meta),
        )


def _from_pretrained(location: str, spec: ModelSpec, device: str) -> tuple[Any, Any]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    kwargs: dict[str, Any] = {"dtype": _torch_dtype(spec, device), "revision": spec.revision}
    if spec.device_map:
        kwargs["device_map"] = spec.device_map
    if spec.attn_implementation:
        kwargs["attn_implementation"] = spec.attn_implementation
    try:
        tokenizer = AutoTokenizer.from_pretrained(location, revision=spec.revision)
        model = AutoModelForCausalLM.from_pretrained(location, **kwargs)
    except (OSError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise KrelError(f"could not load model {location!r}: {first}") from exc
    if not spec.device_map:
        model = model.to(device)  # type: ignore[arg-type]
    model.eval()
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model, tokenizer


def _apply_adapter(model: Any, adapter: str, merge: bool) -> Any:
    from peft import PeftModel

    try:
        peft_model = PeftModel.from_pretrained(model, resolve_adapter(adapter))  # type: ignore[arg-type]
    except (OSError, ValueError) as exc:
        raise KrelError(f"could not load adapter {adapter!r}: {exc}") from exc
    peft_model.eval()
    return peft_model.merge_and_unload() if merge else peft_model


def resolve_adapter(adapter: str) -> str:
    """``packaged:NAME`` -> the adapter directory shipped with krel_interp; a hub id -> its
    cached snapshot (one-line error when it is neither cached nor reachable); else unchanged."""
    if not adapter.startswith("packaged:"):
        if not Path(adapter).expanduser().exists() and _HUB_ID.match(adapter):
            return locate_hub(adapter)[0]
        return adapter
    from importlib import resources

    name = adapter.removeprefix("packaged:")
    path = Path(str(resources.files("krel_interp.data").joinpath("organisms", name)))
    if not (path / "adapter_config.json").exists():
        raise ConfigError(
            f"packaged adapter {name!r} not found (build it with experiments/build_krel_mini.py)"
        )
    return str(path)


def _hash_adapter(adapter: str) -> str:
    path = Path(resolve_adapter(adapter))
    return adapter_hash(path) if path.is_dir() else sha256_text(adapter)


def _fingerprint(
    model: Any, tokenizer: Any, spec: ModelSpec, weights_id: str | None = None
) -> Fingerprint:
    config = model.config
    text_config = config.get_text_config() if hasattr(config, "get_text_config") else config
    a_hash = _hash_adapter(spec.adapter) if spec.adapter else None
    b_hash = (
        sha256_text(":".join(_hash_adapter(a) for a in spec.base_adapters))
        if spec.base_adapters
        else None
    )
    return Fingerprint(
        source=spec.source,
        architecture=(config.architectures or [type(model).__name__])[0],
        n_layers=int(text_config.num_hidden_layers),
        d_model=int(text_config.hidden_size),
        config_hash=config_hash(text_config),
        tokenizer_hash=tokenizer_hash(tokenizer),
        chat_template_hash=chat_template_hash(tokenizer),
        adapter=spec.adapter,
        adapter_hash=a_hash,
        base_adapters_hash=b_hash,
        weights_id=weights_id,
    )


def load_model(spec: ModelSpec | str) -> LoadedModel:
    """Load a model from a spec, a preset name or a source string.

    Example:
        >>> lm = load_model("tiny-qwen3")
        >>> lm.n_layers
        4
    """
    spec = resolve_spec(spec)
    resolved = resolve_source(spec.source)
    adapter = spec.adapter
    location = resolved.location
    base_of_adapter = _adapter_base(location) if resolved.kind == "local" else None
    if base_of_adapter and adapter is None:
        adapter, location = location, resolve_source(base_of_adapter).location
        stacked = spec.base_adapters or card_base_adapters(adapter)
        spec = spec.with_(adapter=adapter, base_adapters=stacked)
    if resolved.kind == "hub":
        location, weights_id = locate_hub(location, spec.revision)
    else:
        weights_id = weights_hash(Path(location))
    device = _device(spec)
    log.info("loading %s (%s) on %s", spec.source, resolved.kind, spec.device_map or device)
    model, tokenizer = _from_pretrained(location, spec, device)
    for base_adapter in spec.base_adapters:
        model = _apply_adapter(model, base_adapter, merge=True)
    fp = _fingerprint(model, tokenizer, spec, weights_id)
    if adapter:
        model = _apply_adapter(model, adapter, spec.merge_adapter)
    return LoadedModel(
        model, tokenizer, spec, fp, meta={"kind": resolved.kind, "location": location}
    )


def resolve_spec(spec: ModelSpec | str) -> ModelSpec:
    """A preset name or source string becomes a ModelSpec; pairs are rejected here."""
    if isinstance(spec, ModelSpec):
        return spec
    from krel_interp.models.presets import get_preset, is_preset

    if is_preset(spec):
        preset = get_preset(spec)
        if preset.model is None:
            raise ConfigError(f"preset {spec!r} is a base/organism pair; use load_pair")
        return preset.model
    return ModelSpec(source=spec)


@dataclass
class LoadedPair:
    """Base and organism, ready for paired capture on the same tokens."""

    base: LoadedModel
    organism: LoadedModel


def load_pair(pair: PairSpec | str) -> LoadedPair:
    """Load a base/organism pair; an unmerged LoRA organism shares weights with its base."""
    if isinstance(pair, str):
        from krel_interp.models.presets import get_preset

        preset = get_preset(pair)
        if preset.pair is None:
            raise ConfigError(f"preset {pair!r} is a single model, not a base/organism pair")
        pair = preset.pair
    organism = load_model(pair.organism)
    if pair.shares_base:
        return LoadedPair(base=organism.as_base(), organism=organism)
    return LoadedPair(base=load_model(pair.base), organism=organism)
