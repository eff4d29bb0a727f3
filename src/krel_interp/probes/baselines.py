"""Baselines that could explain a probe without a learned representation.

Each is fitted on the probe's training rows and stored in the probe artifact, so a probe and
its baselines are scored together on new prompts:

* ``bow``: bag of words (hashed unigrams and bigrams) of the text up to the probed token;
* ``length``: the probed token's position and the number of tokens pooled;
* ``embed``: the same pooling over input token embeddings (no context at all);
* ``random``: a seeded random direction at the selected layer (sign fitted on training rows).

The registry maps names to feature builders; all but ``random`` are logistic regressions with
the L2 strength chosen by the same grouped cross-validation as the probe.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from jaxtyping import Float
from torch import Tensor

from krel_interp.capture.store import ActivationStore
from krel_interp.probes.data import ProbeDataset
from krel_interp.probes.methods import LinearProbe

BOW_DIM = 2048
BASELINES = ("bow", "length", "embed", "random")
_WORD = re.compile(r"[a-z0-9']+")


@dataclass(frozen=True)
class BaselineInputs:
    """Raw inputs of the baselines for every example of a probe dataset."""

    texts: list[str]  # text up to and including the probed (last pooled) token
    position: Float[Tensor, " n"]  # position of the probed token in its trace
    n_pooled: Float[Tensor, " n"]  # tokens pooled into the example
    embed: Float[Tensor, "n d"] | None  # pooled input embeddings (None: no embedding matrix)


def _bucket(token: str) -> int:
    return int(hashlib.md5(token.encode()).hexdigest()[:8], 16) % BOW_DIM


def bow_features(texts: Sequence[str]) -> Float[Tensor, "n d"]:
    """log(1 + count) of hashed lower-case unigrams and bigrams."""
    out = torch.zeros(len(texts), BOW_DIM)
    for i, text in enumerate(texts):
        words = _WORD.findall(text.lower())
        for tok in [*words, *(f"{a} {b}" for a, b in zip(words, words[1:], strict=False))]:
            out[i, _bucket(tok)] += 1
    return torch.log1p(out)


def length_features(inputs: BaselineInputs) -> Float[Tensor, "n 4"]:
    """Position and pooled length, raw and logged."""
    p, n = inputs.position.float(), inputs.n_pooled.float()
    return torch.stack([p, torch.log1p(p), n, torch.log1p(n)], dim=1)


FEATURES: dict[str, Callable[[BaselineInputs], Tensor | None]] = {
    "bow": lambda b: bow_features(b.texts),
    "length": length_features,
    "embed": lambda b: b.embed,
}


def baseline_inputs(
    store: ActivationStore, ds: ProbeDataset, embedding: Tensor | None = None
) -> BaselineInputs:
    """Texts, positions and pooled embeddings of a dataset built from ``store``."""
    if ds.last_row is None or ds.n_rows is None:
        raise ValueError("dataset lacks row bookkeeping; build it with build_dataset")
    records = store.trace_records()
    positions = store.column("position")[ds.last_row]
    texts = []
    for t, p in zip(ds.trace_index.tolist(), positions.tolist(), strict=True):
        rec = records[t]
        texts.append(str(rec["text"][: rec["offsets"][p][1]]))
    embed = None
    if embedding is not None:
        embed = _pooled_embedding(store, ds, embedding)
    return BaselineInputs(texts, positions.float(), ds.n_rows.float(), embed)


def _pooled_embedding(store: ActivationStore, ds: ProbeDataset, embedding: Tensor) -> Tensor:
    """Mean input embedding over each example's pooled tokens (one token for one-token sets)."""
    token_ids = store.column("token_id")
    return torch.stack([embedding[token_ids[m]].float().mean(0) for m in ds.members])


def random_direction(d: int, seed: int) -> Float[Tensor, " d"]:
    """A seeded unit vector."""
    v = torch.randn(d, generator=torch.Generator().manual_seed(seed))
    return v / v.norm()


def random_probe(
    x_train: Float[Tensor, "n d"], y_train: Float[Tensor, " n"], seed: int
) -> LinearProbe:
    """A random direction with the sign that separates the training rows better."""
    from krel_interp.probes.metrics import auroc

    d = x_train.shape[1]
    w = random_direction(d, seed)
    sign = 1.0 if auroc(x_train.float() @ w, y_train) >= 0.5 else -1.0
    zeros = torch.zeros(1, d)
    return LinearProbe(
        (sign * w)[None], torch.zeros(1), zeros, torch.ones(1, d), method="random_direction"
    )
