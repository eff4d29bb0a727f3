"""Honest probe evaluation: pair-aware splits, selection by grouped cross-validation on the
training side, the test set scored once, baselines beside the probe, bootstrap intervals."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from jaxtyping import Float
from torch import Tensor

from krel_interp.errors import ConfigError
from krel_interp.probes.baselines import FEATURES, BaselineInputs, random_probe
from krel_interp.probes.config import ProbeConfig
from krel_interp.probes.data import ProbeDataset
from krel_interp.probes.methods import LinearProbe, ProbeFitConfig, fit_probe
from krel_interp.probes.metrics import (
    accuracy,
    auroc,
    auroc_layers,
    bootstrap_ci,
    bootstrap_ci_layers,
    calibrate_threshold,
    recall_at_fpr,
)
from krel_interp.probes.splits import (
    grouped_kfold,
    grouped_split,
    linked_groups,
    membership_hash,
    suite_split,
)


@dataclass(frozen=True)
class LayerMetrics:
    """Metrics of one layer's probe: cross-validated on the training side, then held out."""

    layer: int
    auroc: float
    accuracy: float
    recall_at_fpr: float
    threshold: float
    cv_auroc: float = float("nan")
    ci: tuple[float, float] = (float("nan"), float("nan"))


@dataclass(frozen=True)
class BaselineResult:
    """A baseline fitted on the probe's training rows and scored on its test rows."""

    name: str
    model: LinearProbe
    auroc: float
    ci: tuple[float, float]
    cv_auroc: float
    l2: float | None
    test_scores: Tensor


@dataclass(frozen=True)
class ProbeResult:
    """A fitted all-layer probe, the layer chosen by cross-validation, held-out evaluation."""

    probe: LinearProbe
    layers: list[LayerMetrics]
    best: int  # index into ``layers``: the layer chosen on the training side (never on test)
    best_auroc_ci: tuple[float, float]
    train_idx: list[int]
    test_idx: list[int]
    n_train: int
    n_test: int
    l2: float = float("nan")
    split_source: str = "grouped"
    split_sha256: str = ""
    test_rows: list[int] = field(default_factory=list)
    test_groups: list[str] = field(default_factory=list)
    baselines: dict[str, BaselineResult] = field(default_factory=dict)

    @property
    def best_layer(self) -> LayerMetrics:
        """Metrics of the layer selected by cross-validation on the training side."""
        return self.layers[self.best]

    def test_scores(self, ds: ProbeDataset) -> Tensor:
        """Selected-layer scores of the test rows of ``ds`` (its own dataset or a paired one)."""
        return self.probe.score_layer(self.best, ds.x[self.best, self.test_rows])


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


def split_groups(ds: ProbeDataset) -> list[str]:
    """Split groups: template families merged with the families their matched pairs join."""
    return linked_groups(ds.groups, ds.pair_ids) if ds.pair_ids else list(ds.groups)


def split(ds: ProbeDataset, config: ProbeConfig) -> tuple[list[int], list[int]]:
    """Train/test rows: the suite's own split (``split = "suite"``) or a grouped random one;
    matched pairs and whole families always stay on one side."""
    groups = split_groups(ds)
    if config.split == "suite":
        return suite_split(ds.splits, groups)
    return grouped_split(
        groups, config.test_fraction, config.seed, stratify=[int(v) for v in ds.y.tolist()]
    )


def cv_auroc(
    x: Float[Tensor, "layers n d"],
    y: Float[Tensor, " n"],
    groups: list[str],
    config: ProbeConfig,
    l2: float,
    method: str | None = None,
) -> Float[Tensor, " layers"]:
    """Mean out-of-fold AUROC per layer over grouped folds of the training rows."""
    k = min(config.cv_folds, len(set(groups)))
    if k < 2:
        raise ConfigError("cross-validation needs at least 2 groups on the training side")
    total, used = torch.zeros(x.shape[0], dtype=torch.float64), 0
    for tr, te in grouped_kfold(groups, k, config.seed):
        if len(set(y[tr].tolist())) < 2 or len(set(y[te].tolist())) < 2:
            continue
        fold = fit_probe(x[:, tr], y[tr], method or config.method, ProbeFitConfig(l2=l2))
        total += auroc_layers(fold.score(x[:, te]), y[te])
        used += 1
    if not used:
        raise ConfigError("no cross-validation fold had both classes on both sides")
    return total / used


