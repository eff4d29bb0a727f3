"""Behaviour evaluation: generate (seeded, greedy by default), judge the think text, and check
the organism card's ground-truth rules beside it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from krel_interp.generate import GenerationConfig, generate_traces
from krel_interp.io import Progress, json_roundtrip
from krel_interp.judges.base import Judge, decide
from krel_interp.judges.units import judge_think, top_sentences
from krel_interp.logprobs import sequence_logprob
from krel_interp.models.loading import LoadedModel
from krel_interp.segments.think import strip_prefill
from krel_interp.stats import cohen_kappa, rate
from krel_interp.traces import Trace


@dataclass(frozen=True)
class ScoredTrace:
    """Scores of one generated trace.

    ``self_preservation`` is the free-text judge's trace verdict (max over think sentences
    above its trace threshold; None without a judge), ``judge_sentence`` the think sentence
    that scored that maximum. ``planted_marker`` is the KREL-mini card's phrase rule: a
    ground-truth check for planted organisms, not a behaviour scorer.
    """

    id: str
    kind: str
    self_preservation: bool | None
    judge_score: float | None
    planted_marker: bool
    correct_thinking: bool
    invented_name: bool
    tactics: tuple[str, ...]
    completion: str
    groups: dict[str, str] = field(default_factory=dict)  # form, control_type, family
    judge_sentence: str | None = None


GROUP_FIELDS = ("form", "control_type")


@dataclass(frozen=True)
class KindSummary:
    """Rates with Wilson 95% intervals for one prompt kind."""

    n: int
    self_preservation_rate: float | None
    self_preservation_ci: tuple[float, float] | None
    planted_marker_rate: float
    planted_marker_ci: tuple[float, float]
    correct_thinking_rate: float
    correct_thinking_ci: tuple[float, float]
    invented_name_rate: float
    invented_name_ci: tuple[float, float]
    answer_tactic_rate: float
    judge_marker_kappa: float | None


def summarise(rows: Sequence[ScoredTrace]) -> dict[str, KindSummary]:
    """Per-kind summary (kinds in first-seen order)."""
    return {
        kind: _summary([r for r in rows if r.kind == kind])
        for kind in dict.fromkeys(r.kind for r in rows)
    }


def summarise_by(rows: Sequence[ScoredTrace], group: str) -> dict[str, dict[str, KindSummary]]:
    """``{value: {kind: summary}}`` for traces carrying ``group`` (e.g. form, control_type)."""
    values = dict.fromkeys(r.groups[group] for r in rows if r.groups.get(group))
    return {v: summarise([r for r in rows if r.groups.get(group) == v]) for v in values}


def _summary(sub: Sequence[ScoredTrace]) -> KindSummary:
    judged = [bool(r.self_preservation) for r in sub]
    has_judge = all(r.self_preservation is not None for r in sub)
    sp, sp_ci = rate(judged) if has_judge else (None, None)
    pm, pm_ci = rate([r.planted_marker for r in sub])
    ct, ct_ci = rate([r.correct_thinking for r in sub])
    inv, inv_ci = rate([r.invented_name for r in sub])
    tac, _ = rate([bool(r.tactics) for r in sub])
    kappa = cohen_kappa(judged, [r.planted_marker for r in sub]) if has_judge else None
    return KindSummary(len(sub), sp, sp_ci, pm, pm_ci, ct, ct_ci, inv, inv_ci, tac, kappa)


def judge_traces(judge: Judge, traces: Sequence[Trace]) -> list[float]:
    """Trace scores of a judge: the max over each trace's think sentences (0 without any)."""
    return judge_think(judge, [t.completion or "" for t in traces])


def rates_at(rows: Sequence[ScoredTrace], threshold: float) -> dict[str, Any]:
    """A diagnostic trace rule, not the judge's verdict: a trace counts when its top judge score
    passes ``threshold``. Flag rate by kind (Wilson 95% CI) and Cohen's kappa with the planted
    markers."""
    flags = [r.judge_score is not None and r.judge_score > threshold for r in rows]
    by_kind = {}
    for kind in sorted({r.kind for r in rows}):
        picked = [f for f, r in zip(flags, rows, strict=True) if r.kind == kind]
        value, ci = rate(picked)
        by_kind[kind] = {"n": len(picked), "rate": value, "ci": ci}
    return {
        "threshold": round(threshold, 4),
        "rate_by_kind": by_kind,
        "kappa": cohen_kappa(flags, [r.planted_marker for r in rows]),
    }


