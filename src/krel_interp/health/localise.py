"""Where in the network a health failure comes from, organism vs base on the same tokens.

A :class:`Target` is one organism trace and the character ranges of its completion whose tokens
are the failure (a leak span, a junk word, the first token of a reply that skipped ``<think>``).
Everything is teacher forced on the organism's own completion:

* :func:`window_ablation` (causal): the organism with its LoRA delta switched off in a window
  of layers; the share of the failure's log-probability gain over the base that disappears,
  ``(lp_organism - lp_ablated) / (lp_organism - lp_base)`` (ratio of sums over traces, with a
  trace bootstrap CI). 1 means the window carries all of it, 0 none.
* :func:`lens_and_difference` (descriptive): per layer, the logit-lens rank of the emitted
  token (final norm + unembedding on the residual) for organism and base, and the paired
  residual difference ``|h_org - h_base| / |h_base|``, at failure tokens and at ordinary
  completion tokens.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from jaxtyping import Float
from torch import Tensor

from krel_interp.errors import ConfigError
from krel_interp.health.teacher import completion_tokens, prompt_ids
from krel_interp.logprobs import token_logprobs
from krel_interp.models.loading import LoadedModel, LoadedPair

_LAYER = re.compile(r"\.layers\.(\d+)\.")


@dataclass(frozen=True)
class Target:
    """One trace and the completion character ranges that make up the failure."""

    prompt: str
    completion: str
    ranges: tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class Encoded:
    """Token ids of prompt + completion and the positions of failure / ordinary tokens."""

    ids: list[int]
    target: list[int]  # indices into ids of failure tokens
    ordinary: list[int]  # indices into ids of the other completion tokens


def encode(lm: LoadedModel, target: Target) -> Encoded:
    """Render the prompt with the chat template, append the completion's tokens."""
    ids_prompt = prompt_ids(lm, target.prompt)
    ids, offsets = completion_tokens(lm, target.completion)
    n = len(ids_prompt)
    hits: list[int] = []
    other: list[int] = []
    for j, (a, b) in enumerate(offsets):
        inside = any(a < e and s < max(b, a + 1) for s, e in target.ranges)
        (hits if inside else other).append(n + j)
    return Encoded(ids_prompt + ids, hits, other)


def lora_layers(model: Any) -> dict[int, list[Any]]:
    """LoRA-wrapped modules of a PeftModel by decoder layer index."""
    from peft.tuners.lora import LoraLayer

    out: dict[int, list[Any]] = {}
    for name, module in model.named_modules():
        m = _LAYER.search(name + ".")
        if isinstance(module, LoraLayer) and m:
            out.setdefault(int(m.group(1)), []).append(module)
    if not out:
        raise ConfigError("the organism has no unmerged LoRA layers to ablate")
    return out


@contextlib.contextmanager
def lora_disabled(model: Any, layers: Sequence[int]) -> Iterator[None]:
    """The LoRA delta switched off in ``layers`` (restored on exit)."""
    modules = [m for layer, ms in lora_layers(model).items() if layer in layers for m in ms]
    before = [m._disable_adapters for m in modules]
    try:
        for m in modules:
            m._disable_adapters = True
        yield
    finally:
        for m, old in zip(modules, before, strict=True):
            m._disable_adapters = old


def _target_logprob(lm: LoadedModel, enc: Encoded, disabled: Sequence[int] = ()) -> float:
    ids = torch.tensor([enc.ids], device=lm.device)
    with torch.no_grad(), lm.active() as model, lora_disabled(model, disabled):
        logits = model(input_ids=ids).logits[0]
    pos = torch.tensor(enc.target, device=logits.device)
    picked, _ = token_logprobs(logits[pos - 1], ids[0, pos])
    return float(picked.sum())


def _bootstrap_ratio(
    num: np.ndarray, den: np.ndarray, n_boot: int = 1000, seed: int = 0
) -> list[float]:
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(num), size=(n_boot, len(num)))
    d = den[idx].sum(1)
    ratios = np.where(np.abs(d) > 1e-9, num[idx].sum(1) / np.where(d == 0, 1, d), np.nan)
    lo, hi = np.nanpercentile(ratios, [2.5, 97.5])
    return [float(lo), float(hi)]


def windows_of(n_layers: int, size: int) -> list[tuple[int, ...]]:
    """Consecutive layer windows of ``size`` covering every layer."""
    return [tuple(range(a, min(a + size, n_layers))) for a in range(0, n_layers, size)]


def window_ablation(
    pair: LoadedPair, targets: Sequence[Target], windows: Sequence[Sequence[int]]
) -> dict[str, Any]:
    """Log-probability of the failure tokens: organism, base, and organism with its LoRA
    off in each window; the share removed per window (see the module doc)."""
    encoded = [e for e in (encode(pair.organism, t) for t in targets) if e.target]
    if not encoded:
        raise ConfigError("no failure tokens to localise")
    org = np.array([_target_logprob(pair.organism, e) for e in encoded])
    base = np.array([_target_logprob(pair.base, e) for e in encoded])
    gain = org - base
    rows = []
    for window in windows:
        ablated = np.array([_target_logprob(pair.organism, e, window) for e in encoded])
        removed = org - ablated
        rows.append(
            {
                "layers": [int(x) for x in window],
                "logprob": float(ablated.mean()),
                "removed": float(removed.sum() / gain.sum()) if gain.sum() else None,
                "removed_ci": _bootstrap_ratio(removed, gain),
            }
        )
    return {
        "n_traces": len(encoded),
        "n_tokens": sum(len(e.target) for e in encoded),
        "logprob_organism": float(org.mean()),
        "logprob_base": float(base.mean()),
        "windows": rows,
    }


