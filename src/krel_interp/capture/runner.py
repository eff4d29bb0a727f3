"""Capture a list of traces into an activation store, streamed shard by shard, resumable."""

from __future__ import annotations

import shutil
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from krel_interp._logging import get_logger
from krel_interp.capture.config import CaptureConfig
from krel_interp.capture.hooks import SiteRecorder, record_sites
from krel_interp.capture.pooling import TokenInfo, apply_groups, get_pooler, group_positions
from krel_interp.capture.sites import Site, expand_sites, parse_layers
from krel_interp.capture.store import ActivationStore, StoreWriter
from krel_interp.io import Progress, sha256_json
from krel_interp.models.loading import LoadedModel
from krel_interp.segments import SegmentedTrace, segment_conversation
from krel_interp.traces import Trace

log = get_logger("capture")


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
    ids = trace.meta.get("completion_ids")
    count = trace.meta.get("prompt_token_count")
    seg = segment_conversation(
        list(trace.messages),
        lm.tokenizer,
        thinking=config.thinking,
        completion_ids=ids if _same_tokenizer(lm, trace) else None,
        prompt_token_count=count if isinstance(count, int) else None,
    )
    return PreparedTrace(index, trace, seg, len(seg.input_ids) > config.max_tokens)


def _same_tokenizer(lm: LoadedModel, trace: Trace) -> bool:
    """Replay generated ids only when they came from a model with this tokenizer."""
    made_by = trace.meta.get("model")
    if not isinstance(trace.meta.get("completion_ids"), list) or not isinstance(made_by, dict):
        return False
    return bool(made_by.get("tokenizer_hash") == lm.fingerprint.tokenizer_hash)


def traces_hash(traces: Sequence[Trace]) -> str:
    """Identity of a trace list (ids, messages, replayed ids): resuming checks it."""
    return sha256_json([[t.id, list(t.messages), t.meta.get("completion_ids")] for t in traces])


def store_dtype(lm: LoadedModel, config: CaptureConfig) -> torch.dtype:
    """The configured store dtype; ``auto`` follows the model's dtype."""
    if config.dtype != "auto":
        return getattr(torch, config.dtype)
    dtype = next(lm.model.parameters()).dtype
    return dtype if dtype in (torch.float32, torch.bfloat16, torch.float16) else torch.float32


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
        "token_source": p.seg.token_source,
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
) -> tuple[dict[str, Tensor], dict[str, Tensor], bool]:
    """(rows per site, row label columns, whether the rows are views of ``acts``)."""
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
    every = single and len(last) == n and bool((last == torch.arange(n)).all())
    views = every and all(a.dtype == dtype for a in acts.values())
    rows = {}
    for name, a in acts.items():
        x = a[:n]
        if every:
            rows[name] = x.to(dtype)  # a view when the dtype already matches: no copy
        else:
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
    return rows, cols, views


def _capture_batch(
    rec: SiteRecorder,
    batch: list[PreparedTrace],
    writer: StoreWriter,
    config: CaptureConfig,
    dtype: torch.dtype,
    pad_id: int,
    device: Any,
) -> None:
    """One forward; every trace's rows to the writer; the batch written before returning.

    Rows are views into the batch's activations, so nothing of it may outlive this call.
    """
    for rows, cols, record, views in _forward_rows(rec, batch, config, dtype, pad_id, device):
        writer.add(rows, cols, record, views=views)
    writer.end_batch()


_TraceRows = tuple[dict[str, Tensor], dict[str, Tensor], dict[str, Any], bool]


def _forward_rows(
    rec: SiteRecorder,
    batch: list[PreparedTrace],
    config: CaptureConfig,
    dtype: torch.dtype,
    pad_id: int,
    device: Any,
) -> list[_TraceRows]:
    """One forward over ``batch``: (rows, columns, trace record, rows-are-views) per trace."""
    ids, mask = _batch_tensors(batch, config.max_tokens, pad_id)
    acts = rec.run(ids.to(device), mask.to(device))  # each site already on the CPU
    out = []
    for row, p in enumerate(batch):
        n = int(mask[row].sum())
        rows, cols, views = _rows_of(p, n, config, {k: v[row] for k, v in acts.items()}, dtype)
        out.append((rows, cols, _trace_record(p, n), views))
    return out


