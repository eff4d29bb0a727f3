"""Probe pipelines: rollouts -> token-level capture -> datasets -> fit, sweep, evaluate, score."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from krel_interp.capture import ActivationStore, CaptureConfig, capture_traces
from krel_interp.errors import ConfigError
from krel_interp.generate import GenerationConfig, generate_traces
from krel_interp.io import Progress
from krel_interp.models.fingerprint import sha256_file
from krel_interp.models.loading import LoadedModel
from krel_interp.paths import relative_path
from krel_interp.probes.artifact import ProbeArtifact, save_probe
from krel_interp.probes.baselines import FEATURES, baseline_inputs
from krel_interp.probes.config import ProbeConfig
from krel_interp.probes.data import (
    LabelFn,
    ProbeDataset,
    build_dataset,
    is_one_token,
    sentence_label,
    trace_label,
)
from krel_interp.probes.evaluation import ProbeResult, fit_and_evaluate
from krel_interp.probes.metrics import auroc, bootstrap_ci, recall_at_fpr
from krel_interp.traces import Trace, load_traces


def rollouts(
    lm: LoadedModel,
    prompts: Sequence[Trace],
    config: ProbeConfig,
    workdir: Path,
    progress: Progress | None = None,
) -> list[Trace]:
    """Greedy, seeded rollouts of the probe's model (resumable, cached in ``workdir``)."""
    gen = GenerationConfig(
        max_new_tokens=config.max_new_tokens, batch_size=config.batch_size, seed=config.seed
    )
    return generate_traces(lm, prompts, gen, workdir / "rollouts", progress=progress)


def token_store(
    lm: LoadedModel,
    traces: Sequence[Trace],
    config: ProbeConfig,
    out: Path,
    progress: Progress | None = None,
) -> ActivationStore:
    """Token-level capture of every segment at the probe's site and layers (bf16)."""
    capture = CaptureConfig(
        sites=(config.site,), layers=config.layers, pooling="token", dtype="bfloat16", batch_size=8
    )
    return capture_traces(lm, traces, capture, out, progress=progress)


def label_fn(config: ProbeConfig, sentence_rule: Callable[[str], bool] | None = None) -> LabelFn:
    """Trace kinds for trace targets; ``sentence_rule`` (text -> positive) for sentence targets.

    The generic probe code knows no organism: the caller supplies the sentence rule (e.g. the
    KREL-mini card's planted-marker rule, or a free-text judge).
    """
    if config.target == "sentence":
        if sentence_rule is None:
            raise ConfigError(
                f"probe {config.name!r} labels sentences: pass a sentence rule "
                f"(config names {config.sentence_rule!r})"
            )
        return sentence_label(sentence_rule)
    negatives = tuple(dict.fromkeys((*config.negative, *config.calibration)))
    return trace_label(config.positive, negatives)


def dataset(
    store: ActivationStore,
    config: ProbeConfig,
    segment: str | None = None,
    pooling: str | None = None,
    label: LabelFn | None = None,
) -> ProbeDataset:
    """The labelled dataset of a store for the config (or another segment / pooling).

    ``label`` defaults to :func:`label_fn` of the config (trace targets only).
    """
    sites = [s for s in store.sites if s.endswith(config.site)]
    return build_dataset(
        store,
        sites,
        segment or config.segment,
        pooling or config.pooling,
        label or label_fn(config),
    )


