"""Benchmark of the all-layer logistic probe sweep: krel_interp vs scikit-learn.

What it measures (CPU, synthetic activations, default 30 layers x 4,000 rows x 576 dims):

* Data: one known unit direction, a layer-dependent signal strength (weak early, strongest
  two-thirds of the way up), correlated features (a random mixing matrix), and per-layer
  feature offsets and scales like real residual streams. A random 75/25 train/test split.
* ``krel_s``: one ``fit_probe(x_train, y_train, "logistic")`` call fitting every layer as one
  batched problem (standardisation included).
* ``sklearn_s``: a loop over layers of ``StandardScaler`` + ``LogisticRegression`` (lbfgs,
  ``max_iter=1000``) with the same regularisation: krel's ``l2`` is the penalty on the mean
  log-loss, so ``C = 1 / (l2 * n_train)``. Same stopping rule too: both stop when the largest
  absolute gradient entry of the mean objective is below ``--tol`` (default ``1e-4``,
  scikit-learn's default ``tol``, which its lbfgs uses as ``gtol`` on that objective).
* ``max_auroc_diff``: the largest gap between the two held-out AUROCs over layers.
* ``targets_met``: ``speedup >= 5`` and ``max_auroc_diff <= 0.01``.

Both sides run with the same thread count (``--threads``, default: torch's). Each timing is
the median of ``--reps`` runs after one warm-up fit of a tiny problem.

Run it with ``make bench-probes`` (``python benchmarks/probes.py``); ``--layers``, ``--rows``,
``--dim`` set the size and ``--quick`` is a smoke run (6 layers x 1,000 rows x 128 dims).
Progress goes to stdout; the last line is one JSON object with the results.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from krel_interp.probes.methods import ProbeFitConfig, fit_probe

SPEEDUP_TARGET = 5.0
AUROC_TARGET = 0.01
L2 = 1e-2


def log(msg: str) -> None:
    """A progress line."""
    print(msg, flush=True)


def make_data(layers: int, rows: int, dim: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Activations [layers, rows, dim] and 0/1 labels with a layer-dependent linear signal."""
    gen = torch.Generator().manual_seed(seed)
    u = torch.nn.functional.normalize(torch.randn(dim, generator=gen), dim=0)
    y = (torch.rand(rows, generator=gen) < 0.5).float()
    depth = torch.linspace(0, 1, layers)
    strength = 0.1 + 1.5 * torch.exp(-(((depth - 0.66) / 0.25) ** 2))
    mix = torch.eye(dim) + torch.randn(dim, dim, generator=gen) / dim**0.5
    x = torch.empty(layers, rows, dim)
    for layer in range(layers):  # layer by layer: bounded peak memory
        noise = torch.randn(rows, dim, generator=gen) @ mix
        signal = (2 * y - 1)[:, None] * strength[layer] * u
        offset = 3 * torch.randn(dim, generator=gen)
        scale = torch.exp(0.5 * torch.randn(dim, generator=gen))
        x[layer] = (noise + signal) * scale + offset
    return x, y


def time_krel(x: torch.Tensor, y: torch.Tensor, tol: float) -> float:
    """Seconds for one batched all-layer fit."""
    start = time.perf_counter()
    fit_probe(x, y, "logistic", ProbeFitConfig(l2=L2, tol=tol))
    return time.perf_counter() - start


SklearnModels = list[tuple[StandardScaler, LogisticRegression]]


def time_sklearn(x: np.ndarray, y: np.ndarray, tol: float) -> tuple[float, SklearnModels]:
    """Seconds for a loop of per-layer scikit-learn fits, and the fitted models."""
    models = []
    start = time.perf_counter()
    for layer in range(x.shape[0]):
        scaler = StandardScaler()
        xs = scaler.fit_transform(x[layer])
        clf = LogisticRegression(C=1 / (L2 * len(y)), tol=tol, max_iter=1000).fit(xs, y)
        models.append((scaler, clf))
    return time.perf_counter() - start, models


def run(args: argparse.Namespace) -> dict[str, object]:
    """Fit both, compare held-out AUROCs, return the result record."""
    x, y = make_data(args.layers, args.rows, args.dim, args.seed)
    perm = torch.randperm(args.rows, generator=torch.Generator().manual_seed(args.seed + 1))
    n_train = int(0.75 * args.rows)
    train, test = perm[:n_train].sort().values, perm[n_train:].sort().values
    x_train, x_test = x[:, train].contiguous(), x[:, test].contiguous()
    y_train, y_test = y[train], y[test]
    log(f"data: {args.layers} layers x {args.rows} rows x {args.dim} dims, {n_train} train rows")
    warm_x, warm_y = make_data(2, 64, 16, 0)
    fit_probe(warm_x, warm_y)
    time_sklearn(warm_x.numpy(), warm_y.numpy(), args.tol)

    krel_times, sk_times = [], []
    for rep in range(args.reps):
        k_s = time_krel(x_train, y_train, args.tol)
        log(f"rep {rep + 1}: krel {k_s:.3f} s (all layers, one batched fit)")
        s_s, models = time_sklearn(x_train.numpy(), y_train.numpy(), args.tol)
        log(f"rep {rep + 1}: sklearn {s_s:.3f} s (layer loop)")
        krel_times.append(k_s)
        sk_times.append(s_s)
    probe = fit_probe(x_train, y_train, "logistic", ProbeFitConfig(l2=L2, tol=args.tol))
    krel_auc = [roc_auc_score(y_test, s) for s in probe.score(x_test).numpy()]
    sk_auc = [
        roc_auc_score(y_test, clf.decision_function(scaler.transform(x_test[layer].numpy())))
        for layer, (scaler, clf) in enumerate(models)
    ]
    for layer, (a, b) in enumerate(zip(krel_auc, sk_auc, strict=True)):
        log(f"layer {layer:2d}: held-out AUROC krel {a:.4f} sklearn {b:.4f}")
    krel_s, sklearn_s = statistics.median(krel_times), statistics.median(sk_times)
    speedup = sklearn_s / krel_s
    max_diff = max(abs(a - b) for a, b in zip(krel_auc, sk_auc, strict=True))
    return {
        "krel_s": round(krel_s, 4),
        "sklearn_s": round(sklearn_s, 4),
        "speedup": round(speedup, 2),
        "max_auroc_diff": round(max_diff, 5),
        "targets_met": speedup >= SPEEDUP_TARGET and max_diff <= AUROC_TARGET,
        "layers": args.layers,
        "rows": args.rows,
        "dim": args.dim,
        "threads": torch.get_num_threads(),
        "tol": args.tol,
    }


def main() -> None:
    """Parse flags, run the benchmark, print progress and the final JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", type=int, default=30)
    parser.add_argument("--rows", type=int, default=4000)
    parser.add_argument("--dim", type=int, default=576)
    parser.add_argument("--quick", action="store_true", help="6 layers x 1,000 rows x 128 dims")
    parser.add_argument("--reps", type=int, default=None, help="default 1 (3 with --quick)")
    parser.add_argument("--threads", type=int, default=None, help="default: torch's")
    parser.add_argument("--tol", type=float, default=1e-4, help="gradient tolerance, both sides")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.quick:
        args.layers, args.rows, args.dim = 6, 1000, 128
    if args.reps is None:
        args.reps = 3 if args.quick else 1
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    with threadpool_limits(limits=torch.get_num_threads()):
        result = run(args)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
