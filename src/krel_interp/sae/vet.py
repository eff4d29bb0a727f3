"""Vet any SAE on any store before trusting it: explained variance, L0, dead fraction."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from krel_interp.capture.store import ActivationStore
from krel_interp.errors import ConfigError, IncompatibleArtifactError
from krel_interp.sae.artifact import LoadedSae
from krel_interp.sae.data import MIN_POSITION, SINK_FACTOR, sae_input, sink_mask
from krel_interp.sae.metrics import evaluate_sae
from krel_interp.sae.paired import load_paired_rows


def _single(root: Path, sae: LoadedSae) -> tuple[torch.Tensor, torch.Tensor | None, int]:
    if (root / "base").is_dir() and not (root / "manifest.json").exists():
        raise ConfigError(f"{root} is a paired store: pass {root}/base or {root}/organism")
    store = ActivationStore(root)
    for site in (sae.site, sae.site_out):
        if site is not None and site not in store.sites:
            raise IncompatibleArtifactError(
                f"SAE {sae.source} reads {site}, which {root} does not hold "
                f"(stored: {', '.join(store.sites)})"
            )
    x = store.get(sae.site, dtype=torch.float32)
    keep = sink_mask(x.norm(dim=-1), store.column("position"), MIN_POSITION, SINK_FACTOR)
    target = None
    if sae.kind == "transcoder" and sae.site_out is not None:
        target = store.get(sae.site_out, dtype=torch.float32)[keep]
    return x[keep], target, int(store.header["d_model"])


def vet_sae(sae: LoadedSae, store: str | Path) -> dict[str, Any]:
    """Metrics of ``sae`` on a store (a paired store for diff SAEs and crosscoders)."""
    root = Path(store)
    if sae.kind in ("diff", "crosscoder"):
        rows = load_paired_rows(root, sae.site)
        x, target, d_model = sae_input(sae.kind, rows.base, rows.organism), None, rows.base.shape[1]
    else:
        x, target, d_model = _single(root, sae)
    sae.check_fits(sae.site, d_model)
    return {
        "sae": sae.source,
        "kind": sae.kind,
        "site": sae.site,
        **evaluate_sae(sae.sae, x, target=target),
    }
