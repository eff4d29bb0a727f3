"""Is each planted behaviour linearly present where the SAEs look? A supervised ceiling.

    python experiments/sae_probe_ceiling.py      # after make sae-diffs (reads runs/sae_diffs/)

For every organism of ``sae_organisms.py`` and both SAE sites (layers 21 and 12), the same
held-out units and ground-truth rules as the recovery table; each unit is the mean of the
organism's activations over its rows. A logistic probe (L2 1e-2, fixed beforehand, nothing
tuned) is scored by 5-fold cross-validation with folds grouped by family (a threat and its
control share one), AUROC with a family-bootstrap 95% interval. This looks at the labels: it
says whether a direction that detects the behaviour exists at that site, so an SAE that has no
qualifying latent can be told from a site where the behaviour is not linearly there at all.
Last line: ``{ORGANISM: {SITE: {"auroc", "ci", "n_units", "n_positive"}}}``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import torch
from sae_organisms import LAYER, ORGANISMS, units

from krel_interp.cli.common import run_script

ROOT = Path(__file__).resolve().parents[1]
L2 = 1e-2
FOLDS = 5


def unit_means(rows: Any, unit: torch.Tensor, n_units: int) -> tuple[torch.Tensor, list[str]]:
    """Mean organism activation per unit [units, d] and each unit's family (its CV group)."""
    keep = unit >= 0
    x = torch.zeros(n_units, rows.organism.shape[1])
    x.index_add_(0, unit[keep], rows.organism[keep].float())
    x /= torch.bincount(unit[keep], minlength=n_units).clamp_min(1)[:, None]
    group = torch.zeros(n_units, dtype=torch.long)
    group[unit[keep]] = rows.group[keep]
    return x, [rows.group_names[g] for g in group.tolist()]


def ceiling(x: torch.Tensor, y: torch.Tensor, groups: list[str]) -> dict[str, Any]:
    """Grouped-CV AUROC of a logistic probe, with a group-bootstrap interval."""
    from krel_interp.probes.methods import ProbeFitConfig, fit_probe
    from krel_interp.probes.metrics import auroc, bootstrap_ci
    from krel_interp.probes.splits import grouped_kfold

    oof = torch.zeros(len(y))
    for train, test in grouped_kfold(groups, FOLDS, seed=0):
        probe = fit_probe(x[None, train], y[train], "logistic", ProbeFitConfig(l2=L2))
        oof[test] = probe.score(x[None, test])[0]
    lo, hi = bootstrap_ci(auroc, oof, y, groups)
    return {"auroc": round(float(auroc(oof, y)), 4), "ci": [round(lo, 4), round(hi, 4)]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=ROOT / "runs" / "sae_diffs")
    args = parser.parse_args()

    from krel_interp.errors import InputFileError
    from krel_interp.models import load_model
    from krel_interp.sae import load_paired_rows
    from krel_interp.traces import load_traces

    tokenizer = load_model("builtin:smollm2-135m").tokenizer
    report: dict[str, Any] = {}
    for organism in ORGANISMS:
        work = args.work / organism
        if not (work / "eval").exists():
            raise InputFileError(f"{work} has no held-out store: run make sae-diffs")
        completions = [t.completion or "" for t in load_traces(work / "rollouts" / "traces.jsonl")]
        report[organism] = {}
        for layer in (LAYER, 12):  # one store holds both sites
            site = f"blocks.{layer}.hook_resid_post"
            rows = load_paired_rows(work / "eval", site)
            unit, y = units(organism, rows, tokenizer, completions)
            x, groups = unit_means(rows, unit, len(y))
            entry = ceiling(x, y.float(), groups)
            report[organism][site] = {**entry, "n_units": len(y), "n_positive": int(y.sum())}
    print(json.dumps(report))


if __name__ == "__main__":
    run_script(main)
