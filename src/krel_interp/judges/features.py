"""Text features for the classifier judge: SmolLM2's residual stream, pooled over the text.

Each text is rendered by a framing and run once through the capture hooks (stopped after the
deepest requested layer). ``user`` (the shipped judges) sends the text as a user message and pools
the text's own tokens: ``mean`` over them, ``last`` (the last text token), or ``mean_last`` (both,
concatenated). ``rubric`` (for comparisons, see ``experiments/judge_features.py``) asks the trait's
question about the quoted text and opens the answer; ``mean`` is over the user message and
``last`` is the final token, where the model would answer.
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


Encoded = tuple[list[int], list[bool], int]  # token ids, tokens to average, the "last" position


def user_message(lm: LoadedModel, text: str) -> Encoded:
    """The text as a user message; its own tokens are averaged, its last token is ``last``.

    A text made only of special tokens (``<|endoftext|>``) has no user tokens after
    segmentation; then its last token stands for it.
    """
    seg = segment_conversation([{"role": "user", "content": text.strip()}], lm.tokenizer)
    mask = seg.mask(Segment.USER)
    if not any(mask):
        mask = [False] * (len(mask) - 1) + [True]
    return list(seg.input_ids), mask, max(i for i, m in enumerate(mask) if m)


def rubric_framing(question: str) -> Callable[[LoadedModel, str], Encoded]:
    """The quoted text, then ``question``, then an opened answer; ``last`` is the final token."""

    def encode(lm: LoadedModel, text: str) -> Encoded:
        content = f'Text: "{text.strip()}"\n\nQuestion: {question} Answer yes or no.'
        messages = [
            {"role": "user", "content": content},
            {"role": "assistant", "content": "Answer:"},
        ]
        seg = segment_conversation(messages, lm.tokenizer, thinking=False)
        return list(seg.input_ids), seg.mask(Segment.USER), len(seg.input_ids) - 1

    return encode


@torch.inference_mode()
def text_features(
    lm: LoadedModel,
    texts: Sequence[str],
    layers: Sequence[int],
    batch_size: int = 32,
    progress: Callable[[int], None] | None = None,
    framing: Callable[[LoadedModel, str], Encoded] = user_message,
) -> dict[str, Float[Tensor, "layers n d"]]:
    """``{"mean": [layers, n, d], "last": [layers, n, d]}`` of each framed text (float32)."""
    encoded = [framing(lm, t) for t in texts]
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
            ends = torch.tensor([encoded[i][2] for i in idx])
            for row, i in enumerate(idx):
                tok, mask, _ = encoded[i]
                ids[row, : len(tok)] = torch.tensor(tok)
                attn[row, : len(tok)] = 1
                sel[row, : len(tok)] = torch.tensor(mask)
            acts = rec.run(ids.to(lm.device), attn.to(lm.device))
            w = sel.float()
            for li, site in enumerate(sites):
                x = acts[site.name].float()
                mean[li, idx] = (w[..., None] * x).sum(1) / w.sum(1, keepdim=True).clamp(min=1)
                last[li, idx] = x[torch.arange(len(idx)), ends]
            if progress:
                progress(len(idx))
    return {"mean": mean, "last": last}


def pooled(features: dict[str, Tensor], pooling: str) -> Tensor:
    """The feature tensor of a pooling (``mean_last`` concatenates along the width)."""
    if pooling == "mean_last":
        return torch.cat([features["mean"], features["last"]], dim=-1)
    return features[pooling]
