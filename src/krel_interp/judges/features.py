"""Text features for the classifier judge: SmolLM2's residual stream, pooled over the text.

Each text is rendered as a user message with the model's chat template and run once through the
capture hooks (stopped after the deepest requested layer); the text's own tokens are pooled:
``mean`` over them, ``last`` (the last text token), or ``mean_last`` (both, concatenated).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from jaxtyping import Float
from torch import Tensor

from krel_interp.capture.hooks import record_sites
from krel_interp.capture.sites import SITE_KINDS, Site
from krel_interp.models.loading import LoadedModel
from krel_interp.segments import Segment, segment_conversation

POOLINGS = ("mean", "last", "mean_last")
_RESID_POST = SITE_KINDS.index("hook_resid_post")


def _encode(lm: LoadedModel, text: str) -> tuple[list[int], list[bool]]:
    """Token ids of the rendered text and which of them are the text's own tokens.

    A text made only of special tokens (``<|endoftext|>``) has no user tokens after
    segmentation; then its last token stands for it.
    """
    seg = segment_conversation([{"role": "user", "content": text.strip()}], lm.tokenizer)
    mask = seg.mask(Segment.USER)
    if not any(mask):
        mask = [False] * (len(mask) - 1) + [True]
    return list(seg.input_ids), mask


@torch.inference_mode()
def text_features(
    lm: LoadedModel,
    texts: Sequence[str],
    layers: Sequence[int],
    batch_size: int = 32,
    progress: Callable[[int], None] | None = None,
) -> dict[str, Float[Tensor, "layers n d"]]:
    """``{"mean": [layers, n, d], "last": [layers, n, d]}`` of the text tokens (float32)."""
    encoded = [_encode(lm, t) for t in texts]
    order = sorted(range(len(texts)), key=lambda i: len(encoded[i][0]))
    n, d = len(texts), lm.d_model
    mean = torch.zeros(len(layers), n, d)
    last = torch.zeros(len(layers), n, d)
    sites = [Site(layer, _RESID_POST) for layer in layers]
    pad = lm.tokenizer.pad_token_id or 0
    with lm.active() as model, record_sites(model, sites, lm.n_layers) as rec:
        for b in range(0, n, batch_size):
            idx = order[b : b + batch_size]
            width = max(len(encoded[i][0]) for i in idx)
            ids = torch.full((len(idx), width), pad, dtype=torch.long)
            attn = torch.zeros((len(idx), width), dtype=torch.long)
            sel = torch.zeros((len(idx), width), dtype=torch.bool)
            for row, i in enumerate(idx):
                tok, mask = encoded[i]
                ids[row, : len(tok)] = torch.tensor(tok)
                attn[row, : len(tok)] = 1
                sel[row, : len(tok)] = torch.tensor(mask)
            acts = rec.run(ids.to(lm.device), attn.to(lm.device))
            w = sel.float()
            ends = (sel.cumsum(-1) == sel.sum(-1, keepdim=True)) & sel
            for li, site in enumerate(sites):
                x = acts[site.name].float()
                mean[li, idx] = (w[..., None] * x).sum(1) / w.sum(1, keepdim=True).clamp(min=1)
                last[li, idx] = x[ends.nonzero(as_tuple=True)]
            if progress:
                progress(len(idx))
    return {"mean": mean, "last": last}


def pooled(features: dict[str, Tensor], pooling: str) -> Tensor:
    """The feature tensor of a pooling (``mean_last`` concatenates along the width)."""
    if pooling == "mean_last":
        return torch.cat([features["mean"], features["last"]], dim=-1)
    return features[pooling]
