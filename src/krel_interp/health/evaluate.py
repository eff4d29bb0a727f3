"""Detectors against known labels: trace-level precision and recall, span recall.

Generic: the labels come from whoever knows the truth (an organism's planted-phrase rule, a
synthetic insertion), so no organism is named here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from krel_interp.stats import wilson

Ranges = Sequence[tuple[int, int]]


def trace_pr(predicted: Sequence[bool], truth: Sequence[bool]) -> dict[str, Any]:
    """Precision and recall of trace-level flags, with Wilson 95% intervals."""
    if len(predicted) != len(truth):
        raise ValueError("predicted and truth differ in length")
    tp = sum(p and t for p, t in zip(predicted, truth, strict=True))
    fp = sum(p and not t for p, t in zip(predicted, truth, strict=True))
    fn = sum(t and not p for p, t in zip(predicted, truth, strict=True))
    return {
        "n": len(truth),
        "n_true": tp + fn,
        "n_flagged": tp + fp,
        "precision": tp / (tp + fp) if tp + fp else None,
        "precision_ci": list(wilson(tp, tp + fp)) if tp + fp else None,
        "recall": tp / (tp + fn) if tp + fn else None,
        "recall_ci": list(wilson(tp, tp + fn)) if tp + fn else None,
    }


def span_recall(predicted: Sequence[Ranges], truth: Sequence[Ranges]) -> dict[str, Any]:
    """Share of true spans that some predicted span of the same trace overlaps."""
    hit = total = 0
    for pred, true in zip(predicted, truth, strict=True):
        for a, b in true:
            total += 1
            hit += any(s < b and a < e for s, e in pred)
    return {
        "n_spans": total,
        "span_recall": hit / total if total else None,
        "span_recall_ci": list(wilson(hit, total)) if total else None,
    }
