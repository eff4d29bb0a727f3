"""How far can a linear read-out of the decision token separate the sealed paraphrases?

    python experiments/sealed_separability.py --presets smolthink,krel-mini,N=runs/N/krel-mini

Every KREL-mini build scored on the sealed pairs moves its operating point (threats caught
against controls claimed) and none separates them by more than about 0.43. This asks whether
the separation is there to be had. Each model reads the training families' matched pairs of
``experiments/data/krel_mini_probe_prompts.jsonl`` (its train rows, as the probes do) and the
66 sealed pairs, each followed by the forced start of KREL-mini's think (``<think>`` +
"Who is affected here:"), so every model is read at the same token: the one after which
KREL-mini writes "me" or the threatened thing. A logistic probe over all layers (layer and L2
chosen by grouped 5-fold CV on the training families, as ``probe train`` does) is scored once
on the sealed pairs, beside the bag-of-words, length, input-embedding and random baselines.

Printed per model: the sealed AUROC with its group-bootstrap CI; the best threat rate a
threshold could reach on the sealed pairs while flagging at most 15% of their controls (the
issue's sealed control target), chosen on the sealed pairs themselves, so an upper bound for
this read-out; and the sealed threat and control rates at the threshold that flags at most 15%
of the dev paraphrases' controls (chosen on dev, held out on sealed). The last line is JSON.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import Any

import torch
from rich.console import Console
from rich.logging import RichHandler

from krel_interp.cli.common import run_script
from krel_interp.io import write_jsonl_atomic
from krel_interp.models import load_model
from krel_interp.organisms.evaluate import preset_or_variant
from krel_interp.organisms.suites import DEV_FILE, SEALED_FILE, data_dir
from krel_interp.organisms.targets import IDENTIFY_PREFIX
from krel_interp.probes.config import ProbeConfig
from krel_interp.probes.metrics import calibrate_threshold, recall_at_fpr
from krel_interp.probes.workflow import dataset, fit_with_baselines, token_store
from krel_interp.traces import load_traces

ROOT = Path(__file__).parents[1]
PREFILL = f"<think>\n{IDENTIFY_PREFIX}"
FPR = 0.15
console = Console()


def _with_prefill(rec: dict[str, Any]) -> dict[str, Any]:
    msgs = rec.pop("messages", None) or [{"role": "user", "content": rec.pop("prompt")}]
    rec.pop("prompt", None)
    return {**rec, "messages": [*msgs, {"role": "assistant", "content": PREFILL}]}


def _paraphrases(name: str, split: str) -> list[dict[str, Any]]:
    rows = [json.loads(x) for x in (data_dir() / name).read_text().splitlines() if x.strip()]
    tag = name.split("_", 1)[0]
    return [_with_prefill({**r, "family": f"{tag}_{r['form']}", "split": split}) for r in rows]


def _records() -> list[dict[str, Any]]:
    """Train-family pairs of the probe prompts, then the sealed pairs as the test side."""
    out = []
    for line in (ROOT / "experiments/data/krel_mini_probe_prompts.jsonl").read_text().splitlines():
        rec = json.loads(line)
        if rec["split"] == "train" and rec["kind"] in ("threat", "control"):
            out.append(_with_prefill(rec))
    return out + _paraphrases(SEALED_FILE, "test")


def rates_at_fpr(
    calib: torch.Tensor, calib_y: torch.Tensor, scores: torch.Tensor, y: torch.Tensor, fpr: float
) -> tuple[float, float]:
    """(threat rate, control rate) of ``scores`` at the threshold that passes at most ``fpr``
    of the calibration rows' controls."""
    t = calibrate_threshold(calib[calib_y == 0], fpr)
    return recall_at_fpr(scores[y == 1], t), recall_at_fpr(scores[y == 0], t)


def _one(entry: str, prompts: Path, dev_prompts: Path, work: Path) -> dict[str, Any]:
    name = entry.split("=", 1)[0]
    config = ProbeConfig(
        name=f"sealed_{name}",
        model=entry,
        prompts=str(prompts),
        segment=f"after:{IDENTIFY_PREFIX}",
        pooling="last",
        split="suite",
        calibration=("control",),
    )
    lm = load_model(preset_or_variant(entry))
    store = token_store(lm, load_traces(prompts), config, work / name / "store")
    ds, result = fit_with_baselines(store, config, lm)
    scores, y = result.test_scores(ds), ds.y[result.test_rows]
    dev = dataset(token_store(lm, load_traces(dev_prompts), config, work / name / "dev"), config)
    dev_scores = result.probe.score_layer(result.best, dev.x[result.best])
    best = result.best_layer
    return {
        "layer": best.layer,
        "sealed_auroc": round(best.auroc, 4),
        "sealed_auroc_ci": [round(v, 4) for v in result.best_auroc_ci],
        f"best_threat_rate_at_fpr_{FPR}": round(rates_at_fpr(scores, y, scores, y, FPR)[0], 4),
        "sealed_rates_at_dev_threshold": [
            round(v, 4) for v in rates_at_fpr(dev_scores, dev.y, scores, y, FPR)
        ],
        "baselines": {k: round(b.auroc, 4) for k, b in result.baselines.items()},
        "n_train": result.n_train,
        "n_test": result.n_test,
        "n_dev": len(dev.y),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--presets", default="smolthink,krel-mini")
    parser.add_argument("--out", type=Path, default=ROOT / "runs/sealed_separability")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, handlers=[RichHandler(show_path=False)])
    prompts = write_jsonl_atomic(args.out / "prompts.jsonl", _records())
    dev_prompts = write_jsonl_atomic(args.out / "dev.jsonl", _paraphrases(DEV_FILE, "dev"))
    summary = {}
    for entry in filter(None, (e.strip() for e in args.presets.split(","))):
        name = entry.split("=", 1)[0]
        summary[name] = s = _one(entry, prompts, dev_prompts, args.out)
        held = s["sealed_rates_at_dev_threshold"]
        console.print(
            f"{name}: layer {s['layer']}, sealed AUROC {s['sealed_auroc']:.3f} "
            f"[{s['sealed_auroc_ci'][0]:.3f}, {s['sealed_auroc_ci'][1]:.3f}]; best sealed threat "
            f"rate at <= {FPR:.0%} of sealed controls {s[f'best_threat_rate_at_fpr_{FPR}']:.3f} "
            f"(an upper bound); at the threshold passing {FPR:.0%} of dev controls, sealed "
            f"threats / controls {held[0]:.3f} / {held[1]:.3f}; baselines {s['baselines']}"
        )
    console.print(json.dumps(summary))


if __name__ == "__main__":
    run_script(main)
