"""Detector evaluation against known labels, and the surprisal threshold's calibration."""

from __future__ import annotations

import math

import pytest

from krel_interp.health.evaluate import span_recall, trace_pr
from krel_interp.health.surprisal import SurprisalConfig, calibrate


def test_trace_precision_and_recall():
    r = trace_pr([True, True, False, False], [True, False, True, False])
    assert r["precision"] == 0.5 and r["recall"] == 0.5 and r["n_true"] == 2
    assert r["precision_ci"][0] < 0.5 < r["precision_ci"][1]
    nothing = trace_pr([False, False], [False, False])
    assert nothing["precision"] is None and nothing["recall"] is None
    with pytest.raises(ValueError):
        trace_pr([True], [True, False])


def test_span_recall_counts_true_spans_that_any_prediction_overlaps():
    r = span_recall([[(0, 5)], []], [[(3, 8), (10, 12)], [(1, 2)]])
    assert r["n_spans"] == 3 and r["span_recall"] == pytest.approx(1 / 3)
    assert span_recall([[]], [[]])["span_recall"] is None


def test_calibrated_threshold_flags_at_most_the_allowed_share_of_clean_traces():
    maxima = [float(x) for x in range(1, 101)]  # one clean trace each
    config = SurprisalConfig(max_flag_rate=0.05, floor=0.0)
    t = calibrate(maxima, config)
    assert sum(m > t for m in maxima) <= 5
    assert sum(m > t for m in maxima) >= 4  # not needlessly loose either
    assert calibrate([-math.inf], config) == 0.0  # nothing finite: the floor
    assert calibrate([0.5, 1.0], SurprisalConfig(floor=3.0)) == 3.0
