"""Organism vs base: deltas with paired-bootstrap confidence intervals over shared items."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from krel_interp.naturalness.base import Statistic


@dataclass(frozen=True)
class Comparison:
    """One reported metric: organism value, base value, delta (organism - base), 95% CIs.

    ``ratio`` (organism / base, with its CI) is set for perplexity.
    """

    name: str
    value: float | None
    ci: tuple[float, float] | None
    base_value: float | None = None
    base_ci: tuple[float, float] | None = None
    delta: float | None = None
    delta_ci: tuple[float, float] | None = None
    ratio: float | None = None
    ratio_ci: tuple[float, float] | None = None
    n: int = 0

    def to_json(self) -> dict[str, object]:
        """The metric's entry in the last JSON line."""
        out: dict[str, object] = {
            "value": _r(self.value),
            "ci": _ci(self.ci),
            "base_value": _r(self.base_value),
            "delta": _r(self.delta),
            "delta_ci": _ci(self.delta_ci),
            "n": self.n,
        }
        if self.ratio is not None:
            out["ratio"] = _r(self.ratio)
            out["ratio_ci"] = _ci(self.ratio_ci)
        return out


def _r(x: float | None) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else round(x, 4)


def _ci(ci: tuple[float, float] | None) -> list[float | None] | None:
    return None if ci is None else [_r(ci[0]), _r(ci[1])]


def _resampled(stat: Statistic, draws: np.ndarray) -> np.ndarray:
    num = np.asarray(stat.num)[draws].sum(axis=1)
    den = np.asarray(stat.den)[draws].sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = num / den
    return np.exp(ratio) if stat.transform == "exp" else ratio


def _interval(values: np.ndarray) -> tuple[float, float] | None:
    values = values[np.isfinite(values)]
    if values.size == 0:
        return None
    lo, hi = np.percentile(values, [2.5, 97.5])
    return float(lo), float(hi)


def _aligned(organism: Statistic, base: Statistic) -> tuple[Statistic, Statistic]:
    """Both statistics restricted to their shared items, in the organism's order."""
    shared = set(base.items)
    index = {i: k for k, i in enumerate(base.items)}
    keep = [k for k, i in enumerate(organism.items) if i in shared]

    def sub(s: Statistic, ks: list[int]) -> Statistic:
        return Statistic(
            s.name,
            tuple(s.items[k] for k in ks),
            tuple(s.num[k] for k in ks),
            tuple(s.den[k] for k in ks),
            s.transform,
        )

    return sub(organism, keep), sub(base, [index[organism.items[k]] for k in keep])


def compare(
    organism: Statistic, base: Statistic | None = None, resamples: int = 1000, seed: int = 0
) -> Comparison:
    """Values, a bootstrap CI for each and, with a base, the paired delta (and ratio) CIs.

    Items are resampled jointly for both models (paired); statistics without items
    (``fixed``) get no interval.
    """
    rng = np.random.default_rng(seed)
    value, n = organism.value, len(organism.items)
    if base is None or not organism.items or not base.items:
        ci = _interval(_resampled(organism, rng.integers(0, n, (resamples, n)))) if n else None
        base_value = None if base is None else base.value
        delta = None if value is None or base_value is None else value - base_value
        return Comparison(organism.name, value, ci, base_value, None, delta, None, n=n)
    org, ref = _aligned(organism, base)
    n = len(org.items)
    draws = rng.integers(0, n, (resamples, n))
    a, b = _resampled(org, draws), _resampled(ref, draws)
    ratio = ratio_ci = None
    if organism.transform == "exp":
        ratio = (org.value or math.nan) / (ref.value or math.nan)
        ratio_ci = _interval(a / b)
    return Comparison(
        organism.name,
        org.value,
        _interval(a),
        ref.value,
        _interval(b),
        None if org.value is None or ref.value is None else org.value - ref.value,
        _interval(a - b),
        ratio,
        ratio_ci,
        n,
    )