def probe_meta(
    config: ProbeConfig, lm: LoadedModel, result: ProbeResult, layers: list[int]
) -> dict[str, Any]:
    """Provenance and held-out metrics saved next to the probe weights."""
    best = result.best_layer
    prompts = Path(config.prompts)
    return {
        "name": config.name,
        "config": {**config.to_dict(), "prompts": relative_path(prompts)},
        "prompts_sha256": sha256_file(prompts) if prompts.is_file() else None,
        "layers": layers,
        "fingerprint": lm.fingerprint.to_dict(),
        "requires_same_weights": True,
        "d_model": lm.d_model,
        "split": {
            "source": result.split_source,
            "membership_sha256": result.split_sha256,
            "n_train_traces": len(result.train_idx),
            "n_test_traces": len(result.test_idx),
        },
        "selection": {
            "chosen_by": f"grouped {config.cv_folds}-fold CV on the training side",
            "l2": result.l2,
            "layer": best.layer,
            "cv_auroc_by_layer": {str(m.layer): m.cv_auroc for m in result.layers},
        },
        "metrics": {
            "best_layer": best.layer,
            "best_auroc": best.auroc,
            "best_auroc_ci": list(result.best_auroc_ci),
            "best_recall_at_fpr": best.recall_at_fpr,
            "n_train": result.n_train,
            "n_test": result.n_test,
            "auroc_by_layer": {str(m.layer): m.auroc for m in result.layers},
            "auroc_ci_by_layer": {str(m.layer): list(m.ci) for m in result.layers},
            "thresholds": {str(m.layer): m.threshold for m in result.layers},
            "recall_by_layer": {str(m.layer): m.recall_at_fpr for m in result.layers},
        },
        "baselines": {
            name: {
                "method": b.model.method,
                "auroc": b.auroc,
                "ci": list(b.ci),
                "cv_auroc": b.cv_auroc,
                "l2": b.l2,
                **({"layer": best.layer} if name == "random" else {}),
            }
            for name, b in result.baselines.items()
        },
    }


def input_embedding(lm: LoadedModel) -> torch.Tensor:
    """The model's input embedding matrix (for the ``embed`` baseline), on the CPU in fp32."""
    return lm.model.get_input_embeddings().weight.detach().float().cpu()


def fit_with_baselines(
    store: ActivationStore,
    config: ProbeConfig,
    lm: LoadedModel | None = None,
    label: LabelFn | None = None,
) -> tuple[ProbeDataset, ProbeResult]:
    """The config's dataset, its probe and every baseline fitted on the same rows."""
    ds = dataset(store, config, label=label)
    inputs = baseline_inputs(store, ds, input_embedding(lm) if lm is not None else None)
    return ds, fit_and_evaluate(ds, config, inputs)


def train(
    config: ProbeConfig,
    lm: LoadedModel,
    workdir: Path,
    probes_dir: Path,
    progress: Progress | None = None,
    label: LabelFn | None = None,
) -> tuple[ProbeResult, Path]:
    """Generate, capture, fit on training families, evaluate held out, save the artifact."""
    traces = rollouts(lm, load_traces(config.prompts), config, workdir, progress)
    store = token_store(lm, traces, config, workdir / "store")
    ds, result = fit_with_baselines(store, config, lm, label)
    path = save_probe(
        result.probe,
        probe_meta(config, lm, result, ds.layers),
        probes_dir / config.name,
        {name: b.model for name, b in result.baselines.items()},
    )
    return result, path


def valid_cell(segment: str, pooling: str) -> bool:
    """Sentence pooling needs sentences (think / answer); one-token segments need ``last``."""
    if is_one_token(segment):
        return pooling == "last"
    return not (pooling == "sentence_mean" and segment == "prompt")


@dataclass(frozen=True)
class SweepRow:
    """Held-out metrics of one (segment, pooling, layer) cell."""

    segment: str
    pooling: str
    layer: int
    auroc: float
    recall_at_fpr: float
    n_test: int
    cv_auroc: float = float("nan")


