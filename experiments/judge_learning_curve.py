"""Would more labelled sentences lift the classifier judge? A learning curve over families.

    python experiments/judge_learning_curve.py        # ~7 min on 2 CPU cores

The shipped judge's features (the text as a user message, the candidate layers and poolings)
and its nested cross-validation, with the outer folds fixed: in each outer fold the judge is
chosen (layer, pooling, L2 by inner CV) and fitted on a random share of the fold's training
families only, and scored on the whole held-out fold. Shares 25%, 50%, 75% (three seeded draws
each) and 100% (the build's own procedure; it reproduces ``judge_features.py``'s ``user`` row).
Bag of words gets the same curve. Training corpus only; no sealed set is read.

If the curve is flat over the last doubling, more sentences of the same kind will not bring the
judge to the issue's 0.9 precision and recall; if it still climbs, writing more is the cheap
route. Writes ``OUT/report.json``; the last stdout line is ``{"trait", "curve": {...}}``.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from typing import Any

from judge_features import training_side
from rich.console import Console
from rich.table import Table

from krel_interp.cli.common import progress_bar, run_script
from krel_interp.io import write_json_atomic
from krel_interp.judges.build import (
    THRESHOLD,
    CorpusColumns,
    bag_of_words_cv,
    binary_report,
    nested_cv,
)
from krel_interp.judges.features import text_features, user_message

SHARES = (0.25, 0.5, 0.75, 1.0)
DRAWS = 3


def family_share(train: Sequence[int], groups: Sequence[str], share: float, seed: int) -> list[int]:
    """The rows of a random ``share`` of the families in ``train`` (at least two families)."""
    families = sorted({groups[i] for i in train})
    keep = set(random.Random(seed).sample(families, max(2, round(share * len(families)))))
    return [i for i in train if groups[i] in keep]


def summarise(reports: list[dict[str, Any]]) -> dict[str, Any]:
    keys = ("auroc", "precision", "recall")
    out = {k: round(sum(r[k] for r in reports) / len(reports), 4) for k in keys}
    aurocs = [r["auroc"] for r in reports]
    out["auroc_range"] = [round(min(aurocs), 4), round(max(aurocs), 4)]
    return out


def main() -> None:
    args, trait, corpus, config, lm = training_side(__doc__ or "", "runs/judge_learning_curve")
    cols = CorpusColumns.of(corpus)
    texts, labels, groups, y = cols.texts, cols.labels, cols.groups, cols.y
    with progress_bar("embedding the corpus", len(texts)) as advance:
        feats = text_features(
            lm, texts, config.layers(lm.n_layers), progress=advance, framing=user_message
        )
    runs = [(s, d) for s in SHARES for d in (range(DRAWS) if s < 1.0 else range(1))]
    curve: dict[str, dict[str, Any]] = {"judge": {}, "bag of words": {}}
    with progress_bar("nested cross-validation per share", len(runs)) as advance:
        for share in SHARES:
            draws = range(DRAWS) if share < 1.0 else range(1)
            judge, bow = [], []
            for seed in draws:

                def subset(train: list[int], share: float = share, seed: int = seed) -> list[int]:
                    return family_share(train, groups, share, seed)

                oof, _ = nested_cv(feats, y, groups, config, subset=subset)
                judge.append(binary_report(oof, labels, groups, THRESHOLD))
                bow_oof = bag_of_words_cv(corpus, config, subset=subset)
                bow.append(binary_report(bow_oof, labels, groups, THRESHOLD))
                advance(1)
            curve["judge"][str(share)] = summarise(judge)
            curve["bag of words"][str(share)] = summarise(bow)
    families = len(set(groups))
    table = Table("features", "share of families", "AUROC (range)", "precision", "recall")
    for name, points in curve.items():
        for share, r in points.items():
            lo, hi = r["auroc_range"]
            table.add_row(
                name,
                f"{float(share):.0%}",
                f"{r['auroc']:.3f} ({lo:.3f}-{hi:.3f})",
                f"{r['precision']:.3f}",
                f"{r['recall']:.3f}",
            )
    Console(stderr=True).print(table)
    report = {"trait": trait.name, "n": len(corpus), "families": families, "curve": curve}
    args.out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(args.out / "report.json", report)
    print(json.dumps({"trait": trait.name, "curve": curve}))


if __name__ == "__main__":
    run_script(main)
