"""Teacher-forced log-probabilities, safe under ``device_map`` (logits on another device)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from jaxtyping import Float, Int
from torch import Tensor

IGNORE = -100


def token_logprobs(
    logits: Float[Tensor, "seq vocab"], targets: Int[Tensor, " seq"] | Sequence[int]
) -> tuple[Float[Tensor, " seq"], Float[Tensor, " seq"]]:
    """(log p(target) at every position, 1/0 mask of scored positions).

    ``targets`` are moved to the logits' device (under ``device_map`` the unembedding, and so
    the logits, may sit on another device than the inputs); ``IGNORE`` positions get mask 0.
    No boolean indexing, so it also runs on the meta device.
    """
    target = torch.as_tensor(targets, dtype=torch.long).to(logits.device)
    keep = (target != IGNORE).to(logits.dtype)
    logp = torch.log_softmax(logits.float(), dim=-1)
    picked = logp.gather(-1, target.clamp(min=0)[:, None]).squeeze(-1)
    return picked * keep, keep


def sequence_logprob(
    logits: Float[Tensor, "seq vocab"], targets: Int[Tensor, " seq"] | Sequence[int]
) -> Float[Tensor, ""]:
    """Sum of the log-probabilities of the scored targets (a 0-d tensor on the logits' device)."""
    picked, _ = token_logprobs(logits, targets)
    return picked.sum()
