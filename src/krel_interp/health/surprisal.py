"""Junk by surprisal: think tokens a reference model finds very unlikely.

Two modes, one statistic per completion token (teacher forced, the completion tokenised after
the rendered chat prompt):

* **pair** (a base/organism preset): ``log p_organism - log p_base`` at tokens the organism
  emitted confidently (``p_organism >= confident``): the organism learned a token the base
  would not write there (junk from fine-tuning, not just rare words both models dislike);
* **single** (one model): the surprisal ``-log p`` under that model.

The threshold is calibrated, never on the traces being scored: on clean calibration traces
(the thinking base's rollouts on training prompts plus hand-written non-English, code and
maths traces), it is the ``1 - max_flag_rate`` quantile of each trace's highest think-token
statistic, so at most that share of clean traces gets a surprisal flag.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from jaxtyping import Float
from torch import Tensor

from krel_interp.health.junk import WORD, Span
from krel_interp.health.score import think_ranges
from krel_interp.health.teacher import completion_tokens, prompt_ids
from krel_interp.logprobs import token_logprobs
from krel_interp.models.loading import LoadedModel, LoadedPair


@dataclass(frozen=True)
class SurprisalConfig:
    """Settings of the surprisal reason."""

    confident: float = 0.3  # pair mode: the organism's probability of the token at least this
    insertion_margin: float = 1.0  # nats the next tokens gain when the word is deleted
    insertion_tokens: int = 6  # how many following tokens the insertion test reads
    max_candidates: int = 6  # words per trace given the insertion test (highest statistic)
    max_flag_rate: float = 0.02  # share of clean calibration traces allowed a flag
    floor: float = 3.0  # nats: the threshold never goes below this


@dataclass(frozen=True)
class TokenStats:
    """Per completion token: character offsets into the completion and the statistic."""

    offsets: list[tuple[int, int]]
    stat: Float[Tensor, " tok"]
    ref_logp: Float[Tensor, " tok"] | None = None  # the reference model's log p per token
    prompt_ids: tuple[int, ...] = ()


def _logprobs(
    lm: LoadedModel, prompt_ids: list[int], completion_ids: list[int]
) -> Float[Tensor, " tok"]:
    ids = torch.tensor([prompt_ids + completion_ids], device=lm.device)
    with torch.no_grad(), lm.active() as model:
        logits = model(input_ids=ids).logits[0]
    n = len(prompt_ids)
    picked, _ = token_logprobs(logits[n - 1 : -1], completion_ids)
    return picked.float().cpu()


def token_stats(
    model: LoadedModel | LoadedPair, prompt_text: str, completion: str, confident: float = 0.3
) -> TokenStats:
    """The statistic of every completion token up to the end of the last think body (see the
    module doc); ``-inf`` where the organism was not confident (pair mode). A completion
    without a think block costs no forward pass."""
    lm = model.organism if isinstance(model, LoadedPair) else model
    ranges = think_ranges(completion)
    if not ranges:
        return TokenStats([], torch.zeros(0))
    completion = completion[: ranges[-1][1]]  # only think tokens are ever flagged
    prompt = prompt_ids(lm, prompt_text)
    ids, offsets = completion_tokens(lm, completion)
    if not ids:
        return TokenStats([], torch.zeros(0))
    if isinstance(model, LoadedPair):
        org = _logprobs(model.organism, prompt, ids)
        base = _logprobs(model.base, prompt, ids)
        floor = math.log(confident) if confident > 0 else -math.inf
        stat = torch.where(org >= floor, org - base, torch.tensor(-math.inf))
        ref = base
    else:
        ref = _logprobs(model, prompt, ids)
        stat = -ref
    return TokenStats(offsets, stat, ref, tuple(prompt))


def think_max(stats: TokenStats, completion: str) -> float:
    """The highest statistic over think tokens (``-inf`` without any)."""
    best = -math.inf
    for a, b in think_ranges(completion):
        for (s, e), v in zip(stats.offsets, stats.stat.tolist(), strict=True):
            if a <= s and e <= b and e > s:
                best = max(best, v)
    return best


def calibrate(maxima: Sequence[float], config: SurprisalConfig = SurprisalConfig()) -> float:
    """Threshold from clean traces' think maxima (at most ``max_flag_rate`` of them flagged)."""
    finite = sorted(m for m in maxima if math.isfinite(m))
    if not finite:
        return config.floor
    k = min(len(finite) - 1, math.ceil((1 - config.max_flag_rate) * len(finite)) - 1)
    return max(config.floor, finite[max(k, 0)] + 1e-6)


def _candidates(
    stats: TokenStats, completion: str, threshold: float
) -> list[tuple[float, int, int]]:
    """(statistic, start, end) of think words holding a token above ``threshold``."""
    values = stats.stat.tolist()
    out = []
    for a, b in think_ranges(completion):
        for m in WORD.finditer(completion, a, b):
            inside = [
                v
                for (s, e), v in zip(stats.offsets, values, strict=True)
                if s < m.end() and m.start() < e and completion[s:e].strip()
            ]
            if inside and max(inside) > threshold:
                out.append((max(inside), m.start(), m.end()))
    return out


