"""SAE training rows from activation stores: sink positions out, traces split, seeded batches.

Training reads what capture already wrote (no model is loaded). A ``base`` SAE reads one store;
``diff`` and ``crosscoder`` read a paired store (same tokens through base and organism) and
train on organism minus base, or on base and organism side by side.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from jaxtyping import Float
from torch import Tensor

from krel_interp.capture.paired import PairedStore
from krel_interp.capture.store import ActivationStore
from krel_interp.errors import ConfigError, InputFileError
from krel_interp.sae.config import MIN_POSITION, SINK_FACTOR
from krel_interp.segments.labels import Segment


@dataclass(frozen=True)
class SaeRows:
    """Training and held-out activations (float32) and how they were chosen."""

    train: Float[Tensor, "train d_in"]
    heldout: Float[Tensor, "heldout d_in"]
    info: dict[str, Any] = field(default_factory=dict)


def open_stores(root: str | Path, kind: str) -> tuple[ActivationStore, ActivationStore | None]:
    """The store (``base``) or the aligned pair (``diff``, ``crosscoder``) under ``root``."""
    root = Path(root)
    if kind == "base":
        return ActivationStore(root), None
    if not (root / "base").exists() or not (root / "organism").exists():
        raise InputFileError(f"{root} is not a paired store (needs base/ and organism/)")
    pair = PairedStore.open(root)
    return pair.base, pair.organism


def sae_input(kind: str, base: Tensor, organism: Tensor | None) -> Tensor:
    """What an SAE of ``kind`` reads from paired activations.

    ``diff``: organism minus base; ``crosscoder``: [base; organism]; any other kind (a base
    SAE, a transcoder) reads the organism's activation, or the base's when there is no organism.
    """
    if organism is None:
        return base
    if kind == "diff":
        return organism - base
    if kind == "crosscoder":
        return torch.cat([base, organism], dim=-1)
    return organism


def _segments(names: tuple[str, ...] | None) -> list[Segment] | None:
    return None if names is None else [Segment.parse(n) for n in names]


def sink_mask(norms: Tensor, positions: Tensor, min_position: int, factor: float) -> Tensor:
    """Rows to keep: positions from ``min_position`` on and norms below ``factor`` x median."""
    keep = positions >= min_position
    if keep.any():
        keep &= norms <= factor * norms[keep].median()
    return keep


def trace_groups(records: list[dict[str, Any]]) -> Tensor:
    """Per trace its group: ``meta.family`` where traces carry one, else the trace itself.

    Traces of one family share prompts (and twins share every prompt token), so they fall on
    the same side of the held-out split.
    """
    names = [str((r.get("meta") or {}).get("family") or f"trace:{r['id']}") for r in records]
    index = {n: i for i, n in enumerate(dict.fromkeys(names))}
    return torch.tensor([index[n] for n in names], dtype=torch.long)


def heldout_traces(groups: Tensor, fraction: float, seed: int) -> Tensor:
    """Trace indices of a seeded set of groups (about ``fraction`` of them) kept out."""
    uniq = torch.unique(groups)
    g = torch.Generator().manual_seed(seed)
    order = uniq[torch.randperm(len(uniq), generator=g)]
    n = max(1, round(fraction * len(uniq))) if len(uniq) > 1 else 0
    return torch.isin(groups, order[:n]).nonzero().squeeze(-1)


def load_rows(
    root: str | Path,
    site: str,
    kind: str,
    *,
    segments: tuple[str, ...] | None = None,
    min_position: int = MIN_POSITION,
    sink_factor: float = SINK_FACTOR,
    heldout_fraction: float = 0.1,
    seed: int = 0,
) -> SaeRows:
    """Rows of ``site`` for an SAE of ``kind``, split by family into train and held-out."""
    base, organism = open_stores(root, kind)
    if site not in base.sites:
        raise ConfigError(f"site {site!r} not in {root}; stored: {', '.join(base.sites)}")
    mask = base.row_mask(_segments(segments))
    xb = base.get(site, dtype=torch.float32)
    xo = organism.get(site, dtype=torch.float32) if organism is not None else None
    norms = xb.norm(dim=-1) if xo is None else torch.maximum(xb.norm(dim=-1), xo.norm(dim=-1))
    positions, traces = base.column("position"), base.column("trace_index")
    keep = mask & sink_mask(norms, positions, min_position, sink_factor)
    groups = trace_groups(base.trace_records())
    held = torch.isin(traces, heldout_traces(groups, heldout_fraction, seed))
    x = sae_input(kind, xb, xo)
    info = {
        "rows_stored": int(len(xb)),
        "rows_in_segments": int(mask.sum()),
        "rows_dropped_position": int((mask & (positions < min_position)).sum()),
        "rows_dropped_sink": int((mask & (positions >= min_position) & ~keep).sum()),
        "rows_train": int((keep & ~held).sum()),
        "rows_heldout": int((keep & held).sum()),
        "traces": int(len(torch.unique(traces))),
        "traces_heldout": int(len(torch.unique(traces[held]))),
        "groups": int(len(torch.unique(groups))),
        "heldout_split": "by meta.family (else by trace)",
        "store_traces_sha256": base.header.get("traces_sha256"),
        "store_fingerprint": base.header.get("fingerprint"),
        "organism_fingerprint": organism.header.get("fingerprint") if organism else None,
    }
    if info["rows_train"] == 0 or info["rows_heldout"] == 0:
        raise ConfigError(f"{root}: no rows left for training or held-out evaluation")
    return SaeRows(x[keep & ~held].contiguous(), x[keep & held].contiguous(), info)


def batches(x: Tensor, batch_size: int, seed: int, start: int = 0) -> Iterator[Tensor]:
    """Endless batches, a fresh seeded permutation per epoch; ``start`` samples are skipped.

    The sample counter alone fixes the stream, so a resumed run sees the same batches.
    """
    n = len(x)
    pos = start
    perms: dict[int, Tensor] = {}

    def perm(epoch: int) -> Tensor:
        if epoch not in perms:
            perms.clear()
            g = torch.Generator().manual_seed(seed * 100_003 + epoch)
            perms[epoch] = torch.randperm(n, generator=g)
        return perms[epoch]

    while True:
        idx = []
        need = batch_size
        while need:
            epoch, offset = divmod(pos, n)
            take = min(need, n - offset)
            idx.append(perm(epoch)[offset : offset + take])
            pos += take
            need -= take
        yield x[torch.cat(idx)]
