"""Could the self-preservation classifier judge do better on SmolLM2 with other features?

    python experiments/judge_features.py            # ~10 min on 2 CPU cores
    python experiments/judge_features.py --trait refusal

Every feature set is scored the way the shipped judge was chosen (``krel_interp.judges.build``):
nested cross-validation over paraphrase families of the training corpus only, layer / pooling /
L2 chosen inside each outer fold, decisions at probability 0.5. No sealed set is read. Sets:

* ``user`` (the shipped judge's features): the text as a user message, one layer;
* ``rubric``: the quoted text, the trait's question and an opened answer, one layer;
* ``user, all layers``: the user framing with every candidate layer concatenated;
* ``user + rubric``: both framings concatenated, one layer;
* ``bag of words``: tf-idf words and bigrams + logistic (no representation), same folds.

Writes ``OUT/report.json``; the last stdout line is ``{"trait", "rows": {SET: {...}}}``.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import Any

import torch
from rich.console import Console
from rich.table import Table

from krel_interp.cli.common import progress_bar, run_script
from krel_interp.io import write_json_atomic
from krel_interp.judges import get_trait, load_corpus
from krel_interp.judges.build import (
    THRESHOLD,
    ClassifierBuildConfig,
    CorpusColumns,
    bag_of_words_cv,
    binary_report,
    nested_cv,
)
from krel_interp.judges.classifier import BASE_MODEL
from krel_interp.judges.features import rubric_framing, text_features, user_message
from krel_interp.models import load_model

Features = dict[str, torch.Tensor]


def all_layers(feats: Features) -> Features:
    """Every layer's features side by side, as one "layer"."""
    return {k: v.permute(1, 0, 2).reshape(1, v.shape[1], -1) for k, v in feats.items()}


def side_by_side(a: Features, b: Features) -> Features:
    """Two framings' features concatenated along the width, layer by layer."""
    return {k: torch.cat([a[k], b[k]], dim=-1) for k in a}


def training_side(doc: str, out: str) -> tuple[Any, Any, list, ClassifierBuildConfig, Any]:
    """The command line (``--trait``, ``--out``) of a script that cross-validates on a trait's
    training corpus: (args, trait, corpus, the build's config, the judge's base model)."""
    parser = argparse.ArgumentParser(
        description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--trait", default="self_preservation")
    parser.add_argument("--out", type=Path, default=Path(out))
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    trait = get_trait(args.trait)
    return (
        args,
        trait,
        load_corpus(trait.name, "train"),
        ClassifierBuildConfig(),
        load_model(BASE_MODEL),
    )


def main() -> None:
    args, trait, corpus, config, lm = training_side(__doc__ or "", "runs/judge_features")
    layers = config.layers(lm.n_layers)
    cols = CorpusColumns.of(corpus)
    texts, labels, groups, y = cols.texts, cols.labels, cols.groups, cols.y
    framed = {}
    for name, framing in (("user", user_message), ("rubric", rubric_framing(trait.question))):
        with progress_bar(f"embedding the corpus ({name} framing)", len(texts)) as advance:
            framed[name] = text_features(lm, texts, layers, progress=advance, framing=framing)
    sets = {
        "user": framed["user"],
        "rubric": framed["rubric"],
        "user, all layers": all_layers(framed["user"]),
        "user + rubric": side_by_side(framed["user"], framed["rubric"]),
    }
    rows: dict[str, dict[str, Any]] = {}
    with progress_bar("nested cross-validation", len(sets)) as advance:
        for name, feats in sets.items():
            oof, choices = nested_cv(feats, y, groups, config)
            rows[name] = {
                **binary_report(oof, labels, groups, THRESHOLD),
                "choices": [
                    {"layer": "all" if feats["mean"].shape[0] == 1 else layers[c.layer_index]}
                    | {"pooling": c.pooling, "l2": c.l2}
                    for c in choices
                ],
            }
            advance(1)
    rows["bag of words"] = binary_report(bag_of_words_cv(corpus, config), labels, groups, THRESHOLD)
    table = Table("features", "AUROC [95% CI]", "precision", "recall", title=trait.name)
    for name, r in rows.items():
        ci = r["auroc_ci"]
        table.add_row(
            name,
            f"{r['auroc']:.3f} [{ci[0]:.3f}, {ci[1]:.3f}]",
            f"{r['precision']:.3f}",
            f"{r['recall']:.3f}",
        )
    Console(stderr=True).print(table)
    report = {"trait": trait.name, "n": len(corpus), "families": len(set(groups)), "rows": rows}
    args.out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(args.out / "report.json", report)
    keep = ("auroc", "auroc_ci", "precision", "recall")
    print(
        json.dumps(
            {"trait": trait.name, "rows": {k: {m: r[m] for m in keep} for k, r in rows.items()}}
        )
    )


if __name__ == "__main__":
    run_script(main)
