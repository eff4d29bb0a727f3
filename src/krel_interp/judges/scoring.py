"""Yes/no scoring with a chat model: P(yes) at the answer position, batched, any HF model.

Both backends that run a local model use it: the fine-tuned ``classifier`` (a LoRA taught to
answer one short prompt) and ``llm:MODEL`` (any chat model with a rubric prompt).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

from krel_interp.models.loading import LoadedModel

ANSWER_WORDS = {"yes": ("yes", "Yes", "YES"), "no": ("no", "No", "NO")}


def _first_ids(tokenizer: Any, words: Sequence[str]) -> list[int]:
    ids: set[int] = set()
    for w in words:
        for text in (w, " " + w):
            toks = tokenizer(text, add_special_tokens=False).input_ids
            if toks:
                ids.add(int(toks[0]))
    return sorted(ids)


def render(lm: LoadedModel, prompt: str) -> str:
    """The chat prompt with its generation header (thinking disabled where supported)."""
    return str(
        lm.tokenizer.apply_chat_template(
            [{"role": "user", "content": prompt}],
            tokenize=False,
            add_generation_prompt=True,
            enable_thinking=False,
        )
    )


@torch.inference_mode()
def yes_probability(
    lm: LoadedModel,
    texts: Sequence[str],
    prompt_for: Callable[[str], str],
    batch_size: int = 32,
    progress: Callable[[int], None] | None = None,
) -> list[float]:
    """P(yes) / (P(yes) + P(no)) for the first answer token of each prompt."""
    tok = lm.tokenizer
    yes, no = _first_ids(tok, ANSWER_WORDS["yes"]), _first_ids(tok, ANSWER_WORDS["no"])
    prompts = [render(lm, prompt_for(t)) for t in texts]
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
    out = [0.0] * len(prompts)
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
                logits = (
                    model(
                        input_ids=enc["input_ids"].to(lm.device),
                        attention_mask=mask.to(lm.device),
                        position_ids=positions.to(lm.device),
                        use_cache=False,
                    )
                    .logits[:, -1]
                    .float()
                )
            logp = torch.log_softmax(logits, dim=-1)
            margin = torch.logsumexp(logp[:, yes], -1) - torch.logsumexp(logp[:, no], -1)
            for i, p in zip(idx, torch.sigmoid(margin).cpu().tolist(), strict=True):
                out[i] = float(p)
            if progress:
                progress(len(idx))
    finally:
        tok.padding_side = side
    return out