def select_l2(
    x: Float[Tensor, "layers n d"],
    y: Float[Tensor, " n"],
    groups: list[str],
    config: ProbeConfig,
    method: str | None = None,
) -> tuple[float, Tensor]:
    """(l2, per-layer CV AUROC at it): the grid value whose best layer scores highest."""
    grid = config.l2_grid or (config.l2,)
    scored = [(l2, cv_auroc(x, y, groups, config, l2, method)) for l2 in grid]
    return max(scored, key=lambda item: float(item[1].max()))


def fit_and_evaluate(
    ds: ProbeDataset,
    config: ProbeConfig,
    inputs: BaselineInputs | None = None,
    layer_cis: bool = True,
) -> ProbeResult:
    """Select l2 and layer by grouped CV on the training side, fit there, score the test once.

    With ``inputs`` the configured baselines are fitted on the same rows and scored beside it.
    """
    train, test = split(ds, config)
    groups = split_groups(ds)
    scored = set(scored_rows(ds, config))
    fit_rows = [i for i in train if i in scored]
    test_rows = [i for i in test if i in scored]
    y_fit = ds.y[fit_rows]
    if len(set(y_fit.tolist())) < 2 or len(set(ds.y[test_rows].tolist())) < 2:
        raise ConfigError("both classes are needed in the training and test families")
    fit_groups = [groups[i] for i in fit_rows]
    l2, cv = select_l2(ds.x[:, fit_rows], y_fit, fit_groups, config)
    best = int(cv.argmax())
    probe = fit_probe(ds.x[:, fit_rows], y_fit, config.method, ProbeFitConfig(l2=l2))
    test_scores = probe.score(ds.x[:, test_rows])
    y_test = ds.y[test_rows]
    test_groups = [groups[i] for i in test_rows]
    calib = _calibration_rows(ds, train, config)
    calib_scores = probe.score(ds.x[:, calib])
    aurocs = auroc_layers(test_scores, y_test)
    if layer_cis:
        cis = bootstrap_ci_layers(test_scores, y_test, test_groups, config.n_boot, config.seed)
    else:
        cis = torch.full((len(ds.layers), 2), float("nan"))
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
                float(cv[li]),
                (float(cis[li, 0]), float(cis[li, 1])),
            )
        )
    ci = bootstrap_ci(
        auroc, test_scores[best], y_test, groups=test_groups, n_boot=config.n_boot, seed=config.seed
    )
    baselines = {}
    if inputs is not None:
        baselines = fit_baselines(
            ds, config, inputs, (fit_rows, fit_groups), (test_rows, test_groups), best
        )
    return ProbeResult(
        probe,
        metrics,
        best,
        ci,
        train,
        test,
        len(fit_rows),
        len(test_rows),
        l2,
        config.split,
        membership_hash(ds.ids, train, test) if ds.ids else "",
        test_rows,
        test_groups,
        baselines,
    )


def fit_baselines(
    ds: ProbeDataset,
    config: ProbeConfig,
    inputs: BaselineInputs,
    fit: tuple[list[int], list[str]],
    test: tuple[list[int], list[str]],
    layer_index: int,
) -> dict[str, BaselineResult]:
    """Every configured baseline, fitted on the ``fit`` (rows, groups) and scored on ``test``."""
    (fit_rows, fit_groups), (test_rows, test_groups) = fit, test
    y_fit, y_test = ds.y[fit_rows], ds.y[test_rows]
    out: dict[str, BaselineResult] = {}
    for name in config.baselines:
        l2: float | None = None
        if name == "random":
            x_fit = ds.x[layer_index, fit_rows]
            model = random_probe(x_fit, y_fit, config.seed)
            cv = float("nan")
            scores = model.score_layer(0, ds.x[layer_index, test_rows])
        else:
            feats = FEATURES[name](inputs)
            if feats is None:
                continue
            x = feats[None]
            l2, cv_layers = select_l2(x[:, fit_rows], y_fit, fit_groups, config, "logistic")
            cv = float(cv_layers[0])
            model = fit_probe(x[:, fit_rows], y_fit, "logistic", ProbeFitConfig(l2=l2))
            scores = model.score_layer(0, feats[test_rows])
        ci = bootstrap_ci(
            auroc, scores, y_test, groups=test_groups, n_boot=config.n_boot, seed=config.seed
        )
        out[name] = BaselineResult(name, model, auroc(scores, y_test), ci, cv, l2, scores)
    return out


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
