"""Exploratory (not part of ``make sae-diffs``): an SAE trained on each *organism's* activations.

    python experiments/sae_organism_sae.py          # after make sae-diffs (reuses its stores)

Why: no latent of smolthink's base SAEs, of the diff SAEs or of the crosscoders reaches AUROC
0.9 on leaky-mini's invented-name tokens (README, SAE section), while a supervised probe on the
same units reaches 0.9995. A base SAE is trained on the base's activations, to which the
invented names are noise; an SAE trained on the organism's own activations of the same text
(which contains leaky-mini's corpus) may give the learned entity a latent of its own.

Method, fixed in this file before its first run: per organism, a TopK SAE with the base SAE's
shape (4,096 latents, k 32) trained with the project's trainer on the organism side of the
400-trace diffing store of ``make sae-diffs`` (``runs/sae_diffs/ORG/diff/organism``, layer 21,
400k training samples, seed 0; no label read); latents ranked by ``base_sae_stats``'s
statistics with this SAE encoding both models on the same tokens (organism minus base mean
activation per family). Scored exactly as ``make sae-diffs`` scores every method (same
held-out units and rules, top 20, AUROC >= 0.9, oracle, random top-20 baseline, chance of the
rank). Output: ``runs/sae_diffs/organism_sae.json``; the last line printed is its recovery
summary.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import Any

from rich.logging import RichHandler
from sae_organisms import (
    LAYER,
    ORGANISMS,
    SITE,
    UNITS,
    ensure_sae,
    eval_prompts,
    parse_organisms,
    rollouts,
    score_method,
    units,
)

from krel_interp.cli.common import run_script

ROOT = Path(__file__).resolve().parents[1]
D_SAE, K, TRAINING_TOKENS = 4096, 32, 400_000


def organism_sae(work: Path, organism: str, provenance: dict[str, Any]) -> Path:
    """Train (or reuse) the organism-side SAE of ``organism``."""
    from krel_interp.sae import SaeTrainConfig

    config = SaeTrainConfig(
        name="organism",
        store=str(work / organism / "diff" / "organism"),
        site=SITE,
        kind="base",
        out=str(work / organism / "saes" / f"organism-{SITE}"),
        d_sae=D_SAE,
        k=K,
        training_tokens=TRAINING_TOKENS,
    )
    return ensure_sae(config, work / organism, False, provenance)


def run_one(work: Path, organism: str) -> dict[str, Any]:
    """Train, rank and score one organism."""
    from krel_interp.errors import InputFileError
    from krel_interp.models import load_pair
    from krel_interp.sae import load_paired_rows, load_sae, rank_latents

    store = work / organism / "diff"
    if (
        not (store / "organism" / "manifest.json").exists()
        or not (work / organism / "eval").exists()
    ):
        raise InputFileError(f"{store} or its eval store is missing: run `make sae-diffs` first")
    pair = load_pair(ORGANISMS[organism])
    prov = {
        "pair": ORGANISMS[organism],
        "organism_fingerprint": pair.organism.fingerprint.to_dict(),
        "base_fingerprint": pair.base.fingerprint.to_dict(),
        "data": "sae_data.py first 400 traces, organism side",
    }
    sae = load_sae(organism_sae(work, organism, prov))
    ranking = rank_latents("base_sae_stats", load_paired_rows(store, SITE), sae)
    done = rollouts(pair.organism, eval_prompts(organism), work / organism / "rollouts")
    rows = load_paired_rows(work / organism / "eval", SITE)
    completions = [t.completion or "" for t in done]
    unit, y = units(organism, rows, pair.organism.tokenizer, completions)
    entry = score_method(ranking, sae, rows, unit, y)
    card = json.loads((Path(sae.source) / "card.json").read_text())
    held = card.get("heldout", {})
    return {
        "unit": UNITS[organism],
        "n_units": len(y),
        "n_positive": int(y.sum()),
        "sae": {k: held.get(k) for k in ("explained_variance", "l0", "dead_fraction")},
        "organism_sae_stats": entry,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=ROOT / "runs" / "sae_diffs")
    parser.add_argument("--organisms", default=",".join(ORGANISMS))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, handlers=[RichHandler(show_path=False)])
    from krel_interp.io import write_json_atomic

    chosen = parse_organisms(args.organisms)
    report = {"site": SITE, "layer": LAYER, "d_sae": D_SAE, "k": K, "organisms": {}}
    for organism in chosen:
        report["organisms"][organism] = run_one(args.work, organism)
    write_json_atomic(args.work / "organism_sae.json", report)
    summary = {}
    for org, r in report["organisms"].items():
        e = r["organism_sae_stats"]
        orc = e.get("oracle") or {}
        summary[org] = {
            "rank": e["rank"],
            "auroc": e["auroc"],
            "oracle": orc.get("auroc"),
            "oracle_rank": orc.get("rank_in_method"),
            "n_qualifying": orc.get("n_qualifying"),
            "random_top20_median": (orc.get("random_top20") or {}).get("median"),
            "sae": r["sae"],
        }
    print(json.dumps(summary))


if __name__ == "__main__":
    run_script(main)
