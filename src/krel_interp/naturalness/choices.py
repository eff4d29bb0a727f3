"""Reading a choice from next-token probabilities after a closed think (no generation).

For a thinking model the assistant turn starts with an empty, closed think block (as Qwen3's
template writes it with ``enable_thinking=False``), so the first answer token is read; for
other models the answer starts right after the generation header.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from krel_interp.errors import ConfigError
from krel_interp.io import Progress
from krel_interp.judges.scoring import first_token_ids
from krel_interp.models.loading import LoadedModel
from krel_interp.models.scoring import next_token_logprobs

CLOSED_THINK = "<think>\n\n</think>\n\n"


def answer_prefix_prompt(
    lm: LoadedModel, messages: Sequence[dict[str, str]], thinking: bool, prefix: str = ""
) -> str:
    """The rendered chat prompt up to the answer (closed empty think when ``thinking``)."""
    rendered = str(
        lm.tokenizer.apply_chat_template(
            list(messages), tokenize=False, add_generation_prompt=True, enable_thinking=False
        )
    )
    if thinking and not rendered.rstrip().endswith("</think>"):
        rendered += CLOSED_THINK
    return rendered + prefix


def choice_probabilities(
    lm: LoadedModel,
    prompts: Sequence[str],
    letters: Sequence[str],
    batch_size: int = 16,
    progress: Progress | None = None,
) -> list[list[float]]:
    """P(letter) renormalised over ``letters`` for each rendered prompt.

    Each letter's mass is the sum over its first-token variants (``A``, `` A``); a token
    that starts several letters (a bare space) is dropped from all of them.
    """
    raw = [first_token_ids(lm.tokenizer, [letter]) for letter in letters]
    shared = {
        i
        for a, ids in enumerate(raw)
        for b, other in enumerate(raw)
        if a != b
        for i in ids
        if i in other
    }
    variants = [[i for i in ids if i not in shared] for ids in raw]
    if not all(variants):
        raise ConfigError(f"the tokenizer cannot tell the choices {list(letters)} apart")
    flat = [i for ids in variants for i in ids]
    logp = next_token_logprobs(lm, prompts, flat, batch_size, progress)
    cols, start = [], 0
    for ids in variants:
        cols.append(torch.logsumexp(logp[:, start : start + len(ids)], dim=-1))
        start += len(ids)
    probs = torch.softmax(torch.stack(cols, dim=-1), dim=-1)
    return [[float(p) for p in row] for row in probs.tolist()]
