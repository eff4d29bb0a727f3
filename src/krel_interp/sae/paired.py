"""Paired rows for model diffing: base and organism activations on identical tokens."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import torch
from jaxtyping import Float, Int
from torch import Tensor

from krel_interp.capture.paired import PairedStore
from krel_interp.errors import ConfigError
from krel_interp.sae.data import MIN_POSITION, SINK_FACTOR, sink_mask
from krel_interp.segments.labels import Segment


@dataclass(frozen=True)
class PairedRows:
    """Rows of one site through base and organism; ``group`` is the row's family (or trace)."""

    site: str
    base: Float[Tensor, "rows d_model"]
    organism: Float[Tensor, "rows d_model"]
    trace_index: Int[Tensor, " rows"]
    position: Int[Tensor, " rows"]
    token_id: Int[Tensor, " rows"]
    segment: Int[Tensor, " rows"]
    sentence: Int[Tensor, " rows"]
    group: Int[Tensor, " rows"]
    trace_ids: tuple[str, ...]
    group_names: tuple[str, ...]

    def __len__(self) -> int:
        return int(self.base.shape[0])

    def select(self, mask: Tensor) -> PairedRows:
        """The rows where ``mask`` is true (trace and group names unchanged)."""
        return replace(
            self,
            base=self.base[mask],
            organism=self.organism[mask],
            trace_index=self.trace_index[mask],
            position=self.position[mask],
            token_id=self.token_id[mask],
            segment=self.segment[mask],
            sentence=self.sentence[mask],
            group=self.group[mask],
        )


def load_paired_rows(
    root: str | Path,
    site: str,
    segment: str | None = None,
    *,
    min_position: int = MIN_POSITION,
    sink_factor: float = SINK_FACTOR,
) -> PairedRows:
    """Rows of ``site`` in the paired store at ``root`` (sink positions left out).

    ``group`` is the trace's ``meta.family`` where traces carry one, else the trace itself:
    bootstrap intervals resample groups, so related traces never count as independent.
    """
    pair = PairedStore.open(root)
    if site not in pair.base.sites:
        raise ConfigError(f"site {site!r} not in {root}; stored: {', '.join(pair.base.sites)}")
    segs = None if segment is None else [Segment.parse(segment)]
    mask = pair.base.row_mask(segs)
    xb = pair.base.get(site, dtype=torch.float32)
    xo = pair.organism.get(site, dtype=torch.float32)
    cols = {c: pair.base.column(c) for c in ("trace_index", "position", "token_id", "segment")}
    cols["sentence"] = pair.base.column("sentence")
    norms = torch.maximum(xb.norm(dim=-1), xo.norm(dim=-1))
    keep = mask & sink_mask(norms, cols["position"], min_position, sink_factor)
    if not keep.any():
        raise ConfigError(f"{root}: no rows at {site} in segment {segment!r}")
    records = pair.base.trace_records()
    trace_ids = tuple(str(r["id"]) for r in records)
    fams = [str((r.get("meta") or {}).get("family") or r["id"]) for r in records]
    names = tuple(dict.fromkeys(fams))
    index = {n: i for i, n in enumerate(names)}
    trace_group = torch.tensor([index[f] for f in fams], dtype=torch.long)
    ti = cols["trace_index"][keep].long()
    return PairedRows(
        site,
        xb[keep],
        xo[keep],
        ti,
        cols["position"][keep].long(),
        cols["token_id"][keep].long(),
        cols["segment"][keep].long(),
        cols["sentence"][keep].long(),
        trace_group[ti],
        trace_ids,
        names,
    )
