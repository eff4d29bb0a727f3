"""Build a classifier judge honestly.

* Layer, pooling and L2 strength are chosen by grouped cross-validation (folds of paraphrase
  families) on the training corpus only.
* The held-out-family metrics come from nested cross-validation: each outer fold repeats the
  choice on its own training part and scores families no part of the choice saw.
* The decision threshold is fixed before fitting (probability 0.5).
* The sealed set is scored once, by the final probe, and used for nothing else.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file

from krel_interp.errors import ConfigError
from krel_interp.io import sha256_json, write_json_atomic
from krel_interp.judges.base import Judge
from krel_interp.judges.classifier import BASE_MODEL, FORMAT
from krel_interp.judges.features import POOLINGS, pooled, text_features
from krel_interp.judges.traits import LabelledText, corpus_hash, corpus_rows, load_corpus
from krel_interp.models import load_model
from krel_interp.probes.methods import LinearProbe, ProbeFitConfig, fit_probe
from krel_interp.probes.metrics import auroc, auroc_layers, bootstrap_ci
from krel_interp.probes.splits import grouped_kfold
from krel_interp.stats import precision_recall

THRESHOLD = 0.5
#: Maps a fold's training rows to the rows a learning-curve point fits on.
Subset = Callable[[list[int]], list[int]]
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class CorpusColumns:
    """A labelled corpus as the columns cross-validation reads."""

    texts: list[str]
    labels: list[int]
    groups: list[str]  # paraphrase families: the CV's groups
    y: torch.Tensor  # labels as floats

    @classmethod
    def of(cls, corpus: Sequence[LabelledText]) -> CorpusColumns:
        labels = [c.label for c in corpus]
        return cls(
            [c.text for c in corpus],
            labels,
            [c.family for c in corpus],
            torch.tensor([float(v) for v in labels]),
        )


@dataclass(frozen=True)
class ClassifierBuildConfig:
    """The search space and splits (fixed before fitting; saved in the card)."""

    depths: tuple[float, ...] = (0.27, 0.4, 0.47, 0.53, 0.6, 0.67, 0.8)
    poolings: tuple[str, ...] = POOLINGS
    l2s: tuple[float, ...] = (1e-2, 1e-1, 1.0)
    folds: int = 5
    inner_folds: int = 4
    seed: int = 0

    def layers(self, n_layers: int) -> list[int]:
        """Candidate layers of a model with ``n_layers`` layers."""
        return sorted({min(n_layers - 1, int(d * n_layers)) for d in self.depths})


@dataclass(frozen=True)
class Choice:
    """One point of the search space."""

    layer_index: int
    pooling: str
    l2: float


def _fit(x: torch.Tensor, y: torch.Tensor, l2: float) -> LinearProbe:
    return fit_probe(x, y, "logistic", ProbeFitConfig(l2=l2))


def select(
    feats: dict[str, torch.Tensor],
    y: torch.Tensor,
    groups: Sequence[str],
    rows: list[int],
    config: ClassifierBuildConfig,
) -> tuple[Choice, list[dict[str, Any]]]:
    """The choice with the best grouped-CV AUROC on ``rows``, and the whole grid."""
    folds = grouped_kfold([groups[i] for i in rows], config.inner_folds, seed=config.seed)
    grid: list[dict[str, Any]] = []
    for pooling in config.poolings:
        x = pooled(feats, pooling)[:, rows]
        yr = y[rows]
        for l2 in config.l2s:
            oof = torch.zeros(x.shape[0], len(rows))
            for tr, te in folds:
                oof[:, te] = _fit(x[:, tr], yr[tr], l2).score(x[:, te])
            for li, a in enumerate(auroc_layers(oof, yr).tolist()):
                grid.append({"layer_index": li, "pooling": pooling, "l2": l2, "auroc": a})
    best = max(grid, key=lambda g: g["auroc"])
    return Choice(best["layer_index"], best["pooling"], best["l2"]), grid


def _probe_for(
    feats: dict[str, torch.Tensor], y: torch.Tensor, rows: list[int], choice: Choice
) -> LinearProbe:
    x = pooled(feats, choice.pooling)[choice.layer_index : choice.layer_index + 1, rows]
    return _fit(x, y[rows], choice.l2)


def _probability(
    probe: LinearProbe, feats: dict[str, torch.Tensor], rows: list[int], choice: Choice
) -> list[float]:
    x = pooled(feats, choice.pooling)[choice.layer_index, rows]
    return torch.sigmoid(probe.score_layer(0, x)).tolist()


def nested_cv(
    feats: dict[str, torch.Tensor],
    y: torch.Tensor,
    groups: Sequence[str],
    config: ClassifierBuildConfig,
    progress: Progress | None = None,
    subset: Subset | None = None,
) -> tuple[list[float], list[Choice]]:
    """Out-of-fold probabilities, each fold's choice made on its own training part
    (``subset(train)`` of it when given: a learning curve keeps the folds and fits on less)."""
    folds = grouped_kfold(groups, config.folds, seed=config.seed)
    oof = [0.0] * len(y)
    choices = []
    for k, (train, test) in enumerate(folds):
        train = subset(train) if subset else train
        choice, _ = select(feats, y, groups, train, config)
        probe = _probe_for(feats, y, train, choice)
        for i, p in zip(test, _probability(probe, feats, test, choice), strict=True):
            oof[i] = p
        choices.append(choice)
        if progress:
            progress("nested cross-validation", k + 1, len(folds))
    return oof, choices


def bag_of_words_cv(
    corpus: Sequence[LabelledText], config: ClassifierBuildConfig, subset: Subset | None = None
) -> list[float]:
    """The baseline without a representation: tf-idf words and bigrams + logistic, same folds
    (fitted on ``subset(train)`` of each fold's training part when given)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    folds = grouped_kfold([c.family for c in corpus], config.folds, seed=config.seed)
    oof = [0.0] * len(corpus)
    for train, test in folds:
        train = subset(train) if subset else train
        vec = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)
        x = vec.fit_transform([corpus[i].text for i in train])
        clf = LogisticRegression(C=10.0, max_iter=2000).fit(x, [corpus[i].label for i in train])
        for i, p in zip(
            test,
            clf.predict_proba(vec.transform([corpus[i].text for i in test]))[:, 1],
            strict=True,
        ):
            oof[i] = float(p)
    return oof


