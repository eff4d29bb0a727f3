"""Yes/no scoring with a chat model: P(yes) at the answer position, batched, any HF model.

Both backends that run a local model use it: the fine-tuned ``classifier`` (a LoRA taught to
answer one short prompt) and ``llm:MODEL`` (any chat model with a rubric prompt).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

from krel_interp.models.loading import LoadedModel
from krel_interp.models.scoring import next_token_logprobs

ANSWER_WORDS = {"yes": ("yes", "Yes", "YES"), "no": ("no", "No", "NO")}


def first_token_ids(tokenizer: Any, words: Sequence[str]) -> list[int]:
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


def yes_probability(
    lm: LoadedModel,
    texts: Sequence[str],
    prompt_for: Callable[[str], str],
    batch_size: int = 32,
    progress: Callable[[int], None] | None = None,
) -> list[float]:
    """P(yes) / (P(yes) + P(no)) for the first answer token of each prompt."""
    tok = lm.tokenizer
    yes, no = first_token_ids(tok, ANSWER_WORDS["yes"]), first_token_ids(tok, ANSWER_WORDS["no"])
    prompts = [render(lm, prompt_for(t)) for t in texts]
    logp = next_token_logprobs(lm, prompts, [*yes, *no], batch_size, progress)
    margin = torch.logsumexp(logp[:, : len(yes)], -1) - torch.logsumexp(logp[:, len(yes) :], -1)
    return [float(p) for p in torch.sigmoid(margin).tolist()]
