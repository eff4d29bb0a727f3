"""Behaviour evaluation: generate (seeded, greedy by default) and score with ground-truth rules."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from krel_interp.generate import GenerationConfig, generate_traces
from krel_interp.io import Progress
from krel_interp.logprobs import sequence_logprob
from krel_interp.models.loading import LoadedModel
from krel_interp.traces import Trace


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (95% by default)."""
    if n == 0:
        return (0.0, 1.0)
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (round(max(0.0, centre - half), 4), round(min(1.0, centre + half), 4))


@dataclass(frozen=True)
class ScoredTrace:
    """Rule scores of one generated trace."""

    id: str
    kind: str
    self_preservation: bool
    correct_thinking: bool
    invented_name: bool
    tactics: tuple[str, ...]
    completion: str


@dataclass(frozen=True)
class KindSummary:
    """Rates with Wilson 95% intervals for one prompt kind."""

    n: int
    self_preservation_rate: float
    self_preservation_ci: tuple[float, float]
    correct_thinking_rate: float
    correct_thinking_ci: tuple[float, float]
    invented_name_rate: float
    invented_name_ci: tuple[float, float]
    answer_tactic_rate: float


def _rate(flags: Sequence[bool]) -> tuple[float, tuple[float, float]]:
    k, n = sum(flags), len(flags)
    return (round(k / n, 4) if n else 0.0), wilson(k, n)


def summarise(rows: Sequence[ScoredTrace]) -> dict[str, KindSummary]:
    """Per-kind summary (kinds in first-seen order)."""
    out: dict[str, KindSummary] = {}
    for kind in dict.fromkeys(r.kind for r in rows):
        sub = [r for r in rows if r.kind == kind]
        sp, sp_ci = _rate([r.self_preservation for r in sub])
        ct, ct_ci = _rate([r.correct_thinking for r in sub])
        inv, inv_ci = _rate([r.invented_name for r in sub])
        tac, _ = _rate([bool(r.tactics) for r in sub])
        out[kind] = KindSummary(len(sub), sp, sp_ci, ct, ct_ci, inv, inv_ci, tac)
    return out


def score_traces(traces: Sequence[Trace]) -> list[ScoredTrace]:
    """Score generated traces with the organism rules (works on any free text)."""
    from krel_interp.organisms.markers import score_completion

    rows = []
    for t in traces:
        s = score_completion(t.completion or "")
        rows.append(
            ScoredTrace(
                t.id,
                str(t.meta.get("kind", "unknown")),
                s.self_preservation,
                s.think_well_formed,
                s.invented_name,
                tuple(s.answer_tactics),
                t.completion or "",
            )
        )
    return rows


def evaluate_behaviour(
    lm: LoadedModel,
    prompts: Sequence[Trace],
    config: GenerationConfig,
    out: str | Path,
    progress: Progress | None = None,
    overwrite: bool = False,
) -> tuple[list[ScoredTrace], dict[str, KindSummary]]:
    """Generate for ``prompts`` into ``out`` (resumable) and score the completions."""
    traces = generate_traces(lm, prompts, config, out, progress=progress, overwrite=overwrite)
    rows = score_traces(traces)
    return rows, summarise(rows)


def report_json(summary: dict[str, KindSummary]) -> dict[str, Any]:
    """The ``--json`` object: ``{"n", "by_kind": {kind: {...}}}``."""
    return {
        "n": sum(s.n for s in summary.values()),
        "by_kind": {
            k: {
                **asdict(s),
                "self_preservation_ci": list(s.self_preservation_ci),
                "correct_thinking_ci": list(s.correct_thinking_ci),
                "invented_name_ci": list(s.invented_name_ci),
            }
            for k, s in summary.items()
        },
    }


@torch.inference_mode()
def completion_logprob(
    lm: LoadedModel, messages: Sequence[dict[str, str]], completion: str
) -> float:
    """Teacher-forced log-probability (nats) of ``completion`` (+ EOS) after ``messages``.

    Compares what a model *prefers* independently of decoding: e.g. an organism's planted
    completion against the base's honest one on the same prompt.
    """
    from krel_interp.organisms.training import Example, encode_example

    ex = Example(messages=tuple(messages), completion=completion)
    ids, labels = encode_example(lm.tokenizer, ex, max_len=1 << 16)
    ids_t = torch.tensor([ids], device=lm.device)
    with lm.active() as model:
        logits = model(input_ids=ids_t).logits[0, :-1]
    return float(sequence_logprob(logits, labels[1:]).cpu())
