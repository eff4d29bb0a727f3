"""Character spans of given token ids (generated tokens, replayed instead of re-tokenized)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

Spans = list[tuple[int, int]]


def _decode(tokenizer: Any, ids: Sequence[int]) -> str:
    return str(tokenizer.decode(list(ids), skip_special_tokens=False))


def token_spans(tokenizer: Any, ids: Sequence[int]) -> tuple[str, Spans]:
    """(decoded text, character span of every token) by incremental detokenization.

    Each token's span is the text it adds to the decoding. A token that ends in the middle of
    a multi-byte character adds nothing on its own; it shares the span of the token that
    completes the character. Linear in the number of tokens (each decode sees a few ids).
    """
    spans: Spans = []
    pieces: list[str] = []
    pos, prefix, read = 0, 0, 0
    for i in range(len(ids)):
        before = _decode(tokenizer, ids[prefix:read])
        after = _decode(tokenizer, ids[prefix : i + 1])
        if after.endswith("\ufffd") and i + 1 < len(ids):
            continue  # an incomplete character: wait for the token that completes it
        delta = after[len(before) :] if after.startswith(before) else after
        spans.extend([(pos, pos + len(delta))] * (i + 1 - read))
        pieces.append(delta)
        pos += len(delta)
        prefix, read = read, i + 1
    return "".join(pieces), spans
