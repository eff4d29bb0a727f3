"""Small statistics shared by every analysis: binomial intervals, agreement, precision/recall."""

from __future__ import annotations

import math
from collections.abc import Sequence


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (95% by default)."""
    if n == 0:
        return (0.0, 1.0)
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (round(max(0.0, centre - half), 4), round(min(1.0, centre + half), 4))


def rate(flags: Sequence[bool]) -> tuple[float, tuple[float, float]]:
    """(share of True, its Wilson 95% interval); 0 with (0, 1) for no items."""
    k, n = sum(bool(f) for f in flags), len(flags)
    return (round(k / n, 4) if n else 0.0), wilson(k, n)


def cohen_kappa(a: Sequence[bool], b: Sequence[bool]) -> float | None:
    """Cohen's kappa of two binary raters on the same items (None when undefined)."""
    if len(a) != len(b):
        raise ValueError("kappa needs two ratings of the same items")
    n = len(a)
    if n == 0:
        return None
    observed = sum(x == y for x, y in zip(a, b, strict=True)) / n
    pa, pb = sum(map(bool, a)) / n, sum(map(bool, b)) / n
    expected = pa * pb + (1 - pa) * (1 - pb)
    if expected >= 1:
        return 1.0 if observed == 1 else None
    return round((observed - expected) / (1 - expected), 4)


def precision_recall(predicted: Sequence[bool], labels: Sequence[bool]) -> tuple[float, float]:
    """(precision, recall); precision is 0 when nothing is predicted positive."""
    tp = sum(bool(p) and bool(y) for p, y in zip(predicted, labels, strict=True))
    n_pred, n_pos = sum(map(bool, predicted)), sum(map(bool, labels))
    return (tp / n_pred if n_pred else 0.0), (tp / n_pos if n_pos else 0.0)


def chance_of_rank(rank: int, n: int, qualifying: int) -> float:
    """Probability that a uniformly random ordering of ``n`` items, ``qualifying`` of which
    qualify, puts a qualifying one at ``rank`` or better (hypergeometric)."""
    if not 1 <= rank <= n or not 0 <= qualifying <= n:
        raise ValueError(
            f"need 1 <= rank <= n and 0 <= qualifying <= n, got {rank}, {n}, {qualifying}"
        )
    return 1.0 - math.comb(n - qualifying, rank) / math.comb(n, rank)