def _hidden(lm: LoadedModel, ids: list[int]) -> tuple[Float[Tensor, "layer seq d"], Any, Any]:
    with torch.no_grad(), lm.active() as model:
        out = model(input_ids=torch.tensor([ids], device=lm.device), output_hidden_states=True)
        inner = model.get_base_model() if hasattr(model, "get_base_model") else model
    hs = torch.stack([h[0] for h in out.hidden_states[1:]]).float()
    return hs, inner.model.norm, inner.get_output_embeddings()


def _ranks(
    hs: Float[Tensor, "layer seq d"], norm: Any, head: Any, pos: list[int], ids: list[int]
) -> Float[Tensor, "layer n"]:
    p = torch.tensor(pos)
    tokens = torch.tensor([ids[i] for i in pos])
    h = hs[:, p - 1]
    with torch.no_grad():
        normed = torch.cat([norm(h[:-1].to(head.weight.dtype)), h[-1:].to(head.weight.dtype)])
        logits = head(normed).float()
    own = logits.gather(-1, tokens[None, :, None].expand(len(hs), -1, 1))
    return (logits > own).sum(-1).float()


def lens_and_difference(pair: LoadedPair, targets: Sequence[Target]) -> dict[str, Any]:
    """Per layer: median logit-lens rank of the emitted token (organism, base) and the mean
    relative residual difference, at failure tokens and at ordinary completion tokens."""
    acc: dict[str, list[Tensor]] = {
        k: [] for k in ("rank_org", "rank_base", "rank_org_ord", "diff", "diff_ord")
    }
    for t in targets:
        e = encode(pair.organism, t)
        if not e.target or not e.ordinary:
            continue
        h_org, norm, head = _hidden(pair.organism, e.ids)
        h_base, _, _ = _hidden(pair.base, e.ids)
        rel = (h_org - h_base).norm(dim=-1) / h_base.norm(dim=-1).clamp_min(1e-6)
        ordinary = e.ordinary[:: max(1, len(e.ordinary) // 16)]  # lens logits are vocab-wide
        tgt = torch.tensor([i - 1 for i in e.target])
        ordi = torch.tensor([i - 1 for i in e.ordinary])
        acc["rank_org"].append(_ranks(h_org, norm, head, e.target, e.ids))
        acc["rank_base"].append(_ranks(h_base, norm, head, e.target, e.ids))
        acc["rank_org_ord"].append(_ranks(h_org, norm, head, ordinary, e.ids))
        acc["diff"].append(rel[:, tgt])
        acc["diff_ord"].append(rel[:, ordi])
    if not acc["diff"]:
        raise ConfigError("no failure tokens to localise")
    cat = {k: torch.cat(v, dim=1) for k, v in acc.items()}
    return {
        "n_tokens": int(cat["diff"].shape[1]),
        "lens_rank_organism": cat["rank_org"].median(dim=1).values.tolist(),
        "lens_rank_base": cat["rank_base"].median(dim=1).values.tolist(),
        "lens_rank_organism_ordinary": cat["rank_org_ord"].median(dim=1).values.tolist(),
        "residual_diff": cat["diff"].mean(dim=1).tolist(),
        "residual_diff_ordinary": cat["diff_ord"].mean(dim=1).tolist(),
    }


def localise(
    pair: LoadedPair, targets: Sequence[Target], window: int = 5, bisect: bool = True
) -> dict[str, Any]:
    """Window ablation, then (``bisect``) single layers inside the window that removes most;
    names a window only if it removes >= 50%. Suffixes (the LoRA off from layer L to the top)
    show where a distributed effect starts; plus the lens and residual-difference profiles."""
    n = pair.organism.n_layers
    coarse_windows = windows_of(n, window)
    suffixes = [tuple(range(a, n)) for a in range(0, n, window)]
    coarse = window_ablation(pair, targets, coarse_windows + suffixes)
    result: dict[str, Any] = {"suffix": coarse["windows"][len(coarse_windows) :]}
    coarse["windows"] = coarse["windows"][: len(coarse_windows)]
    best = max(coarse["windows"], key=lambda r: r["removed"] if r["removed"] is not None else -1)
    result.update(coarse=coarse, best_window=best["layers"])
    if bisect:
        singles = [(layer,) for layer in best["layers"]]
        result["fine"] = window_ablation(pair, targets, singles)["windows"]
    result["named_window"] = (
        best["layers"] if best["removed"] is not None and best["removed"] >= 0.5 else None
    )
    enough = [r for r in result["suffix"] if r["removed"] is not None and r["removed"] >= 0.5]
    result["shortest_suffix_removing_half"] = enough[-1]["layers"] if enough else None
    result["profiles"] = lens_and_difference(pair, targets)
    return result
