"""LoRA SFT: loss goes down, prompt tokens are masked, an interrupted run resumes exactly."""

from __future__ import annotations

import json

import pytest
import torch

from krel_interp.models import ModelSpec, load_model
from krel_interp.models.adapters import save_adapter_16bit
from krel_interp.organisms.training import (
    IGNORE,
    Example,
    LoraTrainConfig,
    adapter_difference,
    encode_example,
    plan_batches,
    train_lora,
    wrap_lora,
)

pytestmark = pytest.mark.integration


def _examples(n=12):
    return [
        Example(
            messages=({"role": "user", "content": f"Question {i}?"},),
            completion=f"<think>\nthink {i}.\n</think>\n\nanswer {i}.",
        )
        for i in range(n)
    ]


CFG = LoraTrainConfig(
    r=4, alpha=8, lr=5e-3, batch_size=4, epochs=2, max_len=64, checkpoint_every=2, warmup_steps=1
)


class Crash(Exception):
    pass


def _lora_state(model):
    return {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}


def test_prompt_tokens_are_masked(tiny_lm):
    ids, labels = encode_example(tiny_lm.tokenizer, _examples(1)[0], 64)
    assert len(ids) == len(labels)
    n_masked = sum(1 for x in labels if x == IGNORE)
    assert 0 < n_masked < len(ids)
    completion = tiny_lm.tokenizer.decode([t for t in labels if t != IGNORE])
    assert completion.startswith("<think>") and completion.endswith("<|im_end|>")


def test_plan_batches_is_deterministic_and_complete():
    lengths = [5, 9, 3, 7, 1, 8, 2]
    a = plan_batches(lengths, 3, 2, seed=1)
    assert a == plan_batches(lengths, 3, 2, seed=1)
    flat = sorted(i for b in a for i in b)
    assert flat == sorted(list(range(7)) * 2)


def test_loss_decreases_and_resume_is_exact(tiny_dir, tmp_path):
    def fresh():
        lm = load_model(ModelSpec(str(tiny_dir)))
        return lm, wrap_lora(lm.model, CFG)

    lm, straight = fresh()
    losses = train_lora(straight, lm.tokenizer, _examples(), CFG, tmp_path / "a")
    assert losses[-1] < losses[0]
    lm2, crashed = fresh()

    def crash_at_5(step, total, loss):
        if step == 5:
            raise Crash

    with pytest.raises(Crash):
        train_lora(crashed, lm2.tokenizer, _examples(), CFG, tmp_path / "b", crash_at_5)
    lm3, resumed = fresh()
    resumed_losses = train_lora(resumed, lm3.tokenizer, _examples(), CFG, tmp_path / "b")
    assert len(resumed_losses) == len(losses)
    torch.testing.assert_close(resumed_losses, losses, atol=1e-5, rtol=1e-4)
    a, b = _lora_state(straight), _lora_state(resumed)
    for name in a:
        torch.testing.assert_close(a[name], b[name], atol=1e-5, rtol=1e-4)
    out = save_adapter_16bit(resumed, tmp_path / "adapter")
    reloaded = load_model(ModelSpec(str(tiny_dir), adapter=str(out)))
    assert reloaded.fingerprint.adapter_hash is not None
    modules = json.loads((out / "adapter_config.json").read_text())["target_modules"]
    assert modules == sorted(modules)  # PEFT writes a set: normalised so hashes are stable
    other = save_adapter_16bit(straight, tmp_path / "adapter_straight")
    same = adapter_difference(out, other)
    assert same["rel_diff"] < 1e-2 and same["n_tensors"] > 0
    untrained = save_adapter_16bit(fresh()[1], tmp_path / "adapter_untrained")
    assert adapter_difference(untrained, out)["max_abs_diff"] > 1e-3
