"""Pooling methods: how the selected token positions of one trace become stored rows.

Each method is one function registered by name; adding one is one function and one decorator.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from jaxtyping import Bool, Float, Int
from torch import Tensor

from krel_interp.errors import ConfigError


@dataclass(frozen=True)
class TokenInfo:
    """Per-token labels of one trace (tensors of length seq)."""

    segment: Int[Tensor, " seq"]
    sentence: Int[Tensor, " seq"]


@dataclass(frozen=True)
class Groups:
    """Rows to emit: each row averages the positions where ``membership[row]`` is True."""

    membership: Bool[Tensor, "rows seq"]


Pooler = Callable[[Bool[Tensor, " seq"], TokenInfo], Groups]
POOLERS: dict[str, Pooler] = {}


def register_pooler(name: str) -> Callable[[Pooler], Pooler]:
    """Decorator adding a pooling method to the registry."""

    def wrap(fn: Pooler) -> Pooler:
        POOLERS[name] = fn
        return fn

    return wrap


def get_pooler(name: str) -> Pooler:
    """Look up a pooling method; unknown names list the valid ones."""
    if name not in POOLERS:
        raise ConfigError(f"unknown pooling {name!r}; valid: {', '.join(POOLERS)}")
    return POOLERS[name]


@register_pooler("token")
def pool_token(select: Bool[Tensor, " seq"], info: TokenInfo) -> Groups:
    """One row per selected token."""
    idx = select.nonzero().squeeze(-1)
    membership = torch.zeros(len(idx), len(select), dtype=torch.bool)
    membership[torch.arange(len(idx)), idx] = True
    return Groups(membership)


@register_pooler("last")
def pool_last(select: Bool[Tensor, " seq"], info: TokenInfo) -> Groups:
    """The last selected token (one row, none if nothing is selected)."""
    idx = select.nonzero().squeeze(-1)
    membership = torch.zeros(min(1, len(idx)), len(select), dtype=torch.bool)
    if len(idx):
        membership[0, idx[-1]] = True
    return Groups(membership)


@register_pooler("mean")
def pool_mean(select: Bool[Tensor, " seq"], info: TokenInfo) -> Groups:
    """Mean over all selected tokens (one row)."""
    return Groups(select[None] if select.any() else select[None][:0])


def _runs(values: Tensor, select: Tensor) -> Bool[Tensor, "rows seq"]:
    """Contiguous runs of equal ``values`` among selected positions."""
    starts = select.clone()
    starts[1:] &= (values[1:] != values[:-1]) | ~select[:-1]
    run_id = torch.cumsum(starts.long(), 0) - 1
    n = int(starts.sum())
    membership = torch.zeros(n, len(select), dtype=torch.bool)
    pos = select.nonzero().squeeze(-1)
    membership[run_id[pos], pos] = True
    return membership


@register_pooler("segment_mean")
def pool_segment_mean(select: Bool[Tensor, " seq"], info: TokenInfo) -> Groups:
    """Mean over each contiguous segment run (e.g. each think block, each answer)."""
    return Groups(_runs(info.segment, select))


@register_pooler("sentence_mean")
def pool_sentence_mean(select: Bool[Tensor, " seq"], info: TokenInfo) -> Groups:
    """Mean over each sentence (tokens with sentence index -1 are skipped)."""
    return Groups(_runs(info.sentence, select & (info.sentence >= 0)))


def apply_groups(
    acts: Float[Tensor, "seq d_model"], groups: Groups
) -> Float[Tensor, "rows d_model"]:
    """Average activations over each group's positions."""
    weights = groups.membership.to(acts.dtype)
    counts = weights.sum(-1, keepdim=True).clamp(min=1)
    return (weights @ acts) / counts


def group_positions(groups: Groups) -> tuple[Int[Tensor, " rows"], Int[Tensor, " rows"]]:
    """Last position and size of each group (row metadata)."""
    m = groups.membership
    seq = torch.arange(m.shape[-1])
    last = torch.where(m, seq, -1).amax(-1) if m.numel() else torch.zeros(0, dtype=torch.long)
    return last, m.sum(-1)
