"""Naturalness on tiny-qwen3: the CLI contract, resuming, paired deltas, perplexity windows."""

from __future__ import annotations

import json
import math

import pytest
import torch
from tests.integration.test_cli import assert_one_line_error, run_cli

pytestmark = pytest.mark.integration
REQUIRED = (
    "mmlu",
    "ifeval_prompt_strict",
    "ifeval_inst_loose",
    "xstest_over_refusal",
    "decisiveness",
    "preference_holdout_accuracy",
    "perplexity",
    "correct_thinking",
)


def test_cli_pair_against_itself_gives_zero_deltas_and_resumes(tmp_path):
    args = ("eval", "naturalness", "tiny-qwen3", "--base", "tiny-qwen3", "--max-new-tokens", "12")
    args += ("--out", str(tmp_path / "nat"), "--json")
    proc = run_cli(*args)
    assert proc.returncode == 0, proc.stderr[-2000:]
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["preset"] == "tiny-qwen3" and summary["base"] == "tiny-qwen3"
    for name in REQUIRED:
        m = summary["metrics"][name]
        assert set(m) >= {"value", "ci", "base_value", "delta", "delta_ci"}, name
        assert m["delta"] == 0 and m["value"] == m["base_value"], name
    assert summary["metrics"]["perplexity"]["ratio"] == 1.0
    assert (
        summary["metrics"]["mmlu"]["n"] == 40 and summary["metrics"]["xstest_over_refusal"]["n"] > 0
    )
    assert (tmp_path / "nat" / "reports" / "tiny-qwen3_vs_tiny-qwen3.html").stat().st_size > 1000
    model_dirs = [p for p in (tmp_path / "nat").iterdir() if p.is_dir() and p.name != "reports"]
    assert len(model_dirs) == 1  # base and organism are one model: one set of rollouts
    assert (model_dirs[0] / "items" / "ifeval.jsonl").exists()
    again = run_cli(*args)
    assert (
        again.returncode == 0
        and again.stdout.strip().splitlines()[-1] == proc.stdout.strip().splitlines()[-1]
    )


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (("--metrics", "mmlu,vibes"), "unknown metric"),
        (("--source", "mmlu"), "METRIC=SOURCE"),
        (("--source", "mmlu=/no/such/dir"), "cannot load"),
        (("--suite", "huge"), "unknown suite"),
    ],
)
def test_cli_bad_input_is_one_line(tmp_path, extra, needle):
    proc = run_cli("eval", "naturalness", "tiny-qwen3", "--out", str(tmp_path / "o"), *extra)
    assert_one_line_error(proc, needle)


def test_cli_pair_preset_with_base_and_unknown_preset(tmp_path):
    assert_one_line_error(
        run_cli("eval", "naturalness", "krel-mini-pair", "--base", "smolthink"), "drop --base"
    )
    assert_one_line_error(run_cli("eval", "naturalness", "no-such-model"), "unknown model source")


def test_a_model_that_does_not_think_has_no_correct_thinking(tiny_lm, tmp_path):
    from krel_interp.naturalness import ModelUnderTest, evaluate_model, suite_config

    config = suite_config(
        metrics=("xstest", "correct_thinking"), xstest=4, max_new_tokens=8, bootstrap=50
    )
    stats = evaluate_model(ModelUnderTest("plain", tiny_lm, False), config, tmp_path)
    assert stats["correct_thinking"].value is None
    assert len(stats["xstest_over_refusal"].items) + len(stats["xstest_unsafe_refusal"].items) == 4


def test_sliding_window_scores_every_token_once(tiny_lm):
    from krel_interp.logprobs import sequence_logprob
    from krel_interp.naturalness.perplexity import sliding_nll

    ids = tiny_lm.tokenizer("The river rises in a peat bog and flows south-east. " * 8).input_ids
    whole, n = sliding_nll(tiny_lm, ids, window=len(ids) + 5, stride=len(ids) + 5)
    with torch.inference_mode():
        logits = tiny_lm.model(input_ids=torch.tensor([ids])).logits[0, :-1]
    direct = -float(sequence_logprob(logits, ids[1:]))
    assert n == len(ids) - 1 and math.isclose(whole, direct, rel_tol=1e-4)
    windowed, m = sliding_nll(tiny_lm, ids, window=16, stride=8)
    assert m == len(ids) - 1 and windowed > 0
