"""Honest probe evaluation: family-grouped splits, calibrated thresholds, bootstrap intervals."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from jaxtyping import Float
from torch import Tensor

from krel_interp.errors import ConfigError
from krel_interp.probes.config import ProbeConfig
from krel_interp.probes.data import ProbeDataset
from krel_interp.probes.methods import LinearProbe, ProbeFitConfig, fit_probe
from krel_interp.probes.metrics import (
    accuracy,
    auroc,
    auroc_layers,
    bootstrap_ci,
    calibrate_threshold,
    recall_at_fpr,
)
from krel_interp.probes.splits import grouped_split


@dataclass(frozen=True)
class LayerMetrics:
    """Held-out metrics of one layer's probe."""

    layer: int
    auroc: float
    accuracy: float
    recall_at_fpr: float
    threshold: float


@dataclass(frozen=True)
class ProbeResult:
    """A fitted all-layer probe and its held-out evaluation."""

    probe: LinearProbe
    layers: list[LayerMetrics]
    best: int  # index into ``layers``
    best_auroc_ci: tuple[float, float]
    train_idx: list[int]
    test_idx: list[int]
    n_train: int
    n_test: int

    @property
    def best_layer(self) -> LayerMetrics:
        """Metrics of the layer with the highest held-out AUROC."""
        return self.layers[self.best]


def scored_rows(ds: ProbeDataset, config: ProbeConfig) -> list[int]:
    """Rows that enter fitting and AUROC (trace target: positive and negative kinds only)."""
    if config.target == "sentence":
        return list(range(len(ds.y)))
    keep = set(config.positive) | set(config.negative)
    return [i for i, k in enumerate(ds.kinds) if k in keep]


def _calibration_rows(ds: ProbeDataset, rows: list[int], config: ProbeConfig) -> list[int]:
    if config.target == "sentence":
        return [i for i in rows if ds.y[i] == 0]
    return [i for i in rows if ds.kinds[i] in config.calibration and ds.y[i] == 0]


def split(ds: ProbeDataset, config: ProbeConfig) -> tuple[list[int], list[int]]:
    """Train/test rows with whole template families on one side."""
    return grouped_split(
        ds.groups, config.test_fraction, config.seed, stratify=[int(v) for v in ds.y.tolist()]
    )


def fit_and_evaluate(ds: ProbeDataset, config: ProbeConfig) -> ProbeResult:
    """Fit on training families, evaluate every layer on held-out families."""
    train, test = split(ds, config)
    scored = set(scored_rows(ds, config))
    fit_rows = [i for i in train if i in scored]
    test_rows = [i for i in test if i in scored]
    y_fit = ds.y[fit_rows]
    if len(set(y_fit.tolist())) < 2 or len(set(ds.y[test_rows].tolist())) < 2:
        raise ConfigError("both classes are needed in the training and test families")
    probe = fit_probe(ds.x[:, fit_rows], y_fit, config.method, ProbeFitConfig(l2=config.l2))
    test_scores = probe.score(ds.x[:, test_rows])
    y_test = ds.y[test_rows]
    calib = _calibration_rows(ds, train, config)
    calib_scores = probe.score(ds.x[:, calib])
    aurocs = auroc_layers(test_scores, y_test)
    metrics = []
    for li, layer in enumerate(ds.layers):
        thr = calibrate_threshold(calib_scores[li], config.fpr)
        metrics.append(
            LayerMetrics(
                layer,
                float(aurocs[li]),
                accuracy(test_scores[li], y_test),
                recall_at_fpr(test_scores[li][y_test == 1], thr),
                thr,
            )
        )
    best = max(range(len(metrics)), key=lambda i: metrics[i].auroc)
    ci = bootstrap_ci(
        auroc,
        test_scores[best],
        y_test,
        groups=[ds.groups[i] for i in test_rows],
        n_boot=config.n_boot,
        seed=config.seed,
    )
    return ProbeResult(probe, metrics, best, ci, train, test, len(fit_rows), len(test_rows))


def transfer_auroc(
    probe: LinearProbe,
    other: ProbeDataset,
    rows: list[int],
) -> Float[Tensor, " layers"]:
    """AUROC per layer of a probe applied to another model's activations of the same rows."""
    return auroc_layers(probe.score(other.x[:, rows]), other.y[rows])


def cosine_matrix(a: Float[Tensor, "m d"], b: Float[Tensor, "n d"]) -> Float[Tensor, "m n"]:
    """Cosine similarity between every pair of directions."""
    a = torch.nn.functional.normalize(a.float(), dim=-1)
    b = torch.nn.functional.normalize(b.float(), dim=-1)
    return a @ b.T