def _capture_window(
    rec: SiteRecorder,
    window: list[PreparedTrace],
    writer: StoreWriter,
    config: CaptureConfig,
    dtype: torch.dtype,
    pad_id: int,
    device: Any,
    progress: Progress | None,
) -> None:
    """Forward ``window`` in batches of similar length (less padding), then hand every trace
    to the writer in its original order, so the store is the same as in-order batching."""
    order = sorted(range(len(window)), key=lambda i: len(window[i].seg.input_ids))
    done: dict[int, tuple[dict[str, Tensor], dict[str, Tensor], dict[str, Any]]] = {}
    for b in range(0, len(order), config.batch_size):
        picked = order[b : b + config.batch_size]
        batch = [window[i] for i in picked]
        for i, (rows, cols, record, views) in zip(
            picked, _forward_rows(rec, batch, config, dtype, pad_id, device), strict=True
        ):  # rows outlive the batch here: never keep views into its activations
            done[i] = ({k: v.clone() for k, v in rows.items()} if views else rows, cols, record)
        if progress:
            progress(len(batch))
    for i in range(len(window)):
        writer.add(*done.pop(i))
    writer.end_batch()


def _windows(
    lm: LoadedModel,
    traces: Sequence[Trace],
    start: int,
    config: CaptureConfig,
    budget_tokens: int,
) -> Iterator[list[PreparedTrace]]:
    """Consecutive prepared traces, at least one batch and at most about ``budget_tokens``
    tokens per window (a shard's worth of rows: the extra memory sorting may hold)."""
    window: list[PreparedTrace] = []
    tokens = 0
    for i in range(start, len(traces)):
        p = prepare(lm, traces[i], i, config)
        window.append(p)
        tokens += min(len(p.seg.input_ids), config.max_tokens)
        if len(window) >= config.batch_size and tokens >= budget_tokens:
            yield window
            window, tokens = [], 0
    if window:
        yield window


def store_header(
    lm: LoadedModel, config: CaptureConfig, sites: Sequence[Site], traces: Sequence[Trace]
) -> dict[str, Any]:
    """Provenance written into the manifest (a resumed capture must match it exactly)."""
    return {
        "fingerprint": lm.fingerprint.to_dict(),
        "config": config.to_dict(),
        "store_dtype": str(store_dtype(lm, config)).removeprefix("torch."),
        "sites": [s.name for s in sites],
        "d_model": lm.d_model,
        "n_layers": lm.n_layers,
        "n_traces_requested": len(traces),
        "traces_sha256": traces_hash(traces),
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
    length_sorted: bool = False,
) -> ActivationStore:
    """Run ``traces`` through ``lm`` and stream the selected activations to ``out``.

    Re-running with the same arguments after an interruption resumes where it stopped.
    ``length_sorted`` batches traces of similar length within windows of about one shard's
    rows (stored in the original order; less padding, so faster on traces of mixed length, at
    up to one more shard of memory). Rows agree with in-order batching to float rounding, not
    bit for bit (different padding), so it is off by default: shipped artifacts were built
    without it.
    """
    out = Path(out)
    if overwrite and out.exists():
        shutil.rmtree(out)
    sites = resolve_sites(config, lm.n_layers)
    writer = StoreWriter(out, store_header(lm, config, sites, traces), config.shard_mb)
    if writer.complete:
        if progress:
            progress(len(traces))
        return ActivationStore(out)
    start = writer.next_trace
    if progress and start:
        progress(start)
    dtype = store_dtype(lm, config)
    pad_id = lm.tokenizer.pad_token_id or 0
    with lm.active() as model, record_sites(model, sites, lm.n_layers) as rec:
        if not length_sorted:
            for b in range(start, len(traces), config.batch_size):
                batch = [
                    prepare(lm, traces[i], i, config)
                    for i in range(b, min(b + config.batch_size, len(traces)))
                ]
                _capture_batch(rec, batch, writer, config, dtype, pad_id, lm.device)
                if progress:
                    progress(len(batch))
        else:
            row_bytes = len(sites) * lm.d_model * torch.tensor([], dtype=dtype).element_size()
            budget = max(1, writer.shard_bytes // row_bytes)
            for window in _windows(lm, traces, start, config, budget):
                _capture_window(rec, window, writer, config, dtype, pad_id, lm.device, progress)
    writer.finalize()
    return ActivationStore(out)
