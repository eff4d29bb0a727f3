"""Teacher-forced log-probabilities: exact on CPU, and device-safe under device_map."""

from __future__ import annotations

import torch

from krel_interp.logprobs import IGNORE, sequence_logprob, token_logprobs


def test_matches_a_direct_computation():
    torch.manual_seed(0)
    logits = torch.randn(6, 11)
    targets = [3, IGNORE, 0, 10, IGNORE, 7]
    want = sum(
        float(torch.log_softmax(logits[i], -1)[t]) for i, t in enumerate(targets) if t != IGNORE
    )
    assert abs(float(sequence_logprob(logits, targets)) - want) < 1e-5
    picked, keep = token_logprobs(logits, targets)
    assert keep.tolist() == [1, 0, 1, 1, 0, 1] and picked[1] == 0


def test_targets_follow_the_logits_device():
    """Under device_map the logits come from the last shard; targets built on the input device
    used to meet them there (a device mismatch on GPU; the meta device shows it here)."""
    logits = torch.empty(5, 9, device="meta")
    out = sequence_logprob(logits, torch.tensor([1, 2, IGNORE, 3, 4]))  # targets on the CPU
    assert out.device.type == "meta"
