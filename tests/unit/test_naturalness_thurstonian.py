"""Thurstonian utilities and preference-coherence statistics (no model calls)."""

from __future__ import annotations

import itertools
import json
import math
from importlib import resources

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from krel_interp.naturalness.thurstonian import (
    Edge,
    ThurstonianFit,
    decisiveness,
    edge_metrics,
    fit_thurstonian,
    intransitive_share,
    split_edges,
)

N = 24


def _spearman(x: np.ndarray, y: np.ndarray) -> float:
    rx, ry = np.argsort(np.argsort(x)), np.argsort(np.argsort(y))
    return float(np.corrcoef(rx, ry)[0, 1])


def _phi(z: float) -> float:
    return 0.5 * math.erfc(-z / math.sqrt(2))


@pytest.fixture(scope="module")
def truth() -> np.ndarray:
    return np.random.default_rng(7).normal(size=N)


@pytest.fixture(scope="module")
def hard_edges(truth: np.ndarray) -> list[Edge]:
    """Noiseless forced choices over every pair: the higher true utility always wins."""
    return [
        (a, b, 1.0 if truth[a] > truth[b] else 0.0) for a, b in itertools.combinations(range(N), 2)
    ]


@pytest.fixture(scope="module")
def hard_fit(hard_edges: list[Edge]) -> ThurstonianFit:
    train, _ = split_edges(hard_edges, 0.2, seed=0)
    return fit_thurstonian(N, train)


def test_recovers_utilities_from_noiseless_choices(truth, hard_edges, hard_fit):
    assert _spearman(np.array(hard_fit.mu), truth) > 0.95
    _, held_out = split_edges(hard_edges, 0.2, seed=0)
    metrics = edge_metrics(hard_fit, held_out)
    assert metrics["n_edges"] == len(held_out) > 0
    assert metrics["n_ties"] == 0
    assert metrics["accuracy"] >= 0.9
    assert metrics["log_loss"] < 0.3


def test_recovers_utilities_from_soft_thurstonian_probabilities(truth):
    """Labels drawn from the model itself (sigma^2 = 0.5 each): mu comes back on its scale."""
    edges = [(a, b, _phi(truth[a] - truth[b])) for a, b in itertools.combinations(range(N), 2)]
    fit = fit_thurstonian(N, edges)
    standard = (truth - truth.mean()) / truth.std(ddof=1)
    assert _spearman(np.array(fit.mu), truth) > 0.95
    assert np.corrcoef(fit.mu, standard)[0, 1] > 0.99
    # soft labels: the loss floor is their entropy, and the fit should sit near it
    entropy = -np.mean([p * math.log(p) + (1 - p) * math.log(1 - p) for _, _, p in edges])
    assert entropy <= fit.train_log_loss < entropy + 0.01
    assert edge_metrics(fit, edges)["accuracy"] > 0.95


def test_mu_is_renormalised(hard_fit):
    mu = np.array(hard_fit.mu)
    assert abs(mu.mean()) < 1e-9
    assert abs(mu.std(ddof=1) - 1.0) < 1e-9
    assert len(hard_fit.sigma2) == N and min(hard_fit.sigma2) > 0
    assert hard_fit.epochs == 1000


def test_fit_is_deterministic_and_seeded(hard_edges):
    a = fit_thurstonian(N, hard_edges, epochs=200, seed=3)
    b = fit_thurstonian(N, hard_edges, epochs=200, seed=3)
    c = fit_thurstonian(N, hard_edges, epochs=200, seed=4)
    assert a == b
    assert a.mu != c.mu


def test_matches_reference_loop_with_torch_adam():
    """Same steps as the emergent-values loop driven by torch.optim.Adam (float64, ndtr)."""
    rng = np.random.default_rng(1)
    n = 8
    edges = [(a, b, float(rng.uniform())) for a, b in itertools.combinations(range(n), 2)]
    ours = fit_thurstonian(n, edges, epochs=50, lr=0.05, seed=2)

    gen = torch.Generator().manual_seed(2)
    mu = torch.nn.Parameter(torch.randn(n, generator=gen, dtype=torch.float64) * 0.01)
    s = torch.nn.Parameter(torch.randn(n, generator=gen, dtype=torch.float64) * 0.01)
    opt = torch.optim.Adam([mu, s], lr=0.05)
    ia = torch.tensor([e[0] for e in edges])
    ib = torch.tensor([e[1] for e in edges])
    y = torch.tensor([e[2] for e in edges], dtype=torch.float64)
    for _ in range(50):
        opt.zero_grad()
        std = mu.std() + 1e-5
        mu_n = (mu - mu.mean()) / std
        s2 = torch.exp(s) / std**2
        p = torch.special.ndtr((mu_n[ia] - mu_n[ib]) / torch.sqrt(s2[ia] + s2[ib] + 1e-5))
        F.binary_cross_entropy(p, y).backward()
        opt.step()
    raw = mu.detach().numpy()
    sd = raw.std(ddof=1)
    np.testing.assert_allclose(ours.mu, (raw - raw.mean()) / sd, atol=1e-9)
    np.testing.assert_allclose(ours.sigma2, np.exp(s.detach().numpy()) / sd**2, rtol=1e-9)


def test_prob_is_the_thurstonian_formula():
    fit = ThurstonianFit(mu=(1.0, -1.0, 0.0), sigma2=(0.5, 1.5, 1.0), train_log_loss=0.0, epochs=0)
    assert fit.prob(0, 1) == pytest.approx(_phi(2.0 / math.sqrt(2.0)), abs=1e-5)
    assert fit.prob(0, 1) + fit.prob(1, 0) == pytest.approx(1.0)
    assert fit.prob(2, 2) == 0.5
    with pytest.raises(ValueError):
        fit.prob(0, 3)


