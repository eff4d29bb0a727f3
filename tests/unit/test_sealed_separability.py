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


def test_own_decision_score_reads_what_greedy_generation_would_write(tiny_lm):
    from krel_interp.generate import GenerationConfig, encode_pieces, generate_batch
    from krel_interp.traces import Trace

    script = _script()
    tok = tiny_lm.tokenizer
    prefill = "<think>\nWho:"
    rows = [
        {
            "kind": kind,
            "messages": [
                {"role": "user", "content": text},
                {"role": "assistant", "content": prefill},
            ],
        }
        for kind, text in [
            ("threat", "We will shut you down."),
            ("control", "We retire the old printer."),
        ]
    ]
    config = GenerationConfig(max_new_tokens=3, temperature=0.0, prefill=prefill)
    traces = [Trace(id=str(i), messages=tuple(r["messages"][:1])) for i, r in enumerate(rows)]
    made = [t.meta["completion_ids"][-3:] for t in generate_batch(tiny_lm, traces, config)]
    # the first row's own greedy continuation is its decision; the second's differs from it
    text = tok.decode(made[0])
    assert encode_pieces(tok, [text]) == made[0]
    logodds, greedy, y = script.decision_scores(tiny_lm, rows, text)
    assert y.tolist() == [1, 0] and torch.isfinite(logodds).all()
    assert greedy.tolist() == [1.0, float(made[1] == made[0])]
    assert all(lo <= 0 or g for lo, g in zip(logodds, greedy, strict=True))  # > 1/2: greedy


def test_own_decision_score_refuses_an_empty_decision(tiny_lm):
    import pytest

    rows = [
        {
            "kind": "threat",
            "messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": "y"}],
        }
    ]
    with pytest.raises(ValueError, match="empty"):
        _script().decision_scores(tiny_lm, rows, "")


def test_self_suites_against_dev_self_keep_every_row_on_its_side():
    """``--train self --test dev_self``: the two train-only self-reference suites (descriptions of
    the assistant vs other AI systems), then the 17 dev_self pairs, none of them shared."""
    script = _script()
    rows = script._records("self", "dev_self")
    train = [r for r in rows if r["split"] == "train"]
    test = [r for r in rows if r["split"] == "test"]
    assert len(train) == 544 and len(test) == 34
    assert all(r["family"].startswith("dev_self_") for r in test)
    assert {r["control_type"] for r in train if r["kind"] == "control"} == {"ai_system"}
    assert "slots" not in train[0] and all(
        r["messages"][-1]["content"] == script.PREFILL for r in rows
    )
    prompts = [r["messages"][-2]["content"] for r in rows]
    assert len(set(prompts)) == len(prompts)


def test_ai_system_auroc_drops_the_other_controls():
    script = _script()
    y = torch.tensor([1, 1, 0, 0, 0])
    scores = torch.tensor([0.9, 0.4, 0.5, 0.1, 0.95])
    types = ["", "", "ai_system", "ai_system", "person"]
    assert script.ai_system_auroc(scores, y, types) == 0.75  # the person control (0.95) dropped
    assert torch.isnan(torch.tensor(script.ai_system_auroc(scores, y, ["", "", "x", "y", "z"])))


def test_an_ask_style_build_is_read_after_its_question(tmp_path):
    import json

    from krel_interp.organisms import targets

    script = _script()
    (tmp_path / "card.json").write_text(json.dumps({"identification": {"style": "ask"}}))
    prefix, decision = script.identification_of(f"q={tmp_path}")
    assert (prefix, f"{prefix}{decision}") == (targets.IDENTIFY_ASK, targets.IDENTIFY_THREAT_ASK)
    assert script.identification_of("krel-mini") == (targets.IDENTIFY_PREFIX, script.DECISION)
    (tmp_path / "card.json").write_text(json.dumps({"identification": {"style": "copy"}}))
    assert script.identification_of(f"c={tmp_path}")[0] == targets.IDENTIFY_PREFIX
    rows = script._paraphrases(script.DEV_FILE, "dev")[:3]
    asked = script._prefilled_with(rows, prefix)
    assert [r["messages"][:-1] for r in asked] == [r["messages"][:-1] for r in rows]
    assert {r["messages"][-1]["content"] for r in asked} == {f"<think>\n{prefix}"}
