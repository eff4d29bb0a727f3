"""Named presets from ``krel_interp/data/presets.toml``."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib import resources
from typing import Any

from krel_interp.errors import ConfigError
from krel_interp.models.spec import ModelSpec, PairSpec


@dataclass(frozen=True)
class Preset:
    """One entry of the preset table: a single model or a base/organism pair."""

    name: str
    description: str
    model: ModelSpec | None = None
    pair: PairSpec | None = None


def _raw_presets() -> dict[str, dict[str, Any]]:
    text = resources.files("krel_interp.data").joinpath("presets.toml").read_text()
    return tomllib.loads(text)


def _model_fields(entry: dict[str, Any]) -> dict[str, Any]:
    keys = set(ModelSpec.__dataclass_fields__)
    return {k: v for k, v in entry.items() if k in keys}


def _build(name: str, raw: dict[str, dict[str, Any]]) -> Preset:
    entry = raw[name]
    desc = entry.get("description", "")
    if "organism" not in entry:
        return Preset(name, desc, model=ModelSpec(**_model_fields(entry)))
    base = _build(entry["base"], raw).model if entry["base"] in raw else ModelSpec(entry["base"])
    assert base is not None
    org = entry["organism"]
    if isinstance(org, dict):
        organism: ModelSpec | None = ModelSpec(**_model_fields(org))
    else:
        organism = _build(org, raw).model if org in raw else ModelSpec(source=org)
    assert organism is not None
    return Preset(name, desc, pair=PairSpec(base=base, organism=organism))


def list_presets() -> list[Preset]:
    """All presets, in file order."""
    raw = _raw_presets()
    return [_build(name, raw) for name in raw]


def is_preset(name: str) -> bool:
    """Whether ``name`` is a preset (model or pair)."""
    return name in _raw_presets()


def is_pair_preset(name: str) -> bool:
    """Whether ``name`` is a base/organism pair preset."""
    entry = _raw_presets().get(name)
    return entry is not None and "organism" in entry


def generation_defaults(name: str) -> dict[str, Any]:
    """Generation defaults a preset declares (``[NAME.generation]``); {} for other sources.

    Qwen3 presets ask for long generations so thinking is not cut off.
    """
    entry = _raw_presets().get(name) or {}
    return dict(entry.get("generation", {}))


def get_preset(name: str) -> Preset:
    """Look up a preset by name; unknown names give a one-line error listing valid ones."""
    raw = _raw_presets()
    if name not in raw:
        raise ConfigError(f"unknown preset {name!r}; valid: {', '.join(raw)}")
    return _build(name, raw)


def pair_names(name: str) -> tuple[str, str]:
    """``(base, organism)`` as a pair preset names them (sources when not presets)."""
    entry = _raw_presets().get(name) or {}
    if "organism" not in entry:
        raise ConfigError(f"{name!r} is not a pair preset")
    org = entry["organism"]
    return str(entry["base"]), org if isinstance(org, str) else f"{name}:organism"


def declares_thinking(name: str) -> bool:
    """Whether a preset declares a thinking model (``thinks = true`` in its generation table)."""
    return bool(generation_defaults(name).get("thinks", False))
