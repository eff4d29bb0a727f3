"""Probe metrics: AUROC (tie-aware, batched), accuracy, calibrated thresholds, bootstrap CIs.

Conventions: a row is flagged when its score is strictly above the threshold; labels are 0/1
(bool, int or float).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
from jaxtyping import Float
from torch import Tensor

from krel_interp.errors import ConfigError


def _labels(labels: Tensor | Sequence[float], n: int, device: torch.device) -> Tensor:
    """0/1 labels as a bool tensor of length ``n``."""
    y = torch.as_tensor(labels, device=device)
    if y.ndim != 1 or y.shape[0] != n:
        raise ConfigError(f"labels must be [n] with n={n}, got {list(y.shape)}")
    if not bool(((y == 0) | (y == 1)).all()):
        raise ConfigError("labels must be 0/1 (bool, int or float)")
    return y.bool()


def _scores(scores: Tensor, ndim: int) -> Tensor:
    s = torch.as_tensor(scores)
    if s.ndim != ndim:
        raise ConfigError(f"scores must have {ndim} dimension(s), got {list(s.shape)}")
    if not bool(torch.isfinite(s).all()):
        raise ConfigError("scores contain NaN or infinite values")
    return s.double()


def _average_ranks(s: Tensor) -> Tensor:
    """1-based ranks along the last dim, tied values sharing their average rank."""
    n = s.shape[-1]
    sorted_s, order = s.sort(dim=-1)
    pos = torch.arange(n, device=s.device).expand_as(sorted_s)
    starts = torch.ones_like(sorted_s, dtype=torch.bool)
    starts[..., 1:] = sorted_s[..., 1:] != sorted_s[..., :-1]
    ends = torch.ones_like(starts)
    ends[..., :-1] = starts[..., 1:]
    first = torch.where(starts, pos, torch.zeros_like(pos)).cummax(dim=-1).values
    last_rev = torch.where(ends, pos, torch.full_like(pos, n)).flip(-1).cummin(dim=-1).values
    sorted_ranks = (first + last_rev.flip(-1)).double() / 2 + 1
    return torch.empty_like(sorted_ranks).scatter_(-1, order, sorted_ranks)


def auroc_layers(
    scores: Float[Tensor, "layers n"], labels: Tensor | Sequence[float]
) -> Float[Tensor, " layers"]:
    """AUROC of every row of ``scores`` (Mann-Whitney U with average ranks for ties; float64)."""
    s = _scores(scores, 2)
    y = _labels(labels, s.shape[1], s.device)
    n1 = int(y.sum())
    n0 = len(y) - n1
    if n1 == 0 or n0 == 0:
        raise ConfigError("AUROC needs both classes in the labels")
    rank_sum = _average_ranks(s)[:, y].sum(-1)
    return (rank_sum - n1 * (n1 + 1) / 2) / (n1 * n0)


def auroc(scores: Float[Tensor, " n"], labels: Tensor | Sequence[float]) -> float:
    """Area under the ROC curve; equals ``sklearn.metrics.roc_auc_score`` (ties included)."""
    return float(auroc_layers(_scores(scores, 1)[None], labels)[0])


def accuracy(
    scores: Float[Tensor, " n"], labels: Tensor | Sequence[float], threshold: float = 0.0
) -> float:
    """Fraction of rows whose prediction ``score > threshold`` matches the label."""
    s = _scores(scores, 1)
    if len(s) == 0:
        raise ConfigError("accuracy needs at least one score")
    y = _labels(labels, len(s), s.device)
    return float(((s > threshold) == y).double().mean())


def calibrate_threshold(negative_scores: Float[Tensor, " n"], fpr: float = 0.01) -> float:
    """Lowest calibration score with at most ``fpr`` of the negatives strictly above it.

    With ``k = floor(fpr * n)`` this is the ``(n - k)``-th smallest negative score, the
    conservative ("higher") ``1 - fpr`` quantile: the empirical FPR on the calibration set is
    ``<= fpr`` (ties only lower it).
    """
    if not 0 <= fpr < 1:
        raise ConfigError(f"fpr must be in [0, 1), got {fpr}")
    s = _scores(negative_scores, 1)
    if len(s) == 0:
        raise ConfigError("calibrating a threshold needs at least one negative score")
    k = math.floor(fpr * len(s) + 1e-9)
    return float(s.sort().values[len(s) - 1 - k])


def recall_at_fpr(pos_scores: Float[Tensor, " n"], threshold: float) -> float:
    """Fraction of positive rows scoring strictly above ``threshold``."""
    s = _scores(pos_scores, 1)
    if len(s) == 0:
        raise ConfigError("recall needs at least one positive score")
    return float((s > threshold).double().mean())


def recall_at_fpr_calibrated(
    pos_scores: Float[Tensor, " n"],
    calibration_neg_scores: Float[Tensor, " m"],
    fpr: float = 0.01,
) -> tuple[float, float]:
    """(recall, threshold) at a threshold calibrated on negatives to false-positive rate ``fpr``."""
    threshold = calibrate_threshold(calibration_neg_scores, fpr)
    return recall_at_fpr(pos_scores, threshold), threshold


class _Groups:
    """Rows of each group (first-appearance order) for vectorised group resampling."""

    def __init__(self, groups: Sequence[str] | None, n: int) -> None:
        if groups is None:
            ids = torch.arange(n)
        elif len(groups) != n:
            raise ConfigError(f"groups must have one entry per row ({n}), got {len(groups)}")
        else:
            first: dict[str, int] = {}
            ids = torch.tensor([first.setdefault(g, len(first)) for g in groups], dtype=torch.long)
        self.order = torch.argsort(ids, stable=True)
        self.sizes = torch.bincount(ids)
        self.starts = torch.cumsum(self.sizes, 0) - self.sizes

    def __len__(self) -> int:
        return len(self.sizes)

    def rows(self, picks: Tensor) -> Tensor:
        """Row indices of the picked groups, concatenated."""
        sizes = self.sizes[picks]
        offsets = torch.cumsum(sizes, 0) - sizes
        segment = torch.zeros(int(sizes.sum()), dtype=torch.long)
        segment[offsets[1:]] += 1
        segment = torch.cumsum(segment, 0)  # which pick each output position belongs to
        within = torch.arange(len(segment)) - offsets[segment]
        return self.order[self.starts[picks][segment] + within]


def bootstrap_ci(
    metric: Callable[[Tensor, Tensor], float],
    scores: Float[Tensor, " n"],
    labels: Tensor | Sequence[float],
    groups: Sequence[str] | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
) -> tuple[float, float]:
    """Percentile bootstrap ``(lo, hi)`` interval of ``metric(scores, labels)``.

    With ``groups`` whole groups (e.g. template families) are resampled with replacement,
    the honest interval when rows within a group are correlated. Resamples with a single
    class are skipped.
    """
    if n_boot < 1 or not 0 < alpha < 1:
        raise ConfigError("bootstrap needs n_boot >= 1 and alpha in (0, 1)")
    s = torch.as_tensor(scores)
    if s.ndim != 1 or len(s) < 2:
        raise ConfigError("bootstrap needs a 1-D tensor of at least two scores")
    y = _labels(labels, len(s), s.device).to(torch.float32)
    members = _Groups(groups, len(s))
    gen = torch.Generator().manual_seed(seed)
    values = []
    for _ in range(n_boot):
        picks = torch.randint(len(members), (len(members),), generator=gen)
        rows = members.rows(picks).to(s.device)
        yb = y[rows]
        if 0 < int(yb.sum()) < len(yb):
            values.append(metric(s[rows], yb))
    if not values:
        raise ConfigError("every bootstrap resample had a single class")
    v = torch.tensor(values, dtype=torch.float64)
    q = torch.tensor([alpha / 2, 1 - alpha / 2], dtype=torch.float64)
    lo, hi = torch.quantile(v, q).tolist()
    return float(lo), float(hi)


def _resamples(y: Tensor, groups: Sequence[str] | None, n_boot: int, seed: int) -> list[Tensor]:
    """Row indices of ``n_boot`` group-bootstrap resamples that keep both classes."""
    members = _Groups(groups, len(y))
    gen = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(n_boot):
        rows = members.rows(torch.randint(len(members), (len(members),), generator=gen))
        yb = y[rows]
        if 0 < int(yb.sum()) < len(yb):
            out.append(rows)
    if not out:
        raise ConfigError("every bootstrap resample had a single class")
    return out


def bootstrap_ci_layers(
    scores: Float[Tensor, "layers n"],
    labels: Tensor | Sequence[float],
    groups: Sequence[str] | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
) -> Float[Tensor, "layers 2"]:
    """Per-layer percentile intervals of AUROC from one set of (group) resamples."""
    s = torch.as_tensor(scores).float()
    y = _labels(labels, s.shape[1], s.device).to(torch.float32)
    values = torch.stack([auroc_layers(s[:, r], y[r]) for r in _resamples(y, groups, n_boot, seed)])
    q = torch.tensor([alpha / 2, 1 - alpha / 2], dtype=values.dtype)
    return torch.quantile(values, q, dim=0).T


def bootstrap_auroc_difference(
    a: Float[Tensor, " n"],
    b: Float[Tensor, " n"],
    labels: Tensor | Sequence[float],
    groups: Sequence[str] | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
) -> tuple[float, float, float]:
    """AUROC(a) - AUROC(b) on the same rows, with a paired (group) bootstrap interval."""
    a, b = torch.as_tensor(a).float(), torch.as_tensor(b).float()
    y = _labels(labels, len(a), a.device).to(torch.float32)
    both = torch.stack([a, b])
    diffs = [
        float(d[0] - d[1])
        for d in (auroc_layers(both[:, r], y[r]) for r in _resamples(y, groups, n_boot, seed))
    ]
    v = torch.tensor(diffs, dtype=torch.float64)
    lo, hi = torch.quantile(v, torch.tensor([alpha / 2, 1 - alpha / 2], dtype=v.dtype)).tolist()
    return auroc(a, y) - auroc(b, y), float(lo), float(hi)
