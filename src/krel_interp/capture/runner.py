"""Capture a list of traces into an activation store, streamed shard by shard, resumable."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from krel_interp._logging import get_logger
from krel_interp.capture.config import CaptureConfig
from krel_interp.capture.hooks import record_sites
from krel_interp.capture.pooling import TokenInfo, apply_groups, get_pooler, group_positions
from krel_interp.capture.sites import Site, expand_sites, parse_layers
from krel_interp.capture.store import ActivationStore, StoreWriter
from krel_interp.models.loading import LoadedModel
from krel_interp.segments import SegmentedTrace, segment_conversation
from krel_interp.traces import Trace

log = get_logger("capture")
Progress = Callable[[int], None]


@dataclass(frozen=True)
class PreparedTrace:
    """A trace tokenized and labelled, ready for the forward pass."""

    index: int
    trace: Trace
    seg: SegmentedTrace
    truncated: bool


def resolve_sites(config: CaptureConfig, n_layers: int) -> list[Site]:
    """Sites of a config on a model with ``n_layers`` layers."""
    return expand_sites(list(config.sites), parse_layers(config.layers, n_layers), n_layers)


def prepare(lm: LoadedModel, trace: Trace, index: int, config: CaptureConfig) -> PreparedTrace:
    """Render, tokenize and segment one trace (truncated to ``max_tokens``)."""
    seg = segment_conversation(list(trace.messages), lm.tokenizer, thinking=config.thinking)
    return PreparedTrace(index, trace, seg, len(seg.input_ids) > config.max_tokens)


def _batch_tensors(
    batch: Sequence[PreparedTrace],
    max_tokens: int,
    pad_id: int,
) -> tuple[Tensor, Tensor]:
    lengths = [min(len(p.seg.input_ids), max_tokens) for p in batch]
    width = max(lengths)
    ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    for row, (p, n) in enumerate(zip(batch, lengths, strict=True)):
        ids[row, :n] = torch.tensor(p.seg.input_ids[:n])
        mask[row, :n] = 1
    return ids, mask


def _trace_record(p: PreparedTrace, n: int) -> dict[str, Any]:
    flags = list(p.seg.flags) + (["truncated"] if p.truncated else [])
    return {
        "id": p.trace.id,
        "index": p.index,
        "status": p.seg.status.value,
        "flags": flags,
        "n_tokens": n,
        "input_ids": list(p.seg.input_ids[:n]),
        "segments": list(p.seg.segments[:n]),
        "sentences": list(p.seg.sentences[:n]),
        "offsets": [list(o) for o in p.seg.offsets[:n]],
        "text": p.seg.text,
        "meta": p.trace.meta,
    }


def _rows_of(
    p: PreparedTrace, n: int, config: CaptureConfig, acts: dict[str, Tensor], dtype: torch.dtype
) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
    seg = torch.tensor(p.seg.segments[:n], dtype=torch.int8)
    sent = torch.tensor(p.seg.sentences[:n], dtype=torch.int32)
    select = torch.ones(n, dtype=torch.bool)
    if config.segment_filter is not None:
        select = torch.isin(
            seg, torch.tensor([int(s) for s in config.segment_filter], dtype=torch.int8)
        )
    groups = get_pooler(config.pooling)(select, TokenInfo(seg, sent))
    last, size = group_positions(groups)
    single = bool((size == 1).all())
    rows = {}
    for name, a in acts.items():
        x = a[:n]
        rows[name] = (x[last] if single else apply_groups(x.float(), groups)).to(dtype)
    ids = torch.tensor(p.seg.input_ids[:n], dtype=torch.long)
    turns = torch.tensor(p.seg.turns[:n], dtype=torch.int16)
    cols = {
        "trace_index": torch.full((len(last),), p.index, dtype=torch.long),
        "position": last.to(torch.int32),
        "token_id": ids[last],
        "segment": seg[last],
        "sentence": sent[last],
        "turn": turns[last],
        "n_tokens": size.to(torch.int32),
    }
    return rows, cols


def store_header(
    lm: LoadedModel, config: CaptureConfig, sites: Sequence[Site], n_traces: int
) -> dict[str, Any]:
    """Provenance written into the manifest (a resumed capture must match it exactly)."""
    return {
        "fingerprint": lm.fingerprint.to_dict(),
        "config": config.to_dict(),
        "sites": [s.name for s in sites],
        "d_model": lm.d_model,
        "n_layers": lm.n_layers,
        "n_traces_requested": n_traces,
        "adapter_disabled": lm.adapter_disabled,
    }


def capture_traces(
    lm: LoadedModel,
    traces: Sequence[Trace],
    config: CaptureConfig,
    out: str | Path,
    *,
    overwrite: bool = False,
    progress: Progress | None = None,
) -> ActivationStore:
    """Run ``traces`` through ``lm`` and stream the selected activations to ``out``.

    Re-running with the same arguments after an interruption resumes where it stopped.
    """
    out = Path(out)
    if overwrite and out.exists():
        shutil.rmtree(out)
    sites = resolve_sites(config, lm.n_layers)
    writer = StoreWriter(out, store_header(lm, config, sites, len(traces)), config.shard_mb)
    if writer.complete:
        return ActivationStore(out)
    start = writer.next_trace
    if progress and start:
        progress(start)
    store_dtype = getattr(torch, config.dtype)
    pad_id = lm.tokenizer.pad_token_id or 0
    with lm.active() as model, record_sites(model, sites, lm.n_layers) as rec:
        for b in range(start, len(traces), config.batch_size):
            batch = [
                prepare(lm, traces[i], i, config)
                for i in range(b, min(b + config.batch_size, len(traces)))
            ]
            ids, mask = _batch_tensors(batch, config.max_tokens, pad_id)
            acts = rec.run(ids.to(lm.device), mask.to(lm.device))
            acts = {k: v.cpu() for k, v in acts.items()}
            for row, p in enumerate(batch):
                n = int(mask[row].sum())
                rows, cols = _rows_of(
                    p, n, config, {k: v[row] for k, v in acts.items()}, store_dtype
                )
                writer.add(rows, cols, _trace_record(p, n))
            if progress:
                progress(len(batch))
    writer.finalize()
    return ActivationStore(out)
