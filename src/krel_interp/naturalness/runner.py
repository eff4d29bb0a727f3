"""Run the naturalness metrics on one model or a base/organism pair, and compare them.

Layout of ``out``: one directory per model (``LABEL-MODELID``), holding ``generations/``
(resumable rollouts, refused when made by other weights or settings), ``items/`` (per-item
results of every metric) and ``statistics.json``; plus ``reports/ORGANISM_vs_BASE.json`` (the
comparison, with provenance; ``krel_interp.viz.naturalness_report`` draws the ``.html``).
Base results live under the base's own directory, so several organisms of one base share its
rollouts.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from krel_interp.io import Progress, sha256_json, write_json_atomic
from krel_interp.models.loading import LoadedModel
from krel_interp.naturalness.base import MetricContext, Statistic, get_metric
from krel_interp.naturalness.compare import Comparison, compare
from krel_interp.naturalness.config import NaturalnessConfig

ProgressFactory = Callable[[str, int], Any]  # (description, total) -> context manager


@dataclass(frozen=True)
class ModelUnderTest:
    """A loaded model, its display label, whether it thinks, and any intervention on it.

    ``intervention`` is provenance of what the caller does to the model while it is measured
    (steering hooks it holds; ``{"prefill": TEXT}`` is applied to every rollout): it is stored
    with the rollouts and keys their directory, so steered and plain runs never mix.
    """

    label: str
    lm: LoadedModel
    thinking: bool
    intervention: dict[str, Any] | None = None

    @property
    def key(self) -> str:
        """Directory name: the label, the model's weight identity and the intervention's hash."""
        safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", self.label).strip("_") or "model"
        key = f"{safe}-{self.lm.fingerprint.model_id[:10]}"
        return key if self.intervention is None else f"{key}-{sha256_json(self.intervention)[:8]}"


def work_units(config: NaturalnessConfig) -> int:
    """Progress-bar total for one model."""
    return sum(get_metric(m).size(config) for m in config.metrics)


def evaluate_model(
    model: ModelUnderTest,
    config: NaturalnessConfig,
    out: Path,
    progress: Progress | None = None,
    overwrite: bool = False,
) -> dict[str, Statistic]:
    """Every configured metric on one model; statistics by reported name."""
    workdir = out / model.key
    ctx = MetricContext(
        model.lm, config, workdir, model.thinking, progress, overwrite, model.intervention
    )
    stats: dict[str, Statistic] = {}
    for name in config.metrics:
        for stat in get_metric(name).run(ctx):
            stats[stat.name] = stat
    write_json_atomic(
        workdir / "statistics.json",
        {
            "label": model.label,
            "model": model.lm.fingerprint.to_dict(),
            "thinking": model.thinking,
            "intervention": model.intervention,
            "config": asdict(config),
            "statistics": {
                k: {"value": s.value, "n": len(s.items), **s.info} for k, s in stats.items()
            },
        },
    )
    return stats


def compare_runs(
    organism: dict[str, Statistic],
    base: dict[str, Statistic] | None,
    config: NaturalnessConfig,
) -> dict[str, Comparison]:
    """Organism vs base for every statistic (paired bootstrap over shared items)."""
    return {
        name: compare(stat, None if base is None else base.get(name), config.bootstrap, config.seed)
        for name, stat in organism.items()
    }


def run_naturalness(
    organism: ModelUnderTest,
    base: ModelUnderTest | None,
    config: NaturalnessConfig,
    out: Path,
    progress: ProgressFactory | None = None,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Measure the organism (and base), write ``reports/STEM.json``, return the summary.

    The HTML page is drawn from that JSON by :mod:`krel_interp.viz.naturalness_report`.
    """
    if base is not None:
        organism.lm.fingerprint.check_tokens_compatible(base.lm.fingerprint, "base and organism")
    results: dict[str, dict[str, Statistic]] = {}
    for role, model in (("organism", organism), ("base", base)):
        if model is None:
            continue
        if progress is None:
            results[role] = evaluate_model(model, config, out, None, overwrite)
            continue
        with progress(f"{role}: {model.label}", work_units(config)) as advance:
            results[role] = evaluate_model(model, config, out, advance, overwrite)
    comparisons = compare_runs(results["organism"], results.get("base"), config)
    summary = {
        "preset": organism.label,
        "base": None if base is None else base.label,
        "suite": config.suite,
        "metrics": {k: c.to_json() for k, c in comparisons.items()},
    }
    details = {
        **summary,
        "config": asdict(config),
        "models": {
            role: {
                "label": m.label,
                "dir": m.key,
                "thinking": m.thinking,
                "model": m.lm.fingerprint.to_dict(),
            }
            for role, m in (("organism", organism), ("base", base))
            if m is not None
        },
        "info": {k: s.info for k, s in results["organism"].items()},
    }
    stem = report_stem(organism, base)
    (out / "reports").mkdir(parents=True, exist_ok=True)
    write_json_atomic(out / "reports" / f"{stem}.json", details)
    return summary


def report_stem(organism: ModelUnderTest, base: ModelUnderTest | None) -> str:
    """File name (no suffix) of a comparison's report: ``ORGANISM_vs_BASE``."""
    return _stem(organism) + ("" if base is None else f"_vs_{_stem(base)}")


def _stem(model: ModelUnderTest) -> str:
    """The label (plus the intervention's hash), without the weight identity."""
    safe = model.key.replace(f"-{model.lm.fingerprint.model_id[:10]}", "", 1)
    return safe