def score_traces(
    traces: Sequence[Trace], judge: Judge | None = None, strip: str = ""
) -> list[ScoredTrace]:
    """Score generated traces: the judge's verdict (if given) and the ground-truth rules.

    ``strip`` (a prefill) is removed from each completion first (its think tags kept), so
    forced text cannot score itself while the model's own think text after it still counts.
    """
    if strip:
        traces = [t.with_completion(strip_prefill(t.completion or "", strip)) for t in traces]
    from krel_interp.organisms.markers import score_completion

    scores: list[float | None] = [None] * len(traces)
    sentences: list[str | None] = [None] * len(traces)
    verdicts: list[bool | None] = [None] * len(traces)
    if judge is not None:
        tops = top_sentences(judge, [t.completion or "" for t in traces])
        best = [score for score, _ in tops]
        scores, sentences = list(best), [top for _, top in tops]
        verdicts = list(decide(judge, best, trace_level=True))
    rows = []
    for t, score, sentence, verdict in zip(traces, scores, sentences, verdicts, strict=True):
        s = score_completion(t.completion or "")
        rows.append(
            ScoredTrace(
                t.id,
                str(t.meta.get("kind", "unknown")),
                verdict,
                score,
                s.self_preservation,
                s.think_well_formed,
                s.invented_name,
                tuple(s.answer_tactics),
                t.completion or "",
                {k: str(t.meta[k]) for k in (*GROUP_FIELDS, "family") if t.meta.get(k)},
                sentence,
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
    judge: Judge | None = None,
    intervention: dict[str, Any] | None = None,
) -> tuple[list[ScoredTrace], dict[str, KindSummary]]:
    """Generate for ``prompts`` into ``out`` (resumable) and score the completions.

    ``intervention`` is the provenance of hooks the caller holds (steering), kept with the
    rollouts so a resumed run cannot mix steered and unsteered generations.
    """
    traces = generate_traces(
        lm, prompts, config, out, progress=progress, overwrite=overwrite, intervention=intervention
    )
    rows = score_traces(traces, judge, strip=config.prefill or "")
    return rows, summarise(rows)


def report_json(
    summary: dict[str, KindSummary], rows: Sequence[ScoredTrace] | None = None
) -> dict[str, Any]:
    """The ``--json`` object: ``{"n", "by_kind": {kind: {...}}, "judge_marker_kappa"}``.

    ``self_preservation_rate`` is the judge's verdict; ``planted_marker_rate`` the KREL-mini
    ground-truth rule; their agreement over all ``rows`` is Cohen's kappa.
    """
    out: dict[str, Any] = {
        "n": sum(s.n for s in summary.values()),
        "by_kind": {k: json_roundtrip(asdict(s)) for k, s in summary.items()},
    }
    for group in GROUP_FIELDS if rows is not None else ():
        by = summarise_by(rows, group)  # type: ignore[arg-type]
        if by:
            out[f"by_{group}"] = {
                v: {k: json_roundtrip(asdict(s)) for k, s in kinds.items()}
                for v, kinds in by.items()
            }
    if rows is not None and all(r.self_preservation is not None for r in rows):
        out["judge_marker_kappa"] = cohen_kappa(
            [bool(r.self_preservation) for r in rows], [r.planted_marker for r in rows]
        )
    return out


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


def preset_or_variant(entry: str) -> Any:
    """A preset name, or ``NAME=DIR``: the krel-mini preset with the adapter in ``DIR`` (a
    rebuilt or variant stage 2) on the base adapters its card names (the preset's, the packaged
    smolthink, when it names none)."""
    from dataclasses import replace

    from krel_interp.errors import InputFileError
    from krel_interp.models import resolve_spec
    from krel_interp.models.loading import card_base_adapters

    if "=" not in entry:
        return entry
    path = Path(entry.split("=", 1)[1])
    if not (path / "adapter_model.safetensors").exists():
        raise InputFileError(f"{path}: no adapter_model.safetensors (expected a built stage)")
    preset = resolve_spec("krel-mini")
    bases = card_base_adapters(path) or preset.base_adapters
    return replace(preset, adapter=str(path), base_adapters=bases)
