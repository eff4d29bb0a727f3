"""Probe methods against scikit-learn and numpy closed forms; the LinearProbe interface."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from safetensors.torch import load, save
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.preprocessing import StandardScaler

from krel_interp.errors import ConfigError
from krel_interp.probes.methods import (
    PROBE_METHODS,
    LinearProbe,
    ProbeFitConfig,
    fit_probe,
    get_method,
    register_method,
)

N_TRAIN = 300


@pytest.fixture(scope="module")
def data() -> tuple[torch.Tensor, torch.Tensor]:
    """3 layers x 400 rows x 32 dims; a known direction whose strength grows with the layer."""
    gen = torch.Generator().manual_seed(0)
    layers, n, d = 3, 400, 32
    u = torch.nn.functional.normalize(torch.randn(d, generator=gen), dim=0)
    y = (torch.rand(n, generator=gen) < 0.4).float()
    mix = torch.eye(d) + 0.3 * torch.randn(d, d, generator=gen) / d**0.5
    strength = torch.tensor([0.3, 1.0, 2.5])
    signal = (2 * y - 1)[None, :, None] * strength[:, None, None] * u
    offset = 5 * torch.randn(layers, 1, d, generator=gen)
    feature_scale = torch.exp(torch.randn(layers, 1, d, generator=gen))
    x = (torch.randn(layers, n, d, generator=gen) @ mix + signal) * feature_scale + offset
    return x, y


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))


def test_logistic_matches_sklearn(data: tuple[torch.Tensor, torch.Tensor]) -> None:
    x, y = data
    config = ProbeFitConfig(l2=1e-2)
    probe = fit_probe(x[:, :N_TRAIN], y[:N_TRAIN], "logistic", config)
    scores = probe.score(x[:, N_TRAIN:]).numpy()
    y_tr, y_te = y[:N_TRAIN].numpy(), y[N_TRAIN:].numpy()
    for layer in range(x.shape[0]):
        scaler = StandardScaler().fit(x[layer, :N_TRAIN].numpy())
        np.testing.assert_allclose(probe.mean[layer], scaler.mean_, rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(probe.scale[layer], scaler.scale_, rtol=1e-4)
        c = 1 / (config.l2 * N_TRAIN)
        ref = LogisticRegression(C=c, tol=1e-10, max_iter=10_000)
        ref.fit(scaler.transform(x[layer, :N_TRAIN].numpy()), y_tr)
        assert _cosine(ref.coef_[0], probe.weight[layer].numpy()) > 0.999
        assert abs(ref.intercept_[0] - float(probe.bias[layer])) < 1e-3
        ref_auc = roc_auc_score(y_te, ref.decision_function(scaler.transform(x[layer, N_TRAIN:])))
        assert abs(ref_auc - roc_auc_score(y_te, scores[layer])) < 0.01


def test_logistic_auroc_follows_signal(data: tuple[torch.Tensor, torch.Tensor]) -> None:
    x, y = data
    probe = fit_probe(x[:, :N_TRAIN], y[:N_TRAIN])
    scores = probe.score(x[:, N_TRAIN:])
    aucs = [roc_auc_score(y[N_TRAIN:].numpy(), s.numpy()) for s in scores]
    assert aucs[0] < aucs[1] < aucs[2]
    assert aucs[2] > 0.95


@pytest.mark.parametrize("standardize", [True, False])
def test_diff_means_closed_form(data: tuple[torch.Tensor, torch.Tensor], standardize: bool) -> None:
    x, y = data
    probe = fit_probe(x, y, "diff_means", ProbeFitConfig(standardize=standardize))
    xn, yn = x.double().numpy(), y.numpy().astype(bool)
    for layer in range(x.shape[0]):
        xl = xn[layer]
        if standardize:
            xl = (xl - xl.mean(0)) / xl.std(0)
        mu0, mu1 = xl[~yn].mean(0), xl[yn].mean(0)
        w = mu1 - mu0
        np.testing.assert_allclose(probe.weight[layer], w, rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(float(probe.bias[layer]), -w @ (mu0 + mu1) / 2, atol=1e-3)
    # the zero score sits halfway between the class-mean scores
    mean_scores = probe.score(x)
    midpoint = (mean_scores[:, y == 1].mean(1) + mean_scores[:, y == 0].mean(1)) / 2
    torch.testing.assert_close(midpoint, torch.zeros(3), atol=1e-3, rtol=0)


def test_lda_closed_form(data: tuple[torch.Tensor, torch.Tensor]) -> None:
    x, y = data
    shrinkage = 0.1
    probe = fit_probe(x, y, "lda", ProbeFitConfig(shrinkage=shrinkage))
    xn, yn = x.double().numpy(), y.numpy().astype(bool)
    for layer in range(x.shape[0]):
        xl = xn[layer]
        xl = (xl - xl.mean(0)) / xl.std(0)
        mu0, mu1 = xl[~yn].mean(0), xl[yn].mean(0)
        centred = np.where(yn[:, None], xl - mu1, xl - mu0)
        cov = centred.T @ centred / len(yn)
        d = cov.shape[0]
        shrunk = (1 - shrinkage) * cov + shrinkage * np.trace(cov) / d * np.eye(d)
        w = np.linalg.solve(shrunk, mu1 - mu0)
        np.testing.assert_allclose(probe.weight[layer], w, rtol=1e-3, atol=1e-3)
        np.testing.assert_allclose(float(probe.bias[layer]), -w @ (mu0 + mu1) / 2, atol=1e-3)


def test_probe_interface(data: tuple[torch.Tensor, torch.Tensor]) -> None:
    x, y = data
    probe = fit_probe(x, y, "diff_means")
    scores = probe.score(x)
    manual = ((x - probe.mean[:, None]) / probe.scale[:, None]) @ probe.weight[..., None]
    torch.testing.assert_close(scores, manual.squeeze(-1) + probe.bias[:, None])
    torch.testing.assert_close(probe.score_layer(1, x[1]), scores[1])
    sub = probe.select([2, 0])
    torch.testing.assert_close(sub.score(x[[2, 0]]), scores[[2, 0]])
    direction = probe.direction()
    torch.testing.assert_close(direction.norm(dim=-1), torch.ones(3))
    # the direction is the gradient of the score in the original activation space
    xr = x[0, :1].clone().requires_grad_(True)
    probe.score_layer(0, xr).sum().backward()
    assert xr.grad is not None
    cos = torch.nn.functional.cosine_similarity(xr.grad[0], direction[0], dim=0)
    assert float(cos) > 0.9999
    restored = LinearProbe.from_tensors(load(save(probe.to_tensors())), "diff_means")
    torch.testing.assert_close(restored.score(x), scores)
    assert restored.method == "diff_means"


def test_inputs_bf16_and_label_types(data: tuple[torch.Tensor, torch.Tensor]) -> None:
    x, y = data
    ref = fit_probe(x, y, "diff_means")
    for labels in (y.bool(), y.long(), y.tolist()):
        torch.testing.assert_close(fit_probe(x, labels, "diff_means").weight, ref.weight)
    probe = fit_probe(x.bfloat16(), y, "logistic")
    assert probe.weight.dtype == torch.float32
    assert probe.score(x.bfloat16()).dtype == torch.float32


def test_bad_inputs_raise(data: tuple[torch.Tensor, torch.Tensor]) -> None:
    x, y = data
    with pytest.raises(ConfigError, match="unknown probe method 'svm'"):
        fit_probe(x, y, "svm")
    with pytest.raises(ConfigError):
        get_method("nope")
    with pytest.raises(ConfigError):
        fit_probe(x, torch.full_like(y, 2.0))
    with pytest.raises(ConfigError):
        fit_probe(x, torch.zeros_like(y))
    with pytest.raises(ConfigError):
        fit_probe(x[0], y)
    with pytest.raises(ConfigError):
        ProbeFitConfig(l2=-1.0)
    probe = fit_probe(x, y, "diff_means")
    with pytest.raises(ConfigError):
        probe.score(x[:, :, :5])
    with pytest.raises(ConfigError):
        probe.select([3])
    with pytest.raises(ConfigError):
        LinearProbe.from_tensors({"weight": probe.weight}, "diff_means")


def test_register_new_method(data: tuple[torch.Tensor, torch.Tensor]) -> None:
    x, y = data

    @register_method("first_feature")
    def first_feature(xs: torch.Tensor, ys: torch.Tensor, config: ProbeFitConfig) -> LinearProbe:
        layers, _, d = xs.shape
        weight = torch.zeros(layers, d)
        weight[:, 0] = 1.0
        zeros = torch.zeros(layers, d)
        return LinearProbe(weight, torch.zeros(layers), zeros, torch.ones(layers, d), "toy")

    try:
        probe = fit_probe(x, y, "first_feature")
        assert probe.method == "first_feature"
        torch.testing.assert_close(probe.score(x), x[:, :, 0])
    finally:
        PROBE_METHODS.pop("first_feature")


def test_logistic_with_fewer_rows_than_features_matches_sklearn_and_the_primal() -> None:
    """n <= d runs Newton on the dual coefficients: same optimum as sklearn and the primal."""
    from krel_interp.probes.methods import _lbfgs_logistic, _standardize

    gen = torch.Generator().manual_seed(1)
    n, d = 60, 96
    y = (torch.rand(n, generator=gen) < 0.5).float()
    x = torch.randn(2, n, d, generator=gen) + (2 * y - 1)[None, :, None] * 0.3
    config = ProbeFitConfig(l2=1e-2)
    probe = fit_probe(x, y, "logistic", config)
    xs, _, _ = _standardize(x.double(), config)
    primal = _lbfgs_logistic(xs, y.double(), config)
    torch.testing.assert_close(probe.weight.double(), primal[:, :d], atol=1e-4, rtol=0)
    for layer in range(2):
        scaled = StandardScaler().fit_transform(x[layer].double().numpy())
        ref = LogisticRegression(C=1 / (config.l2 * n), tol=1e-10, max_iter=10_000)
        ref.fit(scaled, y.numpy())
        np.testing.assert_allclose(probe.weight[layer].numpy(), ref.coef_[0], atol=1e-4)
        assert abs(ref.intercept_[0] - float(probe.bias[layer])) < 1e-4