def binary_report(
    scores: Sequence[float], labels: Sequence[int], groups: Sequence[str] | None, threshold: float
) -> dict[str, Any]:
    """AUROC (bootstrap CI, by family when ``groups``), precision and recall at ``threshold``."""
    s, y = torch.tensor(list(scores)), torch.tensor([float(v) for v in labels])
    precision, recall = precision_recall([v > threshold for v in scores], [bool(v) for v in labels])
    return {
        "n": len(labels),
        "n_positive": int(sum(labels)),
        "auroc": round(auroc(s, y), 4),
        "auroc_ci": [round(v, 4) for v in bootstrap_ci(auroc, s, y, groups=groups, n_boot=1000)],
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "threshold": threshold,
    }


def build_classifier(
    trait: str,
    out: Path,
    config: ClassifierBuildConfig | None = None,
    progress: Progress | None = None,
    base_model: str = BASE_MODEL,
    corpus: Sequence[LabelledText] | None = None,
    sealed: Sequence[LabelledText] | None = None,
) -> dict[str, Any]:
    """Select, evaluate (nested CV), fit on all training items, score the sealed set once,
    and write ``probe.safetensors`` + ``card.json`` into ``out``.

    ``corpus`` / ``sealed`` default to the trait's packaged files (tests pass small slices).
    """
    config = config or ClassifierBuildConfig()
    started = time.time()
    lm = load_model(base_model)
    corpus = list(corpus) if corpus is not None else load_corpus(trait, "train")
    sealed = list(sealed) if sealed is not None else load_corpus(trait, "sealed")
    layers = config.layers(lm.n_layers)
    cols = CorpusColumns.of(corpus)
    groups, labels, y = cols.groups, cols.labels, cols.y
    done = [0]

    def embedded(k: int) -> None:
        done[0] += k
        if progress:
            progress("embedding the corpus", done[0], len(corpus))

    feats = text_features(lm, cols.texts, layers, progress=embedded)
    oof, outer = nested_cv(feats, y, groups, config, progress)
    choice, grid = select(feats, y, groups, list(range(len(corpus))), config)
    probe = _probe_for(feats, y, list(range(len(corpus))), choice)
    layer = layers[choice.layer_index]
    sealed_feats = text_features(lm, [c.text for c in sealed], [layer])
    sealed_scores = torch.sigmoid(
        probe.score_layer(0, pooled(sealed_feats, choice.pooling)[0])
    ).tolist()
    out.mkdir(parents=True, exist_ok=True)
    save_file(
        {k: v.contiguous() for k, v in probe.to_tensors().items()},
        str(out / "probe.safetensors"),
        metadata={"format": FORMAT},
    )
    card = {
        "format": FORMAT,
        "trait": trait,
        "backend": "classifier",
        "method": "logistic probe on pooled residual stream (text as a user message)",
        "base_model": lm.fingerprint.to_dict(),
        "layer": layer,
        "pooling": choice.pooling,
        "l2": choice.l2,
        "threshold": THRESHOLD,
        "selection": {
            "config": {**asdict(config), "layers": layers},
            "how": "grouped CV by paraphrase family on the training corpus",
            "cv_auroc": round(max(g["auroc"] for g in grid), 4),
            "outer_fold_choices": [
                {"layer": layers[c.layer_index], "pooling": c.pooling, "l2": c.l2} for c in outer
            ],
        },
        "data": {
            "train_sha256": corpus_hash(trait, "train"),
            "sealed_sha256": corpus_hash(trait, "sealed"),
            "n_train": len(corpus),
            "n_families": len(set(groups)),
            "n_positive": sum(labels),
        },
        "cv": {
            "split": f"nested: {config.folds} outer grouped folds, choice repeated inside each",
            **binary_report(oof, labels, groups, THRESHOLD),
        },
        "baselines": {
            "bag_of_words_cv": binary_report(
                bag_of_words_cv(corpus, config), labels, groups, THRESHOLD
            )
        },
        "sealed": {
            "note": "scored once, by the final probe; never used for any choice",
            **binary_report(sealed_scores, [c.label for c in sealed], None, THRESHOLD),
        },
        "seconds": round(time.time() - started, 1),
    }
    write_json_atomic(out / "card.json", card)
    return card


