"""Hook sites named the TransformerLens way (``blocks.{L}.hook_resid_post``) on HF modules."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Any

from krel_interp.errors import ConfigError

SITE_KINDS = ("hook_resid_pre", "hook_attn_out", "hook_mlp_out", "hook_resid_post")
_SITE_RE = re.compile(r"^blocks\.(\d+)\.(\w+)$")
_ATTN_NAMES = ("self_attn", "attn", "attention", "self_attention")
_MLP_NAMES = ("mlp", "feed_forward", "ffn")


@dataclass(frozen=True, order=True)
class Site:
    """One activation site: a layer and a hook kind, in forward order."""

    layer: int
    order: int  # position of the kind in SITE_KINDS (forward order within a block)

    @property
    def kind(self) -> str:
        """``hook_resid_post`` etc."""
        return SITE_KINDS[self.order]

    @property
    def name(self) -> str:
        """TransformerLens name, e.g. ``blocks.3.hook_resid_post``."""
        return f"blocks.{self.layer}.{self.kind}"


def _check_kind(kind: str) -> int:
    if not kind.startswith("hook_"):
        kind = "hook_" + kind
    if kind not in SITE_KINDS:
        close = difflib.get_close_matches(kind, SITE_KINDS, n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise ConfigError(f"unknown site {kind!r}{hint}; valid: {', '.join(SITE_KINDS)}")
    return SITE_KINDS.index(kind)


def parse_site(name: str, n_layers: int) -> Site:
    """Parse ``blocks.{L}.hook_*``; misspellings and out-of-range layers give one-line errors."""
    match = _SITE_RE.match(name.strip())
    if not match:
        raise ConfigError(f"bad site name {name!r}; expected blocks.<layer>.<hook>")
    layer = int(match.group(1))
    check_layer(layer, n_layers)
    return Site(layer, _check_kind(match.group(2)))


def check_layer(layer: int, n_layers: int) -> None:
    """Raise ConfigError when a layer index is out of range."""
    if not 0 <= layer < n_layers:
        raise ConfigError(
            f"layer {layer} out of range: the model has {n_layers} (0-{n_layers - 1})"
        )


def parse_layers(spec: str | int | list[int] | tuple[int, ...], n_layers: int) -> list[int]:
    """``all``, ``5``, ``0,4,8``, ``10-20``, relative ``0.5`` (half depth), or a list of ints."""
    if isinstance(spec, int):
        layers = [spec]
    elif isinstance(spec, (list, tuple)):
        layers = [int(x) for x in spec]
    elif spec.strip() == "all":
        layers = list(range(n_layers))
    else:
        layers = []
        for part in spec.split(","):
            layers.extend(_parse_layer_part(part.strip(), n_layers))
    for layer in layers:
        check_layer(layer, n_layers)
    if not layers:
        raise ConfigError(f"layer spec {spec!r} selects no layers")
    return sorted(set(layers))


def _parse_layer_part(part: str, n_layers: int) -> list[int]:
    try:
        if "-" in part[1:]:
            lo, hi = (int(x) for x in part.split("-", 1))
            if hi < lo:
                raise ConfigError(f"layer range {part!r} is reversed; write {hi}-{lo}")
            return list(range(lo, hi + 1))
        if "." in part:
            return [min(n_layers - 1, int(float(part) * n_layers))]
        return [int(part)]
    except ValueError:
        raise ConfigError(f"bad layer spec {part!r}; use all, 5, 0,4,8, 10-20 or 0.5") from None


def expand_sites(kinds: list[str], layers: list[int], n_layers: int) -> list[Site]:
    """Cross product of hook kinds and layers, in forward order."""
    orders = [_check_kind(k) for k in kinds]
    for layer in layers:
        check_layer(layer, n_layers)
    return sorted(Site(layer, o) for layer in layers for o in orders)


def find_decoder_layers(model: Any, n_layers: int) -> Any:
    """The ModuleList of decoder blocks (works through PeftModel and multimodal wrappers)."""
    import torch

    for name, module in model.named_modules():
        is_blocks = isinstance(module, torch.nn.ModuleList) and len(module) == n_layers
        if is_blocks and name.split(".")[-1] in ("layers", "h", "blocks", "layer"):
            return module
    raise ConfigError(f"could not find {n_layers} decoder layers in {type(model).__name__}")


def submodule(block: Any, site: Site) -> Any:
    """The module whose output (or input) is the site's activation."""
    if site.kind in ("hook_resid_pre", "hook_resid_post"):
        return block
    names = _ATTN_NAMES if site.kind == "hook_attn_out" else _MLP_NAMES
    for attr in names:
        if hasattr(block, attr):
            return getattr(block, attr)
    raise ConfigError(f"{type(block).__name__} has no {site.kind} submodule")
