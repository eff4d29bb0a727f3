"""How well an SAE fits a set of activations: explained variance, L0, dead fraction."""

from __future__ import annotations

from typing import Any

import torch
from jaxtyping import Float
from torch import Tensor


@torch.no_grad()
def evaluate_sae(
    sae: Any,
    x: Float[Tensor, "rows d_in"],
    batch: int = 4096,
    target: Float[Tensor, "rows d_out"] | None = None,
) -> dict[str, float | int]:
    """Explained variance, mean L0 and the share of latents that never fire on ``x``.

    Explained variance is 1 - sum |y - y_hat|^2 / sum |y - mean(y)|^2 over all rows, where y
    is ``x`` itself (an SAE) or ``target`` (a transcoder's output site).
    """
    dtype = next(sae.parameters()).dtype
    x = x.float()
    y = x if target is None else target.float()
    mean = y.mean(0)
    err = tot = l0 = 0.0
    fired = torch.zeros(sae.cfg.d_sae, dtype=torch.bool)
    for i in range(0, len(x), batch):
        xb, yb = x[i : i + batch], y[i : i + batch]
        f = sae.encode(xb.to(dtype))
        recon = sae.decode(f).float()
        err += float(((yb - recon) ** 2).sum())
        tot += float(((yb - mean) ** 2).sum())
        active = f > 0
        l0 += float(active.sum())
        fired |= active.any(0)
    n = max(1, len(x))
    return {
        "explained_variance": round(1 - err / tot, 4) if tot > 0 else float("nan"),
        "l0": round(l0 / n, 2),
        "dead_fraction": round(1 - float(fired.float().mean()), 4),
        "tokens": int(len(x)),
    }
