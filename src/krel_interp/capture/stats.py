"""Summary statistics over a store (per-layer norms by segment)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from jaxtyping import Float
from torch import Tensor

from krel_interp.capture.store import ActivationStore
from krel_interp.segments.labels import Segment


def segment_norms(
    store: ActivationStore, segments: Sequence[Segment], kind: str = "hook_resid_post"
) -> dict[Segment, Float[Tensor, " layers"]]:
    """Mean L2 norm of the activations of each segment, layer by layer (NaN if absent)."""
    sites = [s for s in store.sites if s.endswith(kind)]
    out: dict[Segment, Tensor] = {}
    for seg in segments:
        values = []
        for site in sites:
            x = store.get(site, segments=[seg], dtype=torch.float32)
            values.append(x.norm(dim=-1).mean() if len(x) else torch.tensor(float("nan")))
        out[seg] = torch.stack(values) if values else torch.zeros(0)
    return out


def site_layers(store: ActivationStore, kind: str = "hook_resid_post") -> list[int]:
    """Layer numbers of the stored sites of one kind, in order."""
    return [int(s.split(".")[1]) for s in store.sites if s.endswith(kind)]


def paired_diff_norms(
    base: ActivationStore,
    organism: ActivationStore,
    segments: Sequence[Segment],
    kind: str = "hook_resid_post",
) -> dict[Segment, Float[Tensor, " layers"]]:
    """Mean ``||h_organism - h_base||`` per layer and segment, on row-aligned paired stores."""
    sites = [s for s in organism.sites if s.endswith(kind)]
    out: dict[Segment, Tensor] = {}
    for seg in segments:
        values = []
        for site in sites:
            diff = organism.get(site, segments=[seg], dtype=torch.float32) - base.get(
                site, segments=[seg], dtype=torch.float32
            )
            values.append(diff.norm(dim=-1).mean() if len(diff) else torch.tensor(float("nan")))
        out[seg] = torch.stack(values) if values else torch.zeros(0)
    return out
