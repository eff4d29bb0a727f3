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


def top_sentences(judge: Any, completions: Sequence[str]) -> list[tuple[float, str]]:
    """Per completion, the judge's highest-scoring think sentence and its score
    (``(0.0, "")`` for a completion without think sentences): the sentence that decides a
    trace-level verdict."""
    sentences, owners = [], []
    for i, completion in enumerate(completions):
        for sentence in think_sentences(completion):
            sentences.append(sentence)
            owners.append(i)
    scores = judge.score(sentences) if sentences else []
    best = trace_scores(scores, owners, len(completions))
    top = [""] * len(completions)
    for score, owner, sentence in zip(scores, owners, sentences, strict=True):
        if not top[owner] and score == best[owner]:
            top[owner] = sentence
    return list(zip(best, top, strict=True))


def judge_think(judge: Any, completions: Sequence[str]) -> list[float]:
    """Trace scores of a judge on completions: the max over each one's think sentences."""
    return [score for score, _ in top_sentences(judge, completions)]
