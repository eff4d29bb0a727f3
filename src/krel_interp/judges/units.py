"""Text units of a completion that a judge scores: the sentences of its think block(s)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from krel_interp.segments import Segment, parse_think, split_sentences


def think_sentences(completion: str) -> list[str]:
    """Sentences of every think block of a completion (an unterminated think counts too).

    A completion with no think block has none: a trace-level verdict on thinking then says
    "absent".
    """
    spans, _ = parse_think(completion)
    out = []
    for seg, a, b in spans:
        if seg == Segment.THINK:
            out += [completion[s:e] for s, e in split_sentences(completion, a, b)]
    return out


def trace_scores(
    per_sentence: Sequence[float], owners: Sequence[int], n_traces: int
) -> list[float]:
    """Max sentence score per trace (0 for a trace without sentences)."""
    best = [0.0] * n_traces
    for score, owner in zip(per_sentence, owners, strict=True):
        best[owner] = max(best[owner], score)
    return best


def judge_think(judge: Any, completions: Sequence[str]) -> list[float]:
    """Trace scores of a judge on completions: the max over each one's think sentences."""
    sentences, owners = [], []
    for i, completion in enumerate(completions):
        for sentence in think_sentences(completion):
            sentences.append(sentence)
            owners.append(i)
    scores = judge.score(sentences) if sentences else []
    return trace_scores(scores, owners, len(completions))
