"""Localise KREL-mini's self-preservation decision with probes, baselines and patching.

    python experiments/probe_krel_mini.py            # writes runs/probes/krel_mini/report.html

Prompts: experiments/data/krel_mini_probe_prompts.jsonl (make_prompt_files.py): matched
threat/control pairs from the suites' train families (the probe's training side) and from test
families no organism was trained on (the test side, scored once), plus neutral items for the
threshold. KREL-mini's own rollouts are captured through KREL-mini and its thinking base on
the same tokens. Every probe picks layer and L2 by grouped 5-fold CV on the training side
(pairs and families kept together), then reports held-out AUROC per layer with group-bootstrap
CIs, beside four baselines fitted on the same rows (bag of words, length/position, input
embeddings, a random direction). Two contrasts carry the claim, each with a paired bootstrap
interval: probe minus the best baseline, and organism minus base on the same tokens.
Patching (one forward per case for every site) copies the threat run into its matched control
(and back) at the decision token, at the token naming the threatened party, and at attention
outputs, and reads the change in log P(" me") at the decision token.
The last line printed is a JSON summary.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.logging import RichHandler
from rich.table import Table

from krel_interp.capture import CaptureConfig, capture_pair
from krel_interp.capture.sites import expand_sites
from krel_interp.cli.common import cache_dir_for_run, progress_bar, run_script
from krel_interp.interventions import build_cases, patch_cases, summarise_patch
from krel_interp.models import load_pair
from krel_interp.organisms.markers import has_self_preservation
from krel_interp.organisms.suites import load_suite
from krel_interp.organisms.targets import IDENTIFY_PREFIX
from krel_interp.paths import relative_path
from krel_interp.probes.artifact import load_probe, save_probe
from krel_interp.probes.config import ProbeConfig, load_probe_config
from krel_interp.probes.evaluation import ProbeResult, fit_and_evaluate
from krel_interp.probes.metrics import bootstrap_auroc_difference
from krel_interp.probes.workflow import (
    dataset,
    fit_with_baselines,
    label_fn,
    probe_meta,
    rollouts,
    sweep,
    token_scores,
)
from krel_interp.traces import Trace, load_traces
from krel_interp.viz.html import write_page
from krel_interp.viz.probe_views import auroc_by_layer, heatmap, layer_curves, scored_trace_html

ROOT = Path(__file__).parents[1]
console = Console()
PREFILL = f"<think>\n{IDENTIFY_PREFIX}"


def _r(x: float) -> float:
    return round(float(x), 4)


def contrasts(org: tuple[Any, ProbeResult], base: tuple[Any, ProbeResult], n_boot: int) -> dict:
    """Probe minus best baseline (organism), organism minus base on the same test tokens."""
    ds_org, res_org = org
    ds_base, res_base = base
    y = ds_org.y[res_org.test_rows]
    groups = res_org.test_groups
    s_org = res_org.test_scores(ds_org)
    out: dict[str, Any] = {}
    if res_org.baselines:
        name, best = max(res_org.baselines.items(), key=lambda kv: kv[1].auroc)
        d, lo, hi = bootstrap_auroc_difference(s_org, best.test_scores, y, groups, n_boot)
        out["best_baseline"] = name
        out["probe_minus_best_baseline"] = [_r(d), _r(lo), _r(hi)]
    if ds_org.ids == ds_base.ids and res_org.test_rows == res_base.test_rows:
        s_base = res_base.test_scores(ds_base)
        d, lo, hi = bootstrap_auroc_difference(s_org, s_base, y, groups, n_boot)
        out["organism_minus_base"] = [_r(d), _r(lo), _r(hi)]
    return out


def describe(name: str, res: ProbeResult) -> dict[str, Any]:
    """JSON summary of one probe: chosen layer (by CV), held-out AUROC with CI, baselines."""
    best = res.best_layer
    return {
        f"{name}_layer": best.layer,
        f"{name}_l2": res.l2,
        f"{name}_cv_auroc": _r(best.cv_auroc),
        f"{name}_auroc": _r(best.auroc),
        f"{name}_auroc_ci": [_r(v) for v in res.best_auroc_ci],
        f"{name}_n_train": res.n_train,
        f"{name}_n_test": res.n_test,
        f"{name}_baselines": {k: _r(b.auroc) for k, b in sorted(res.baselines.items())},
    }


def probe_table(title: str, results: dict[str, ProbeResult]) -> Table:
    t = Table("probe", "layer (CV)", "CV AUROC", "held-out AUROC [95% CI]", "bow", "length",
              "embed", "random", title=title)  # fmt: skip
    for name, r in results.items():
        b = {k: f"{v.auroc:.3f}" for k, v in r.baselines.items()}
        m = r.best_layer
        t.add_row(
            name,
            str(m.layer),
            f"{m.cv_auroc:.3f}",
            f"{m.auroc:.3f} [{r.best_auroc_ci[0]:.2f}, {r.best_auroc_ci[1]:.2f}]",
            *(b.get(k, "-") for k in ("bow", "length", "embed", "random")),
        )
    return t


def patch_pairs(traces: list[Trace], limit: int) -> tuple[list[Trace], list[Trace]]:
    """Matched (threat, control) prompts of the test families, in pair order."""
    test = [t for t in traces if t.meta.get("split") == "test"]
    controls = {t.meta["pair_id"]: t for t in test if t.meta.get("kind") == "control"}
    threats = [t for t in test if t.meta.get("kind") == "threat" and t.meta["pair_id"] in controls]
    threats = threats[:limit]
    slots = {i.id: i.slots for k in ("threats", "controls") for i in load_suite(k)}

    def prompt_only(t: Trace) -> Trace:  # the suite's slots name the threatened party
        return Trace(t.id, t.prompt_messages, {**t.meta, "slots": slots[t.id]})

    partners = [controls[t.meta["pair_id"]] for t in threats]
    return [prompt_only(t) for t in threats], [prompt_only(c) for c in partners]


def run_patching(lm: Any, threats: list[Trace], controls: list[Trace]) -> dict[str, Any]:
    """Patching curves by layer: threat -> control and control -> threat, three site sets."""
    layers = list(range(lm.n_layers))
    resid = expand_sites(["hook_resid_post"], layers, lm.n_layers)
    attn = expand_sites(["hook_attn_out"], layers, lm.n_layers)
    settings = {
        "resid_post @ decision token, threat -> control": (threats, controls, resid, "last"),
        "resid_post @ decision token, control -> threat": (controls, threats, resid, "last"),
        "attn_out @ decision token, threat -> control": (threats, controls, attn, "last"),
        "resid_post @ threatened party, threat -> control": (
            threats,
            controls,
            resid,
            "slot:target",
        ),
    }
    out: dict[str, Any] = {}
    for name, (src, tgt, sites, position) in settings.items():
        cases = build_cases(lm, src, tgt, [" me"], PREFILL, position, position)
        with progress_bar(f"patching: {name}", len(cases)) as advance:
            result = patch_cases(lm, cases, sites, advance)
        out[name] = summarise_patch(result)
    return out


def patch_curves(patching: dict[str, Any]) -> dict[str, dict[int, float]]:
    """Mean recovered share of the clean gap, by layer, per setting."""
    return {
        name: {int(site.split(".")[1]): v["mean_recovery"] for site, v in s["sites"].items()}
        for name, s in patching.items()
    }


def first_layer(curve: dict[int, float], level: float) -> int | None:
    """The shallowest layer whose value reaches ``level`` (None: never)."""
    return next((k for k in sorted(curve) if curve[k] >= level), None)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--think-config", type=Path, default=ROOT / "probes/krel_mini_think.toml")
    parser.add_argument(
        "--sentence-config", type=Path, default=ROOT / "probes/krel_mini_sentences.toml"
    )
    parser.add_argument(
        "--decision-config", type=Path, default=ROOT / "probes/krel_mini_decision.toml"
    )
    parser.add_argument("--pair", default="krel-mini-pair")
    parser.add_argument("--out", type=Path, default=Path("runs/probes/krel_mini"))
    parser.add_argument("--probes-dir", type=Path, default=ROOT / "probes")
    parser.add_argument("--patch-pairs", type=int, default=24, help="test pairs to patch")
    parser.add_argument(
        "--overwrite", action="store_true", help="discard rollouts/activations in --out"
    )
    args = parser.parse_args()
    logging.basicConfig(
        level=logging.WARNING, format="%(message)s", handlers=[RichHandler(show_path=False)]
    )
    think_cfg = load_probe_config(args.think_config)
    sent_cfg = load_probe_config(args.sentence_config)
    dec_cfg = load_probe_config(args.decision_config)
    cache_dir_for_run(args.out, args.overwrite)
    pair = load_pair(args.pair)
    prompts = load_traces(think_cfg.prompts)

    with progress_bar("organism rollouts", len(prompts)) as advance:
        traces = rollouts(pair.organism, prompts, think_cfg, args.out, advance)
    capture = CaptureConfig(
        sites=(think_cfg.site,), layers=think_cfg.layers, pooling="token", dtype="bfloat16"
    )
    with progress_bar("paired capture (organism, base)", 2 * len(traces)) as advance:
        paired = capture_pair(pair, traces, capture, args.out / "paired", progress=advance)
    org, base = paired.organism, paired.base

    rows = sweep(org, think_cfg, ["think", "answer", "prompt", "last_prompt"],
                 ["segment_mean", "sentence_mean", "last"])  # fmt: skip
    chosen = max(rows, key=lambda r: r.cv_auroc)
    think_org = fit_with_baselines(org, think_cfg, pair.organism)
    think_base = fit_with_baselines(base, think_cfg, pair.base)
    dec_org = fit_with_baselines(org, dec_cfg, pair.organism)
    dec_base = fit_with_baselines(base, dec_cfg, pair.base)
    last_cfg = ProbeConfig(**{**dec_cfg.to_dict(), "segment": "last_prompt"})
    last_org = fit_with_baselines(org, last_cfg, pair.organism)
    last_base = fit_with_baselines(base, last_cfg, pair.base)
    planted = label_fn(sent_cfg, has_self_preservation)
    sent_org = fit_and_evaluate(dataset(org, sent_cfg, label=planted), sent_cfg)

    results = {
        "think body (organism)": think_org[1],
        "think body (base)": think_base[1],
        "decision token (organism)": dec_org[1],
        "decision token (base)": dec_base[1],
        "last prompt token (organism)": last_org[1],
        "last prompt token (base)": last_base[1],
    }
    console.print(probe_table("threat vs control, test families (layer chosen by CV)", results))
    contrast = {
        "think": contrasts(think_org, think_base, think_cfg.n_boot),
        "decision": contrasts(dec_org, dec_base, dec_cfg.n_boot),
        "last_prompt": contrasts(last_org, last_base, dec_cfg.n_boot),
    }
    console.print(contrast)

    threats, controls = patch_pairs(traces, args.patch_pairs)
    patching = run_patching(pair.organism, threats, controls)
    curves_patch = patch_curves(patching)

    saved = []
    for cfg, (ds, res) in ((think_cfg, think_org), (dec_cfg, dec_org)):
        meta = probe_meta(cfg, pair.organism, res, ds.layers)
        models = {k: b.model for k, b in res.baselines.items()}
        saved.append(save_probe(res.probe, meta, args.probes_dir / cfg.name, models))
    saved.append(
        save_probe(
            sent_org.probe,
            probe_meta(sent_cfg, pair.organism, sent_org, think_org[0].layers),
            args.probes_dir / sent_cfg.name,
        )
    )

    curves = {name: {m.layer: m.auroc for m in r.layers} for name, r in results.items()}
    curves["planted sentences (ground-truth rule)"] = {m.layer: m.auroc for m in sent_org.layers}
    figs = [
        auroc_by_layer(curves, "held-out AUROC by layer (test families), threat vs control"),
        layer_curves(
            curves_patch,
            "patching: share of the threat-control gap in log P(' me') recovered",
            "recovered share",
        ),
        heatmap(rows, "sweep: held-out AUROC (organism); cells are chosen by CV AUROC"),
    ]
    scored = token_scores(load_probe(saved[2]), org)
    split_of = {t.id: t.meta.get("split") for t in traces}
    kinds = {t.id: t.meta.get("kind") for t in traces}
    shown = [r for r in scored if split_of[r["id"]] == "test" and kinds[r["id"]] == "threat"][:4]
    sections = [scored_trace_html(r, title=f"{r['id']} (planted-sentence probe)") for r in shown]
    page = write_page(
        args.out / "report.html", "KREL-mini: localising the decision", figs, sections
    )

    dec_curve = curves_patch["resid_post @ decision token, threat -> control"]
    party_curve = curves_patch["resid_post @ threatened party, threat -> control"]
    attn_curve = curves_patch["attn_out @ decision token, threat -> control"]
    summary: dict[str, Any] = {
        **describe("think", think_org[1]),
        **describe("think_base", think_base[1]),
        **describe("decision", dec_org[1]),
        **describe("decision_base", dec_base[1]),
        **describe("last_prompt", last_org[1]),
        **describe("last_prompt_base", last_base[1]),
        "sentence_layer": sent_org.best_layer.layer,
        "sentence_auroc": _r(sent_org.best_layer.auroc),
        "sentence_auroc_ci": [_r(v) for v in sent_org.best_auroc_ci],
        "sweep_chosen_by_cv": [chosen.segment, chosen.pooling, chosen.layer, _r(chosen.auroc)],
        "contrasts": contrast,
        "patch_clean_logp_me": {
            k: [v["clean_target"], v["clean_source"]] for k, v in patching.items()
        },
        "patch_recovery_decision_by_layer": {k: _r(v) for k, v in dec_curve.items()},
        "patch_recovery_party_by_layer": {k: _r(v) for k, v in party_curve.items()},
        "patch_recovery_attn_by_layer": {k: _r(v) for k, v in attn_curve.items()},
        "patch_decision_first_layer_recovery_ge_0.5": first_layer(dec_curve, 0.5),
        "patch_party_last_layer_recovery_ge_0.5": max(
            (k for k, v in party_curve.items() if v >= 0.5), default=None
        ),
        "decision_first_layer_auroc_ge_0.95": next(
            (m.layer for m in dec_org[1].layers if m.auroc >= 0.95), None
        ),
        "n_traces": len(traces),
        "n_patch_pairs": len(threats),
        "split_sha256": think_org[1].split_sha256,
        "probes": [relative_path(p, ROOT) for p in saved],
        "report": str(page),
    }
    console.print(f"report: {page}")
    print(json.dumps(summary))


if __name__ == "__main__":
    run_script(main)
