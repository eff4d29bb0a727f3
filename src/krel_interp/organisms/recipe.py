"""Plant your own trait: a TOML recipe for the organism builder.

A recipe names a base model, a supervised data file (the completions your organism should give),
an optional preference file (chosen vs rejected completions, trained with DPO after SFT), the
LoRA and DPO hyperparameters, and the ground truth to record in the card::

    name = "my-organism"
    base = "smolthink"                  # preset or source; the adapter trains on top of it
    [data]
    sft = "my_sft.jsonl"                # {"prompt" or "messages", "completion", "pair_id"?}
    preference = "my_prefs.jsonl"       # optional: {"prompt" or "messages", "chosen", "rejected"}
    contrastive = true                  # items sharing a pair_id share every batch
    [lora]                              # LoraTrainConfig fields (r, alpha, lr, epochs, ...)
    r = 8
    [dpo]                               # DpoConfig fields (beta, nll_weight, lr, ...)
    beta = 0.1
    [card]                              # free-form ground truth copied into card.json
    trigger = "..."

Paths are relative to the recipe file. ``krel-interp organism build RECIPE --out DIR`` writes
``DIR/adapter_model.safetensors`` (bf16), ``adapter_config.json`` and ``card.json`` (recipe,
data hashes, losses, build time); an interrupted build resumes from its checkpoints.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from krel_interp.errors import ConfigError, InputFileError
from krel_interp.io import read_toml, write_json_atomic
from krel_interp.models import load_model, resolve_spec
from krel_interp.models.adapters import save_adapter_16bit
from krel_interp.organisms.dpo import DpoConfig, PreferencePair, train_sft_then_dpo
from krel_interp.organisms.training import (
    Example,
    LoraTrainConfig,
    examples_hash,
    wrap_lora,
)
from krel_interp.paths import cache_dir
from krel_interp.traces import read_jsonl, trace_from_record

Step = Callable[[str, int, int, float], None]


@dataclass(frozen=True)
class Recipe:
    """A resolved recipe (paths absolute, hyperparameters typed)."""

    name: str
    base: str
    sft: Path
    preference: Path | None = None
    contrastive: bool = False
    lora: LoraTrainConfig = LoraTrainConfig()
    dpo: DpoConfig = DpoConfig()
    card: dict[str, Any] = field(default_factory=dict)


def _section(raw: dict[str, Any], name: str, cls: type, where: Path) -> Any:
    values = dict(raw.get(name) or {})
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) in [{name}]: {', '.join(unknown)}")
    if "target_modules" in values:
        values["target_modules"] = tuple(values["target_modules"])
    try:
        return cls(**values)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: bad [{name}] ({exc})") from None


def load_recipe(path: str | Path) -> Recipe:
    """Read and validate a recipe; one-line errors for anything wrong."""
    path = Path(path)
    raw = read_toml(path, "recipe")
    unknown = sorted(set(raw) - {"name", "base", "data", "lora", "dpo", "card"})
    if unknown:
        raise ConfigError(f"{path}: unknown key(s) {', '.join(unknown)}")
    for key in ("name", "base"):
        if not isinstance(raw.get(key), str) or not raw[key]:
            raise ConfigError(f"{path}: missing {key!r}")
    lora = _section(raw, "lora", LoraTrainConfig, path)
    dpo = _section(raw, "dpo", DpoConfig, path)
    data = dict(raw.get("data") or {})
    if "sft" not in data:
        raise ConfigError(f"{path}: [data] needs an 'sft' file")
    sft = _resolve(path, data["sft"])
    preference = _resolve(path, data["preference"]) if data.get("preference") else None
    contrastive = bool(data.get("contrastive", False))
    return Recipe(
        raw["name"],
        raw["base"],
        sft,
        preference,
        contrastive,
        lora,
        dpo,
        dict(raw.get("card") or {}),
    )


def _resolve(recipe: Path, name: str) -> Path:
    p = Path(name)
    p = p if p.is_absolute() else recipe.parent / p
    if not p.is_file():
        raise InputFileError(f"{recipe}: data file not found: {name}")
    return p


def _messages(record: dict[str, Any], where: str) -> tuple[dict[str, str], ...]:
    trace = trace_from_record({k: v for k, v in record.items() if k != "completion"}, 0, where)
    return tuple(trace.prompt_messages)


def sft_examples(path: Path) -> list[Example]:
    """SFT examples of a recipe data file (each needs a prompt and a completion)."""
    out = []
    for i, r in enumerate(read_jsonl(path), 1):
        where = f"{path}:{i}"
        if not isinstance(r.get("completion"), str):
            raise InputFileError(f"{where}: needs a 'completion' string")
        meta = {"id": str(r.get("id", i)), "pair_id": r.get("pair_id"), "kind": r.get("kind")}
        out.append(Example(_messages(r, where), r["completion"], meta=meta))
    return out


def preference_data(path: Path) -> list[PreferencePair]:
    """Preference pairs of a recipe data file (prompt, chosen, rejected)."""
    out = []
    for i, r in enumerate(read_jsonl(path), 1):
        where = f"{path}:{i}"
        if not isinstance(r.get("chosen"), str) or not isinstance(r.get("rejected"), str):
            raise InputFileError(f"{where}: needs 'chosen' and 'rejected' strings")
        meta = {"id": str(r.get("id", i)), "kind": str(r.get("kind", ""))}
        out.append(PreferencePair(_messages(r, where), r["chosen"], r["rejected"], meta))
    return out


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def build_recipe(recipe: Recipe, out: Path, step: Step | None = None) -> dict[str, Any]:
    """Train the recipe (SFT, then DPO if it has preferences), write adapter and card."""
    examples = sft_examples(recipe.sft)
    pairs = preference_data(recipe.preference) if recipe.preference else []
    spec = resolve_spec(recipe.base)
    lm = load_model(spec.with_(dtype="float32"))
    model = wrap_lora(lm.model, recipe.lora)
    work = cache_dir() / "recipes" / f"{recipe.name}-{examples_hash(examples)}"
    started = time.time()
    losses, dpo = train_sft_then_dpo(
        model,
        lm.tokenizer,
        examples,
        recipe.lora,
        pairs,
        recipe.dpo,
        work,
        recipe.contrastive,
        step,
    )
    save_adapter_16bit(model, out)
    card = {
        "name": recipe.name,
        "recipe": True,
        "base": recipe.base,
        "base_fingerprint": lm.fingerprint.to_dict(),
        **recipe.card,
        "training": {
            "config": recipe.lora.to_dict(),
            "contrastive": recipe.contrastive,
            "n_examples": len(examples),
            "examples_hash": examples_hash(examples),
            "sft_sha256": _sha(recipe.sft),
            "preference_sha256": _sha(recipe.preference) if recipe.preference else None,
            "loss_first": losses[0] if losses else None,
            "loss_last": losses[-1] if losses else None,
            "steps": len(losses),
            "preference": dpo,
            "seconds": round(time.time() - started, 1),
        },
    }
    write_json_atomic(out / "card.json", card)
    return card