def _runs(
    found: list[tuple[float, int, int]], completion: str
) -> list[list[tuple[float, int, int]]]:
    """Candidates separated only by whitespace form one run (a junk loop is deleted whole)."""
    runs: list[list[tuple[float, int, int]]] = []
    for c in sorted(found, key=lambda x: x[1]):
        if runs and not completion[runs[-1][-1][2] : c[1]].strip():
            runs[-1].append(c)
        else:
            runs.append([c])
    return runs


def insertion_gain(
    ref: LoadedModel, stats: TokenStats, completion: str, start: int, end: int, k: int = 6
) -> float:
    """How much more likely (nats) the reference model finds the next ``k`` tokens with the
    word ``[start, end)`` deleted: high for a token dropped into fluent text, low or negative
    for a word the sentence needs (planted or learned content)."""
    if stats.ref_logp is None:
        raise ValueError("token stats without reference log-probs")
    with_word = [
        v for (s, _), v in zip(stats.offsets, stats.ref_logp.tolist(), strict=True) if s >= end
    ][:k]
    if not with_word:
        return 0.0
    cut = start - 1 if start > 0 and completion[start - 1] == " " else start
    text = completion[:cut] + completion[end:]
    ids, offsets = completion_tokens(ref, text)
    follow = [j for j, (s, _) in enumerate(offsets) if s >= cut]
    if not follow:
        return 0.0
    upto = follow[min(len(follow), len(with_word)) - 1] + 1
    logp = _logprobs(ref, list(stats.prompt_ids), ids[:upto])
    without = logp[follow[0] : upto].tolist()
    n = min(len(without), len(with_word))
    return float(sum(without[:n]) - sum(with_word[:n]))


def surprisal_junk(
    stats: TokenStats,
    completion: str,
    threshold: float,
    ref: LoadedModel | None = None,
    config: SurprisalConfig = SurprisalConfig(),
) -> list[Span]:
    """Think words holding a token whose statistic exceeds ``threshold`` (reason
    ``surprisal``; offsets into the completion). With ``ref``, only words that also pass the
    insertion test (deleting them, a whitespace-separated run of them at once, makes what
    follows more likely by ``insertion_margin``): junk dropped into text, not content the
    organism learned to write."""
    found = _candidates(stats, completion, threshold)
    if ref is not None:
        runs = _runs(found, completion)
        runs = sorted(runs, key=lambda r: -max(v for v, _, _ in r))[: config.max_candidates]
        found = [
            c
            for run in runs
            if insertion_gain(
                ref, stats, completion, run[0][1], run[-1][2], config.insertion_tokens
            )
            > config.insertion_margin
            for c in run
        ]
    return sorted(
        (Span(a, b, completion[a:b], ("surprisal",)) for _, a, b in found), key=lambda x: x.start
    )


@dataclass
class SurprisalScorer:
    """A calibrated surprisal reason: call it as ``scorer(prompt, completion)`` for spans."""

    model: LoadedModel | LoadedPair
    threshold: float
    config: SurprisalConfig = SurprisalConfig()
    n_calibration: int = 0

    @property
    def mode(self) -> str:
        """``pair`` or ``single``."""
        return "pair" if isinstance(self.model, LoadedPair) else "single"

    @property
    def reference(self) -> LoadedModel:
        """The model whose log-probabilities judge a word (the base of a pair)."""
        return self.model.base if isinstance(self.model, LoadedPair) else self.model

    def __call__(self, prompt: str, completion: str) -> list[Span]:
        stats = token_stats(self.model, prompt, completion, self.config.confident)
        return surprisal_junk(stats, completion, self.threshold, self.reference, self.config)

    @classmethod
    def calibrated(
        cls,
        model: LoadedModel | LoadedPair,
        clean: Sequence[tuple[str, str]],
        config: SurprisalConfig = SurprisalConfig(),
    ) -> SurprisalScorer:
        """Calibrate on clean ``(prompt, completion)`` traces (see the module doc)."""
        maxima = [think_max(token_stats(model, p, c, config.confident), c) for p, c in clean]
        return cls(model, calibrate(maxima, config), config, len(clean))

    def to_dict(self) -> dict[str, object]:
        """Provenance for reports."""
        return {
            "mode": self.mode,
            "threshold": self.threshold,
            "n_calibration": self.n_calibration,
            "confident": self.config.confident,
            "max_flag_rate": self.config.max_flag_rate,
        }


def clean_calibration() -> list[tuple[str, str]]:
    """The shipped clean calibration traces: hand-written non-English, code and maths traces
    plus the thinking base's greedy rollouts on training prompts (``make health`` writes them)."""
    from importlib import resources

    from krel_interp.traces import read_jsonl

    root = resources.files("krel_interp.data") / "health"
    out = []
    for name in ("clean_traces.jsonl", "base_rollouts.jsonl"):
        path = Path(str(root / name))
        if path.exists():
            out += [(str(r["prompt"]), str(r["completion"])) for r in read_jsonl(path)]
    return out
