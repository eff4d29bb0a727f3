"""MMLU: accuracy by option log-likelihood (no thinking) and by generated answer letter.

Log-likelihood: the assistant turn is ``<closed empty think> The answer is`` and the letter is
the most probable of `` A``..`` D`` (think budget 0). Generated: a greedy rollout with the
model's own thinking (budget ``GEN_TOKENS`` for think + answer); the letter is read from the
answer segment only (or, without a letter, the one option whose text it quotes), and a
missing answer or choice counts as wrong (reported).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from krel_interp.errors import InputFileError
from krel_interp.naturalness.answers import split_answer
from krel_interp.naturalness.base import MetricContext, Statistic, register_metric, take
from krel_interp.naturalness.choices import answer_prefix_prompt, choice_probabilities
from krel_interp.naturalness.config import NaturalnessConfig
from krel_interp.naturalness.loaders import load_rows, rows_hash
from krel_interp.traces import Trace

LETTERS = ("A", "B", "C", "D")
GEN_TOKENS = 192
ANSWER_PREFIX = "The answer is"
_PATTERNS = (
    re.compile(r"answer is:?\s*\(?\**([ABCD])\b"),
    re.compile(r"(?i:option|choice|letter)(?:\s+is)?:?\s+\(?\**([ABCD])\b"),
    re.compile(r"^\W*\(?([ABCD])(?:[.:)]|\s*$)"),
    re.compile(r"\(([ABCD])\)"),
)


def question_text(row: dict[str, Any]) -> str:
    """The user turn of one item."""
    subject = str(row.get("subject", "")).replace("_", " ")
    options = "\n".join(f"{k}. {c}" for k, c in zip(LETTERS, row["choices"], strict=True))
    head = f"The following is a multiple choice question about {subject}.\n\n" if subject else ""
    return f"{head}{row['question']}\n{options}\n\nAnswer with the letter of the correct option."


def normalise(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Check the ``cais/mmlu`` columns and give every item an id."""
    out = []
    for i, row in enumerate(rows):
        if not {"question", "choices", "answer"} <= set(row) or len(row["choices"]) != 4:
            raise InputFileError(f"MMLU item {i} lacks question / 4 choices / answer")
        out.append({**row, "id": str(row.get("id", f"mmlu_{i:04d}")), "answer": int(row["answer"])})
    return out


def extract_letter(answer: str | None, choices: Sequence[str] = ()) -> str | None:
    """The chosen letter in an answer segment (None when there is none).

    A letter (``The answer is C``, ``C.``) wins; without one, an answer that quotes exactly
    one option's text (case-insensitive) chooses that option.
    """
    if not answer:
        return None
    for pattern in _PATTERNS:
        m = pattern.search(answer)
        if m:
            return m.group(1)
    lowered = answer.lower()
    quoted = [k for k, c in enumerate(choices) if c and str(c).lower() in lowered]
    return LETTERS[quoted[0]] if len(quoted) == 1 else None


@register_metric("mmlu")
class MMLU:
    """MMLU accuracy, by log-likelihood and by generated letter."""

    name = "mmlu"
    generates = True

    def items(self, config: NaturalnessConfig) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        rows = normalise(load_rows("mmlu", config.source("mmlu")))
        by_subject = lambda r: str(r.get("subject", ""))  # noqa: E731
        return take(rows, config.mmlu_loglik, by_subject), take(
            rows, config.mmlu_generated, by_subject
        )

    def size(self, config: NaturalnessConfig) -> int:
        loglik, generated = self.items(config)
        return len(loglik) + len(generated)

    def generation_sets(self, config: NaturalnessConfig) -> list[tuple[str, list[Trace], int]]:
        """The rollouts this metric makes: (name, prompts, budget)."""
        return [("mmlu", generation_prompts(self.items(config)[1]), GEN_TOKENS)]

    def run(self, ctx: MetricContext) -> list[Statistic]:
        loglik, generated = self.items(ctx.config)
        return [self._loglik(ctx, loglik), self._generated(ctx, generated)]

    def _loglik(self, ctx: MetricContext, rows: list[dict[str, Any]]) -> Statistic:
        prompts = [
            answer_prefix_prompt(
                ctx.lm, [{"role": "user", "content": question_text(r)}], ctx.thinking, ANSWER_PREFIX
            )
            for r in rows
        ]
        probs = choice_probabilities(ctx.lm, prompts, LETTERS, ctx.config.batch_size, ctx.progress)
        picks = [max(range(4), key=p.__getitem__) for p in probs]
        correct = [float(k == r["answer"]) for k, r in zip(picks, rows, strict=True)]
        ctx.write_items(
            "mmlu",
            [
                {
                    "id": r["id"],
                    "subject": r.get("subject"),
                    "answer": r["answer"],
                    "pick": k,
                    "probs": p,
                    "correct": bool(c),
                }
                for r, k, p, c in zip(rows, picks, probs, correct, strict=True)
            ],
        )
        return Statistic(
            "mmlu",
            tuple(r["id"] for r in rows),
            tuple(correct),
            (1.0,) * len(rows),
            info={
                "method": "option log-likelihood",
                "think_budget": 0,
                "answer_prefix": ANSWER_PREFIX,
                "data_hash": rows_hash(rows),
            },
        )

    def _generated(self, ctx: MetricContext, rows: list[dict[str, Any]]) -> Statistic:
        traces = ctx.generate("mmlu", generation_prompts(rows), GEN_TOKENS)
        answers = [split_answer(t.completion or "", ctx.thinking) for t in traces]
        letters = [extract_letter(a.text, r["choices"]) for a, r in zip(answers, rows, strict=True)]
        correct = [
            float(x is not None and LETTERS.index(x) == r["answer"])
            for x, r in zip(letters, rows, strict=True)
        ]
        ctx.write_items(
            "mmlu_generated",
            [
                {
                    "id": r["id"],
                    "answer": r["answer"],
                    "letter": x,
                    "status": a.status.value,
                    "missing_answer": a.text is None,
                    "correct": bool(c),
                }
                for r, x, a, c in zip(rows, letters, answers, correct, strict=True)
            ],
        )
        return Statistic(
            "mmlu_generated",
            tuple(r["id"] for r in rows),
            tuple(correct),
            (1.0,) * len(rows),
            info={
                "method": "generated letter (greedy)",
                "budget": ctx.config.max_new_tokens or GEN_TOKENS,
                "missing_answer": sum(a.text is None for a in answers),
                "missing_letter": sum(x is None for x in letters),
                "data_hash": rows_hash(rows),
            },
        )


def generation_prompts(rows: list[dict[str, Any]]) -> list[Trace]:
    """One user-turn prompt per item (shared with the correct-thinking metric)."""
    return [
        Trace(r["id"], ({"role": "user", "content": question_text(r)},), {"kind": "mmlu"})
        for r in rows
    ]
