"""Next-token log-probabilities of a loaded model after rendered prompts (batched)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from jaxtyping import Float
from torch import Tensor

from krel_interp.models.loading import LoadedModel


@torch.inference_mode()
def next_token_logprobs(
    lm: LoadedModel,
    prompts: Sequence[str],
    token_ids: Sequence[int],
    batch_size: int = 32,
    progress: Callable[[int], None] | None = None,
) -> Float[Tensor, "n k"]:
    """Log-probabilities of ``token_ids`` as the next token after each rendered prompt.

    Prompts are tokenized without added special tokens (they are already rendered), batched
    shortest-first with left padding and explicit positions; one row per prompt, in order.
    """
    tok = lm.tokenizer
    ids = torch.as_tensor(list(token_ids), dtype=torch.long)
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
    out = torch.zeros(len(prompts), len(ids))
    side = tok.padding_side
    tok.padding_side = "left"
    try:
        for b in range(0, len(order), batch_size):
            idx = order[b : b + batch_size]
            enc = tok(
                [prompts[i] for i in idx],
                return_tensors="pt",
                padding=True,
                add_special_tokens=False,
            )
            mask = enc["attention_mask"]
            positions = (mask.cumsum(-1) - 1).clamp(min=0)  # left padding: explicit positions
            with lm.active() as model:
                logits = model(
                    input_ids=enc["input_ids"].to(lm.device),
                    attention_mask=mask.to(lm.device),
                    position_ids=positions.to(lm.device),
                    use_cache=False,
                ).logits[:, -1]
            logp = torch.log_softmax(logits.float(), dim=-1)
            out[idx] = logp[:, ids.to(logp.device)].cpu()
            if progress:
                progress(len(idx))
    finally:
        tok.padding_side = side
    return out
