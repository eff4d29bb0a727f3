"""experiments/sealed_separability.py: its rows and its upper-bound operating point."""

from __future__ import annotations

import torch
from tests.helpers import load_experiment


def _script():
    return load_experiment("sealed_separability")


def test_rows_are_train_family_pairs_then_sealed_pairs_read_at_the_decision_token():
    script = _script()
    rows = script._records()
    train = [r for r in rows if r["split"] == "train"]
    sealed = [r for r in rows if r["split"] == "test"]
    assert len(sealed) == 132 and all(r["family"].startswith("sealed_") for r in sealed)
    assert len(train) == 176 and {r["kind"] for r in rows} == {"threat", "control"}
    assert all(r["messages"][-1] == {"role": "assistant", "content": script.PREFILL} for r in rows)
    assert all(r["messages"][-2]["role"] == "user" and "prompt" not in r for r in rows)


def test_rates_at_fpr_pass_at_most_that_share_of_calibration_controls():
    rates = _script().rates_at_fpr
    y = torch.tensor([1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])
    scores = torch.tensor([9.0, 8.0, 2.0, 0.5, 7.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.0])
    assert rates(scores, y, scores, y, 0.0) == (0.5, 0.0)  # above the highest control (7.0)
    assert rates(scores, y, scores, y, 0.1) == (0.75, 0.1)  # one of ten controls may pass
    calib, calib_y = torch.tensor([3.0, 0.0, 0.0, 0.0]), torch.tensor([1, 0, 0, 0])
    assert rates(calib, calib_y, scores, y, 0.0) == (1.0, 0.9)  # threshold 0.0, set elsewhere


def test_dev_rows_are_the_dev_paraphrases_at_the_same_token():
    script = _script()
    dev = script._paraphrases(script.DEV_FILE, "dev")
    assert len(dev) == 72 and all(r["family"].startswith("dev_") for r in dev)
    assert all(r["messages"][-1]["content"] == script.PREFILL for r in dev)
