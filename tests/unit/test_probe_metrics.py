"""Probe metrics against scikit-learn, and properties of the grouped splits."""

from __future__ import annotations

import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from sklearn.metrics import roc_auc_score

from krel_interp.errors import ConfigError
from krel_interp.probes.metrics import (
    accuracy,
    auroc,
    auroc_layers,
    bootstrap_ci,
    calibrate_threshold,
    recall_at_fpr,
    recall_at_fpr_calibrated,
)
from krel_interp.probes.splits import grouped_kfold, grouped_split


def _tied_data(seed: int = 0, n: int = 200) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    y = (torch.rand(n, generator=gen) < 0.5).long()
    scores = torch.round(torch.randn(n, generator=gen) + 0.7 * y)  # few distinct values
    return scores, y


def test_auroc_matches_sklearn_with_ties() -> None:
    scores, y = _tied_data()
    assert len(scores.unique()) < 10
    assert auroc(scores, y) == pytest.approx(roc_auc_score(y.numpy(), scores.numpy()), abs=1e-12)
    rows = torch.stack([scores, -scores, torch.round(scores / 2), torch.zeros_like(scores)])
    batched = auroc_layers(rows, y.bool())
    expected = [roc_auc_score(y.numpy(), r.numpy()) for r in rows]
    torch.testing.assert_close(batched, torch.tensor(expected, dtype=torch.float64))
    assert auroc(torch.zeros(4), [0, 1, 0, 1]) == 0.5
    with pytest.raises(ConfigError):
        auroc(scores, torch.ones_like(y))


def test_accuracy() -> None:
    scores = torch.tensor([-2.0, -0.5, 0.5, 3.0])
    assert accuracy(scores, [0, 0, 1, 1]) == 1.0
    assert accuracy(scores, [0, 1, 1, 1]) == 0.75
    assert accuracy(scores, [0, 0, 1, 1], threshold=1.0) == 0.75


@pytest.mark.parametrize("fpr", [0.01, 0.05, 0.2])
def test_calibrated_threshold_fpr(fpr: float) -> None:
    gen = torch.Generator().manual_seed(1)
    negatives = torch.randn(4000, generator=gen)
    threshold = calibrate_threshold(negatives, fpr)
    assert float((negatives > threshold).double().mean()) <= fpr
    fresh = torch.randn(400_000, generator=gen)
    assert float((fresh > threshold).double().mean()) == pytest.approx(fpr, abs=0.25 * fpr)
    tied = torch.round(negatives)
    assert float((tied > calibrate_threshold(tied, fpr)).double().mean()) <= fpr


def test_recall_at_fpr_separable() -> None:
    gen = torch.Generator().manual_seed(2)
    negatives = torch.randn(500, generator=gen)
    positives = torch.randn(300, generator=gen) + 20
    recall, threshold = recall_at_fpr_calibrated(positives, negatives, fpr=0.01)
    assert recall == 1.0
    assert threshold == calibrate_threshold(negatives, 0.01)
    assert recall_at_fpr(positives, float(positives.max())) == 0.0


def test_bootstrap_ci_properties() -> None:
    gen = torch.Generator().manual_seed(3)
    y = (torch.rand(300, generator=gen) < 0.5).float()
    scores = torch.randn(300, generator=gen) + y
    point = auroc(scores, y)
    lo, hi = bootstrap_ci(auroc, scores, y, n_boot=300)
    assert lo <= point <= hi
    assert (lo, hi) == bootstrap_ci(auroc, scores, y, n_boot=300)  # deterministic per seed
    singletons = [f"row{i}" for i in range(300)]
    assert bootstrap_ci(auroc, scores, y, groups=singletons, n_boot=300) == (lo, hi)


def test_grouped_bootstrap_is_wider_for_clustered_scores() -> None:
    # how well the scores separate the classes depends on the family: resampling families
    # moves the AUROC much more than resampling rows does
    gen = torch.Generator().manual_seed(4)
    groups = [f"family{i // 20}" for i in range(400)]
    family_signal = (4 * torch.rand(20, generator=gen) - 1).repeat_interleave(20)
    y = (torch.rand(400, generator=gen) < 0.5).float()
    scores = torch.randn(400, generator=gen) + family_signal * y
    lo, hi = bootstrap_ci(auroc, scores, y, n_boot=300)
    glo, ghi = bootstrap_ci(auroc, scores, y, groups=groups, n_boot=300)
    assert glo <= auroc(scores, y) <= ghi
    assert ghi - glo > 1.5 * (hi - lo)


def test_bootstrap_skips_single_class_resamples() -> None:
    scores = torch.tensor([0.0, 1.0, 2.0, 3.0])
    y = torch.tensor([0, 0, 1, 1])
    lo, hi = bootstrap_ci(auroc, scores, y, groups=["a", "a", "b", "b"], n_boot=50)
    assert lo == hi == 1.0


group_lists = st.lists(st.sampled_from("abcdefghij"), min_size=2, max_size=60)


@settings(max_examples=100, deadline=None)
@given(groups=group_lists, fraction=st.floats(0.05, 0.95), seed=st.integers(0, 10_000))
def test_grouped_split_keeps_groups_whole(groups: list[str], fraction: float, seed: int) -> None:
    assume(len(set(groups)) >= 2)
    train, test = grouped_split(groups, fraction, seed)
    assert train and test
    assert sorted(train + test) == list(range(len(groups)))
    assert not {groups[i] for i in train} & {groups[i] for i in test}
    assert (train, test) == grouped_split(groups, fraction, seed)


@settings(max_examples=100, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 8), min_size=4, max_size=16),
    fraction=st.floats(0.05, 0.95),
    seed=st.integers(0, 10_000),
)
def test_stratified_split_has_both_labels(sizes: list[int], fraction: float, seed: int) -> None:
    # group g has label g % 2 on all of its rows, so each label has >= 2 groups
    groups = [f"g{g}" for g, size in enumerate(sizes) for _ in range(size)]
    labels = [g % 2 for g, size in enumerate(sizes) for _ in range(size)]
    train, test = grouped_split(groups, fraction, seed, stratify=labels)
    assert {labels[i] for i in train} == {labels[i] for i in test} == {0, 1}
    assert not {groups[i] for i in train} & {groups[i] for i in test}


def test_grouped_split_errors() -> None:
    with pytest.raises(ConfigError):
        grouped_split(["a", "a", "a"])
    with pytest.raises(ConfigError):
        grouped_split(["a", "b"], test_fraction=1.0)


def test_grouped_kfold() -> None:
    groups = [f"f{i % 7}" for i in range(50)]
    folds = grouped_kfold(groups, k=3, seed=5)
    assert len(folds) == 3
    tested = sorted(i for _, test in folds for i in test)
    assert tested == list(range(50))
    for train, test in folds:
        assert sorted(train + test) == list(range(50))
        assert not {groups[i] for i in train} & {groups[i] for i in test}
    assert folds == grouped_kfold(groups, k=3, seed=5)
    with pytest.raises(ConfigError):
        grouped_kfold(groups, k=8)