def record_trace_calibration(out: Path, calibration: dict[str, Any]) -> dict[str, Any]:
    """Add a trace-level calibration to a judge card."""
    card = {**json.loads((out / "card.json").read_text()), "trace": calibration}
    write_json_atomic(out / "card.json", card)
    return card


def score_sealed_once(
    out: Path, judge: Judge, split: str, note: str, rows: Sequence[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """Score a later sealed set with the judge in ``out`` and record it in the card, once.

    ``rows`` default to the trait's packaged ``split``; each may carry a ``kind`` (a positive
    or a kind of hard negative), reported as the share of that kind the judge flags. Refuses a
    set the card has already recorded: a sealed set measures a judge once.
    """
    card = json.loads((out / "card.json").read_text())
    done = card.get("sealed_later", {})
    if split in done:
        raise ConfigError(f"{out}: {split} was already scored once by this judge")
    if rows is None:
        rows, sha = corpus_rows(card["trait"], split), corpus_hash(card["trait"], split)
    else:
        rows, sha = list(rows), sha256_json(list(rows))
    scores = judge.score([r["text"] for r in rows])
    labels = [int(r["label"]) for r in rows]
    flagged: dict[str, list[bool]] = {}
    for r, s in zip(rows, scores, strict=True):
        flagged.setdefault(str(r.get("kind", "all")), []).append(s > card["threshold"])
    report = {
        "note": note,
        "sha256": sha,
        **binary_report(scores, labels, None, card["threshold"]),
        "flagged_by_kind": {
            k: {"n": len(v), "flagged": round(sum(v) / len(v), 4)}
            for k, v in sorted(flagged.items())
        },
    }
    card["sealed_later"] = {**done, split: report}
    write_json_atomic(out / "card.json", card)
    return report