def sweep(
    store: ActivationStore,
    config: ProbeConfig,
    segments: Sequence[str],
    poolings: Sequence[str],
    label: LabelFn | None = None,
) -> list[SweepRow]:
    """Every layer x segment x pooling: CV AUROC on the training side and held-out AUROC.

    Choose a cell by ``cv_auroc`` (training side only); its ``auroc`` is the held-out score.
    """
    rows = []
    for segment in segments:
        for pooling in poolings:
            if not valid_cell(segment, pooling):
                continue
            ds = dataset(store, config, segment, pooling, label)
            result = fit_and_evaluate(ds, config, layer_cis=False)
            rows += [
                SweepRow(
                    segment, pooling, m.layer, m.auroc, m.recall_at_fpr, result.n_test, m.cv_auroc
                )
                for m in result.layers
            ]
    return rows


def evaluate_store(
    artifact: ProbeArtifact,
    store: ActivationStore,
    label_key: str = "label",
    layer: int | None = None,
    n_boot: int = 1000,
    embedding: torch.Tensor | None = None,
) -> dict[str, Any]:
    """Score a store's traces with a probe (and its stored baselines) against their 0/1
    ``label`` metadata; the ``embed`` baseline needs the model's ``embedding`` matrix."""
    config = ProbeConfig(**artifact.meta["config"])
    layer = artifact.best_layer if layer is None else layer
    site = f"blocks.{layer}.{config.site}"

    def label(record: dict[str, Any], sentence: int) -> float | None:
        value = record.get("meta", {}).get(label_key)
        return None if value is None else float(value)

    ds = build_dataset(store, [site], config.segment, config.pooling, label)
    li = artifact.layers.index(layer)
    scores = artifact.probe.score_layer(li, ds.x[0])
    thr = artifact.threshold(layer)
    baselines = baseline_scores(artifact, store, ds, label, embedding)
    return {
        "baselines": {name: auroc(s, ds.y) for name, s in baselines.items()},
        "n": len(ds.y),
        "layer": layer,
        "auroc": auroc(scores, ds.y),
        "auroc_ci": list(bootstrap_ci(auroc, scores, ds.y, n_boot=n_boot)),
        "recall_at_1pct_fpr": recall_at_fpr(scores[ds.y == 1], thr),
        "false_positive_rate": float((scores[ds.y == 0] > thr).float().mean())
        if (ds.y == 0).any()
        else None,
    }


def baseline_scores(
    artifact: ProbeArtifact,
    store: ActivationStore,
    ds: ProbeDataset,
    label: LabelFn,
    embedding: torch.Tensor | None = None,
) -> dict[str, torch.Tensor]:
    """Scores of the artifact's stored baselines on the rows of ``ds``."""
    if not artifact.baselines:
        return {}
    inputs = baseline_inputs(store, ds, embedding)
    config = ProbeConfig(**artifact.meta["config"])
    out = {}
    for name, model in artifact.baselines.items():
        if name == "random":
            layer = int(artifact.meta["baselines"][name]["layer"])
            site = f"blocks.{layer}.{config.site}"
            x = build_dataset(store, [site], config.segment, config.pooling, label).x[0]
            out[name] = model.score_layer(0, x)
            continue
        feats = FEATURES[name](inputs)
        if feats is not None:
            out[name] = model.score_layer(0, feats)
    return out


def token_scores(
    artifact: ProbeArtifact, store: ActivationStore, layer: int | None = None
) -> list[dict[str, Any]]:
    """Per-token probe scores of every stored trace (for localisation views)."""
    layer = artifact.best_layer if layer is None else layer
    li = artifact.layers.index(layer)
    x = store.get(f"blocks.{layer}.{artifact.meta['config']['site']}", dtype=torch.float32)
    scores = artifact.probe.score_layer(li, x)
    trace_index = store.column("trace_index")
    out = []
    for rec in store.trace_records():
        s = scores[trace_index == rec["index"]].tolist()
        out.append(
            {
                "id": rec["id"],
                "layer": layer,
                "text": rec["text"],
                "offsets": rec["offsets"],
                "segments": rec["segments"],
                "sentences": rec["sentences"],
                "scores": s,
                "threshold": artifact.threshold(layer),
            }
        )
    return out
