"""A linear probe for "the next token starts a leak", by layer, with its baselines.

Rows are the organism's own completion tokens inside a region (the answer); a row is positive
when the *next* token starts a leak span. Features are the residual stream after each layer
(``hidden_states``; index 0 is the embedding output, so layer 0 is the no-computation baseline).
Every score is a leave-one-group-out cross-validated AUROC (groups: prompt families, so no
family is both fitted and scored), pooled over folds, with a logistic regression on
standardised features (L2, C fixed in advance, nothing tuned). Baselines in the same folds:
the token's position in the region, the current token's identity (hashed one-hot), and a
random direction at the middle layer (no fitting).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from krel_interp.errors import ConfigError
from krel_interp.health.teacher import completion_tokens, prompt_ids
from krel_interp.models.loading import LoadedModel

C = 0.1
BUCKETS = 512


@dataclass(frozen=True)
class OnsetItem:
    """One trace: the region whose tokens are rows and the character offsets of leak onsets."""

    prompt: str
    completion: str
    region: tuple[int, int]
    onsets: tuple[int, ...]
    group: str


@dataclass(frozen=True)
class OnsetRows:
    """Residuals of every row at every layer, labels and baseline inputs."""

    x: np.ndarray  # (layer, row, d)
    y: np.ndarray  # (row,) bool
    groups: np.ndarray  # (row,) str
    position: np.ndarray  # (row,) index of the token in its region
    token: np.ndarray  # (row,) current token id


def onset_rows(lm: LoadedModel, items: Sequence[OnsetItem]) -> OnsetRows:
    """Teacher-force each item through ``lm`` and collect its region's rows."""
    xs, ys, gs, ps, ts = [], [], [], [], []
    for item in items:
        ids_prompt = prompt_ids(lm, item.prompt)
        ids, offsets = completion_tokens(lm, item.completion)
        a, b = item.region
        rows = [j for j, (s, e) in enumerate(offsets[:-1]) if a <= s and e <= b]
        if not rows:
            continue
        with torch.no_grad(), lm.active() as model:
            out = model(
                input_ids=torch.tensor([ids_prompt + ids], device=lm.device),
                output_hidden_states=True,
            )
        n = len(ids_prompt)
        hs = torch.stack([h[0, [n + j for j in rows]] for h in out.hidden_states]).float()
        xs.append(hs.cpu().numpy())
        for k, j in enumerate(rows):
            s, e = offsets[j + 1]
            ys.append(any(s <= o < max(e, s + 1) for o in item.onsets))
            gs.append(item.group)
            ps.append(k)
            ts.append(ids[j])
    if not xs:
        raise ConfigError("no rows for the onset probe")
    return OnsetRows(
        np.concatenate(xs, axis=1), np.array(ys), np.array(gs), np.array(ps), np.array(ts)
    )


def _cv_scores(features: np.ndarray, y: np.ndarray, groups: np.ndarray) -> np.ndarray:
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    scores = np.zeros(len(y))
    for g in np.unique(groups):
        test = groups == g
        train = ~test
        if y[train].all() or not y[train].any():
            scores[test] = y[train].mean()
            continue
        scaler = StandardScaler().fit(features[train])
        clf = LogisticRegression(C=C, max_iter=2000, class_weight="balanced")
        clf.fit(scaler.transform(features[train]), y[train])
        scores[test] = clf.decision_function(scaler.transform(features[test]))
    return scores


def _auroc(y: np.ndarray, s: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, s))


def onset_probe(rows: OnsetRows, seed: int = 0) -> dict[str, Any]:
    """Cross-validated AUROC per layer and the baselines (see the module doc)."""
    y, groups = rows.y, rows.groups
    if y.all() or not y.any():
        raise ConfigError("the onset probe needs positive and negative rows")
    by_layer = [_auroc(y, _cv_scores(rows.x[layer], y, groups)) for layer in range(len(rows.x))]
    onehot = np.zeros((len(y), BUCKETS), dtype=np.float32)
    onehot[np.arange(len(y)), rows.token % BUCKETS] = 1.0
    middle = len(rows.x) // 2
    direction = np.random.default_rng(seed).standard_normal(rows.x.shape[-1])
    best = int(np.argmax(by_layer))
    return {
        "n_rows": len(y),
        "n_positive": int(y.sum()),
        "n_groups": len(np.unique(groups)),
        "auroc_by_layer": by_layer,
        "best_layer": best,
        "baselines": {
            "position": _auroc(y, _cv_scores(rows.position[:, None].astype(float), y, groups)),
            "token_identity": _auroc(y, _cv_scores(onehot, y, groups)),
            "layer_0": by_layer[0],
            "random_direction": _auroc(y, rows.x[middle] @ direction),
        },
        "note": "auroc_by_layer index 0 is the embedding output; best_layer is descriptive "
        "(chosen on the same cross-validated scores, not a held-out claim)",
    }
