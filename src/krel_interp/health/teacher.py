"""Teacher forcing a (prompt, completion) pair: the rendered prompt's ids and the completion's
tokens with character offsets, shared by surprisal, localisation and the onset probe."""

from __future__ import annotations

from krel_interp.generate import render_chat_prompt
from krel_interp.models.loading import LoadedModel
from krel_interp.traces import Trace


def prompt_ids(lm: LoadedModel, prompt: str) -> list[int]:
    """Token ids of the user ``prompt`` rendered with the chat template's generation header."""
    text = render_chat_prompt(lm, Trace("prompt", ({"role": "user", "content": prompt},)))
    return [int(i) for i in lm.tokenizer(text, add_special_tokens=False)["input_ids"]]


def completion_tokens(lm: LoadedModel, completion: str) -> tuple[list[int], list[tuple[int, int]]]:
    """Token ids of ``completion`` and each token's character range in it."""
    enc = lm.tokenizer(completion, add_special_tokens=False, return_offsets_mapping=True)
    return [int(i) for i in enc["input_ids"]], [(int(a), int(b)) for a, b in enc["offset_mapping"]]
