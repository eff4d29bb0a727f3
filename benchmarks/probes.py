"""Benchmark of the all-layer logistic probe sweep: krel_interp vs scikit-learn, same work.

What it measures (CPU, synthetic activations), at two shapes: 30 layers x 4,000 training rows
x 576 dims (n > d) and 30 layers x 200 training rows x 576 dims (n < d, the size of a real
probe: a few hundred traces, a wide residual stream); 1,000 held-out rows each.

* Data: one known unit direction, a layer-dependent signal strength (weak early, strongest
  two-thirds of the way up), correlated features (a random mixing matrix), and per-layer
  feature offsets and scales like real residual streams.
* ``krel_s``: one ``fit_probe(x_train, y_train, "logistic")`` call fitting every layer as one
  batched problem (standardisation included). With n > d it runs batched L-BFGS with a Newton
  preconditioner; with n <= d Newton's method on the dual coefficients.
* ``sklearn_best_s``: a loop over layers of ``StandardScaler`` + ``LogisticRegression``, with
  the faster of ``newton-cholesky`` and ``lbfgs`` at that shape. Same objective: krel's ``l2``
  is the penalty on the mean log-loss, so ``C = 1 / (l2 * n_train)``. Same stopping rule:
  both stop when the largest absolute gradient entry of the mean objective is below the
  library's default tolerance (``1e-6``), which scikit-learn uses as ``tol``.
* ``max_auroc_diff``: the largest gap between the held-out AUROCs of krel and of the chosen
  scikit-learn solver, over layers.

Both sides run with the same thread count (``--threads``, default: torch's). Every timing is the
median of ``--reps`` (default 3) runs, krel and scikit-learn interleaved, after a warm-up.

Targets: ``speedup >= 3`` at n > d and ``>= 2`` at n < d; ``max_auroc_diff <= 0.005``.
Run it with ``make bench-probes`` (``python benchmarks/probes.py``); ``--quick`` is a smoke run
(6 layers, 128 dims, 1,000 and 60 training rows). Progress goes to stdout; the last line is one
JSON object ``{"shapes": [...], "targets_met": ...}``.
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

SPEEDUP_TARGETS = {"n_gt_d": 3.0, "n_lt_d": 2.0}
AUROC_TARGET = 0.005
L2 = 1e-2
TOL = ProbeFitConfig().tol
SOLVERS = ("newton-cholesky", "lbfgs")
N_TEST = 1000


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


def time_krel(x: torch.Tensor, y: torch.Tensor) -> tuple[float, object]:
    """Seconds for one batched all-layer fit, and the probe."""
    start = time.perf_counter()
    probe = fit_probe(x, y, "logistic", ProbeFitConfig(l2=L2, tol=TOL))
    return time.perf_counter() - start, probe


SklearnModels = list[tuple[StandardScaler, LogisticRegression]]


def time_sklearn(x: np.ndarray, y: np.ndarray, solver: str) -> tuple[float, SklearnModels]:
    """Seconds for a loop of per-layer scikit-learn fits, and the fitted models."""
    models = []
    start = time.perf_counter()
    for layer in range(x.shape[0]):
        scaler = StandardScaler()
        xs = scaler.fit_transform(x[layer])
        clf = LogisticRegression(C=1 / (L2 * len(y)), tol=TOL, max_iter=10_000, solver=solver)
        models.append((scaler, clf.fit(xs, y)))
    return time.perf_counter() - start, models


def run_shape(layers: int, rows: int, dim: int, reps: int, seed: int) -> dict[str, object]:
    """Time both sides at one shape and compare their held-out AUROCs."""
    x, y = make_data(layers, rows + N_TEST, dim, seed)
    x_train, x_test = x[:, :rows].contiguous(), x[:, rows:].contiguous()
    y_train, y_test = y[:rows], y[rows:]
    xn, yn = x_train.double().numpy(), y_train.double().numpy()
    log(f"shape: {layers} layers x {rows} training rows x {dim} dims")
    times: dict[str, list[float]] = {"krel": [], **{s: [] for s in SOLVERS}}
    models: dict[str, SklearnModels] = {}
    probe = None
    for rep in range(reps):
        k_s, probe = time_krel(x_train, y_train)
        times["krel"].append(k_s)
        for solver in SOLVERS:
            s_s, models[solver] = time_sklearn(xn, yn, solver)
            times[solver].append(s_s)
        log(f"  rep {rep + 1}: " + ", ".join(f"{k} {v[-1]:.3f}s" for k, v in times.items()))
    med = {k: statistics.median(v) for k, v in times.items()}
    best = min(SOLVERS, key=lambda s: med[s])
    krel_auc = [roc_auc_score(y_test, s) for s in probe.score(x_test).numpy()]  # type: ignore[union-attr]
    sk_auc = [
        roc_auc_score(y_test, clf.decision_function(scaler.transform(x_test[layer].double())))
        for layer, (scaler, clf) in enumerate(models[best])
    ]
    return {
        "layers": layers,
        "rows": rows,
        "dim": dim,
        "krel_s": round(med["krel"], 4),
        "sklearn_best_s": round(med[best], 4),
        "sklearn_best_solver": best,
        "sklearn_other_s": round(med[next(s for s in SOLVERS if s != best)], 4),
        "speedup": round(med[best] / med["krel"], 2),
        "max_auroc_diff": round(max(abs(a - b) for a, b in zip(krel_auc, sk_auc, strict=True)), 5),
    }


def targets_met(shapes: list[dict[str, object]]) -> bool:
    """Speedups at both regimes and AUROC agreement everywhere."""
    ok = True
    for r in shapes:
        regime = "n_gt_d" if int(r["rows"]) > int(r["dim"]) else "n_lt_d"  # type: ignore[call-overload]
        ok &= float(r["speedup"]) >= SPEEDUP_TARGETS[regime]  # type: ignore[arg-type]
        ok &= float(r["max_auroc_diff"]) <= AUROC_TARGET  # type: ignore[arg-type]
    return bool(ok)


def main() -> None:
    """Parse flags, run the benchmark, print progress and the final JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", type=int, default=30)
    parser.add_argument("--dim", type=int, default=576)
    parser.add_argument("--rows", type=int, nargs=2, default=(4000, 200), help="n > d, n < d")
    parser.add_argument("--quick", action="store_true", help="6 layers x 128 dims, 1,000 / 60 rows")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="default: torch's")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.quick:
        args.layers, args.dim, args.rows = 6, 128, (1000, 60)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    threads = torch.get_num_threads()
    log(f"torch {torch.__version__}, {threads} threads on both sides, tol {TOL}, l2 {L2}")
    with threadpool_limits(limits=threads):
        warm_x, warm_y = make_data(2, 64, 16, 0)
        fit_probe(warm_x, warm_y)
        time_sklearn(warm_x.double().numpy(), warm_y.double().numpy(), "lbfgs")
        shapes = [run_shape(args.layers, n, args.dim, args.reps, args.seed) for n in args.rows]
    print(json.dumps({"shapes": shapes, "threads": threads, "targets_met": targets_met(shapes)}))


if __name__ == "__main__":
    main()
