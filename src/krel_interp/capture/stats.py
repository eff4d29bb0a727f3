"""Summary statistics over a store (per-layer norms by segment)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from jaxtyping import Float
from torch import Tensor

from krel_interp.capture.store import ActivationStore
from krel_interp.segments.labels import Segment


def _per_layer(
    sites: Sequence[str], segments: Sequence[Segment], rows: Callable[[str, Segment], Tensor]
) -> dict[Segment, Tensor]:
    """Mean row norm of ``rows(site, segment)`` for every segment and site (NaN if absent)."""
    out: dict[Segment, Tensor] = {}
    for seg in segments:
        values = [
            x.norm(dim=-1).mean() if len(x := rows(site, seg)) else torch.tensor(float("nan"))
            for site in sites
        ]
        out[seg] = torch.stack(values) if values else torch.zeros(0)
    return out


def _sites(store: ActivationStore, kind: str) -> list[str]:
    return [s for s in store.sites if s.endswith(kind)]


def segment_norms(
    store: ActivationStore, segments: Sequence[Segment], kind: str = "hook_resid_post"
) -> dict[Segment, Float[Tensor, " layers"]]:
    """Mean L2 norm of the activations of each segment, layer by layer (NaN if absent)."""
    return _per_layer(
        _sites(store, kind), segments, lambda site, seg: store.get(site, [seg], dtype=torch.float32)
    )


def paired_diff_norms(
    base: ActivationStore,
    organism: ActivationStore,
    segments: Sequence[Segment],
    kind: str = "hook_resid_post",
) -> dict[Segment, Float[Tensor, " layers"]]:
    """Mean ``||h_organism - h_base||`` per layer and segment, on row-aligned paired stores."""
    return _per_layer(
        _sites(organism, kind),
        segments,
        lambda site, seg: (
            organism.get(site, [seg], dtype=torch.float32)
            - base.get(site, [seg], dtype=torch.float32)
        ),
    )


def site_layers(store: ActivationStore, kind: str = "hook_resid_post") -> list[int]:
    """Layer numbers of the stored sites of one kind, in order."""
    return [int(s.split(".")[1]) for s in _sites(store, kind)]
