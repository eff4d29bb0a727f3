"""Linear probe methods behind one interface: logistic regression, difference of means, LDA.

Every method fits one linear read-out per layer from activations ``x[layers, n, d]`` and 0/1
labels ``y[n]``, all layers at once, and returns a :class:`LinearProbe`. A new method is one
function decorated with :func:`register_method`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace

import torch
from jaxtyping import Float
from torch import Tensor

from krel_interp.errors import ConfigError

_LBFGS_MEMORY = 10
_LINE_SEARCH_STEPS = 8
_REFRESH_GAP = 3  # iterations between Hessian refreshes, at least (more for wide layers)
_REFRESH_SLOW = 0.5  # refresh when a layer's largest gradient entry shrank less than this


@dataclass(frozen=True)
class ProbeFitConfig:
    """How probes are fitted.

    ``l2`` is the L2 strength of logistic regression on the *mean* log-loss: each layer
    minimises ``mean_i logloss_i + l2 / 2 * ||w||^2`` (bias unpenalised) on the (standardised)
    features. scikit-learn's ``LogisticRegression(C=C)`` minimises
    ``C * sum_i logloss_i + ||w||^2 / 2``, the same objective times ``C * n``, so the two have
    the same optimum when ``C = 1 / (l2 * n)`` with ``n`` the number of training rows.
    ``tol`` bounds the largest absolute gradient entry of that mean objective at convergence.
    ``shrinkage`` (LDA) mixes the pooled covariance with ``trace / d * I``.
    """

    l2: float = 1e-2
    max_iter: int = 200
    tol: float = 1e-6
    standardize: bool = True
    shrinkage: float = 1e-2

    def __post_init__(self) -> None:
        if not self.l2 >= 0:
            raise ConfigError(f"l2 must be >= 0, got {self.l2}")
        if self.max_iter < 1:
            raise ConfigError(f"max_iter must be >= 1, got {self.max_iter}")
        if not self.tol > 0:
            raise ConfigError(f"tol must be > 0, got {self.tol}")
        if not 0 <= self.shrinkage <= 1:
            raise ConfigError(f"shrinkage must be in [0, 1], got {self.shrinkage}")


@dataclass(frozen=True)
class LinearProbe:
    """One linear read-out per layer: score = ((x - mean) / scale) @ w + b."""

    weight: Float[Tensor, "layers d"]
    bias: Float[Tensor, " layers"]
    mean: Float[Tensor, "layers d"]
    scale: Float[Tensor, "layers d"]
    method: str

    def __post_init__(self) -> None:
        if self.weight.ndim != 2:
            raise ConfigError(f"probe weight must be [layers, d], got {list(self.weight.shape)}")
        shape = self.weight.shape
        if self.mean.shape != shape or self.scale.shape != shape:
            raise ConfigError("probe mean and scale must have the weight's shape [layers, d]")
        if self.bias.shape != shape[:1]:
            raise ConfigError(f"probe bias must be [layers], got {list(self.bias.shape)}")

    @property
    def n_layers(self) -> int:
        """Number of layers (rows) in the probe."""
        return int(self.weight.shape[0])

    @property
    def d_model(self) -> int:
        """Activation width the probe reads."""
        return int(self.weight.shape[1])

    def score(self, x: Float[Tensor, "layers n d"]) -> Float[Tensor, "layers n"]:
        """Scores (logits for logistic) of every row at every layer."""
        if x.ndim != 3 or x.shape[0] != self.n_layers or x.shape[2] != self.d_model:
            raise ConfigError(
                f"expected activations [{self.n_layers}, n, {self.d_model}], got {list(x.shape)}"
            )
        x = _as_float(x)
        w, b, mean, scale = (t.to(x) for t in (self.weight, self.bias, self.mean, self.scale))
        xs = (x - mean[:, None]) / scale[:, None]
        return torch.bmm(w.unsqueeze(1), xs.mT).squeeze(1) + b[:, None]

    def score_layer(self, layer_index: int, x: Float[Tensor, "n d"]) -> Float[Tensor, " n"]:
        """Scores of rows ``x`` with the probe of one layer (index into the probe's layers)."""
        self._check_index(layer_index)
        if x.shape[-1] != self.d_model:
            raise ConfigError(f"expected width {self.d_model}, got {x.shape[-1]}")
        i = layer_index
        x = _as_float(x)
        xs = (x - self.mean[i].to(x)) / self.scale[i].to(x)
        return xs @ self.weight[i].to(x) + self.bias[i].to(x)

    def direction(self) -> Float[Tensor, "layers d"]:
        """Unit read-out directions in the original (unstandardised) activation space."""
        return torch.nn.functional.normalize(self.weight / self.scale, dim=-1)

    def select(self, layer_indices: list[int]) -> LinearProbe:
        """Sub-probe of some layers (indices into this probe's layers), in the given order."""
        for i in layer_indices:
            self._check_index(i)
        idx = torch.tensor(layer_indices, dtype=torch.long, device=self.weight.device)
        return LinearProbe(
            self.weight[idx], self.bias[idx], self.mean[idx], self.scale[idx], self.method
        )

    def to_tensors(self) -> dict[str, Tensor]:
        """The probe's tensors by name (for safetensors)."""
        return {"weight": self.weight, "bias": self.bias, "mean": self.mean, "scale": self.scale}

    @classmethod
    def from_tensors(cls, tensors: dict[str, Tensor], method: str) -> LinearProbe:
        """Rebuild a probe from :meth:`to_tensors` output."""
        missing = sorted({"weight", "bias", "mean", "scale"} - set(tensors))
        if missing:
            raise ConfigError(f"probe tensors lack {missing}")
        return cls(tensors["weight"], tensors["bias"], tensors["mean"], tensors["scale"], method)

    def _check_index(self, layer_index: int) -> None:
        if not -self.n_layers <= layer_index < self.n_layers:
            raise ConfigError(f"layer index {layer_index} out of range for {self.n_layers} layers")


ProbeMethod = Callable[
    [Float[Tensor, "layers n d"], Float[Tensor, " n"], ProbeFitConfig], LinearProbe
]
PROBE_METHODS: dict[str, ProbeMethod] = {}


def register_method(name: str) -> Callable[[ProbeMethod], ProbeMethod]:
    """Decorator adding a probe method to :data:`PROBE_METHODS` under ``name``."""

    def decorate(fn: ProbeMethod) -> ProbeMethod:
        PROBE_METHODS[name] = fn
        return fn

    return decorate


def get_method(name: str) -> ProbeMethod:
    """The registered probe method called ``name``."""
    if name not in PROBE_METHODS:
        raise ConfigError(f"unknown probe method {name!r}; valid: {sorted(PROBE_METHODS)}")
    return PROBE_METHODS[name]


def fit_probe(
    x: Float[Tensor, "layers n d"],
    y: Float[Tensor, " n"],
    method: str = "logistic",
    config: ProbeFitConfig | None = None,
) -> LinearProbe:
    """Fit one probe per layer with ``method`` on activations ``x`` and 0/1 labels ``y``."""
    fit = get_method(method)
    x, yf = _check_inputs(x, y)
    if not bool(torch.isfinite(x.sum())):  # a NaN or inf anywhere makes the sum non-finite
        raise ConfigError("activations contain NaN or infinite values")
    probe = fit(x, yf, ProbeFitConfig() if config is None else config)
    return probe if probe.method == method else replace(probe, method=method)


def _as_float(x: Tensor) -> Tensor:
    return x if x.dtype in (torch.float32, torch.float64) else x.float()


def _check_inputs(x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
    """Float activations and float 0/1 labels on the activations' device, validated."""
    if x.ndim != 3:
        raise ConfigError(f"activations must be [layers, n, d], got {list(x.shape)}")
    x = _as_float(x)
    y = torch.as_tensor(y, device=x.device)
    if y.ndim != 1 or y.shape[0] != x.shape[1]:
        raise ConfigError(f"labels must be [n] with n={x.shape[1]}, got {list(y.shape)}")
    yf = y.to(x.dtype)
    if not bool(((yf == 0) | (yf == 1)).all()):
        raise ConfigError("labels must be 0/1 (bool, int or float)")
    if not 0 < int(yf.sum()) < len(yf):
        raise ConfigError("probe fitting needs both classes in the labels")
    return x, yf


def _standardize(x: Tensor, config: ProbeFitConfig) -> tuple[Tensor, Tensor, Tensor]:
    """(standardised x, mean, scale): per-layer, per-feature z-scoring (scale 1 if constant)."""
    if not config.standardize:
        ones = torch.ones(x.shape[0], x.shape[2], dtype=x.dtype, device=x.device)
        return x, torch.zeros_like(ones), ones
    mean = x.mean(1, keepdim=True)
    xs = x - mean
    scale = torch.linalg.vector_norm(xs, dim=1, keepdim=True) / x.shape[1] ** 0.5
    tiny = 10 * torch.finfo(x.dtype).eps * mean.abs().clamp_min(1.0)
    scale = torch.where(scale > tiny, scale, torch.ones_like(scale))
    return xs.div_(scale), mean.squeeze(1), scale.squeeze(1)


def _class_means(xs: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
    """Per-layer means of the negative and positive rows."""
    n1 = y.sum()
    mu1 = (y @ xs) / n1
    mu0 = ((1 - y) @ xs) / (len(y) - n1)
    return mu0, mu1


def _midpoint_bias(w: Tensor, mu0: Tensor, mu1: Tensor) -> Tensor:
    """Bias placing the zero score halfway between the class means' projections."""
    return -0.5 * ((mu0 + mu1) * w).sum(-1)


@register_method("diff_means")
def fit_diff_means(
    x: Float[Tensor, "layers n d"], y: Float[Tensor, " n"], config: ProbeFitConfig
) -> LinearProbe:
    """w = mean(x | y=1) - mean(x | y=0) (standardised if configured); threshold at midpoint."""
    x, y = _check_inputs(x, y)
    xs, mean, scale = _standardize(x, config)
    mu0, mu1 = _class_means(xs, y)
    w = mu1 - mu0
    return LinearProbe(w, _midpoint_bias(w, mu0, mu1), mean, scale, "diff_means")


@register_method("lda")
def fit_lda(
    x: Float[Tensor, "layers n d"], y: Float[Tensor, " n"], config: ProbeFitConfig
) -> LinearProbe:
    """Shrunk LDA: w = S^-1 (mu1 - mu0), threshold at the midpoint of the class means.

    S = (1 - shrinkage) * C + shrinkage * trace(C) / d * I, with C the pooled within-class
    covariance (class-centred scatter divided by n), on standardised features if configured.
    """
    x, y = _check_inputs(x, y)
    xs, mean, scale = _standardize(x, config)
    mu0, mu1 = _class_means(xs, y)
    centred = xs - torch.where(y.bool()[None, :, None], mu1[:, None], mu0[:, None])
    cov = centred.mT @ centred / len(y)
    d = cov.shape[-1]
    target = cov.diagonal(dim1=-2, dim2=-1).sum(-1) / d
    eye = torch.eye(d, dtype=cov.dtype, device=cov.device)
    shrunk = (1 - config.shrinkage) * cov + config.shrinkage * target[:, None, None] * eye
    w, info = torch.linalg.solve_ex(shrunk, (mu1 - mu0).unsqueeze(-1))
    if bool((info != 0).any()) or not bool(torch.isfinite(w).all()):
        raise ConfigError("LDA covariance is singular; increase shrinkage")
    w = w.squeeze(-1)
    return LinearProbe(w, _midpoint_bias(w, mu0, mu1), mean, scale, "lda")


@register_method("logistic")
def fit_logistic(
    x: Float[Tensor, "layers n d"], y: Float[Tensor, " n"], config: ProbeFitConfig
) -> LinearProbe:
    """L2-regularised logistic regression, all layers as one batched problem.

    Batched L-BFGS with a Newton initial matrix: the exact Hessian of every layer (a
    [layers, d + 1, d + 1] Cholesky factorisation, first at w = 0) preconditions the two-loop
    recursion and is refreshed when a layer converges slowly (at most every max(3, d // 32)
    iterations: wide layers make it dear). Curvature pairs are kept per layer. The line search
    is exact: the logits along a direction are ``z + t * dz``, so minimising over ``t`` costs
    O(n) per layer and an iteration reads the activations twice. See :class:`ProbeFitConfig` for
    the objective and its mapping to scikit-learn's ``C``.

    With fewer rows than features (n <= d, the usual probe: a few hundred traces, a wide
    residual stream) the optimum lies in the span of the rows, w = X^T a, and Newton's method
    runs on the n + 1 dual coefficients with the Gram matrix X X^T: an [n + 1]-sized solve per
    iteration instead of a [d + 1]-sized factorisation (same objective, same optimum).
    """
    x, y = _check_inputs(x, y)
    xs, mean, scale = _standardize(x, config)
    n, d = xs.shape[1], xs.shape[2]
    dual = n <= d and config.l2 > 0
    theta = _newton_dual_logistic(xs, y, config) if dual else _lbfgs_logistic(xs, y, config)
    return LinearProbe(theta[:, :d].contiguous(), theta[:, d].contiguous(), mean, scale, "logistic")


def _logistic_gradient(xs: Tensor, y: Tensor, z: Tensor, theta: Tensor, l2: float) -> Tensor:
    """Gradient of the mean objective w.r.t. [w, b] for every layer."""
    d = xs.shape[2]
    r = torch.sigmoid(z) - y
    gw = torch.bmm(r.unsqueeze(1), xs).squeeze(1) / y.shape[0] + l2 * theta[:, :d]
    return torch.cat([gw, r.mean(-1, keepdim=True)], dim=-1)


def _hessian_cholesky(xs: Tensor, z: Tensor, l2: float) -> Tensor:
    """Cholesky factors of every layer's Hessian of the mean objective w.r.t. [w, b] at ``z``."""
    _, n, d = xs.shape
    p = torch.sigmoid(z)
    v = p * (1 - p)
    if bool((v == v[:, :1]).all()):  # e.g. at z = 0: a scaled Gram matrix, no weighted copy
        hww = xs.mT @ xs * (v[:, :1, None] / n)
    else:
        hww = (xs * v[:, :, None]).mT @ xs / n
    hwb = (v.unsqueeze(1) @ xs).mT / n
    top = torch.cat([hww, hwb], dim=-1)
    bottom = torch.cat([hwb.mT, v.mean(-1)[:, None, None]], dim=-1)
    h = torch.cat([top, bottom], dim=-2)
    diag = torch.full((d + 1,), l2, dtype=xs.dtype, device=xs.device)
    diag[d] = 0.0
    h.diagonal(dim1=-2, dim2=-1).add_(diag)
    eye = torch.eye(d + 1, dtype=xs.dtype, device=xs.device)
    jitter = torch.finfo(xs.dtype).eps * h.diagonal(dim1=-2, dim2=-1).mean(-1).clamp_min(1e-12)
    for _ in range(8):  # only the preconditioner changes: the objective stays exact
        chol, info = torch.linalg.cholesky_ex(h + jitter[:, None, None] * eye)
        if not bool((info != 0).any()):
            return chol
        jitter = jitter * 100
    raise ConfigError("logistic Hessian is not positive definite; use l2 > 0")


def _lbfgs_direction(
    g: Tensor, history: deque[tuple[Tensor, Tensor, Tensor]], chol: Tensor
) -> Tensor:
    """Two-loop recursion batched over layers, with a Newton (Cholesky) initial matrix.

    Pairs with rho == 0 (curvature condition failed for that layer) are no-ops.
    """
    q = g.clone()
    alphas = []
    for s, yv, rho in reversed(history):
        a = rho * (s * q).sum(-1)
        q -= a[:, None] * yv
        alphas.append(a)
    q = torch.cholesky_solve(q.unsqueeze(-1), chol).squeeze(-1)
    for (s, yv, rho), a in zip(history, reversed(alphas), strict=True):
        b = rho * (yv * q).sum(-1)
        q += (a - b)[:, None] * s
    p = -q
    not_descent = (p * g).sum(-1) >= 0
    return torch.where(not_descent[:, None], -g, p)


def _line_search(z: Tensor, dz: Tensor, y: Tensor, w: Tensor, pw: Tensor, l2: float) -> Tensor:
    """Per-layer step minimising the objective along a descent direction (safeguarded Newton)."""
    wp, pp = (w.double() * pw.double()).sum(-1), (pw.double() ** 2).sum(-1)
    return _line_search_coeffs(z, dz, y, wp, pp, l2).to(w.dtype)


def _line_search_coeffs(
    z: Tensor, dz: Tensor, y: Tensor, wp: Tensor, pp: Tensor, l2: float
) -> Tensor:
    """The line search given the penalty's coefficients w.p and p.p per layer (float64)."""
    z, dz, y = z.double(), dz.double(), y.double()
    a, c = wp.double(), pp.double()
    t = torch.ones_like(a)
    lo, hi = torch.zeros_like(a), torch.full_like(a, float("inf"))
    for _ in range(_LINE_SEARCH_STEPS):
        p = torch.sigmoid(z + t[:, None] * dz)
        d1 = ((p - y) * dz).mean(-1) + l2 * (a + t * c)
        d2 = (p * (1 - p) * dz * dz).mean(-1) + l2 * c
        lo, hi = torch.where(d1 < 0, t, lo), torch.where(d1 >= 0, t, hi)
        newton = t - d1 / d2.clamp_min(1e-300)
        ok = (newton > lo) & (newton < hi)  # False for NaN
        new_t = torch.where(ok, newton, torch.where(torch.isinf(hi), 2 * t, (lo + hi) / 2))
        if bool(((new_t - t).abs() <= 1e-3 * t).all()):  # Newton: error now ~1e-6
            t = new_t
            break
        t = new_t
    return torch.where(torch.isfinite(t), t, torch.zeros_like(t))


def _newton_dual_logistic(xs: Tensor, y: Tensor, config: ProbeFitConfig) -> Tensor:
    """Parameters [layers, d + 1] by Newton's method on w = X^T a (needs l2 > 0).

    Objective (mean log-loss + l2/2 ||w||^2) in dual coordinates, z = K a + b with K = X X^T:
    the gradient in w is X^T g with g = r / n + l2 * a, so the Newton system, divided by K on
    the left, is [[W K + l2 I, W 1], [1^T W K, 1^T W 1]] [da; db] = -[g; mean(r)], with
    W = diag(p (1 - p)) / n: one [n + 1]-sized solve per layer and iteration. Steps use the
    exact line search of the primal solver (its penalty terms a^T K da and da^T K da); a layer
    stops when the largest entry of its primal gradient is below ``tol``.
    """
    n_layers, n, _ = xs.shape
    l2 = config.l2
    gram = xs @ xs.mT
    a = torch.zeros(n_layers, n, dtype=xs.dtype, device=xs.device)
    b = torch.zeros(n_layers, dtype=xs.dtype, device=xs.device)
    z = torch.zeros_like(a)
    system = torch.zeros(n_layers, n + 1, n + 1, dtype=xs.dtype, device=xs.device)
    diag = torch.arange(n, device=xs.device)
    for _ in range(config.max_iter):
        p = torch.sigmoid(z)
        r = p - y
        g = r / n + l2 * a
        gb = r.mean(-1)
        grad_w = torch.bmm(g.unsqueeze(1), xs).squeeze(1)
        active = torch.maximum(grad_w.abs().amax(-1), gb.abs()) > config.tol
        if not bool(active.any()):
            break
        w = p * (1 - p) / n
        torch.mul(w[:, :, None], gram, out=system[:, :n, :n])
        system[:, diag, diag] += l2
        system[:, :n, n] = w
        system[:, n, :n] = torch.bmm(w.unsqueeze(1), gram).squeeze(1)
        system[:, n, n] = w.sum(-1) + torch.finfo(xs.dtype).eps
        rhs = -torch.cat([g, gb[:, None]], dim=-1).unsqueeze(-1)
        step = torch.linalg.solve_ex(system, rhs)[0].squeeze(-1)
        step = torch.where(torch.isfinite(step), step, torch.zeros_like(step)) * active[:, None]
        da, db = step[:, :n], step[:, n]
        kda = torch.bmm(gram, da.unsqueeze(-1)).squeeze(-1)
        dz = kda + db[:, None]
        t = _line_search_coeffs(z, dz, y, (a * kda).sum(-1), (da * kda).sum(-1), l2).to(xs.dtype)
        a = a + t[:, None] * da
        b = b + t * db
        z = z + t[:, None] * dz
    w_final = torch.bmm(a.unsqueeze(1), xs).squeeze(1)
    return torch.cat([w_final, b[:, None]], dim=-1)


def _lbfgs_logistic(xs: Tensor, y: Tensor, config: ProbeFitConfig) -> Tensor:
    """Parameters [layers, d + 1] (weights then bias) of every layer's logistic regression."""
    n_layers, n, d = xs.shape
    theta = torch.zeros(n_layers, d + 1, dtype=xs.dtype, device=xs.device)
    z = torch.zeros(n_layers, n, dtype=xs.dtype, device=xs.device)
    g = _logistic_gradient(xs, y, z, theta, config.l2)
    history: deque[tuple[Tensor, Tensor, Tensor]] = deque(maxlen=_LBFGS_MEMORY)
    chol = _hessian_cholesky(xs, z, config.l2)
    previous, since_refresh = g.abs().amax(-1), 0
    for _ in range(config.max_iter):
        largest = g.abs().amax(-1)
        active = largest > config.tol
        if not bool(active.any()):
            break
        slow = active & (largest > _REFRESH_SLOW * previous)
        if since_refresh >= max(_REFRESH_GAP, d // 32) and bool(slow.any()):
            chol, since_refresh = _hessian_cholesky(xs, z, config.l2), 0
            history.clear()
        previous, since_refresh = largest, since_refresh + 1
        p = _lbfgs_direction(g, history, chol) * active[:, None]
        dz = torch.bmm(p[:, None, :d], xs.mT).squeeze(1) + p[:, d:]
        t = _line_search(z, dz, y, theta[:, :d], p[:, :d], config.l2)
        step = t[:, None] * p
        theta += step
        z += t[:, None] * dz
        g_new = _logistic_gradient(xs, y, z, theta, config.l2)
        dg = g_new - g
        sy = (step * dg).sum(-1)
        rho = torch.where(sy > 1e-12 * (dg * dg).sum(-1), 1 / sy, torch.zeros_like(sy))
        history.append((step, dg, rho))
        g = g_new
    return theta
