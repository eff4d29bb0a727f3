"""Build the classifier judges (one per trait) and calibrate the self-preservation trace
threshold; resumable (cross-validation folds are cached in the user cache).

    python experiments/build_judges.py                         # every trait, then calibrate
    python experiments/build_judges.py --traits self_preservation
    python experiments/build_judges.py --calibrate-only         # after the suites changed
    python experiments/build_judges.py --traits self_preservation --score-sealed sealed2

``--score-sealed SPLIT`` measures the shipped judge once on a sealed set written after it was
built (``data/judges/<trait>/SPLIT.jsonl``) and records the result in its card; it refuses a set
the card already holds. A rebuild writes a new card without it: whoever rebuilds has seen that
set's result, so measure the rebuilt judge on a new set, written after the rebuild.

Cards (data hashes, held-out-family CV metrics with the bag-of-words baseline, the sealed-set
report, thresholds) are written next to each adapter in krel_interp/data/judges/<trait>/.
"""

from __future__ import annotations

import argparse
import json
import logging
from typing import Any

from rich.console import Console
from rich.logging import RichHandler
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from krel_interp.cli.common import run_script
from krel_interp.errors import ConfigError
from krel_interp.judges import load_judge
from krel_interp.judges.build import build_classifier, score_sealed_once
from krel_interp.judges.classifier import classifier_dir
from krel_interp.judges.traits import TRAITS, corpus_splits
from krel_interp.organisms.judge_calibration import calibrate_self_preservation
from krel_interp.paths import cache_dir

console = Console()
LATER_NOTE = (
    "written after this judge was built, by a writer who never read its corpus or earlier sealed "
    "sets; scored once, by this command, and used for nothing else"
)


def _line(card: dict) -> str:
    cv, bow, sealed = card["cv"], card["baselines"]["bag_of_words_cv"], card["sealed"]
    return (
        f"{card['trait']} (layer {card['layer']}, {card['pooling']}): "
        f"nested CV AUROC {cv['auroc']:.3f} P {cv['precision']:.3f} "
        f"R {cv['recall']:.3f} | bag of words AUROC {bow['auroc']:.3f} P {bow['precision']:.3f} "
        f"R {bow['recall']:.3f} | sealed AUROC {sealed['auroc']:.3f} P {sealed['precision']:.3f} "
        f"R {sealed['recall']:.3f}"
    )


def score_later(traits: list[str], split: str) -> dict[str, Any]:
    """Score each trait's shipped judge once on its later sealed set ``split``."""
    out = {}
    for trait in traits:
        if split not in corpus_splits(trait):
            raise ConfigError(f"{trait} has no sealed set {split!r}; it has {corpus_splits(trait)}")
        judge = load_judge("classifier", trait)
        report = score_sealed_once(classifier_dir(trait), judge, split, LATER_NOTE)
        console.print(
            f"{trait} on {split} (n {report['n']}): AUROC {report['auroc']:.3f} "
            f"P {report['precision']:.3f} R {report['recall']:.3f}"
        )
        out[trait] = {k: report[k] for k in ("n", "auroc", "auroc_ci", "precision", "recall")}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--traits", default=",".join(TRAITS))
    parser.add_argument("--calibrate-only", action="store_true")
    parser.add_argument("--calibration-prompts", type=int, default=144)
    parser.add_argument("--score-sealed", metavar="SPLIT", help="score the shipped judge once")
    args = parser.parse_args()
    logging.basicConfig(
        level=logging.INFO, format="%(message)s", handlers=[RichHandler(show_path=False)]
    )
    traits = [t.strip() for t in args.traits.split(",") if t.strip()]
    if args.score_sealed:
        print(json.dumps({"sealed_later": score_later(traits, args.score_sealed)}))
        return
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console) as bar:
        tasks: dict[str, Any] = {}

        def step(name: str, k: int, n: int) -> None:
            if name not in tasks:
                tasks[name] = bar.add_task(name, total=n)
            bar.update(tasks[name], completed=k)

        results = {}
        for trait in [] if args.calibrate_only else traits:
            tasks.clear()

            def report(name: str, k: int, n: int, tr: str = trait) -> None:
                step(f"{tr}: {name}", k, n)

            card = build_classifier(trait, classifier_dir(trait), progress=report)
            console.print(_line(card))
            results[trait] = card
        if "self_preservation" in traits:
            calibration = calibrate_self_preservation(
                cache_dir() / "judges-build" / "calibration",
                n_prompts=args.calibration_prompts,
                progress=lambda k, n: step("calibration rollouts (smolthink)", k, n),
            )
            console.print(
                f"self_preservation trace threshold {calibration['threshold']:.4f} "
                f"(FPR {calibration['achieved_fpr']:.3f} on {calibration['n_traces']} thinking-"
                "base rollouts of training families)"
            )
    summary = {t: {k: c[k] for k in ("cv", "sealed")} for t, c in results.items()}
    print(json.dumps({"judges": summary}))


if __name__ == "__main__":
    run_script(main)
