"""Feature cards: what a latent reads (top contexts), writes (logit effects) and where it fires.

Cards are plain data (JSON-ready); :mod:`krel_interp.viz.sae_cards` renders them as HTML.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import Tensor

from krel_interp.sae.artifact import LoadedSae
from krel_interp.sae.diff import LatentRanking, latent_activations
from krel_interp.sae.paired import PairedRows
from krel_interp.segments.labels import Segment

WINDOW = 12


@dataclass(frozen=True)
class FeatureCard:
    """One latent (or lens direction) described for a reader."""

    latent: int
    method: str
    score: float | None
    contexts: list[dict[str, Any]]
    logits_up: list[tuple[str, float]]
    logits_down: list[tuple[str, float]]
    acts_organism: list[float]
    acts_base: list[float]
    segment_rates: dict[str, tuple[float, float]]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return asdict(self)


def _decode(tokenizer: Any, ids: list[int]) -> list[str]:
    return [tokenizer.decode([i]) for i in ids]


def _contexts(rows: PairedRows, acts: Tensor, tokenizer: Any, n: int) -> list[dict[str, Any]]:
    """The ``n`` highest-activating rows (one per trace) with a window of tokens around them."""
    order = torch.argsort(acts, descending=True)
    out: list[dict[str, Any]] = []
    used: set[int] = set()
    for r in order.tolist():
        if float(acts[r]) <= 0 or len(out) >= n:
            break
        t = int(rows.trace_index[r])
        if t in used:
            continue
        used.add(t)
        same = (rows.trace_index == t).nonzero().squeeze(-1)
        pos = rows.position[same]
        near = same[(pos - rows.position[r]).abs() <= WINDOW]
        near = near[torch.argsort(rows.position[near])]
        ids = rows.token_id[near].tolist()
        out.append(
            {
                "trace": rows.trace_ids[t],
                "tokens": _decode(tokenizer, ids),
                "acts": [round(float(a), 3) for a in acts[near]],
                "center": int((near == r).nonzero()[0, 0]),
                "segment": Segment(int(rows.segment[r])).name.lower(),
            }
        )
    return out


def _logit_effects(
    direction: Tensor, unembed: Tensor, tokenizer: Any, n: int
) -> tuple[list[tuple[str, float]], list[tuple[str, float]]]:
    logits = unembed.float() @ direction.float()
    up = torch.topk(logits, n)
    down = torch.topk(-logits, n)

    def fmt(values: Tensor, ids: Tensor) -> list[tuple[str, float]]:
        return [
            (tokenizer.decode([int(j)]), round(float(x), 3))
            for x, j in zip(values, ids, strict=True)
        ]

    return fmt(up.values, up.indices), fmt(-down.values, down.indices)


def _direction(ranking: LatentRanking, sae: LoadedSae | None, latent: int, d: int) -> Tensor:
    if ranking.directions is not None:
        return ranking.directions[latent]
    assert sae is not None
    dec = sae.decoder[latent]
    return dec[d:] if sae.kind == "crosscoder" else dec


def _base_acts(
    ranking: LatentRanking, sae: LoadedSae | None, rows: PairedRows, latents: tuple[int, ...]
) -> Tensor:
    """The latents on the base (one encoding): base activations in place of the organism's."""
    if sae is not None and sae.kind == "diff":
        return torch.zeros(len(rows), len(latents))
    return latent_activations(ranking, sae, rows.base, rows.base, latents)


def feature_cards(
    ranking: LatentRanking,
    sae: LoadedSae | None,
    rows: PairedRows,
    latents: list[int],
    tokenizer: Any,
    unembed: Tensor,
    n_contexts: int = 8,
    n_logits: int = 10,
) -> list[FeatureCard]:
    """Cards for ``latents`` on ``rows`` (all segments, so contexts keep their neighbours)."""
    scores = dict(zip(ranking.latents, ranking.scores, strict=True))
    acts = latent_activations(ranking, sae, rows.base, rows.organism, tuple(latents))
    base_acts = _base_acts(ranking, sae, rows, tuple(latents))
    cards = []
    for j, lat in enumerate(latents):
        a_org, a_base = acts[:, j], base_acts[:, j]
        rates = {}
        for seg in torch.unique(rows.segment).tolist():
            sel = rows.segment == seg
            rates[Segment(seg).name.lower()] = (
                round(float((a_org[sel] > 0).float().mean()), 4),
                round(float((a_base[sel] > 0).float().mean()), 4),
            )
        up, down = _logit_effects(
            _direction(ranking, sae, lat, rows.base.shape[1]), unembed, tokenizer, n_logits
        )
        sample = torch.randperm(len(rows), generator=torch.Generator().manual_seed(0))[:4000]
        cards.append(
            FeatureCard(
                lat,
                ranking.method,
                scores.get(lat),
                _contexts(rows, a_org, tokenizer, n_contexts),
                up,
                down,
                [round(float(x), 3) for x in a_org[sample]],
                [round(float(x), 3) for x in a_base[sample]],
                rates,
            )
        )
    return cards