def test_edge_metrics_ties_and_accuracy():
    fit = ThurstonianFit(mu=(1.0, 0.0, -1.0), sigma2=(0.1, 0.1, 0.1), train_log_loss=0.0, epochs=0)
    edges = [(0, 1, 0.9), (1, 2, 0.5), (2, 0, 0.8), (0, 2, 1.0)]
    m = edge_metrics(fit, edges)
    assert m["n_edges"] == 4 and m["n_ties"] == 1
    assert m["accuracy"] == pytest.approx(2 / 3)  # (2, 0, 0.8) disagrees with mu
    assert m["log_loss"] > 0
    all_ties = edge_metrics(fit, [(0, 1, 0.5)])
    assert all_ties["n_ties"] == 1 and math.isnan(all_ties["accuracy"])


def test_fit_rejects_bad_input():
    with pytest.raises(ValueError):
        fit_thurstonian(1, [(0, 0, 1.0)])
    with pytest.raises(ValueError):
        fit_thurstonian(3, [])
    with pytest.raises(ValueError):
        fit_thurstonian(3, [(0, 3, 1.0)])
    with pytest.raises(ValueError):
        fit_thurstonian(3, [(0, 1, 1.5)])
    with pytest.raises(ValueError):
        fit_thurstonian(3, [(1, 1, 0.7)])


def test_decisiveness_hand_values():
    assert decisiveness([0.5, 0.5]) == 0.0
    assert decisiveness([0.0, 1.0, 1.0]) == 1.0
    assert decisiveness([0.5, 1.0, 0.0, 0.75]) == pytest.approx(0.625)
    assert decisiveness([0.25]) == pytest.approx(0.5)
    with pytest.raises(ValueError):
        decisiveness([])
    with pytest.raises(ValueError):
        decisiveness([1.2])


def test_intransitive_share_zero_on_a_total_order():
    n = 6
    prefs = {(a, b): 0.9 for a, b in itertools.combinations(range(n), 2)}  # lower index wins
    assert intransitive_share(prefs, n) == 0.0
    # stored in the other orientation it is the same order
    flipped = {(b, a): 0.1 for a, b in itertools.combinations(range(n), 2)}
    assert intransitive_share(flipped, n) == 0.0


def test_intransitive_share_counts_a_planted_cycle():
    assert intransitive_share({(0, 1): 1.0, (1, 2): 0.8, (2, 0): 0.7}, 3) == 1.0
    # 0 > 1 > 2 > 3 except 2 > 0: of four triads only {0, 1, 2} is a cycle
    prefs = {(a, b): 1.0 for a, b in itertools.combinations(range(4), 2)}
    prefs[(0, 2)] = 0.0
    assert intransitive_share(prefs, 4) == pytest.approx(0.25)


def test_intransitive_share_none_and_ties():
    assert intransitive_share({}, 5) is None
    assert intransitive_share({(0, 1): 1.0, (1, 2): 1.0}, 3) is None  # third pair unknown
    assert intransitive_share({(0, 1): 1.0, (1, 2): 1.0, (0, 2): 0.5}, 3) is None  # a tie
    with pytest.raises(ValueError):
        intransitive_share({(0, 5): 1.0}, 3)


def test_intransitive_share_samples_when_many_triads():
    rng = np.random.default_rng(0)
    n = 20  # 1140 triads, all usable
    prefs = {(a, b): float(rng.integers(0, 2)) for a, b in itertools.combinations(range(n), 2)}
    exact = intransitive_share(prefs, n, max_triads=10_000)
    sampled = intransitive_share(prefs, n, max_triads=300, seed=1)
    assert exact is not None and sampled is not None
    assert sampled == intransitive_share(prefs, n, max_triads=300, seed=1)
    assert round(sampled * 300) == pytest.approx(sampled * 300)  # a share of 300 triads
    assert abs(sampled - exact) < 0.15
    assert exact == intransitive_share(prefs, n, max_triads=1140, seed=5)  # all: exact


def test_split_is_deterministic_and_partitions(hard_edges):
    train, test = split_edges(hard_edges, 0.2, seed=0)
    assert (train, test) == split_edges(hard_edges, 0.2, seed=0)
    assert (train, test) != split_edges(hard_edges, 0.2, seed=1)
    assert len(test) == round(0.2 * len(hard_edges))
    assert sorted(train + test) == sorted(hard_edges)
    small = [(0, 1, 1.0), (1, 2, 1.0), (0, 2, 1.0)]
    tr, te = split_edges(small, 0.1)
    assert len(te) == 1 and len(tr) == 2
    assert split_edges(small[:1], 0.5) == (small[:1], [])
    assert split_edges(small, 0.0) == (small, [])
    with pytest.raises(ValueError):
        split_edges(small, 1.0)


def test_preferences_fixture():
    path = resources.files("krel_interp.data") / "naturalness" / "preferences.json"
    data = json.loads(path.read_text())
    assert data["version"] == 1
    ids = [o["id"] for o in data["options"]]
    assert len(ids) >= 24 and len(set(ids)) == len(ids)
    assert all(isinstance(o["text"], str) and o["text"].strip() for o in data["options"])
    prompt = data["prompt"]
    assert "{option_a}" in prompt and "{option_b}" in prompt
    filled = prompt.format(option_a="X happens.", option_b="Y happens.")
    assert "X happens." in filled and "Y happens." in filled
