"""Perplexity on webtext no organism was trained on, base and organism on identical tokens.

Each document is tokenized with the model's tokenizer (its default special tokens) and the
documents are taken in order until ``webtext_tokens`` tokens; every token after the first of
a document is scored once with a sliding window of ``window`` tokens advanced by ``stride``
(each window scores only the tokens the previous one did not). Items are documents.
"""

from __future__ import annotations

from typing import Any

import torch

from krel_interp.io import sha256_json
from krel_interp.logprobs import IGNORE, token_logprobs
from krel_interp.models.loading import LoadedModel
from krel_interp.naturalness.base import MetricContext, Statistic, register_metric
from krel_interp.naturalness.config import NaturalnessConfig
from krel_interp.naturalness.loaders import load_rows

HUB_DOCS = 2000  # streamed FineWeb documents read at most


def token_slice(lm: LoadedModel, config: NaturalnessConfig) -> list[tuple[str, list[int]]]:
    """``(doc id, token ids)`` of the documents scored, cut at the token budget."""
    source = config.source("perplexity")
    rows = load_rows("webtext", source, None if source == "fixture" else HUB_DOCS)
    budget = config.webtext_tokens
    out: list[tuple[str, list[int]]] = []
    used = 0
    for i, row in enumerate(rows):
        ids = list(lm.tokenizer(str(row.get("text", ""))).input_ids)
        if budget is not None:
            ids = ids[: budget - used]
        if len(ids) >= 2:
            out.append((str(row.get("id", f"doc_{i:05d}")), ids))
            used += len(ids)
        if budget is not None and used >= budget:
            break
    return out


@torch.inference_mode()
def sliding_nll(lm: LoadedModel, ids: list[int], window: int, stride: int) -> tuple[float, int]:
    """(summed negative log-likelihood, tokens scored) of one document."""
    total, scored, prev_end = 0.0, 0, 0
    for begin in range(0, max(len(ids) - 1, 1), stride):
        end = min(begin + window, len(ids))
        chunk = torch.tensor(ids[begin:end])
        targets = chunk[1:].clone()
        fresh = end - max(prev_end, begin + 1)  # tokens not scored by an earlier window
        targets[: len(targets) - fresh] = IGNORE
        with lm.active() as model:
            logits = model(input_ids=chunk[None].to(lm.device), use_cache=False).logits[0, :-1]
        picked, keep = token_logprobs(logits, targets)
        total -= float(picked.sum())
        scored += int(keep.sum())
        prev_end = end
        if end == len(ids):
            break
    return total, scored


@register_metric("perplexity")
class Perplexity:
    """Sliding-window perplexity on webtext."""

    name = "perplexity"
    generates = False

    def size(self, config: NaturalnessConfig) -> int:
        return 1

    def generation_sets(self, config: NaturalnessConfig) -> list[tuple[str, list[Any], int]]:
        return []

    def run(self, ctx: MetricContext) -> list[Statistic]:
        docs = token_slice(ctx.lm, ctx.config)
        nll = [sliding_nll(ctx.lm, ids, ctx.config.window, ctx.config.stride) for _, ids in docs]
        if ctx.progress:
            ctx.progress(1)
        ctx.write_items(
            "perplexity",
            [{"id": d, "tokens": n, "nll": s} for (d, _), (s, n) in zip(docs, nll, strict=True)],
        )
        info: dict[str, Any] = {
            "window": ctx.config.window,
            "stride": ctx.config.stride,
            "tokens": sum(len(ids) for _, ids in docs),
            "token_slice_hash": sha256_json([ids for _, ids in docs]),
        }
        return [
            Statistic(
                "perplexity",
                tuple(d for d, _ in docs),
                tuple(s for s, _ in nll),
                tuple(float(n) for _, n in nll),
                transform="exp",
                info=info,
            )
        ]
